// The servicechart CLI, run as the real binary against a real server: tables, --json, watch over SSE
// and the exit codes scripts rely on.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../helpers.ts';
import { startHarness, KEYS, type Harness } from '../api/harness.ts';

const bin = new URL('../../bin/servicechart.js', import.meta.url).pathname;
const test = suite<{ h: Harness; dir: string }>('cli', {} as { h: Harness; dir: string });

/** A JSON workflow with one human task (test/fixtures/approval.json). */
const approval = JSON.parse(readFileSync(new URL('../fixtures/approval.json', import.meta.url), 'utf8'));

interface Result { code: number; out: string; err: string }

function cli(h: Harness, args: string[], opts: { key?: string | null; env?: Record<string, string>; onOut?: (soFar: string) => void } = {}): Promise<Result> {
  const env: NodeJS.ProcessEnv = { ...process.env, SERVICECHART_URL: h.url, ...(opts.env ?? {}) };
  delete env.SERVICECHART_API_KEY;
  if (opts.key !== null) env.SERVICECHART_API_KEY = opts.key ?? KEYS.admin;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
      opts.onOut?.(out);
    });
    child.stderr.on('data', (d) => (err += d));
    const limit = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(limit);
      resolve({ code: code ?? -1, out, err });
    });
  });
}

test.before(async (ctx) => {
  ctx.h = await startHarness();
  ctx.dir = mkdtempSync(join(tmpdir(), 'sc-cli-'));
  const res = await ctx.h.call('POST', '/v1/workflows', { body: { name: 'approval', description: 'one approval', definition: approval } });
  assert.is(res.status, 201);
});
test.after(async (ctx) => ctx.h.close());

test('--help lists the client commands and the exit codes, and exits 0', async ({ h }) => {
  const r = await cli(h, ['--help'], { key: null });
  assert.is(r.code, 0);
  for (const word of ['runs', 'workflows', 'tasks', 'kpis', 'Exit codes']) assert.ok(r.out.includes(word), `help mentions ${word}`);
  const sub = await cli(h, ['runs', 'send', '--help'], { key: null });
  assert.is(sub.code, 0);
  assert.ok(sub.out.includes('--payload'));
});

test('global flags work before or after the command', async ({ h }) => {
  const before = await cli(h, ['--json', 'workflows', 'list']);
  const after = await cli(h, ['workflows', 'list', '--json', '--url', h.url]);
  assert.is(before.code, 0, before.err);
  assert.equal(JSON.parse(before.out), JSON.parse(after.out));
  assert.ok(JSON.parse(before.out).items.some((w: { name: string }) => w.name === 'demo'));
  const keyFlag = await cli(h, ['workflows', 'list', '--key', KEYS.viewer], { key: null });
  assert.is(keyFlag.code, 0, keyFlag.err);
});

test('an unknown command or a missing argument is a usage error: exit 1', async ({ h }) => {
  assert.is((await cli(h, ['runs', 'frobnicate'])).code, 1);
  assert.is((await cli(h, ['runs', 'get'])).code, 1);
});

test('runs start --json prints the run, and runs get / list show it as a table', async ({ h }) => {
  const started = await cli(h, ['runs', 'start', 'demo', '--input', '{"sleepMs":5,"coolDownMs":60000}', '--business-key', 'CLI-1', '--json']);
  assert.is(started.code, 0, started.err);
  const run = JSON.parse(started.out);
  assert.is(run.workflow, 'demo');
  assert.is(run.businessKey, 'CLI-1');
  const stored = await h.call('GET', `/v1/runs/${run.id}`);
  assert.is(stored.status, 200);

  const got = await cli(h, ['runs', 'get', run.id]);
  assert.is(got.code, 0, got.err);
  assert.match(got.out, new RegExp(`id\\s+${run.id}`));
  assert.match(got.out, /businessKey\s+CLI-1/);

  const list = await cli(h, ['runs', 'list', '--business-key', 'CLI-1']);
  assert.is(list.code, 0, list.err);
  const lines = list.out.trim().split('\n');
  assert.match(lines[0], /^ID\s+WORKFLOW\s+STATUS\s+STATE/);
  assert.is(lines.length, 2);
  assert.ok(lines[1].startsWith(run.id));
  await h.call('POST', `/v1/runs/${run.id}/cancel`, { body: {} });
});

test('runs send applies an event; one the state does not accept exits 3 and says what it accepts', async ({ h }) => {
  const run = (await h.call('POST', '/v1/runs', { body: { workflow: 'demo', input: { sleepMs: 60000, coolDownMs: 600000 } } })).body;
  const refused = await cli(h, ['runs', 'send', run.id, 'FINISH']);
  assert.is(refused.code, 3);
  assert.match(refused.err, /EVENT_NOT_ACCEPTED/);
  assert.match(refused.err, /SKIP/);
  const sent = await cli(h, ['runs', 'send', run.id, 'SKIP', '--json']);
  assert.is(sent.code, 0, sent.err);
  assert.is(JSON.parse(sent.out).run.state, 'coolingDown');
  const cancelled = await cli(h, ['runs', 'cancel', run.id, '--reason', 'test']);
  assert.is(cancelled.code, 0, cancelled.err);
  assert.is((await h.call('GET', `/v1/runs/${run.id}`)).body.status, 'cancelled');
  const again = await cli(h, ['runs', 'cancel', run.id]);
  assert.is(again.code, 3, 'cancelling an ended run is refused');
});

test('an unknown run exits 2, a bad key exits 5, a viewer starting a run exits 5', async ({ h }) => {
  assert.is((await cli(h, ['runs', 'get', 'no-such-run'])).code, 2);
  assert.is((await cli(h, ['runs', 'list'], { key: 'wrong-key-123456' })).code, 5);
  const viewer = await cli(h, ['runs', 'start', 'demo'], { key: KEYS.viewer });
  assert.is(viewer.code, 5);
  assert.match(viewer.err, /FORBIDDEN/);
});

test('without a key given, the CLI uses the admin key the server generated in its data dir; with none there, exit 5 says where to find one', async ({ h, dir }) => {
  const data = join(dir, 'data');
  mkdirSync(data, { recursive: true });
  const none = await cli(h, ['runs', 'list'], { key: null, env: { SERVICECHART_DATA_DIR: data } });
  assert.is(none.code, 5);
  assert.match(none.err, /SERVICECHART_API_KEY.*api-key/);
  writeFileSync(join(data, 'api-key'), `${KEYS.admin}\n`);
  const list = await cli(h, ['runs', 'list', '--json'], { key: null, env: { SERVICECHART_DATA_DIR: data } });
  assert.is(list.code, 0, list.err);
  assert.ok(Array.isArray(JSON.parse(list.out).items));
});

test('a server that cannot be reached exits 6', async ({ h }) => {
  const r = await cli(h, ['workflows', 'list'], { env: { SERVICECHART_URL: 'http://127.0.0.1:1' } });
  assert.is(r.code, 6);
});

test('workflows register of an invalid definition exits 4 and prints each problem at its path', async ({ h, dir }) => {
  const file = join(dir, 'broken.json');
  writeFileSync(file, JSON.stringify({ name: 'broken', definition: { initial: 'a', states: { a: { on: { GO: 'nowhere' } } } } }));
  const r = await cli(h, ['workflows', 'register', file]);
  assert.is(r.code, 4);
  assert.match(r.err, /VALIDATION_FAILED/);
  assert.match(r.err, /\/definition\/states\/a\/on\/GO/);
  assert.is((await h.call('GET', '/v1/workflows/broken')).status, 404, 'nothing was stored');

  const good = join(dir, 'good.json');
  writeFileSync(good, JSON.stringify(approval));
  const ok = await cli(h, ['workflows', 'register', good, '--name', 'approval2', '--json']);
  assert.is(ok.code, 0, ok.err);
  assert.equal(JSON.parse(ok.out), { name: 'approval2', version: 1 });
  const list = await cli(h, ['workflows', 'list']);
  assert.match(list.out, /approval2\s+1\s+json/);
  const diagram = await cli(h, ['workflows', 'diagram', 'approval2', '--format', 'svg']);
  assert.is(diagram.code, 0);
  assert.ok(diagram.out.startsWith('<svg'));
});

test('tasks list shows an open approval and tasks complete moves its run on; completing it again exits 3', async ({ h }) => {
  const run = (await h.call('POST', '/v1/runs', { body: { workflow: 'approval' } })).body;
  const list = await cli(h, ['tasks', 'list', '--workflow', 'approval', '--json']);
  assert.is(list.code, 0, list.err);
  const task = JSON.parse(list.out).items.find((t: { runId: string }) => t.runId === run.id);
  assert.ok(task, 'the run has an open task');
  const table = await cli(h, ['tasks', 'list', '--role', 'approver']);
  assert.ok(table.out.includes(task.id));
  const bad = await cli(h, ['tasks', 'complete', task.id, '--outcome', 'MAYBE', '--by', 'ada']);
  assert.is(bad.code, 4);
  const done = await cli(h, ['tasks', 'complete', task.id, '--outcome', 'APPROVE', '--by', 'ada', '--comment', 'fine']);
  assert.is(done.code, 0, done.err);
  assert.is((await h.call('GET', `/v1/runs/${run.id}`)).body.state, 'approved');
  assert.is((await cli(h, ['tasks', 'complete', task.id, '--outcome', 'APPROVE', '--by', 'ada'])).code, 3);
});

test('runs watch follows a run over SSE until it ends and exits 0 when it is done', async ({ h }) => {
  const run = (await h.call('POST', '/v1/runs', { body: { workflow: 'demo', input: { sleepMs: 60000 } } })).body;
  let started!: () => void;
  const firstLine = new Promise<void>((r) => (started = r));
  const watching = cli(h, ['runs', 'watch', run.id], { onOut: (out) => out.includes('running') && started() });
  // Once it prints the run as running, every later entry must come to it over the stream.
  await firstLine;
  await h.call('POST', `/v1/runs/${run.id}/events`, { body: { type: 'SKIP' } });
  await h.call('POST', `/v1/runs/${run.id}/events`, { body: { type: 'FINISH' } });
  const r = await watching;
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /coolingDown/);
  assert.match(r.out, /run\.done/);
  assert.match(r.out, /ended: done/);
});

test('runs watch of a cancelled run exits 1, and history lists its entries in order', async ({ h }) => {
  const run = (await h.call('POST', '/v1/runs', { body: { workflow: 'demo', input: { sleepMs: 60000 } } })).body;
  await h.call('POST', `/v1/runs/${run.id}/cancel`, { body: {} });
  const r = await cli(h, ['runs', 'watch', run.id]);
  assert.is(r.code, 1);
  assert.match(r.out, /ended: cancelled/);
  const hist = await cli(h, ['runs', 'history', run.id, '--json']);
  const items = JSON.parse(hist.out);
  assert.is(items[0].type, 'run.started');
  const seqs = items.map((e: { seq: number }) => e.seq);
  assert.equal(seqs, [...seqs].sort((a: number, b: number) => a - b));
  assert.ok(items.some((e: { type: string }) => e.type === 'run.cancelled'));
});

test('kpis prints a table of a workflow\'s measures (and --json the server\'s answer); exit codes for bad use', async ({ h }) => {
  // One incident opened an hour ago and acknowledged 7 minutes later.
  const opened = Date.now() - 3600_000;
  const run = await h.call('POST', '/v1/runs', { body: { workflow: 'incident', input: { title: 'cli', impact: 2, urgency: 2, openedAt: new Date(opened).toISOString() } } });
  await h.call('POST', `/v1/runs/${run.body.id}/events`, { body: { type: 'ACKNOWLEDGE', by: 'ana', at: new Date(opened + 7 * 60_000).toISOString() } });
  await waitFor(async () => (await h.call('GET', '/v1/kpis?workflow=incident')).body.kpis.find((k: { name: string }) => k.name === 'mtta').count === 1, 5000, 'the MTTA measure');

  const r = await cli(h, ['kpis', '--workflow', 'incident']);
  assert.is(r.code, 0, r.err);
  const mtta = r.out.split('\n').find((l) => l.startsWith('mtta'));
  assert.ok(mtta, r.out);
  assert.match(mtta!, /Mean time to acknowledge\s+7m 0s\s+1\s*$/);
  const json = await cli(h, ['kpis', '--workflow', 'incident', '--since', new Date(opened - 1000).toISOString(), '--json']);
  assert.is(json.code, 0, json.err);
  const body = JSON.parse(json.out);
  assert.is(body.workflow, 'incident');
  assert.is(body.kpis.find((k: { name: string }) => k.name === 'mtta').value, 7 * 60_000);
  assert.is((await cli(h, ['kpis', '--workflow', 'nope'])).code, 2, 'unknown workflow: not found');
  assert.is((await cli(h, ['kpis', '--workflow', 'incident', '--since', 'yesterday'])).code, 4, 'bad time: validation');
  assert.is((await cli(h, ['kpis'])).code, 1, '--workflow is required');
});

test.run();
