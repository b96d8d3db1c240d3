// Owns the timer consumer: XState `after` delays live as BullMQ delayed jobs in the run's partition,
// and firing one applies its event to the run (a stale copy, whose timer the run no longer holds, is
// dropped). Events a run sends another run are jobs of this queue as well, delivered once.
import { Worker, type ConnectionOptions } from 'bullmq';
import type { RunStore } from './runs.ts';
import { deferOnOutage } from './outage.ts';
import type { RunId } from './ids.ts';
import type { Logger } from './types.ts';

export interface TimerWorkerOptions {
  connection: ConnectionOptions;
  prefix: string;
  runs: RunStore;
  logger: Logger;
  concurrency?: number;
}

/**
 * How many jobs one partition's worker runs at once when a process runs `total` over `partitions`:
 * runs hash evenly over partitions, so an even split keeps the process near its total.
 */
export function partitionConcurrency(total: number, partitions: number): number {
  return Math.max(1, Math.ceil(total / partitions));
}

/** The timer consumer of one partition's queue (the engine starts one per partition). */
export function startTimerWorker(opts: TimerWorkerOptions): Worker {
  const worker = new Worker(
    'timers',
    (job, token) => deferOnOutage(job, token, async () => {
      // An event one run sends another leaves through this queue too (no delay of its own).
      const send = (job.data as { send?: Parameters<RunStore['deliverSend']>[0] }).send;
      if (send) return opts.runs.deliverSend(send);
      const { runId, timerId } = job.data as { runId: RunId; timerId: string };
      const res = await opts.runs.fireTimer(runId, timerId);
      if (!res.applied) opts.logger.debug({ runId, timerId }, 'stale timer dropped');
      return res;
    }),
    {
      connection: opts.connection,
      prefix: opts.prefix,
      concurrency: opts.concurrency ?? 50,
      lockDuration: 10_000,
      stalledInterval: 5_000,
      maxStalledCount: 1000,
      drainDelay: 1,
    },
  );
  worker.on('error', (err) => opts.logger.error({ err }, 'timer worker error'));
  return worker;
}
