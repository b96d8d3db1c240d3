// Owns the BullMQ side of every partition: the `tasks` and `timers` queues (the single place that
// names them), their depth for /metrics, and the consumers of both (one Worker per partition each).
import { Queue, Worker, type Job } from 'bullmq';
import type { RedisClient } from './clients.ts';
import type { Keys } from './keys.ts';
import { LayoutError } from './layout.ts';
import type { Metrics } from './metrics.ts';
import type { RunStore } from './runs.ts';
import { deferOnOutage } from './outage.ts';
import { partitionConcurrency, startTimerWorker } from './timers.ts';
import type { Logger } from './types.ts';

export interface QueueDeps {
  keys: Keys;
  /** BullMQ's own connection (no per-request retry limit), owned by the engine. */
  connection: RedisClient;
  logger: Logger;
  metrics: Metrics;
}

export function createQueues(deps: QueueDeps) {
  const { keys, connection, logger } = deps;
  // Each partition's queues carry its hash tag, so every BullMQ script stays in the partition's slot.
  const tasks = keys.all.map((p) => new Queue('tasks', { connection, prefix: keys.queuePrefix(p) }));
  const timers = keys.all.map((p) => new Queue('timers', { connection, prefix: keys.queuePrefix(p) }));
  const jobCounts = async (list: Queue[]) => {
    const sum: Record<string, number> = {};
    for (const counts of await Promise.all(list.map((q) => q.getJobCounts('waiting', 'active', 'delayed', 'failed')))) {
      for (const [state, n] of Object.entries(counts)) sum[state] = (sum[state] ?? 0) + n;
    }
    return sum;
  };
  deps.metrics.setQueueDepth(async () => ({ tasks: await jobCounts(tasks), timers: await jobCounts(timers) }));

  /** One task Worker per partition running `processor`; `concurrency` is the process's total. */
  function consumeTasks(processor: (job: Job) => Promise<unknown>, options: { concurrency?: number; lockDurationMs?: number } = {}): Worker[] {
    const lockDuration = options.lockDurationMs ?? 10_000;
    const concurrency = partitionConcurrency(options.concurrency ?? 50, keys.partitions);
    return keys.all.map((p) => {
      // Redis unreachable while a job records its attempt (a failover): the job runs again after the
      // outage without spending an attempt, instead of failing for good with its run never told.
      const worker = new Worker('tasks', (job, token) => deferOnOutage(job, token, () => processor(job)), {
        connection, prefix: keys.queuePrefix(p), concurrency, lockDuration,
        stalledInterval: Math.max(1000, Math.floor(lockDuration / 2)), maxStalledCount: 1000, drainDelay: 1,
      });
      worker.on('error', (err) => logger.error({ err, partition: p }, 'task worker error'));
      return worker;
    });
  }

  /**
   * Every partition's timer Worker, started once the layout is confirmed (retried each second while
   * Redis cannot answer). Answers how to stop them.
   */
  function consumeTimers(runs: RunStore, layoutChecked: () => Promise<void>, concurrency: number): () => Promise<void> {
    let stopped = false;
    const workers = (async () => {
      for (;;) {
        try {
          await layoutChecked();
          break;
        } catch (err) {
          if (err instanceof LayoutError || stopped) throw err;
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
      if (stopped) return [];
      const perPartition = partitionConcurrency(concurrency, keys.partitions);
      return keys.all.map((p) => startTimerWorker({ connection, prefix: keys.queuePrefix(p), runs, logger, concurrency: perPartition }));
    })();
    workers.catch((err) => logger.error({ err }, 'timer consumer not started'));
    return async () => {
      stopped = true;
      await Promise.all((await workers.catch(() => [])).map((w) => w.close()));
    };
  }

  return {
    tasks, timers, consumeTasks, consumeTimers,
    /** Every partition's queues, tasks then timers per partition. */
    all: (): Queue[] => keys.all.flatMap((p) => [tasks[p], timers[p]]),
    close: () => Promise.all([...tasks, ...timers].map((q) => q.close())),
  };
}

export type PartitionQueues = ReturnType<typeof createQueues>;
