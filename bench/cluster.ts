// `BENCH_TOPOLOGY=cluster npm run bench`: the engine's step throughput on a local Redis Cluster of 3
// masters (with a replica each), and how evenly the masters share the work: the commands each master
// served during the run, from INFO commandstats before and after. Last line:
// `bench (cluster): engine <N> steps/s on 3 masters, <P> partitions, commands per master <a>/<b>/<c>, max/min <R>`.
import { Cluster } from 'ioredis';
import { createEngine, type WorkflowDefinition } from '../engine/index.ts';
import { connectRedis } from '../engine/connection.ts';
import { startTaskWorker } from '../workers/runtime.ts';
import { builtInTasks } from '../workers/tasks/index.ts';
import { startCluster, info } from '../test/cluster/harness.ts';

// Not client traffic: replication acknowledgements, cluster gossip queries, the bench's own probes.
const ADMIN = new Set(['replconf', 'cluster', 'info', 'ping', 'config', 'client', 'command', 'hello', 'auth', 'select', 'dbsize', 'psync', 'sync']);

async function commandsServed(port: number): Promise<number> {
  const stats = await info(port, 'commandstats');
  let calls = 0;
  for (const [name, value] of Object.entries(stats)) {
    const cmd = name.replace(/^cmdstat_/, '').split('|')[0];
    if (ADMIN.has(cmd)) continue;
    calls += Number(/calls=(\d+)/.exec(value)?.[1] ?? 0);
  }
  return calls;
}

export interface ClusterBenchOptions {
  workflow: WorkflowDefinition;
  chains: number;
  steps: number;
  concurrency: number;
  partitions: number;
  log(line: string): void;
}

export async function clusterBench(o: ClusterBenchOptions): Promise<void> {
  const cluster = await startCluster({ masters: 3, replicasPerMaster: 1 });
  try {
    const seeds = cluster.nodes.map((n) => ({ host: n.host, port: n.port }));
    const redis = (await connectRedis({ topology: 'cluster', nodes: seeds })) as Cluster;
    const engine = createEngine({ redis, prefix: 'bench', partitions: o.partitions, workflows: [o.workflow], tasks: builtInTasks });
    await engine.ready();
    engine.startTimerConsumer({ concurrency: o.concurrency });
    const worker = await startTaskWorker({ engine, concurrency: o.concurrency });
    await worker.waitUntilReady();
    const masters = await cluster.masters();
    o.log(`bench (cluster): ${o.chains} runs of ${o.steps} steps, concurrency ${o.concurrency}, ${o.partitions} partitions; local Redis Cluster of ${masters.length} masters with a replica each (AOF everysec)`);

    const before = await Promise.all(masters.map((m) => commandsServed(m.node.port)));
    const started = performance.now();
    await Promise.all(Array.from({ length: o.chains }, () => engine.startRun({ workflow: o.workflow.name })));
    const deadline = Date.now() + 300_000;
    for (;;) {
      const done = await engine.countRuns('done');
      if (done >= o.chains) break;
      if (Date.now() > deadline) throw new Error(`only ${done} of ${o.chains} runs finished in time`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const seconds = (performance.now() - started) / 1000;
    const after = await Promise.all(masters.map((m) => commandsServed(m.node.port)));
    const served = after.map((n, i) => n - before[i]);
    const total = served.reduce((a, b) => a + b, 0);
    const ratio = Math.max(...served) / Math.min(...served);
    const stepsPerSecond = (o.chains * o.steps) / seconds;
    o.log(`commands served per master: ${served.map((n, i) => `${masters[i].node.address} ${n} (${((100 * n) / total).toFixed(1)}%)`).join(', ')}`);
    o.log(
      `bench (cluster): engine ${Math.round(stepsPerSecond)} steps/s on ${masters.length} masters, ${o.partitions} partitions, ` +
        `commands per master ${served.map((n) => ((100 * n) / total).toFixed(0) + '%').join('/')}, max/min ${ratio.toFixed(2)}`,
    );
    await worker.close();
    await engine.close();
    await redis.quit();
    if (ratio > 1.5) process.exitCode = 1;
  } finally {
    await cluster.stop();
  }
}
