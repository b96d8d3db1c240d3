// `npm run bench`: the engine's step throughput against a raw BullMQ chain baseline measured in the
// same run (and the CPU time per step each takes in Node and in Redis), run latency, timer lateness
// and Redis memory per run. Last line:
// `bench: engine <N> steps/s, baseline <M> steps/s, ratio <R>`. Also what a KPI request costs at
// 10,000 and 100,000 ended runs (bench/kpis.ts), the registry at 1,000 services and 10,000 CIs
// (bench/registry.ts), and Redis memory per run before and after archiving with the sweeper's
// throughput to each archive store (bench/archive.ts). BENCH_TOPOLOGY=cluster measures on a local
// Redis Cluster instead (bench/cluster.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { setup, type AnyStateMachine } from 'xstate';
import { createEngine, defineWorkflow, taskActors, type Engine } from '../engine/index.ts';
import { startEmbeddedRedis } from '../bin/embedded-redis.ts';
import { startTaskWorker } from '../workers/runtime.ts';
import { builtInTasks } from '../workers/tasks/index.ts';
import { kpiBench } from './kpis.ts';
import { clusterBench } from './cluster.ts';
import { registryBench } from './registry.ts';
import { archiveBench } from './archive.ts';

const CHAINS = Number(process.env.BENCH_CHAINS ?? 1000);
const STEPS = 10;
const CONCURRENCY = 100;
const TIMERS = Number(process.env.BENCH_TIMERS ?? 1000);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};
const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(n < 10 ? 1 : 0) : 'n/a');
const log = (line: string) => process.stdout.write(line + '\n');

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

/** Redis's CPU time so far (user + system), in seconds. */
async function redisCpuSeconds(url: string): Promise<number> {
  const r = new Redis(url);
  const info = await r.info('cpu');
  await r.quit();
  return Number(/used_cpu_user:([\d.]+)/.exec(info)![1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)![1]);
}

/**
 * CPU time per step of this process (the queue and its consumers run here) and of Redis: steadier
 * than steps/s on a machine whose cores other work shares.
 */
async function cpuPerStep(url: string, run: () => Promise<void>): Promise<{ nodeUs: number; redisUs: number }> {
  const node0 = process.cpuUsage();
  const redis0 = await redisCpuSeconds(url);
  await run();
  const node = process.cpuUsage(node0);
  const redisSeconds = (await redisCpuSeconds(url)) - redis0;
  return { nodeUs: (node.user + node.system) / (CHAINS * STEPS), redisUs: (redisSeconds * 1e6) / (CHAINS * STEPS) };
}

async function baseline(url: string): Promise<{ stepsPerSecond: number; cpu: { nodeUs: number; redisUs: number } }> {
  const conn = new Redis(url, { maxRetriesPerRequest: null });
  const prefix = '{bench-base}';
  const queue = new Queue('chain', { connection: conn, prefix });
  let done = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  const worker = new Worker(
    'chain',
    async (job) => {
      const { chain, step } = job.data as { chain: number; step: number };
      if (step + 1 < STEPS) {
        await queue.add('step', { chain, step: step + 1 }, { jobId: `c${chain}s${step + 1}`, removeOnComplete: true });
      } else if (++done === CHAINS) resolveAll();
    },
    { connection: conn, prefix, concurrency: CONCURRENCY, drainDelay: 1 },
  );
  await worker.waitUntilReady();
  let seconds = 0;
  const cpu = await cpuPerStep(url, async () => {
    const started = performance.now();
    await queue.addBulk(Array.from({ length: CHAINS }, (_, chain) => ({ name: 'step', data: { chain, step: 0 }, opts: { jobId: `c${chain}s0`, removeOnComplete: true } })));
    await all;
    seconds = (performance.now() - started) / 1000;
  });
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  await conn.quit();
  return { stepsPerSecond: (CHAINS * STEPS) / seconds, cpu };
}

function chainWorkflow() {
  const states: Record<string, object> = {};
  for (let i = 0; i < STEPS; i++) states[`s${i}`] = { invoke: { id: `t${i}`, src: 'noop', onDone: i + 1 < STEPS ? `s${i + 1}` : 'done' } };
  states.done = { type: 'final' };
  return defineWorkflow({
    name: 'chain', version: 1, description: `${STEPS} sequential no-op tasks`,
    machine: setup({ actors: taskActors('noop') }).createMachine({ id: 'chain', initial: 's0', states } as never) as unknown as AnyStateMachine,
  });
}

function timerWorkflow() {
  return defineWorkflow({
    name: 'sleeper', version: 1, description: 'one timer',
    machine: setup({ types: {} as { context: { ms: number }; input: { ms: number } }, delays: { wait: ({ context }) => context.ms } }).createMachine({
      id: 'sleeper', context: ({ input }) => ({ ms: input.ms }), initial: 'waiting',
      states: { waiting: { after: { wait: 'done' } }, done: { type: 'final' } },
    }),
  });
}

async function waitDone(redis: Redis, engine: Engine, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await engine.countRuns('done')) < n) {
    if (Date.now() > deadline) throw new Error(`only ${await engine.countRuns('done')} of ${n} runs finished in time`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function engineBench(url: string) {
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  const prefix = 'bench';
  const engine = createEngine({ redis, prefix, workflows: [chainWorkflow(), timerWorkflow()], tasks: builtInTasks });
  engine.startTimerConsumer({ concurrency: CONCURRENCY });
  const worker = await startTaskWorker({ engine, concurrency: CONCURRENCY });
  await worker.waitUntilReady();

  const memBefore = await usedMemory(redis);
  const ids: string[] = [];
  let seconds = 0;
  const cpu = await cpuPerStep(url, async () => {
    const started = performance.now();
    await Promise.all(Array.from({ length: CHAINS }, async () => ids.push((await engine.startRun({ workflow: 'chain' })).run.id)));
    await waitDone(redis, engine, CHAINS, 300_000);
    seconds = (performance.now() - started) / 1000;
  });
  const stepsPerSecond = (CHAINS * STEPS) / seconds;
  const latencies: number[] = [];
  for (const id of ids) {
    const r = await engine.getRun(id);
    latencies.push(Date.parse(r.endedAt!) - Date.parse(r.createdAt));
  }
  const memFinished = ((await usedMemory(redis)) - memBefore) / CHAINS;

  // Timers: random 1-5 s delays, lateness read from each run's history.
  const timerIds: string[] = [];
  const memBeforeTimers = await usedMemory(redis);
  for (let i = 0; i < TIMERS; i++) timerIds.push((await engine.startRun({ workflow: 'sleeper', input: { ms: 1000 + Math.floor(Math.random() * 4000) } })).run.id);
  const memActive = ((await usedMemory(redis)) - memBeforeTimers) / TIMERS;
  await waitDone(redis, engine, CHAINS + TIMERS, 60_000);
  const lateness: number[] = [];
  for (const id of timerIds) {
    const fired = (await engine.getHistory(id, { limit: 50 })).items.find((h) => h.type === 'timer.fired');
    lateness.push(Number(fired?.latenessMs));
  }
  await worker.close();
  await engine.close();
  await redis.quit();
  return { stepsPerSecond, cpu, latencies, lateness, memFinished, memActive };
}

if (process.env.BENCH_TOPOLOGY === 'cluster') {
  await clusterBench({ workflow: chainWorkflow(), chains: CHAINS, steps: STEPS, concurrency: CONCURRENCY, partitions: Number(process.env.BENCH_PARTITIONS ?? 16), log });
  process.exit();
} else if (process.env.BENCH_TOPOLOGY && process.env.BENCH_TOPOLOGY !== 'single') {
  throw new Error(`BENCH_TOPOLOGY must be "single" (the default) or "cluster", got "${process.env.BENCH_TOPOLOGY}"`);
}

const dir = mkdtempSync(join(tmpdir(), 'sc-bench-'));
const server = await startEmbeddedRedis({ dataDir: dir, reuse: false });
try {
  log(`bench: ${CHAINS} chains/runs of ${STEPS} steps, concurrency ${CONCURRENCY}, ${TIMERS} timers; embedded redis-server (AOF everysec, hz 100)`);
  const b = await baseline(server.url);
  const base = b.stepsPerSecond;
  log(`baseline (raw BullMQ chain, each job enqueues the next): ${fmt(base)} steps/s; CPU per step: Node ${fmt(b.cpu.nodeUs)} us, Redis ${fmt(b.cpu.redisUs)} us`);
  const e = await engineBench(server.url);
  log(`engine (${CHAINS} concurrent runs x ${STEPS} no-op tasks):   ${fmt(e.stepsPerSecond)} steps/s; CPU per step: Node ${fmt(e.cpu.nodeUs)} us, Redis ${fmt(e.cpu.redisUs)} us`);
  log(`run latency (start to done): p50 ${fmt(pct(e.latencies, 50))} ms, p99 ${fmt(pct(e.latencies, 99))} ms`);
  log(`timer lateness (${TIMERS} timers, 1-5 s): p50 ${fmt(pct(e.lateness, 50))} ms, p99 ${fmt(pct(e.lateness, 99))} ms`);
  log(`redis memory: ${fmt(e.memFinished / 1024)} KiB per finished run (history included), ${fmt(e.memActive / 1024)} KiB per active run with a pending timer`);
  const kpiSizes = (process.env.BENCH_KPI_RUNS ?? '10000,100000').split(',').map(Number);
  for (const k of await kpiBench(server.url, kpiSizes)) {
    log(`kpi request (incident, ${k.kpis} KPIs with breakdowns) at ${k.runs} ended runs (${k.entries} measures): all time ${fmt(k.allMs)} ms, 30-day window ${fmt(k.window30Ms)} ms, 1-day window ${fmt(k.window1Ms)} ms; baseline reading every measure once ${fmt(k.scanAllMs)} ms`);
  }
  const r = await registryBench(server.url);
  log(`registry: import of ${r.services} services and ${r.cis} CIs (${fmt(r.bytes / 1048576)} MiB of JSON Lines) ${fmt(r.importMs)} ms, unchanged re-import ${fmt(r.reimportMs)} ms, ${fmt(r.redisBytes / 1048576)} MiB in Redis; `
    + `impact of a bottom-layer CI (${r.impactDeepDependents} dependents, ${r.impactDeepServices} services) ${fmt(r.impactDeepMs)} ms, of a typical CI ${fmt(r.impactTypicalMs)} ms`);
  for (const a of await archiveBench(server.url, Number(process.env.BENCH_ARCHIVE_RUNS ?? 2000))) {
    log(`archive (${a.store}, ${a.runs} finished runs of 10 events): redis memory ${fmt(a.bytesBefore / 1024)} KiB per run before, ${fmt(a.bytesAfter)} bytes per run after (${a.keysNamingRuns} keys of archived runs left); sweeper ${fmt(a.runsPerSecond)} runs/s`);
  }
  log(`bench: engine ${Math.round(e.stepsPerSecond)} steps/s, baseline ${Math.round(base)} steps/s, ratio ${(e.stepsPerSecond / base).toFixed(2)}`);
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
