// The engine on a Sentinel-managed master (one master, one replica, three sentinels) with
// SERVICECHART_REPLICA_ACKS=1, every built-in workflow running: the master is SIGKILLed mid-burst, the
// sentinels promote the replica and the processes follow it without a restart. Every answer is 2xx or a
// 503 UNAVAILABLE within 5 s, retried writes apply once, timers fire once, task results apply once,
// every run reaches its end.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startSentinels, type TestSentinels } from './harness.ts';
import { assertAnswersHealthy, assertAppliedOnce, burst, finish, startServers, startWorkload, type Servers } from './e2e.ts';
import { newPrefix } from '../helpers.ts';

const test = suite<{ sentinels: TestSentinels; servers: Servers }>('sentinel failover', {} as never);

test.before(async (ctx) => {
  ctx.sentinels = await startSentinels({ downAfterMs: 1000, failoverTimeoutMs: 3000 });
  ctx.servers = await startServers({
    REDIS_SENTINELS: ctx.sentinels.seeds, REDIS_SENTINEL_MASTER: ctx.sentinels.masterName,
    SERVICECHART_REPLICA_ACKS: '1', SERVICECHART_REPLICA_ACK_TIMEOUT_MS: '1000', SERVICECHART_PREFIX: newPrefix(),
  }, 1);
});

test.after(async (ctx) => {
  await ctx.servers?.stop();
  await ctx.sentinels?.stop();
});

test('the master killed mid-burst: 503s within 5 s or 2xx, the processes follow the new master, retries apply once, every run ends', async ({ sentinels, servers }) => {
  const w = await startWorkload(servers, { incidents: 6, demos: 3, changes: 2, deliveries: 1, plannings: 1, updates: 5, timerMs: 9000 }, 's');
  const before = await sentinels.master();
  let failedOver: Promise<unknown> | null = null;
  const total = w.incidents.length * w.updates + w.changes.length + w.deliveries.length + w.plannings.length * 8;
  const result = await burst(servers, w, (acked) => {
    if (!failedOver && acked >= Math.floor(total / 4)) {
      // Kill the master; once the replica is promoted, the old master comes back and the sentinels
      // make it the new master's replica (with REPLICA_ACKS=1 writes wait for that).
      failedOver = sentinels.killMaster().then(() => before.restart()).then(() => sentinels.waitHealthy(1, 60_000));
      // Awaited below; if the burst fails first, its failure is the one reported.
      failedOver.catch(() => undefined);
    }
  });
  assert.ok(failedOver, 'the master was killed during the burst');
  await failedOver;
  assert.is.not(await sentinels.master(), before, 'the replica was promoted');
  assert.ok(result.refusals > 0, 'some writes were refused (503) during the failover');
  await finish(servers, w);
  await assertAppliedOnce(servers, w);
  assertAnswersHealthy(servers);
  const refused = servers.answers.filter((a) => a.status === 503);
  console.log(`sentinel failover: ${servers.answers.length} answers, ${refused.length} refused (503), slowest ${Math.max(...servers.answers.map((a) => a.ms))} ms`);
  for (const p of [servers.api, ...servers.workers]) assert.is(p.exitCode, null, 'no process crashed');
});

test.run();
