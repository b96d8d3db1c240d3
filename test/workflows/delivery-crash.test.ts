// The delivery model under a worker crash (docs/models/delivery.md §3.10 scenario 10): the worker process is killed
// with SIGKILL while `deploy_step` at 30 % is in flight at the deployment target, and a new one finishes it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startHarness, type Harness } from '../api/harness.ts';
import { kill9, redisUrl, spawnReady, waitFor } from '../helpers.ts';
import { completeTask, getRun, history, inState, iso, openTask, startRun, waitForStatus } from './delivery-helpers.ts';

interface DeployPayload { env: string; version: string; weight: number | null; wave: number | null }

/**
 * A deployment API stand-in that honours `Idempotency-Key`, as Stripe-style APIs do: the first request
 * with a key applies the step, a repeat answers without applying it again. It can hold its answers.
 */
interface FakeTarget {
  url: string;
  requests: { key: string; bodyKey: string; payload: DeployPayload }[];
  /** The steps applied, by idempotency key. */
  applied: Map<string, DeployPayload>;
  hold: boolean;
  close(): Promise<void>;
}

async function startFakeTarget(): Promise<FakeTarget> {
  const held: ServerResponse[] = [];
  const target: FakeTarget = { url: '', requests: [], applied: new Map(), hold: true, close: async () => undefined };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const parsed = JSON.parse(body) as { idempotencyKey: string; payload: DeployPayload };
      const key = String(req.headers['idempotency-key'] ?? '');
      target.requests.push({ key, bodyKey: parsed.idempotencyKey, payload: parsed.payload });
      // The step is applied on arrival, whatever happens to the answer.
      const replay = target.applied.has(key);
      if (!replay) target.applied.set(key, parsed.payload);
      if (target.hold) {
        held.push(res);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: replay ? 'replayed' : 'applied' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  target.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/deployments`;
  target.close = async () => {
    for (const res of held) res.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  return target;
}

interface Ctx { h: Harness; target: FakeTarget; children: ChildProcess[] }
const test = suite<Ctx>('delivery crash', { children: [] } as never);

test.before(async (ctx) => {
  // The API and engine run here; tasks and timers run only in the worker processes below.
  ctx.h = await startHarness({ consume: false });
  ctx.target = await startFakeTarget();
});
test.after(async (ctx) => {
  for (const c of ctx.children) await kill9(c);
  await ctx.target.close();
  await ctx.h.close();
});

test('scenario 10, worker killed while deploy_step at 30 % is in flight: the retry carries the same idempotency key, the target applies the step once, and the canary continues from 30 %', async (ctx) => {
  const { h, target } = ctx;
  const spawnWorker = async () => {
    const child = await spawnReady(['bin/servicechart.js', 'worker'], {
      REDIS_URL: await redisUrl(), SERVICECHART_PREFIX: h.prefix, LOG_LEVEL: 'info',
      SERVICECHART_ADAPTER_DEPLOY_STEP: `webhook ${target.url}`,
    }, /consumers running/);
    ctx.children.push(child);
    return child;
  };
  const first = await spawnWorker();
  // deploy_step reaches the target once per version (later canary steps find it running and only shift
  // traffic), so the canary starts at 30 % to put the 30 % step at the target.
  const run = await startRun(h, 'delivery', {
    release: { id: 'REL-CRASH', version: '3.0.0', service: 'payments', commits: [{ sha: 'abc', committedAt: iso(Date.now() - 60_000) }] },
    environments: ['production'],
    changePolicy: 'none',
    approvers: { releaseManager: ['rita'], serviceOwner: ['sam'] },
    canary: { stepWeight: 30, maxWeight: 90 },
    // The progress deadline outlasts the wait for the killed worker's lock to expire (up to ~20 s).
    delaysMs: { canaryIntervalDelay: 150, bakeDelay: 150, elsDelay: 150, stepProgressDeadlineDelay: 50_000, rollbackDeadlineDelay: 10_000 },
  });
  const readiness = await openTask(h, run.id, 'readiness');
  assert.is((await completeTask(h, readiness.id, 'GO', 'rita')).status, 200);

  await waitFor(() => target.requests.length >= 1, 15_000, 'the 30 % step to reach the target');
  const inFlight = await getRun(h, run.id);
  assert.ok(inState(inFlight, 'production.running.canary.setWeight.deploying'), `deploying: ${JSON.stringify(inFlight.state)}`);
  assert.is(inFlight.context.weight, 30);
  assert.is(target.requests[0].payload.weight, 30);
  await kill9(first);

  target.hold = false;
  await spawnWorker();
  const done = await waitForStatus(h, run.id, 'done', 45_000);
  assert.is(done.output.outcome, 'completed');

  assert.ok(target.requests.length >= 2, 'the step was retried after the crash');
  const key = target.requests[0].key;
  assert.ok(key.startsWith(`${run.id}:deploy_step:`), key);
  assert.equal([...new Set(target.requests.map((r) => r.key))], [key], 'every attempt carries the same idempotency key');
  assert.ok(target.requests.every((r) => r.bodyKey === key && r.payload.weight === 30));
  assert.equal([...target.applied.values()], [{ env: 'production', version: '3.0.0', weight: 30, wave: null }], 'the target applied the 30 % step once');

  const entries = await history(h, run.id);
  const deploys = entries.filter((e) => e.type === 'task.scheduled' && e.task === 'deploy_step');
  assert.equal(deploys.map((e) => e.input.weight), [30, 60, 90], 'the 30 % step was not scheduled again, and no step started over from 0');
  const at30 = entries.filter((e) => e.type === 'task.completed' && e.taskId === deploys[0].taskId);
  assert.is(at30.length, 1, 'the 30 % step completed once');
  assert.is(at30[0].output.noop, false);
  assert.is(at30[0].output.adapter, 'webhook');
  assert.equal(entries.filter((e) => e.type === 'delivery.weight_set').map((e) => e.weight), [30, 60, 90], 'the canary went on from 30 %');
  assert.is(entries.filter((e) => e.type === 'state.entered' && e.state === 'production').length, 1, 'production was entered once');
});

test.run();
