// The incident model under real faults (docs/models/incident.md §1.10 scenario 14): the worker process is killed
// with SIGKILL while the response SLA clock runs and a page is in flight at the pager, and the Redis
// server is killed and restarted from its AOF while the response SLA clock runs.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startHarness, type Harness } from '../api/harness.ts';
import { alive, startEmbeddedRedis, type EmbeddedRedis } from '../../bin/embedded-redis.ts';
import { freePortForTest, kill9, newPrefix, redisUrl, spawnReady, waitFor } from '../helpers.ts';
import { completed, getRun, history, paths, startIncident, untilRun } from './incident-helpers.ts';

/** A PagerDuty Events API v2 stand-in: one alert per dedup_key, as PagerDuty dedups; can hold a request. */
interface FakePager {
  url: string;
  requests: { dedup_key: string; event_action: string; payload: { summary: string } }[];
  alerts: Set<string>;
  hold: boolean;
  close(): Promise<void>;
}

async function startFakePager(): Promise<FakePager> {
  const held: ServerResponse[] = [];
  const pager: FakePager = { url: '', requests: [], alerts: new Set(), hold: true, close: async () => undefined };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const event = JSON.parse(body);
      pager.requests.push(event);
      // The event reached the pager: the alert exists now, whatever happens to the answer.
      if (event.event_action === 'trigger') pager.alerts.add(event.dedup_key);
      if (pager.hold) {
        held.push(res);
        return;
      }
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'success', dedup_key: event.dedup_key }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  pager.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/enqueue`;
  pager.close = async () => {
    for (const res of held) res.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  return pager;
}

/** SIGKILL a redis-server: with `appendfsync always`, every write it acknowledged is in the AOF already. */
async function killRedis(server: EmbeddedRedis): Promise<void> {
  if (!alive(server.pid)) return;
  process.kill(server.pid, 'SIGKILL');
  await waitFor(() => !alive(server.pid), 10_000, `redis-server ${server.pid} to exit`);
}

/** A redis-server of this test alone: AOF on, fsync on every write, in `dataDir`. */
function ownRedis(dataDir: string, port: number): Promise<EmbeddedRedis> {
  return startEmbeddedRedis({ dataDir, port, fsync: 'always', reuse: false, unref: true });
}

interface Ctx { h: Harness; pager: FakePager; children: ChildProcess[]; redisServers: EmbeddedRedis[]; dirs: string[] }
const test = suite<Ctx>('incident crash', { children: [], redisServers: [], dirs: [] } as never);

test.before(async (ctx) => {
  ctx.h = await startHarness({ consume: false });
  ctx.pager = await startFakePager();
});
test.after(async (ctx) => {
  for (const c of ctx.children) await kill9(c);
  for (const r of ctx.redisServers) await killRedis(r);
  for (const d of ctx.dirs) rmSync(d, { recursive: true, force: true });
  await ctx.pager.close();
  await ctx.h.close();
});

test('scenario 14, worker killed mid-page with the response clock running: the breach fires at the original dueAt and the pager sees one alert', async (ctx) => {
  const { h, pager } = ctx;
  const env = {
    REDIS_URL: await redisUrl(), SERVICECHART_PREFIX: h.prefix, LOG_LEVEL: 'warn',
    SERVICECHART_ADAPTER_PAGE_ONCALL: `pagerduty routing-key-1 ${pager.url}`,
  };
  const spawnWorker = async () => {
    const child = await spawnReady(['bin/servicechart.js', 'worker'], { ...env, LOG_LEVEL: 'info' }, /consumers running/);
    ctx.children.push(child);
    return child;
  };
  const first = await spawnWorker();
  const run = await startIncident(h, {
    number: 'INC-CRASH', title: 'Checkout down', impact: 1, urgency: 1, service: 'checkout',
    slaTargetsMs: { 1: { responseMs: 8000, resolutionMs: 600_000 } },
    delaysMs: { pageEscalationDelay: 600_000, majorCandidateDelay: 600_000 },
  }, 'INC-CRASH');
  const dueAt = run.context.sla.response.dueAt as number;
  await waitFor(() => pager.requests.length >= 1, 8000, 'the page to reach the pager');
  assert.is((await getRun(h, run.id)).context.sla.response.breached, false);
  await kill9(first);

  pager.hold = false;
  // Down until 5 s before the due time: a clock re-armed from the restart would breach at least 3 s late,
  // and a new worker has time to start on a loaded machine (it can take 3 s or more).
  await new Promise((r) => setTimeout(r, Math.max(0, dueAt - 5000 - Date.now())));
  const restartedAt = Date.now();
  await spawnWorker();
  const breached = await untilRun(h, run.id, (r) => r.context.sla.response.breached, 'the response breach', 15_000);
  const breachedAt = breached.context.sla.response.breachedAt as number;
  assert.ok(breachedAt >= dueAt, 'not early');
  assert.ok(breachedAt - dueAt <= 1500, `fired ${breachedAt - dueAt} ms after its due time (restart at ${restartedAt - dueAt} ms)`);

  const items = await waitFor(async () => {
    const all = await history(h, run.id);
    return completed(all, 'page_oncall').length === 1 ? all : null;
  }, 30_000, 'the retried page to complete');
  assert.ok(pager.requests.length >= 2, 'the page was retried after the crash');
  assert.equal([...new Set(pager.requests.map((r) => r.dedup_key))], ['INC-CRASH'], 'every attempt carries the same dedup_key');
  assert.is(pager.alerts.size, 1, 'the pager holds one alert');
  assert.is(items.filter((e) => e.type === 'sla.breached' && e.clock === 'response').length, 1);
  assert.is(items.filter((e) => e.type === 'timer.fired' && e.timer === 'responseBreachDelay').length, 1);
});

test('scenario 14, Redis killed and restarted while the response clock runs: the breach fires at the original dueAt, once', async (ctx) => {
  // A Redis of this test alone, so that killing it disturbs no other suite.
  const dataDir = mkdtempSync(join(tmpdir(), 'sc-incident-redis-'));
  ctx.dirs.push(dataDir);
  const port = await freePortForTest();
  const first = await ownRedis(dataDir, port);
  ctx.redisServers.push(first);

  // The production server process (API, engine, task and timer consumers) on that Redis.
  const key = 'incident-redis-restart-key-1';
  const apiPort = await freePortForTest();
  const server = await spawnReady(['bin/servicechart.js', 'start'], {
    REDIS_URL: first.url, SERVICECHART_PREFIX: newPrefix(), SERVICECHART_API_KEYS: `${key}:admin`, PORT: String(apiPort), LOG_LEVEL: 'info',
  }, /listening on/);
  ctx.children.push(server);
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${apiPort}${path}`, {
      method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
  const readRun = async (id: string) => {
    const res = await call('GET', `/v1/runs/${id}`);
    assert.is(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const readHistory = async (id: string) => {
    const res = await call('GET', `/v1/runs/${id}/history?limit=500`);
    assert.is(res.status, 200, JSON.stringify(res.body));
    return res.body.items as any[];
  };

  const started = await call('POST', '/v1/runs', {
    workflow: 'incident', businessKey: 'INC-REDIS',
    input: {
      number: 'INC-REDIS', title: 'Payments slow', impact: 2, urgency: 1, service: 'payments',
      slaTargetsMs: { 2: { responseMs: 5000, resolutionMs: 600_000 } },
    },
  });
  assert.is(started.status, 201, JSON.stringify(started.body));
  const runId = started.body.id as string;
  assert.is(started.body.context.priority, 2);
  const dueAt = started.body.context.sla.response.dueAt as number;
  assert.ok(paths(started.body.state).some((p) => p.endsWith('responseSla.running')), `response clock running: ${JSON.stringify(started.body.state)}`);

  await killRedis(first);
  // The outage is real: the API cannot read the run and says so.
  assert.is((await call('GET', `/v1/runs/${runId}`)).status, 503);
  // Down for a while, and up again 2 s before the due time: room to reconnect, and a timer re-armed
  // from the restart (or from a replayed start) would breach at least 2 s late.
  const downUntil = Math.max(Date.now() + 500, Math.min(Date.now() + 1500, dueAt - 2000));
  await new Promise((r) => setTimeout(r, downUntil - Date.now()));
  const second = await ownRedis(dataDir, port);
  ctx.redisServers.push(second);
  assert.is.not(second.pid, first.pid);
  const restartedAt = Date.now();

  const breached = await waitFor(async () => {
    const run = await readRun(runId);
    return run.context.sla.response.breached ? run : null;
  }, Math.max(0, dueAt - Date.now()) + 20_000, 'the response breach after the Redis restart');
  const items = await readHistory(runId);
  const breaches = items.filter((e) => e.type === 'sla.breached' && e.clock === 'response');
  assert.is(breaches.length, 1, 'one response breach');
  assert.is(breaches[0].dueAt, dueAt, 'due at the time set before the restart');
  const breachedAt = breaches[0].breachedAt as number;
  assert.is(breached.context.sla.response.breachedAt, breachedAt);
  assert.ok(breachedAt >= dueAt, `fired ${dueAt - breachedAt} ms early`);
  assert.ok(breachedAt - dueAt <= 1500, `fired ${breachedAt - dueAt} ms after its due time (Redis back at ${restartedAt - dueAt} ms)`);
  assert.is(items.filter((e) => e.type === 'timer.fired' && e.timer === 'responseBreachDelay').length, 1);
  assert.ok(paths(breached.state).some((p) => p.endsWith('responseSla.breached')), `responseSla breached: ${JSON.stringify(breached.state)}`);
  assert.equal(items.filter((e) => e.type === 'run.started').length, 1, 'the run was not started again');
  // The same server process rode out the outage: it reconnected rather than crashed.
  assert.is(server.exitCode, null);
  assert.is(server.signalCode, null);
});

test.run();
