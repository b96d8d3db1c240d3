// The engine on a real Redis Cluster (3 masters, a replica each, 16 partitions) with
// SERVICECHART_REPLICA_ACKS=1, as every process role at once: `servicechart start` (API and consumers),
// `api` and `worker`, calls spread over both API processes. Every built-in workflow runs (incidents,
// demo runs, standard changes, canary deliveries through their real change, planning demands handed
// off to a child delivery: tasks, human tasks, timers, runs starting and telling each other across
// partitions) while the master holding the most keys is SIGKILLed mid-burst, and then the worker
// process. Every answer is 2xx or a 503 within 5 s, no process crashes, every acknowledged (or retried
// until acknowledged) write is applied once, timers fire once, task results apply once, and every run
// reaches its end.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startCluster, type TestCluster } from './harness.ts';
import { assertAnswersHealthy, assertAppliedOnce, burst, finish, startServers, startWorkload, type Servers } from './e2e.ts';
import { kill9, newPrefix, waitFor } from '../helpers.ts';
import { fixture, signed, SECRETS } from '../api/hooks-util.ts';

const test = suite<{ cluster: TestCluster; servers: Servers }>('cluster failover', {} as never);

test.before(async (ctx) => {
  ctx.cluster = await startCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1000 });
  ctx.servers = await startServers({
    REDIS_CLUSTER_NODES: ctx.cluster.nodes.slice(0, 2).map((n) => n.address).join(','),
    SERVICECHART_PARTITIONS: '16', SERVICECHART_REPLICA_ACKS: '1', SERVICECHART_REPLICA_ACK_TIMEOUT_MS: '1000',
    SERVICECHART_PREFIX: newPrefix(), SERVICECHART_HOOK_SECRET_ALERTMANAGER: SECRETS.alertmanager,
  }, 1, ['start', 'api']);
});

test.after(async (ctx) => {
  await ctx.servers?.stop();
  await ctx.cluster?.stop();
});

test('the console and a signed webhook work on the cluster; a repeat of the alert reaches the same runs', async ({ servers }) => {
  assert.is((await fetch(`${servers.url}/`)).status, 200, 'the console page');
  const body = fixture('alertmanager-firing');
  for (const a of body.alerts) a.fingerprint = `${a.fingerprint.slice(0, 10)}cl`;
  const raw = JSON.stringify(body);
  const deliver = async () => {
    const res = await fetch(`${servers.url}/v1/hooks/alertmanager`, { method: 'POST', headers: signed('alertmanager', raw), body: raw });
    return { status: res.status, body: await res.json() };
  };
  const first = await deliver();
  assert.is(first.status, 202, JSON.stringify(first.body));
  assert.ok(first.body.results.some((r: any) => r.action === 'started'), 'the alert started a run');
  const again = await deliver();
  assert.is(again.status, 202);
  // Alertmanager sends no delivery id: a repeat is an event to the open run the business key finds.
  assert.equal(again.body.results.map((r: any) => [r.action, r.runId]), first.body.results.map((r: any) => ['event', r.runId]), 'the repeat reached the same runs');
  const log = await servers.call('GET', '/v1/hooks/deliveries?limit=10');
  assert.is(log.status, 200);
  assert.is(log.body.items.length, 2, 'both deliveries are in the log, read across partitions');
  for (const r of first.body.results.filter((x: any) => x.runId)) assert.is((await servers.call('GET', `/v1/runs/${r.runId}`)).status, 200);
});

test('a master killed mid-burst: 503s within 5 s or 2xx, retries apply once, timers fire once, every run ends', async ({ cluster, servers }) => {
  const w = await startWorkload(servers, { incidents: 12, demos: 6, changes: 4, deliveries: 2, plannings: 2, updates: 6, timerMs: 9000 }, 'c');
  // Every partition holds runs: the runs spread over all three masters.
  const masters = await cluster.masters();
  for (const m of masters) assert.ok(Number(await m.node.command('DBSIZE')) > 0, `master ${m.node.address} holds keys`);
  const victim = await cluster.busiestMaster();

  let killed: Promise<void> | null = null;
  let workerKilled: Promise<void> | null = null;
  const total = w.incidents.length * w.updates + w.changes.length + w.deliveries.length + w.plannings.length * 8;
  const result = await burst(servers, w, (acked) => {
    if (!killed && acked >= Math.floor(total / 4)) {
      // Kill, wait for the replica to take over, then bring the old master back as its replica
      // (with REPLICA_ACKS=1 the promoted master needs one before it acknowledges again).
      killed = cluster.killMaster(victim).then(() => victim.restart()).then(() => cluster.waitHealthy());
      // Awaited below; if the burst fails first, its failure is the one reported.
      killed.catch(() => undefined);
    }
    // The worker process dies too: the `start` process takes over every partition's jobs with no action.
    if (!workerKilled && acked >= Math.floor(total / 2)) workerKilled = kill9(servers.workers[0]);
  });
  assert.ok(workerKilled, 'a worker was killed during the burst');
  await workerKilled;
  assert.ok(killed, 'the master was killed during the burst');
  await killed;
  assert.ok(result.refusals > 0, 'some writes were refused (503) during the failover');
  await finish(servers, w);
  await assertAppliedOnce(servers, w);
  assertAnswersHealthy(servers);
  const refused = servers.answers.filter((a) => a.status === 503);
  console.log(`cluster failover: ${servers.answers.length} answers, ${refused.length} refused (503), slowest ${Math.max(...servers.answers.map((a) => a.ms))} ms`);
  for (const p of servers.serving) assert.is(p.exitCode, null, 'no process crashed');
  // The API still answers reads across every partition.
  const listed = await waitFor(async () => {
    const res = await servers.call('GET', '/v1/runs?status=done&limit=200');
    return res.status === 200 ? res.body.items : null;
  });
  // The workload's runs, the deliveries' changes and the demands' deliveries.
  assert.is(listed.length, w.incidents.length + w.demos.length + w.changes.length + 2 * w.deliveries.length + 2 * w.plannings.length);
});

test.run();
