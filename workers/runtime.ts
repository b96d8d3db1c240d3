// Owns running task handlers: the processor of the task queues (the engine's worker port creates the
// BullMQ Workers), input/output validation, per-attempt timeouts, retries with backoff, cancellation,
// and handing the result to the run in the same job.
import { UnrecoverableError, type Job, type Worker } from 'bullmq';
import { Ajv, type ValidateFunction } from 'ajv';
import { hostname } from 'node:os';
import { pid } from 'node:process';
import { randomBytes } from 'node:crypto';
import { AttemptFailed, ErrorCode, ServicechartError, isEngineOutage, servicechartVersion, toErrorData, type Engine, type ErrorData, type RunId, type TaskAttemptRef, type TaskId, type TaskDefinition, type TaskServices } from '../engine/index.ts';

/** How long a task may run before it is marked running on its own (see process()). */
const SLOW_TASK_MS = 100;

export interface TaskWorkerOptions {
  engine: Engine;
  /** How many task jobs this process runs at once, split over the partitions. */
  concurrency?: number;
  /** How often a killed worker's jobs are noticed and retried (BullMQ lock duration). */
  lockDurationMs?: number;
  /** How this worker appears in the live task catalog. */
  identity?: { workerId?: string; kind?: 'in-process' | 'package'; version?: string };
}

interface TaskJobData {
  runId: RunId;
  taskId: TaskId;
  task: string;
  input: unknown;
  idempotencyKey: string;
}

export interface TaskWorker {
  close(deadlineMs?: number): Promise<void>;
  /** One BullMQ worker per partition: this process consumes every partition's task queue. */
  workers: Worker[];
  /** Resolves once every partition's worker is connected. */
  waitUntilReady(): Promise<void>;
}

/**
 * Run task handlers for every partition's task queue. Refuses (rejects with the engine's LayoutError)
 * when the installation's stored layout differs from the engine's.
 */
export async function startTaskWorker(opts: TaskWorkerOptions): Promise<TaskWorker> {
  const { engine } = opts;
  await engine.ready();
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validators = new Map<string, { input: ValidateFunction; output: ValidateFunction }>();
  const inFlight = new Map<string, AttemptAbort>();
  // The engine's side of running tasks: definitions, bookkeeping on the run, withdrawals, the queues.
  const port = engine.worker;
  const logger = port.logger;

  function validatorsFor(def: TaskDefinition<any, any>) {
    let v = validators.get(def.name);
    if (!v) {
      v = { input: ajv.compile(def.input), output: ajv.compile(def.output) };
      validators.set(def.name, v);
    }
    return v;
  }

  const withdrawals = await port.onWithdrawn((taskId) => {
    inFlight.get(taskId)?.abort(new ServicechartError(ErrorCode.TASK_FAILED, 'the task was withdrawn'));
  });

  async function runHandler(def: TaskDefinition<any, any>, data: TaskJobData, attempt: number, abort: AttemptAbort): Promise<unknown> {
    inFlight.set(data.taskId, abort);
    const timeoutMs = def.timeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    let services: TaskServices | undefined;
    try {
      // Settles with the handler, or rejects with the first abort (timeout, withdrawal, shutdown).
      return await new Promise<unknown>((resolve, reject) => {
        abort.onAbort = reject;
        timer = setTimeout(() => abort.abort(new ServicechartError(ErrorCode.TASK_TIMEOUT, `task ${def.name} timed out after ${timeoutMs} ms`)), timeoutMs);
        Promise.resolve(def.handler!(data.input, {
          runId: data.runId, taskId: data.taskId, idempotencyKey: data.idempotencyKey, attempt,
          get signal() { return abort.signal; },
          get services() { return (services ??= port.services(data.runId, def.name)); },
        })).then(resolve, reject);
      });
    } finally {
      clearTimeout(timer);
      abort.onAbort = null;
      inFlight.delete(data.taskId);
    }
  }

  async function process(job: Job): Promise<unknown> {
    const data = job.data as TaskJobData;
    const attempt = job.attemptsMade + 1;
    const maxAttempts = job.opts.attempts ?? 1;
    const def = port.task(data.task);
    const ref: TaskAttemptRef = { runId: data.runId, taskId: data.taskId, task: data.task, attempt };
    const startedAt = engine.now();
    const aborter = new AttemptAbort();
    // A fast task's start is recorded with its result, in one commit. One still running after
    // SLOW_TASK_MS is marked running on its own (the API shows it), which also notices a run that
    // no longer awaits it and aborts the handler.
    let marked: Promise<boolean> | null = null;
    const slow = setTimeout(() => {
      marked = port.markRunning(ref, startedAt).then((r) => {
        if (!r.ok) aborter.abort(new ServicechartError(ErrorCode.TASK_FAILED, 'the run no longer awaits this task'));
        return r.ok;
      }, () => false);
    }, SLOW_TASK_MS);
    const startedWithResult = async () => {
      clearTimeout(slow);
      return (await (marked ?? Promise.resolve(false))) ? undefined : { at: startedAt, attempt };
    };
    let error: ErrorData;
    let retryable = true;
    let succeeded = false;
    try {
      if (!def?.handler) throw new UnrecoverableError(`no handler for task ${data.task} in this worker`);
      const v = validatorsFor(def);
      if (!v.input(data.input)) {
        retryable = false;
        throw new ServicechartError(ErrorCode.VALIDATION_FAILED, `task input is invalid: ${ajv.errorsText(v.input.errors)}`);
      }
      const output = await runHandler(def, data, attempt, aborter);
      if (!v.output(output)) {
        retryable = false;
        throw new ServicechartError(ErrorCode.VALIDATION_FAILED, `task output is invalid: ${ajv.errorsText(v.output.errors)}`);
      }
      port.countAttempt(data.task, 'completed');
      succeeded = true;
      await port.applyResult(ref, { ok: true, output }, await startedWithResult());
      return { ok: true };
    } catch (err) {
      // Not the task's failure: handing its result failed, or the engine's Redis was unreachable (the
      // engine's task queues wait such an outage out without spending an attempt).
      if (succeeded || isEngineOutage(err)) throw err;
      error = toErrorData(err);
      if (err instanceof UnrecoverableError || (err as { name?: string }).name === 'NonRetryableTaskError') retryable = false;
    }
    const startEntry = await startedWithResult();
    if (retryable && attempt < maxAttempts) {
      if (startEntry) await port.markRunning(ref, startedAt);
      const again = await port.markRetrying(ref, error);
      if (again.ok) {
        port.countAttempt(data.task, 'retrying');
        await port.recordFailure(data.task, data.taskId).catch(() => undefined);
        // Thrown so BullMQ retries with its exponential backoff.
        throw new AttemptFailed(`${error.code}: ${error.message}`);
      }
    }
    port.countAttempt(data.task, 'failed');
    await port.recordFailure(data.task, data.taskId).catch(() => undefined);
    // A run that moved on meanwhile records this outcome as ignored; otherwise the error event is applied.
    await port.applyResult(ref, { ok: false, error }, startEntry);
    return { ok: false, error };
  }

  const workers: Worker[] = port.consumeTasks(process, { concurrency: opts.concurrency, lockDurationMs: opts.lockDurationMs });

  // The live task catalog: what this worker serves, re-published on every heartbeat.
  const identity = {
    workerId: opts.identity?.workerId ?? `${hostname()}:${pid}:${randomBytes(3).toString('hex')}`,
    kind: opts.identity?.kind ?? ('in-process' as const), version: opts.identity?.version ?? servicechartVersion,
  };
  const served = () => port.servedTasks().map(publishedOf);
  const beat = () => engine.publishWorker(identity, served()).catch((err) => logger.warn({ err }, 'publishing to the task catalog failed'));
  // Not awaited: starting to consume does not wait on the catalog.
  void beat();
  const heartbeat = setInterval(beat, Math.max(200, Math.floor(engine.workerTtlMs / 3)));
  heartbeat.unref();

  return {
    workers,
    async waitUntilReady() {
      await Promise.all(workers.map((w) => w.waitUntilReady()));
    },
    async close(deadlineMs = 10_000) {
      clearInterval(heartbeat);
      await engine.unpublishWorker(identity.workerId, served().map((t) => t.name)).catch(() => undefined);
      const graceful = Promise.all(workers.map((w) => w.close()));
      const deadline = new Promise<'late'>((r) => setTimeout(() => r('late'), deadlineMs).unref());
      if ((await Promise.race([graceful, deadline])) === 'late') {
        for (const c of inFlight.values()) c.abort(new ServicechartError(ErrorCode.UNAVAILABLE, 'worker shutting down'));
        await Promise.all(workers.map((w) => w.close(true)));
      }
      await withdrawals.close();
    },
  };
}

/**
 * What aborts one task attempt (timeout, withdrawal, a run that no longer awaits it, shutdown), first
 * reason wins as with an AbortController. The handler's AbortSignal is made when the handler first
 * reads it, already aborted if the attempt was: most handlers never read it, and a controller per
 * attempt was a measurable share of a no-op task's cost.
 */
class AttemptAbort {
  private controller: AbortController | null = null;
  private reason: unknown = undefined;
  private aborted = false;
  /** The running handler's race, told of the first abort. */
  onAbort: ((reason: unknown) => void) | null = null;

  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    if (this.aborted) this.controller.abort(this.reason);
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
    this.onAbort?.(reason);
  }
}

/** What the catalog shows of a task definition. */
export function publishedOf(def: TaskDefinition<any, any>) {
  return { name: def.name, description: def.description, input: def.input, output: def.output, retry: def.retry, timeoutMs: def.timeoutMs ?? 30_000 };
}
