// The worker package (`runWorker`) on a real Redis Cluster of 3 masters (started here on free ports, torn
// down always): given a Cluster connection, it reads the installation's partition count, takes the tasks of
// runs on every master and hands each result to its run once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type RedisClient } from '../../engine/index.ts';
import { createEngineInstance as createEngine, type EngineInstance as Engine } from '../../engine/testing.ts';
import { connectRedis, parseHostList } from '../../engine/connection.ts';
import { defineTask, runWorker, type RunningWorker } from '../../workers/package.ts';
import { builtInWorkflows } from '../../workflows/index.ts';
import { builtInTasks } from '../../workers/tasks/index.ts';
import { waitFor } from '../helpers.ts';
import { startCluster, type TestCluster } from './harness.ts';

let cluster: TestCluster;
let redis: RedisClient;
let engine: Engine;
let worker: RunningWorker | undefined;
const prefix = 'cwork';

test.before(async () => {
  cluster = await startCluster({ masters: 3, replicasPerMaster: 0 });
  redis = await connectRedis({ topology: 'cluster', nodes: parseHostList(cluster.seeds, 'seeds') });
  // The server side: 16 partitions (the cluster default), `sleep` left to external workers.
  engine = createEngine({ redis, prefix, workflows: builtInWorkflows, tasks: builtInTasks, externalTasks: ['sleep'] });
  await engine.ready();
  engine.startTimerConsumer();
});

test.after(async () => {
  await worker?.close(2000).catch(() => undefined);
  await engine?.close().catch(() => undefined);
  await redis?.quit().catch(() => undefined);
  await cluster?.stop();
});

test('runWorker on a Cluster connection serves the tasks of runs on every partition, each applied once', async () => {
  const served: string[] = [];
  const sleep = defineTask<{ ms?: number }, { sleptMs: number }>({
    name: 'sleep',
    input: { type: 'object' } as never,
    output: { type: 'object', properties: { sleptMs: { type: 'number' } }, required: ['sleptMs'] } as never,
    handler: async (_input, ctx) => {
      served.push(ctx.idempotencyKey);
      return { sleptMs: 1 };
    },
  });
  worker = await runWorker({ redis, prefix, tasks: [sleep], concurrency: 4 });
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) {
    const { run } = await engine.startRun({ workflow: 'demo', businessKey: `WORK-${i}`, input: { sleepMs: 1, coolDownMs: 60_000 } });
    ids.push(run.id);
  }
  assert.ok(new Set(ids.map((id) => engine.keys.partitionOf(id as never))).size > 1, 'runs in several partitions');
  await waitFor(async () => {
    for (const id of ids) {
      const h = await engine.getHistory(id, { limit: 500 });
      if (!h.items.some((e) => e.type === 'task.completed' && e.task === 'sleep')) return false;
    }
    return true;
  }, 20_000, 'every sleep task completed through the package worker');
  for (const id of ids) {
    const h = await engine.getHistory(id, { limit: 500 });
    assert.is(h.items.filter((e) => e.type === 'task.completed' && e.task === 'sleep').length, 1, `run ${id}: its task applied once`);
  }
  assert.is(new Set(served).size, ids.length, 'one invocation per run');
});

test.run();
