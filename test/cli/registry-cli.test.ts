// The registry commands of the servicechart CLI, run as the real binary against a real server:
// import (the docs' worked example in one command), export, services/cis list and get, exit codes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHarness, KEYS, type Harness } from '../api/harness.ts';

const bin = new URL('../../bin/servicechart.js', import.meta.url).pathname;
const examplePath = new URL('../../docs/examples/registry.jsonl', import.meta.url).pathname;
const test = suite<{ h: Harness }>('cli registry', {} as { h: Harness });

test.before(async (ctx) => {
  ctx.h = await startHarness({ consume: false });
});
test.after(async (ctx) => {
  await ctx.h.close();
});

function cli(h: Harness, args: string[], key: string = KEYS.admin): Promise<{ code: number; out: string; err: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, SERVICECHART_URL: h.url, SERVICECHART_API_KEY: key };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const limit = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(limit);
      resolve({ code: code ?? -1, out, err });
    });
  });
}

test('registry import of the worked example, then export gives the same file back', async ({ h }) => {
  const imp = await cli(h, ['registry', 'import', examplePath]);
  assert.is(imp.code, 0, imp.err);
  assert.match(imp.out, /13 created/);
  const exp = await cli(h, ['registry', 'export'], KEYS.viewer);
  assert.is(exp.code, 0, exp.err);
  assert.is(exp.out, readFileSync(examplePath, 'utf8'));
});

test('services list / get and cis list / get print tables; --json prints JSON', async ({ h }) => {
  const list = await cli(h, ['services', 'list', '--criticality', '1'], KEYS.viewer);
  assert.is(list.code, 0, list.err);
  assert.match(list.out, /^NAME\s+CRITICALITY/);
  assert.match(list.out, /checkout\s+1\s+Online checkout\s+checkout-sre\s+PD-CHECKOUT/);
  assert.not.match(list.out, /intranet/);
  const cis = await cli(h, ['cis', 'list', '--service', 'checkout', '--type', 'server'], KEYS.viewer);
  assert.match(cis.out, /web-01\s+server\s+production\s+checkout\s+checkout-app/);
  const ci = await cli(h, ['cis', 'get', 'san-01'], KEYS.viewer);
  assert.match(ci.out, /services depending on it/);
  assert.match(ci.out, /checkout\s+1\s+db-orders/);
  const missing = await cli(h, ['cis', 'get', 'nope'], KEYS.viewer);
  assert.is(missing.code, 2);
});

test('a bad import exits 4 and names every problem with its line; a missing entry exits 2', async ({ h }) => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-reg-'));
  const file = join(dir, 'bad.jsonl');
  writeFileSync(file, [
    JSON.stringify({ kind: 'service', name: 'ok', title: 'fine', criticality: 2 }),
    JSON.stringify({ kind: 'service', name: 'bad', title: 'x', criticality: 7 }),
    JSON.stringify({ kind: 'ci', id: 'c1', type: 'server', title: 'x', dependsOn: ['ghost'] }),
  ].join('\n'));
  const res = await cli(h, ['registry', 'import', file]);
  assert.is(res.code, 4);
  assert.match(res.err, /line 2 \/criticality/);
  assert.match(res.err, /line 3 \/dependsOn\/0: no CI with id ghost/);
});

test.run();
