// The repository stands on its own: every relative link in README.md and docs/ resolves to a file (and a
// heading, for #anchors into Markdown), and no file names a path outside it or a document it does not hold.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const root = resolve(new URL('../..', import.meta.url).pathname);
const test = suite('repository links');

/** The repository's files: tracked and new ones (git), else a walk that skips node_modules and .git. */
function repoFiles(): string[] {
  try {
    const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' });
    return out.split('\0').filter((f) => f && !f.split('/').includes('node_modules') && existsSync(join(root, f)));
  } catch {
    const walk = (dir: string): string[] => readdirSync(dir).flatMap((name) => {
      if (name === 'node_modules' || name === '.git') return [];
      const p = join(dir, name);
      return statSync(p).isDirectory() ? walk(p) : [relative(root, p)];
    });
    return walk(root);
  }
}

const files = repoFiles();
const markdown = files.filter((f) => f === 'README.md' || (f.startsWith('docs/') && f.endsWith('.md')));

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes, repeats numbered. */
function anchors(md: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of md.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const m = !fenced && /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = m[1].toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

/** Inline links and images `[text](target)` and reference definitions `[id]: target`, outside code. */
function links(md: string): string[] {
  const text = md.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  const out: string[] = [];
  for (const m of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push(m[1]);
  for (const m of text.matchAll(/^\s*\[[^\]]+\]:\s+<?(\S+?)>?(?:\s|$)/gm)) out.push(m[1]);
  return out;
}

test('README.md and docs/ exist and have links to check', () => {
  assert.ok(markdown.includes('README.md'));
  assert.ok(markdown.some((f) => f.startsWith('docs/')));
  assert.ok(markdown.reduce((n, f) => n + links(readFileSync(join(root, f), 'utf8')).length, 0) > 10);
});

test('every relative link in README.md and docs/**/*.md resolves to a file in the repository, and each #anchor to a heading', () => {
  const broken: string[] = [];
  for (const f of markdown) {
    for (const target of links(readFileSync(join(root, f), 'utf8'))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, ...
      const [rawPath, anchor] = target.split('#', 2);
      const path = decodeURIComponent(rawPath);
      const file = path === '' ? join(root, f) : resolve(dirname(join(root, f)), path);
      if (path.startsWith('/') || (file !== root && !file.startsWith(root + sep)) || !existsSync(file)) {
        broken.push(`${f}: ${target} (no such file in the repository)`);
        continue;
      }
      if (anchor && file.endsWith('.md') && !anchors(readFileSync(file, 'utf8')).has(anchor)) broken.push(`${f}: ${target} (no such heading)`);
    }
  }
  assert.equal(broken, []);
});

test('no file in the repository links outside it, names a path of a machine, or cites a document it does not hold', () => {
  // Built from parts, so this file does not match itself.
  const outside = new RegExp(['\\.\\.', 'shared'].join('/'));
  const machinePath = new RegExp(`(^|[^\\w.-])/(${['work', 'home', 'Users'].join('|')})/`, 'm');
  const foreignDoc = new RegExp(`\\b(${['PROCESSES', 'API', 'WEBHOOKS', 'STYLE'].join('|')})\\.md\\b`);
  const found: string[] = [];
  for (const f of files) {
    const buf = readFileSync(join(root, f));
    if (buf.includes(0)) continue; // binary (images)
    const lines = buf.toString('utf8').split('\n');
    lines.forEach((line, i) => {
      for (const [what, re] of [['a link outside the repository', outside], ['a machine path', machinePath], ['a document the repository does not hold', foreignDoc]] as const) {
        if (re.test(line)) found.push(`${f}:${i + 1}: ${what}: ${line.trim().slice(0, 120)}`);
      }
    });
  }
  assert.equal(found, []);
});

test.run();
