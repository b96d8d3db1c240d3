// The layering rules hold: dependency-cruiser checks the repository against .dependency-cruiser.cjs (no cycles,
// the engine imports no outer layer, the process models only the definition API, api/, workers/ and bin/
// only the engine's public surface), and the same rules refuse a small tree that breaks each of them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const root = resolve(new URL('../..', import.meta.url).pathname);
const depcruise = join(root, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
const config = join(root, '.dependency-cruiser.cjs');
const test = suite('dependency rules');

interface Violation { rule: { name: string }; from: string; to: string; cycle?: { name: string }[] }
interface CruiseResult { modules: { source: string }[]; summary: { violations: Violation[]; totalCruised: number } }

/** Runs depcruise in `cwd` over `folders` and returns its JSON report (it exits non-zero on a violation). */
async function cruise(cwd: string, folders: string[]): Promise<CruiseResult> {
  const args = [depcruise, '--config', config, '--output-type', 'json', ...folders];
  const out = await promisify(execFile)(process.execPath, args, { cwd, maxBuffer: 64 * 1024 * 1024 }).catch((err: { stdout?: string; stderr?: string }) => {
    if (!err.stdout) throw new Error(`depcruise failed: ${err.stderr ?? String(err)}`, { cause: err });
    return { stdout: err.stdout };
  });
  return JSON.parse(out.stdout) as CruiseResult;
}

/** `rule: from -> to`; a cycle by its members, sorted, since depcruise may enter it at any of them. */
const describe = (v: Violation) =>
  v.cycle?.length ? `${v.rule.name}: ${[...new Set([v.from, ...v.cycle.map((c) => c.name)])].sort().join(' <-> ')}` : `${v.rule.name}: ${v.from} -> ${v.to}`;

test('the repository breaks none of the rules', async () => {
  const res = await cruise(root, ['engine', 'workflows', 'workers', 'api', 'bin', 'scripts', 'bench', 'test']);
  const sources = new Set(res.modules.map((m) => m.source));
  // The cruise really read the layers: a wrong folder list or an unparsed language would find nothing to refuse.
  for (const f of ['engine/index.ts', 'engine/definition/index.ts', 'workflows/incident.ts', 'api/app.ts', 'workers/runtime.ts', 'bin/main.ts']) {
    assert.ok(sources.has(f), `${f} cruised`);
  }
  assert.ok(res.summary.totalCruised > 150, `cruised ${res.summary.totalCruised} modules`);
  assert.equal(res.summary.violations.map(describe), []);
});

test('each rule refuses a tree that breaks it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-depcruise-'));
  try {
    const files: Record<string, string> = {
      'engine/index.ts': "export { step } from './step.ts';\n",
      'engine/step.ts': "import type { Model } from '../workflows/model.ts';\nimport { more } from './more.ts';\nexport const step = (m: Model) => more(m);\n",
      'engine/more.ts': "import { step } from './step.ts';\nexport const more = (m: unknown) => (m ? step : null);\n",
      'engine/keys.ts': 'export const keys = 1;\n',
      'engine/definition/index.ts': 'export const defineWorkflow = (d: unknown) => d;\n',
      'workflows/model.ts': "import { readFileSync } from 'node:fs';\nimport { defineWorkflow } from '../engine/definition/index.ts';\nexport type Model = { read: typeof readFileSync; d: typeof defineWorkflow };\n",
      'api/route.ts': "import { keys } from '../engine/keys.ts';\nimport { step } from '../engine/index.ts';\nexport const route = [keys, step];\n",
      'workers/task.ts': "import type { Model } from '../workflows/model.ts';\nimport { route } from '../api/route.ts';\nexport const task = (m: Model) => [m, route];\n",
      'engine/testing.ts': "export { step as internals } from './step.ts';\n",
      'bin/main.ts': "import { internals } from '../engine/testing.ts';\nimport { step } from '../engine/index.ts';\nexport const main = [internals, step];\n",
    };
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    const res = await cruise(dir, ['engine', 'workflows', 'api', 'workers', 'bin']);
    const found = res.summary.violations.map(describe).sort();
    assert.equal(found, [
      'api-and-workers-stay-apart: workers/task.ts -> api/route.ts',
      'api-and-workers-stay-apart: workers/task.ts -> workflows/model.ts',
      'api-and-workers-use-the-engine-surface: api/route.ts -> engine/keys.ts',
      'api-and-workers-use-the-engine-surface: bin/main.ts -> engine/testing.ts',
      'engine-stays-inside: engine/step.ts -> workflows/model.ts',
      'no-circular: engine/more.ts <-> engine/step.ts',
      'workflows-use-only-the-definition-api: workflows/model.ts -> fs',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
