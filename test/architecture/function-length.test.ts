// No function in the engine runs past 80 lines without a reason written beside it. Every function
// (declaration, function expression, arrow function, method, constructor, accessor) in engine/**/*.ts whose
// body spans more than 80 lines, from its opening brace's line to its closing brace's line, must carry a
// comment directly above it (no blank line between) that starts `// Long:` and gives the reason, for instance
//
//   // Long: one linear pass over the plan's parts, in the order the Lua script expects them.
//   export function commitArgs(plan: CommitPlan) {
//
// For an arrow function or function expression the comment sits above the statement or property that starts
// on the function's first line (`const f = () => {`, `name: async () => {`). A factory counts its whole body,
// methods included: the habit is to work in top-level functions over a small state object and let the
// factory only bind them (engine/workflow-catalog.ts). The TypeScript compiler's own parser reads the files.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { API } from 'typescript/unstable/sync';
import { SyntaxKind, getLeadingCommentRanges, type Node, type SourceFile } from 'typescript/unstable/ast';

const root = resolve(new URL('../..', import.meta.url).pathname);
const LIMIT = 80;
const test = suite('function length');

interface LongFunction { file: string; line: number; name: string; lines: number; reason: string | null }

const functionKinds = new Set<SyntaxKind>([
  SyntaxKind.FunctionDeclaration, SyntaxKind.FunctionExpression, SyntaxKind.ArrowFunction, SyntaxKind.MethodDeclaration,
  SyntaxKind.Constructor, SyntaxKind.GetAccessor, SyntaxKind.SetAccessor,
]);

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

const lineOf = (sf: SourceFile, pos: number) => sf.getLineAndCharacterOfPosition(pos).line;

/** What a reader calls the function: its own name, or the variable, property or assignment it is the value of. */
function nameOf(node: Node, sf: SourceFile): string {
  const named = node as Node & { name?: Node };
  if (named.name) return named.name.getText(sf);
  if (node.kind === SyntaxKind.Constructor) return 'constructor';
  const parent = node.parent as Node & { name?: Node; left?: Node; expression?: Node };
  if ((parent.kind === SyntaxKind.VariableDeclaration || parent.kind === SyntaxKind.PropertyAssignment || parent.kind === SyntaxKind.PropertyDeclaration) && parent.name) {
    return parent.name.getText(sf);
  }
  if (parent.kind === SyntaxKind.BinaryExpression && parent.left) return parent.left.getText(sf);
  if (parent.kind === SyntaxKind.CallExpression && parent.expression) return `<callback of ${parent.expression.getText(sf)}>`;
  return '<anonymous>';
}

/**
 * The reason above the function: the `// Long:` comment in the block of comments that directly precedes the
 * outermost node starting on the function's first line (its statement, property or `export` declaration).
 */
function reasonOf(node: Node, sf: SourceFile): string | null {
  const line = lineOf(sf, node.getStart(sf));
  let anchor = node;
  while (anchor.parent && anchor.parent.kind !== SyntaxKind.SourceFile && lineOf(sf, anchor.parent.getStart(sf)) === line) anchor = anchor.parent;
  const comments = getLeadingCommentRanges(sf.text, anchor.pos) ?? [];
  let next = anchor.getStart(sf);
  for (let i = comments.length - 1; i >= 0; i--) {
    const c = comments[i]!;
    // A blank line ends the block that belongs to the function.
    if (/\n[ \t]*\r?\n/.test(sf.text.slice(c.end, next))) break;
    const m = /^\/\/\s*Long:\s*(\S.*)$/.exec(sf.text.slice(c.pos, c.end));
    if (m) return m[1]!.trim();
    next = c.pos;
  }
  return null;
}

/** Every function under `folder` of the TypeScript project at `projectDir` whose body spans more than LIMIT lines. */
function longFunctions(projectDir: string, folder: string): { scanned: number; found: LongFunction[] } {
  const api = new API({ cwd: projectDir });
  try {
    const program = api.updateSnapshot({ openProjects: [join(projectDir, 'tsconfig.json')] }).getProjects()[0]!.program;
    const files = tsFiles(join(projectDir, folder)).sort();
    const found: LongFunction[] = [];
    for (const file of files) {
      const sf = program.getSourceFile(file);
      if (!sf) throw new Error(`${relative(projectDir, file)} is not in the project of ${projectDir}/tsconfig.json`);
      const visit = (node: Node): void => {
        const body = (node as Node & { body?: Node }).body;
        if (functionKinds.has(node.kind) && body) {
          const lines = lineOf(sf, body.end) - lineOf(sf, body.getStart(sf)) + 1;
          if (lines > LIMIT) {
            found.push({ file: relative(projectDir, file), line: lineOf(sf, node.getStart(sf)) + 1, name: nameOf(node, sf), lines, reason: reasonOf(node, sf) });
          }
        }
        node.forEachChild(visit);
      };
      sf.forEachChild(visit);
    }
    return { scanned: files.length, found };
  } finally {
    api.close();
  }
}

const describe = (f: LongFunction) => `${f.file}:${f.line}: ${f.name} (${f.lines} lines)`;

test('every engine function past 80 lines says why', () => {
  const { scanned, found } = longFunctions(root, 'engine');
  // The scan really read the engine: a wrong folder or a parser that saw nothing would find nothing to refuse.
  assert.ok(scanned > 60, `scanned ${scanned} files`);
  const unexplained = found.filter((f) => !f.reason).map(describe);
  assert.equal(unexplained, [], `functions over ${LIMIT} lines without a "// Long: <reason>" comment above them:\n${unexplained.join('\n')}\n`);
});

test('the check measures bodies, finds every kind of function and reads only a reason directly above', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-fnlen-'));
  try {
    const lines = (n: number) => Array.from({ length: n }, (_, i) => `  x += ${i};`).join('\n');
    const files: Record<string, string> = {
      'tsconfig.json': JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', strict: true, noEmit: true, allowImportingTsExtensions: true }, include: ['engine'] }),
      'engine/a.ts': [
        '// The body spans 80 lines with its braces: allowed.',
        'export function fits(x: number) {', lines(77), '  return x;', '}',
        'export function tooLong(x: number) {', lines(78), '  return x;', '}',
        '/** Documented, but no reason. */',
        '// Long: one table, read in one pass.',
        'export function explained(x: number) {', lines(78), '  return x;', '}',
        '// Long: this reason is not directly above.',
        '',
        'function separated(x: number) {', lines(100), '  return x;', '}',
        'export const arrow = async (x: number) => {', lines(90), '  return x;', '};',
        'export function factory() {',
        '  let x = 0;',
        '  return {',
        '    method() {', lines(85).replaceAll('\n', '\n  '), '      return x;', '    },',
        '    // Long: a switch over every kind.',
        '    prop: (y: number) => {', lines(85).replaceAll('\n', '\n  '), '      return y + x;', '    },',
        '  };',
        '}',
      ].join('\n'),
      'engine/sub/b.ts': [
        'export class Store {',
        '  constructor(public x: number) {', lines(81).replaceAll('\n', '\n  '), '  }',
        '}',
        'export const call = (f: (n: number) => number) => f(1);',
        'call((x: number) => {', lines(81), '  return x;', '});',
      ].join('\n'),
    };
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text + '\n');
    }
    const { scanned, found } = longFunctions(dir, 'engine');
    assert.is(scanned, 2);
    assert.equal(found.map((f) => `${describe(f)}${f.reason ? ` -- ${f.reason}` : ''}`), [
      'engine/a.ts:82: tooLong (81 lines)',
      'engine/a.ts:165: explained (81 lines) -- one table, read in one pass.',
      'engine/a.ts:248: separated (103 lines)',
      'engine/a.ts:351: arrow (93 lines)',
      'engine/a.ts:444: factory (182 lines)',
      'engine/a.ts:447: method (88 lines)',
      'engine/a.ts:536: prop (88 lines) -- a switch over every kind.',
      'engine/sub/b.ts:2: constructor (83 lines)',
      'engine/sub/b.ts:87: <callback of call> (84 lines)',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
