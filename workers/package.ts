// The worker package (`servicechart/worker`): run task handlers from another codebase. The worker takes
// its tasks from Redis with the external-task locks (as an HTTP worker would, without the HTTP), publishes
// them in the live task catalog, and hands each result to the run through the engine's own fencing.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { Ajv, type ValidateFunction } from 'ajv';
import {
  createEngine, installationPartitions, isCluster, servicechartVersion, silentLogger, type Engine, type RedisClient, type LockedTask, type Logger, type TaskDefinition, type WorkflowDefinition,
} from '../engine/index.ts';
import { builtInWorkflows } from '../workflows/index.ts';
import { builtInTasks } from './tasks/index.ts';
import { publishedOf } from './runtime.ts';

export { defineTask, NonRetryableTaskError, ServicechartError, ErrorCode } from '../engine/index.ts';
export { defineWorkflow, taskActors } from '../engine/index.ts';
export type { TaskDefinition, TaskContext, TaskServices, RetryPolicy, Logger, WorkflowDefinition } from '../engine/index.ts';

export interface RunWorkerOptions {
  /**
   * A Redis URL (`redis://…`, `rediss://…`), or a connection you own, to one node or a Redis Cluster
   * (the worker opens its own copy of it).
   */
  redis: string | RedisClient;
  /** The tasks this worker serves. */
  tasks: TaskDefinition<any, any>[];
  /** Tasks run at once. Default 10. */
  concurrency?: number;
  /** pino, console, or anything with info/warn/error/debug. Default: silent. */
  logger?: Logger;
  /** The installation's key prefix (`SERVICECHART_PREFIX`). Default `sc`. */
  prefix?: string;
  /** The installation's partition count (`SERVICECHART_PARTITIONS`). Default: the one it recorded at first use. */
  partitions?: number;
  /** How long a task stays locked to this worker between lock extensions. Default 30 s. */
  lockMs?: number;
  /** This worker's name in the task catalog. Default `<host>:<pid>:<random>`. */
  workerId?: string;
  /** How long it stays live in the catalog after its last heartbeat (`SERVICECHART_WORKER_TTL_MS`). Default 15 s. */
  workerTtlMs?: number;
  /** Built-in tasks the installation sends to external workers (`SERVICECHART_EXTERNAL_TASKS`). */
  externalTasks?: string[];
  /**
   * The installation's own code workflows whose runs invoke these tasks. The worker applies each result
   * to its run itself, so it must know the run's workflow: built-in and JSON workflows it knows already.
   */
  workflows?: WorkflowDefinition[];
}

export interface RunningWorker {
  workerId: string;
  /** Stop taking tasks, let the running ones finish (up to `deadlineMs`), leave the catalog, disconnect. */
  close(deadlineMs?: number): Promise<void>;
}

/**
 * Serve tasks from another project.
 * @example
 * import { defineTask, runWorker } from 'servicechart/worker';
 * const openTicket = defineTask({ name: 'open_ticket', input: { type: 'object' }, output: { type: 'object' }, handler: async (input, ctx) => ({ key: 'OPS-1' }) });
 * const worker = await runWorker({ redis: 'redis://127.0.0.1:6379', tasks: [openTicket], concurrency: 5 });
 * process.on('SIGTERM', () => worker.close());
 */
export async function runWorker(opts: RunWorkerOptions): Promise<RunningWorker> {
  const logger = opts.logger ?? silentLogger;
  const names = opts.tasks.map((t) => t.name);
  for (const t of opts.tasks) {
    if (typeof t.handler !== 'function') throw new Error(`task ${t.name} has no handler`);
  }
  const redis = typeof opts.redis === 'string'
    ? new Redis(opts.redis, { maxRetriesPerRequest: 1, enableOfflineQueue: true, commandTimeout: 5000 })
    : isCluster(opts.redis) ? opts.redis.duplicate() : opts.redis.duplicate();
  redis.on('error', (err: Error) => logger.warn({ err: err.message }, 'redis connection error'));
  // A copy of a connection that queues nothing while offline (a Cluster's) must be ready before its first command.
  if (typeof opts.redis !== 'string' && redis.status !== 'ready') {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('runWorker: the Redis connection was not ready within 10 s')), 10_000);
      redis.once('ready', () => { clearTimeout(timer); resolve(); });
    });
  }
  // The engine applies results and steps runs, so it knows the built-in workflows and how the
  // installation routes tasks; the tasks served here go to external workers everywhere.
  const prefix = opts.prefix ?? 'sc';
  const partitions = opts.partitions ?? (await installationPartitions(redis, prefix)) ?? undefined;
  const engine: Engine = createEngine({
    redis, prefix, partitions, logger, workflows: builtInWorkflows, tasks: builtInTasks,
    workerTtlMs: opts.workerTtlMs, externalTasks: [...(opts.externalTasks ?? []), ...names],
  });
  // The tasks served here may be the only ones these workflows name: they are declared by this very worker.
  for (const wf of opts.workflows ?? []) await engine.registerWorkflowChecked({ ...wf, tasks: { ...Object.fromEntries(names.map((n) => [n, { external: true }])), ...(wf.tasks ?? {}) } });
  const workerId = opts.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const concurrency = Math.max(1, opts.concurrency ?? 10);
  const lockMs = Math.max(1000, opts.lockMs ?? 30_000);
  const ajv = new Ajv({ allErrors: true, strict: false });
  const defs = new Map(opts.tasks.map((t) => [t.name, { def: t, input: ajv.compile(t.input), output: ajv.compile(t.output) }]));
  const inFlight = new Set<Promise<void>>();
  const controllers = new Set<AbortController>();
  let stopping = false;

  const identity = { workerId, kind: 'package' as const, version: servicechartVersion };
  const beat = () => engine.publishWorker(identity, opts.tasks.map(publishedOf)).catch((err) => logger.warn({ err }, 'publishing to the task catalog failed'));
  await beat();
  const heartbeat = setInterval(beat, Math.max(200, Math.floor(engine.workerTtlMs / 3)));

  const problems = (v: ValidateFunction) => ajv.errorsText(v.errors);

  async function handle(task: LockedTask): Promise<void> {
    const entry = defs.get(task.type)!;
    const controller = new AbortController();
    controllers.add(controller);
    // Keep the lock while the handler runs; a 410 or 409 means the task is no longer ours: abort it.
    const keep = setInterval(() => {
      engine.externalTasks.extendLock(task.id, task.lockToken, lockMs).catch((err: { code?: string; message?: string }) => {
        if (err.code === 'TASK_WITHDRAWN' || err.code === 'CONFLICT' || err.code === 'NOT_FOUND') controller.abort(err);
      });
    }, Math.floor(lockMs / 3));
    const timeoutMs = entry.def.timeoutMs ?? 30_000;
    const timer = setTimeout(() => controller.abort(Object.assign(new Error(`task ${task.type} timed out after ${timeoutMs} ms`), { code: 'TASK_TIMEOUT' })), timeoutMs);
    try {
      if (!entry.input(task.input)) {
        await engine.externalTasks.fail(task.id, task.lockToken, { message: `task input is invalid: ${problems(entry.input)}`, retryable: false });
        return;
      }
      const aborted = new Promise<never>((_, reject) => controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true }));
      const output = await Promise.race([
        entry.def.handler!(task.input, {
          runId: task.runId as never, taskId: task.id as never, idempotencyKey: task.idempotencyKey, attempt: task.attempt, signal: controller.signal,
          services: engine.worker.services(task.runId as never, task.type),
        }),
        aborted,
      ]);
      if (!entry.output(output)) {
        await engine.externalTasks.fail(task.id, task.lockToken, { message: `task output is invalid: ${problems(entry.output)}`, retryable: false });
        return;
      }
      await engine.externalTasks.complete(task.id, task.lockToken, output);
    } catch (err) {
      const e = err as { name?: string; code?: string; message?: string };
      if (e.code === 'TASK_WITHDRAWN' || (controller.signal.aborted && (controller.signal.reason as { code?: string })?.code === 'TASK_WITHDRAWN')) {
        logger.info({ task: task.type, taskId: task.id }, 'task withdrawn: the run no longer waits for it');
        return;
      }
      if (e.code === 'INTERNAL') {
        // The run's workflow is not known here (a code workflow not passed as `workflows`): the result
        // cannot be applied by this worker; the lock lapses and the task is offered again.
        logger.error({ err: e.message, task: task.type, taskId: task.id, runId: task.runId }, 'cannot apply the result: pass the run\'s workflow to runWorker({ workflows })');
        return;
      }
      try {
        await engine.externalTasks.fail(task.id, task.lockToken, { message: e.message ?? String(err), retryable: e.name !== 'NonRetryableTaskError' });
      } catch (failErr) {
        // A lost lock (409) or a withdrawn task (410): another worker has it, or nobody needs it.
        logger.warn({ err: (failErr as Error).message, task: task.type, taskId: task.id }, 'reporting a failed attempt was refused');
      }
    } finally {
      clearInterval(keep);
      clearTimeout(timer);
      controllers.delete(controller);
    }
  }

  const loop = (async () => {
    while (!stopping) {
      if (inFlight.size >= concurrency) {
        await Promise.race(inFlight);
        continue;
      }
      let tasks: LockedTask[];
      try {
        tasks = await engine.externalTasks.fetch({ workerId, types: names, max: concurrency - inFlight.size, lockMs, waitMs: 1000, announce: false });
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'fetching tasks failed; retrying');
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      for (const task of tasks) {
        const p: Promise<void> = handle(task)
          .catch((err) => logger.error({ err, taskId: task.id }, 'task handling failed'))
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
    }
  })();

  logger.info({ workerId, tasks: names, concurrency }, 'servicechart worker running');
  return {
    workerId,
    async close(deadlineMs = 10_000) {
      stopping = true;
      clearInterval(heartbeat);
      await loop;
      const all = Promise.all(inFlight);
      const late = await Promise.race([all.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), deadlineMs).unref())]);
      if (late) {
        // Hand the rest back: their locks expire and another worker takes them.
        for (const c of controllers) c.abort(Object.assign(new Error('worker shutting down'), { code: 'UNAVAILABLE' }));
      }
      await engine.unpublishWorker(workerId, names).catch(() => undefined);
      await engine.close();
      await redis.quit().catch(() => undefined);
    },
  };
}
