// Owns running task handlers: the BullMQ worker, input/output validation, per-attempt timeouts,
// retries with backoff, cancellation, and handing the result to the run in the same job.
import { Worker, UnrecoverableError, type Job } from 'bullmq';
import { Ajv, type ValidateFunction } from 'ajv';
import { hostname } from 'node:os';
import { pid } from 'node:process';
import { randomBytes } from 'node:crypto';
import { ErrorCode, ServicechartError, duplicateUnbounded, partitionConcurrency, servicechartVersion, toErrorData, iso, type Engine, type ErrorData, type RunId, type TaskId, type TaskDefinition } from '../engine/index.ts';

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
  const inFlight = new Map<string, AbortController>();
  const logger = engine.logger;

  function validatorsFor(def: TaskDefinition<any, any>) {
    let v = validators.get(def.name);
    if (!v) {
      v = { input: ajv.compile(def.input), output: ajv.compile(def.output) };
      validators.set(def.name, v);
    }
    return v;
  }

  const subscriber = duplicateUnbounded(engine.redis);
  await subscriber.subscribe(engine.keys.taskCancelChannel());
  subscriber.on('message', (_channel: string, taskId: string) => {
    inFlight.get(taskId)?.abort(new ServicechartError(ErrorCode.TASK_FAILED, 'the task was withdrawn'));
  });

  async function runHandler(def: TaskDefinition<any, any>, data: TaskJobData, attempt: number, controller: AbortController): Promise<unknown> {
    inFlight.set(data.taskId, controller);
    const timeoutMs = def.timeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new ServicechartError(ErrorCode.TASK_TIMEOUT, `task ${def.name} timed out after ${timeoutMs} ms`);
        controller.abort(err);
        reject(err);
      }, timeoutMs);
    });
    const aborted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
    });
    try {
      return await Promise.race([
        def.handler!(data.input, {
          runId: data.runId, taskId: data.taskId, idempotencyKey: data.idempotencyKey, attempt, signal: controller.signal,
          services: engine.taskServices(data.runId, def.name),
        }),
        timedOut,
        aborted,
      ]);
    } finally {
      clearTimeout(timer);
      inFlight.delete(data.taskId);
    }
  }

  async function process(job: Job): Promise<unknown> {
    const data = job.data as TaskJobData;
    const attempt = job.attemptsMade + 1;
    const maxAttempts = job.opts.attempts ?? 1;
    const def = engine.registry.task(data.task);
    const at = () => iso(engine.clock.now());
    const actor = `task:${data.task}`;
    const startedAt = engine.clock.now();
    const started = { type: 'task.started' as const, at: iso(startedAt), actor, task: data.task, taskId: data.taskId, attempt };
    const controller = new AbortController();
    // A fast task's start is recorded with its result, in one commit. One still running after
    // SLOW_TASK_MS is marked running on its own (the API shows it), which also notices a run that
    // no longer awaits it and aborts the handler.
    let marked: Promise<boolean> | null = null;
    const slow = setTimeout(() => {
      marked = engine.runs.markTask(data.runId, data.taskId, 'running', attempt, started).then((r) => {
        if (!r.ok) controller.abort(new ServicechartError(ErrorCode.TASK_FAILED, 'the run no longer awaits this task'));
        return r.ok;
      }, () => false);
    }, SLOW_TASK_MS);
    const startedWithResult = async () => {
      clearTimeout(slow);
      return (await (marked ?? Promise.resolve(false))) ? undefined : { at: startedAt, attempt };
    };
    let error: ErrorData;
    let retryable = true;
    try {
      if (!def?.handler) throw new UnrecoverableError(`no handler for task ${data.task} in this worker`);
      const v = validatorsFor(def);
      if (!v.input(data.input)) {
        retryable = false;
        throw new ServicechartError(ErrorCode.VALIDATION_FAILED, `task input is invalid: ${ajv.errorsText(v.input.errors)}`);
      }
      const output = await runHandler(def, data, attempt, controller);
      if (!v.output(output)) {
        retryable = false;
        throw new ServicechartError(ErrorCode.VALIDATION_FAILED, `task output is invalid: ${ajv.errorsText(v.output.errors)}`);
      }
      engine.metrics.taskAttempt(data.task, 'completed');
      await engine.runs.applyTaskResult(data.runId, data.taskId, { ok: true, output }, data.task, await startedWithResult());
      return { ok: true };
    } catch (err) {
      error = toErrorData(err);
      if (err instanceof UnrecoverableError || (err as { name?: string }).name === 'NonRetryableTaskError') retryable = false;
    }
    const startEntry = await startedWithResult();
    if (retryable && attempt < maxAttempts) {
      if (startEntry) await engine.runs.markTask(data.runId, data.taskId, 'running', attempt, started);
      const again = await engine.runs.markTask(data.runId, data.taskId, 'retrying', attempt, {
        type: 'task.retrying', at: at(), actor, task: data.task, taskId: data.taskId, attempt, error,
      });
      if (again.ok) {
        engine.metrics.taskAttempt(data.task, 'retrying');
        await engine.recordTaskFailure(data.task, data.taskId).catch(() => undefined);
        // Thrown so BullMQ retries with its exponential backoff.
        throw new Error(`${error.code}: ${error.message}`);
      }
    }
    engine.metrics.taskAttempt(data.task, 'failed');
    await engine.recordTaskFailure(data.task, data.taskId).catch(() => undefined);
    // A run that moved on meanwhile records this outcome as ignored; otherwise the error event is applied.
    await engine.runs.applyTaskResult(data.runId, data.taskId, { ok: false, error }, data.task, startEntry);
    return { ok: false, error };
  }

  const lockDuration = opts.lockDurationMs ?? 10_000;
  const concurrency = partitionConcurrency(opts.concurrency ?? 50, engine.keys.partitions);
  const workers = engine.keys.all.map((p) => {
    const worker = new Worker('tasks', process, {
      connection: engine.bullConnection,
      prefix: engine.keys.queuePrefix(p),
      concurrency,
      lockDuration,
      stalledInterval: Math.max(1000, Math.floor(lockDuration / 2)),
      maxStalledCount: 1000,
      drainDelay: 1,
    });
    worker.on('error', (err) => logger.error({ err, partition: p }, 'task worker error'));
    return worker;
  });

  // The live task catalog: what this worker serves, re-published on every heartbeat.
  const identity = {
    workerId: opts.identity?.workerId ?? `${hostname()}:${pid}:${randomBytes(3).toString('hex')}`,
    kind: opts.identity?.kind ?? ('in-process' as const), version: opts.identity?.version ?? servicechartVersion,
  };
  const served = () => engine.registry.taskNames().map((n) => engine.registry.task(n)!).filter((d) => d.handler && !engine.registry.isExternal(undefined, d.name)).map(publishedOf);
  const beat = () => engine.publishWorker(identity, served()).catch((err) => logger.warn({ err }, 'publishing to the task catalog failed'));
  // Not awaited: starting to consume does not wait on the catalog.
  void beat();
  const heartbeat = setInterval(beat, Math.max(200, Math.floor(engine.catalog.ttlMs / 3)));
  heartbeat.unref();

  return {
    workers,
    async waitUntilReady() {
      await Promise.all(workers.map((w) => w.waitUntilReady()));
    },
    async close(deadlineMs = 10_000) {
      clearInterval(heartbeat);
      await engine.catalog.unpublish(identity.workerId, served().map((t) => t.name)).catch(() => undefined);
      const graceful = Promise.all(workers.map((w) => w.close()));
      const deadline = new Promise<'late'>((r) => setTimeout(() => r('late'), deadlineMs).unref());
      if ((await Promise.race([graceful, deadline])) === 'late') {
        for (const c of inFlight.values()) c.abort(new ServicechartError(ErrorCode.UNAVAILABLE, 'worker shutting down'));
        await Promise.all(workers.map((w) => w.close(true)));
      }
      await subscriber.quit().catch(() => undefined);
    },
  };
}

/** What the catalog shows of a task definition. */
export function publishedOf(def: TaskDefinition<any, any>) {
  return { name: def.name, description: def.description, input: def.input, output: def.output, retry: def.retry, timeoutMs: def.timeoutMs ?? 30_000 };
}
