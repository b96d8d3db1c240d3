// The run archive and external tasks on a real Redis Cluster of 3 masters (started here on free ports,
// torn down always), 16 partitions: runs spread over every master end through external-task workers,
// idempotency keys and business keys, the sweeper archives them partition by partition (every
// pipeline and script in one slot, or the cluster refuses it) and nothing of them stays in Redis, and
// reads (one run, its history, the archived list, an idempotent repeat) answer from the archive.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import calculateSlot from 'cluster-key-slot';
import { createDirectoryStore, parseRetention, type RedisClient } from '../../engine/index.ts';
import { createEngineInstance as createEngine, type EngineInstance as Engine } from '../../engine/testing.ts';
import { connectRedis, parseHostList } from '../../engine/connection.ts';
import { builtInWorkflows } from '../../workflows/index.ts';
import { builtInTasks } from '../../workers/tasks/index.ts';
import { waitFor, zcardEvery } from '../helpers.ts';
import { redisLeftovers } from '../archive/scenario.ts';
import { startCluster, type TestCluster } from './harness.ts';

let cluster: TestCluster;
let redis: RedisClient;
let engine: Engine;
const dir = mkdtempSync(join(tmpdir(), 'sc-cluster-archive-'));
const prefix = 'carch';

test.before(async () => {
  cluster = await startCluster({ masters: 3, replicasPerMaster: 0 });
  redis = await connectRedis({ topology: 'cluster', nodes: parseHostList(cluster.seeds, 'seeds') });
  engine = createEngine({
    redis, prefix, workflows: builtInWorkflows, tasks: builtInTasks, archive: createDirectoryStore(dir), externalTasks: ['sleep'],
  });
  await engine.ready();
  engine.startTimerConsumer();
});

test.after(async () => {
  await engine?.close().catch(() => undefined);
  await redis?.quit().catch(() => undefined);
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('runs on every master end through external tasks, are archived per partition, leave nothing and stay readable', async () => {
  assert.is(engine.keys.partitions, 16, '16 partitions by default on a cluster');
  const ids: string[] = [];
  for (let i = 0; i < 12; i++) {
    const { run } = await engine.startRun({ workflow: 'demo', businessKey: `ARCH-${i}`, idempotencyKey: `start-${i}`, input: { sleepMs: 1, coolDownMs: 60_000 } });
    ids.push(run.id);
  }
  // The runs sit on more than one master.
  const masters = await cluster.masters();
  const owner = (id: string) => masters.findIndex((m) => m.slots.some(([a, b]) => calculateSlot(engine.keys.run(id as never)) >= a && calculateSlot(engine.keys.run(id as never)) <= b));
  assert.ok(new Set(ids.map(owner)).size > 1, 'runs spread over several masters');

  // Every run's task went to the external tasks (one hash tag); a worker serves them all.
  const done = new Set<string>();
  await waitFor(async () => {
    const locked = await engine.externalTasks.fetch({ workerId: 'w1', types: ['sleep'], max: 20, lockMs: 10_000, waitMs: 0, announce: false });
    for (const t of locked) {
      await engine.externalTasks.complete(t.id, t.lockToken, { sleptMs: 1 });
      done.add(t.runId);
    }
    return done.size === ids.length;
  }, 15_000, 'every external task served');
  for (const id of ids) await engine.sendEvent(id, { type: 'FINISH' }, { idempotencyKey: `finish-${id}` });
  await waitFor(async () => (await zcardEvery(redis, engine.keys, (p) => engine.keys.runsEndedByWorkflow(p, 'demo'))) === ids.length, 10_000, 'ended index');
  const before = new Map<string, unknown>();
  const historyBefore = new Map<string, unknown>();
  for (const id of ids) {
    before.set(id, await engine.getRun(id));
    historyBefore.set(id, (await engine.getHistory(id, { limit: 500 })).items);
  }

  // The sweeper's clock runs ahead, past a one-second retention.
  const sweeper = createEngine({ redis, prefix, workflows: builtInWorkflows, tasks: builtInTasks, externalTasks: ['sleep'], archive: createDirectoryStore(dir), clock: { now: () => Date.now() + 60_000 } });
  try {
    const archiver = sweeper.startArchiver({ retention: parseRetention('*=1s'), everyMs: 200, batchSize: 5 });
    await waitFor(async () => (await zcardEvery(redis, engine.keys, (p) => engine.keys.runsEndedByWorkflow(p, 'demo'))) === 0, 20_000, 'every run archived');
    assert.is(archiver.health().status, 'ok');
  } finally {
    await sweeper.close();
  }
  const left = await redisLeftovers(redis, prefix);
  for (const [key, content] of left) for (const id of ids) assert.not.ok(key.includes(id) || content.includes(id), `${key} still names ${id}`);

  for (const id of ids) {
    const run = await engine.getRun(id);
    assert.is(run.archived, true);
    const { archived, ...rest } = run as typeof run & { archived?: boolean };
    assert.equal(rest, before.get(id));
    assert.equal((await engine.getHistory(id, { limit: 500 })).items, historyBefore.get(id));
  }
  const page = await engine.listRuns({ archived: true, workflow: 'demo', limit: 50 });
  assert.equal(new Set(page.items.map((r) => r.id)), new Set(ids));
  // A repeated start under its Idempotency-Key answers the archived run, not a second one.
  const again = await engine.startRun({ workflow: 'demo', businessKey: 'ARCH-0', idempotencyKey: 'start-0', input: { sleepMs: 1, coolDownMs: 60_000 } });
  assert.is(again.run.id, ids[0]);
  assert.is(again.duplicate, true);
});

test.run();
