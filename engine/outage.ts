// Owns what a job does when the engine's Redis is unreachable (a failover, a restart): the job waits the
// outage out instead of spending an attempt on it, and a task handler's engine calls say UNAVAILABLE so
// that its worker can tell such an outage from the task's own failure.
import { DelayedError, type Job } from 'bullmq';
import { ErrorCode, ServicechartError, isRedisUnavailable, unavailable } from './errors.ts';

/**
 * A job's own failed attempt, thrown so BullMQ retries it with its backoff (or fails it on its last
 * attempt). Never taken for an outage, whatever its message says: a task's endpoint refusing connections
 * is the task's failure, and must spend its attempts.
 */
export class AttemptFailed extends Error {
  override name = 'AttemptFailed';
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
    if (!token || err instanceof AttemptFailed || !isRedisUnavailable(err)) throw err;
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
