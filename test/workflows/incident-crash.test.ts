// The incident model under a worker crash (PROCESSES.md §1.10 scenario 14): the worker process is
// killed with SIGKILL while the response SLA clock runs and a page is in flight at the pager.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startHarness, type Harness } from '../api/harness.ts';
import { redisUrl, spawnReady, waitFor } from '../helpers.ts';
import { completed, getRun, history, startIncident, untilRun } from './incident-helpers.ts';

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

function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    child.once('exit', () => r());
    child.kill('SIGKILL');
  });
}

const test = suite<{ h: Harness; pager: FakePager; children: ChildProcess[] }>('incident crash', { children: [] } as never);

test.before(async (ctx) => {
  ctx.h = await startHarness({ consume: false });
  ctx.pager = await startFakePager();
});
test.after(async (ctx) => {
  for (const c of ctx.children) await kill9(c);
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
    slaTargetsMs: { 1: { responseMs: 3000, resolutionMs: 600_000 } },
    delaysMs: { pageEscalationDelay: 600_000, majorCandidateDelay: 600_000 },
  }, 'INC-CRASH');
  const dueAt = run.context.sla.response.dueAt as number;
  await waitFor(() => pager.requests.length >= 1, 8000, 'the page to reach the pager');
  assert.is((await getRun(h, run.id)).context.sla.response.breached, false);
  await kill9(first);

  pager.hold = false;
  // Down until 2 s before the due time: a clock re-armed from the restart would breach at least 1 s late.
  await new Promise((r) => setTimeout(r, Math.max(0, dueAt - 2000 - Date.now())));
  const restartedAt = Date.now();
  await spawnWorker();
  const breached = await untilRun(h, run.id, (r) => r.context.sla.response.breached, 'the response breach', 15_000);
  const breachedAt = breached.context.sla.response.breachedAt as number;
  assert.ok(breachedAt >= dueAt, 'not early');
  assert.ok(breachedAt - dueAt < 1000, `fired ${breachedAt - dueAt} ms after its due time (restart at ${restartedAt - dueAt} ms)`);

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

test.run();
