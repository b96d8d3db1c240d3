// The live task catalog: workers appear in GET /v1/task-types as processes start and drop out when they are
// killed; schema conflicts are reported; a run waiting on a type nobody serves gets task.unserved and keeps waiting.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { startHarness, KEYS, type Harness } from './harness.ts';
import { kill9, redisEnv, spawnReady, waitFor } from '../helpers.ts';
import { createEngine } from '../../engine/index.ts';

const TTL = 1500;
let h: Harness;
const children: ChildProcess[] = [];
const bin = new URL('../../bin/servicechart.js', import.meta.url).pathname;

async function types(): Promise<any[]> {
  const res = await h.call('GET', '/v1/task-types', { key: 'viewer' });
  assert.is(res.status, 200, JSON.stringify(res.body));
  return res.body.items;
}
const typeOf = async (name: string) => (await types()).find((t) => t.name === name);

test.before(async () => {
  h = await startHarness({ workerTtlMs: TTL });
  h.engine.startUnservedWatch({ alertMs: 600, everyMs: 200 });
  const res = await h.call('POST', '/v1/workflows', {
    body: {
      name: 'orphaned',
      tasks: { reconcile_cmdb: { external: true, output: { type: 'object' } } },
      definition: { initial: 'wait', states: { wait: { invoke: { src: 'reconcile_cmdb', onDone: 'done' } }, done: { type: 'final' } } },
    },
  });
  assert.is(res.status, 201, JSON.stringify(res.body));
});

test.after(async () => {
  for (const c of children) await kill9(c);
  await h.close();
});

test('the in-process worker publishes the built-in tasks with their schemas', async () => {
  const sleep = await waitFor(async () => {
    const t = await typeOf('sleep');
    return t?.workers.length ? t : null;
  }, 5000, 'the in-process worker in the catalog');
  assert.is(sleep.execution, 'in-process');
  assert.is(sleep.workers.length, 1);
  assert.is(sleep.workers[0].kind, 'in-process');
  assert.ok(sleep.output, 'schemas shown');
  assert.is(sleep.conflict, null);
});

test('a worker process appears while it runs and drops out after it is killed', async () => {
  const worker = await spawnReady([bin, 'worker'], {
    ...(await redisEnv()), SERVICECHART_PREFIX: h.prefix, SERVICECHART_WORKER_TTL_MS: String(TTL), LOG_LEVEL: 'info',
  }, /consumers running/, 60_000);
  children.push(worker);
  const pidTag = `:${worker.pid}:`;
  await waitFor(async () => (await typeOf('noop')).workers.some((w: any) => w.workerId.includes(pidTag)), 10_000, 'the worker process in the catalog');
  assert.is((await typeOf('noop')).workers.length, 2);
  await kill9(worker);
  await waitFor(async () => !(await typeOf('noop')).workers.some((w: any) => w.workerId.includes(pidTag)), TTL * 4, 'the killed worker to drop out');
});

test('an HTTP worker is live for the types it fetches, and drops out when it stops asking', async () => {
  const loop = spawn('sh', ['-c', `while :; do curl -s -X POST "$URL/v1/external-tasks/fetch" -H "authorization: Bearer $KEY" -H 'content-type: application/json' -d '{"workerId":"curl-1","types":["probe_dns"],"waitMs":300}' >/dev/null; done`], {
    env: { ...process.env, URL: h.url, KEY: KEYS.worker }, stdio: 'ignore', detached: true,
  });
  children.push(loop);
  await waitFor(async () => (await typeOf('probe_dns'))?.workers.some((w: any) => w.workerId === 'curl-1' && w.kind === 'http'), 10_000, 'curl-1 live');
  assert.is((await typeOf('probe_dns')).execution, 'external');
  process.kill(-loop.pid!, 'SIGKILL');
  await waitFor(async () => (await typeOf('probe_dns')).workers.length === 0, TTL * 4, 'curl-1 to drop out');
  // Once live, a type may be used by a JSON workflow without declaring it.
  const reg = await h.call('POST', '/v1/workflows', { body: { name: 'uses-probe', definition: { initial: 'a', states: { a: { invoke: { src: 'probe_dns' } } } } } });
  assert.is(reg.status, 422, 'not served any more: refused');
});

/** Two package workers that disagree on open_ticket's output (live for one TTL). */
async function publishConflict(): Promise<void> {
  const task = (output: object) => ({ name: 'open_ticket', input: { type: 'object' }, output });
  await h.engine.publishWorker({ workerId: 'team-a', kind: 'package', version: '1.0.0' }, [task({ type: 'object', required: ['ticketId'] })]);
  await h.engine.publishWorker({ workerId: 'team-b', kind: 'package', version: '2.0.0' }, [task({ type: 'object', required: ['key'] })]);
}

test('an HTTP worker waiting in a long poll longer than the time to live stays live', async () => {
  const poll = h.call('POST', '/v1/external-tasks/fetch', { key: 'worker', body: { workerId: 'patient', types: ['probe_ntp'], waitMs: TTL * 3 } });
  await new Promise((r) => setTimeout(r, TTL * 2));
  assert.ok((await typeOf('probe_ntp')).workers.some((w: any) => w.workerId === 'patient'), 'still live mid-poll');
  assert.is((await poll).body.tasks.length, 0);
});

test('two workers publishing different schemas for one name are reported', async () => {
  await publishConflict();
  const t = await typeOf('open_ticket');
  assert.is(t.workers.length, 2);
  assert.ok(t.conflict, 'conflict reported');
  assert.equal(t.conflict.workers.map((w: any) => w.workerId).sort(), ['team-a', 'team-b']);
  // A third worker that starts with yet other schemas logs the conflict as it publishes.
  const warnings: string[] = [];
  const other = createEngine({ redis: h.redis, prefix: h.prefix, logger: { info() {}, debug() {}, error() {}, warn: (o, m) => warnings.push(`${m ?? o}`) } });
  await other.publishWorker({ workerId: 'team-c', kind: 'package', version: '3.0.0' }, [{ name: 'open_ticket', output: { type: 'object', required: ['id'] } }]);
  await other.close();
  assert.ok(warnings.some((w) => w.includes('different schemas for task open_ticket')), warnings.join('; '));
});

test('a run waiting on a type with no live worker gets task.unserved and keeps waiting', async () => {
  const start = await h.call('POST', '/v1/runs', { body: { workflow: 'orphaned' } });
  const runId = start.body.id;
  const entry = await waitFor(async () => {
    const res = await h.call('GET', `/v1/runs/${runId}/history?limit=100`);
    return res.body.items.find((e: any) => e.type === 'task.unserved');
  }, 10_000, 'task.unserved');
  assert.is(entry.task, 'reconcile_cmdb');
  assert.ok(entry.waitingMs >= 600);
  const run = await h.call('GET', `/v1/runs/${runId}`);
  assert.is(run.body.status, 'running');
  const t = await typeOf('reconcile_cmdb');
  assert.is(t.workers.length, 0);
  assert.is(t.queue.waiting, 1);
  assert.ok(t.queue.oldestWaitingMs >= 600);
  // Reported once, however long it waits.
  await new Promise((r) => setTimeout(r, 600));
  const again = await h.call('GET', `/v1/runs/${runId}/history?limit=100`);
  assert.is(again.body.items.filter((e: any) => e.type === 'task.unserved').length, 1);
  // A failed attempt counts in the failures of the last hour.
  const got = await h.call('POST', '/v1/external-tasks/fetch', { key: 'worker', body: { workerId: 'w', types: ['reconcile_cmdb'] } });
  await h.call('POST', `/v1/external-tasks/${got.body.tasks[0].id}/fail`, { key: 'worker', body: { lockToken: got.body.tasks[0].lockToken, message: 'down', retryable: true } });
  assert.is((await typeOf('reconcile_cmdb')).failuresLastHour, 1);
});

test('servicechart tasks types prints the catalog', async () => {
  // The two workers keep beating while the CLI starts.
  await publishConflict();
  const beat = setInterval(() => void publishConflict(), TTL / 3);
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'tasks', 'types'], { env: { ...process.env, SERVICECHART_URL: h.url, SERVICECHART_API_KEY: KEYS.viewer }, stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`exit ${code}: ${text}`))));
  }).finally(() => clearInterval(beat));
  assert.match(out, /TYPE\s+RUNS\s+LIVE WORKERS/);
  // The worker `w` that failed it a moment ago may still be live.
  assert.match(out, /reconcile_cmdb\s+external\s+(none|w \(http\))\s/);
  assert.match(out, /open_ticket: workers publish different schemas: team-a, team-b/);
});

test.run();
