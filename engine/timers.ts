// Owns the timer consumer: XState `after` delays live as BullMQ delayed jobs in the run's partition,
// and firing one applies its event to the run (a stale copy, whose timer the run no longer holds, is
// dropped). Events a run sends another run are jobs of this queue as well, delivered once.
import { DelayedError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { RunStore } from './runs.ts';
import { ErrorCode, ServicechartError, isRedisUnavailable, unavailable } from './errors.ts';
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

/** How long a job that met an unreachable Redis waits before it runs again. */
export const OUTAGE_RETRY_MS = 1000;

/**
 * Run a job's work; when it fails because Redis is unreachable (a failover), put the job back, delayed,
 * without spending one of its attempts: an outage is no failure of the job, however long it lasts, and
 * a job that has no attempt left would otherwise be lost with its timer, event or task result. BullMQ's
 * own connection waits the outage out, so the job is put back once Redis answers again. Running it
 * again is safe: timers, events and task results are applied once (fenced by id).
 */
export async function deferOnOutage<T>(job: Job, token: string | undefined, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!token || !isRedisUnavailable(err)) throw err;
    await job.moveToDelayed(Date.now() + OUTAGE_RETRY_MS, token);
    throw new DelayedError();
  }
}

/** Whether a task handler's error is an outage of the engine's Redis (see outageAware), not a failure of the task. */
export function isEngineOutage(err: unknown): boolean {
  return err instanceof ServicechartError && err.code === ErrorCode.UNAVAILABLE;
}

/**
 * The engine calls a task handler gets (`ctx.services`), each failing as UNAVAILABLE when the engine's
 * Redis is unreachable, whatever shape the client gave the error: the worker then waits the outage out
 * (deferOnOutage) instead of spending one of the task's attempts on it. Errors of the handler's own
 * (an external system refusing a connection) stay the task's.
 */
export function outageAware<S extends object>(services: S): S {
  const wrap = (value: unknown): unknown => {
    if (typeof value === 'function') {
      return (...args: unknown[]) => {
        const fail = (err: unknown) => {
          throw isRedisUnavailable(err) && !(err instanceof ServicechartError) ? unavailable(`Redis is unavailable: ${(err as Error).message}`) : err;
        };
        try {
          const res = (value as (...a: unknown[]) => unknown)(...args);
          return res instanceof Promise ? res.catch(fail) : res;
        } catch (err) {
          return fail(err);
        }
      };
    }
    if (value && typeof value === 'object' && !Array.isArray(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, wrap(v)]));
    return value;
  };
  return wrap(services) as S;
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
