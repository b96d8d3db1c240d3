// Owns tasks served by external workers: offering them, locking them to a worker with a token and a
// deadline, putting back the ones whose lock expired, and settling a worker's result exactly like an
// in-process result (the run's own fencing: a result for a task it no longer awaits is never applied).
import type { FromSchema } from 'json-schema-to-ts';
import { randomBytes } from 'node:crypto';
import type { RedisClient } from './clients.ts';
import type { ValidateFunction } from 'ajv';
import { compileUserSchema, userSchemaAjv } from './user-schema.ts';
import type { Clock } from './clock.ts';
import { iso } from './clock.ts';
import { ErrorCode, ServicechartError, notFound, validationError, type ErrorData } from './errors.ts';
import type { Keys } from './keys.ts';
import type { Scripts, SettleResult } from './scripts.ts';
import { writeMark } from './replication.ts';
import { refusal } from './store/errors.ts';
import type { RunStore } from './runs.ts';
import type { Registry, RegisteredWorkflow } from './registry.ts';
import { defaultRetry, type RetryPolicy } from './tasks.ts';
import type { PublishedTask } from './catalog.ts';
import type { RunId, TaskId } from './ids.ts';

/** How long a result being applied keeps its lock: a process that dies meanwhile re-delivers the task. */
const SETTLE_GRACE_MS = 30_000;
/** How often a long-polling fetch looks again while nothing is waiting. */
const POLL_MS = 100;

/** A task as an external worker receives it. */
/** A task locked to an external worker, as `fetch` hands it out (the API documents it with this schema). */
export const lockedTaskSchema = {
  type: 'object',
  required: ['id', 'type', 'runId', 'workflow', 'input', 'idempotencyKey', 'attempt', 'maxAttempts', 'lockToken', 'lockDeadline'],
  properties: {
    id: { type: 'string' },
    type: { type: 'string' },
    runId: { type: 'string' },
    workflow: { type: 'string' },
    input: {},
    idempotencyKey: { type: 'string', description: 'the same for every attempt and delivery of this invocation: pass it on' },
    attempt: { type: 'integer', minimum: 1 },
    maxAttempts: { type: 'integer', minimum: 1 },
    lockToken: { type: 'string' },
    lockDeadline: { type: 'string', format: 'date-time' },
  },
  additionalProperties: false,
} as const;

export type LockedTask = FromSchema<typeof lockedTaskSchema>;

export interface FetchArgs {
  /** Whether asking marks the worker live in the catalog for `types` (HTTP workers); default true. */
  announce?: boolean;
  workerId: string;
  types: string[];
  max: number;
  lockMs: number;
  waitMs: number;
  signal?: AbortSignal;
}

export interface ExternalTaskDeps {
  redis: RedisClient;
  keys: Keys;
  scripts: Scripts;
  clock: Clock;
  registry: Registry;
  runs: () => RunStore;
  /**
   * Wait until the run's writes since `writtenAfter` are on the replicas SERVICECHART_REPLICA_ACKS asks
   * for (UNAVAILABLE otherwise): a worker's result is acknowledged like any write from outside.
   */
  acknowledge?(runId: string, writtenAfter: number): Promise<void>;
  resolveWorkflow(name: string, version?: number): Promise<RegisteredWorkflow | undefined>;
  /** What a live worker published for a type (the catalog): schemas and retry, when code declares none. */
  published(type: string): Promise<PublishedTask | undefined>;
  /** A worker asked for these types: the catalog marks it live for them. */
  seen(workerId: string, types: string[]): Promise<void>;
  /** How often a long poll renews that mark (well inside the catalog's time to live). */
  seenEveryMs: number;
  /** A failed attempt of a type, for the catalog's failures in the last hour. */
  failed(type: string, taskId: string): Promise<void>;
  /** An attempt's outcome, for the metrics. */
  attempt(type: string, outcome: 'completed' | 'retrying' | 'failed'): void;
}

export function createExternalTasks(deps: ExternalTaskDeps) {
  const { redis, keys, scripts, clock } = deps;
  // Output schemas may come from a JSON workflow or a remote worker: compiled as schemas from outside.
  const ajv = userSchemaAjv();
  const validators = new Map<string, ValidateFunction>();

  function validatorFor(schema: Record<string, unknown>): ValidateFunction {
    const key = JSON.stringify(schema);
    let v = validators.get(key);
    if (!v) {
      const compiled = compileUserSchema(ajv, schema, '/output');
      if (!compiled.validate) throw new ServicechartError(ErrorCode.INTERNAL, `the output schema of this task cannot be used: ${compiled.problems.map((p) => p.message).join('; ')}`);
      v = compiled.validate;
      validators.set(key, v);
      if (validators.size > 500) validators.delete(validators.keys().next().value!);
    }
    return v;
  }

  async function declarationOf(type: string, workflow: string, version: number) {
    const code = deps.registry.task(type);
    const wf = await deps.resolveWorkflow(workflow, version).catch(() => undefined);
    const declared = wf?.tasks?.[type];
    const published = code && declared ? undefined : await deps.published(type);
    return {
      retry: { ...defaultRetry, ...((published?.retry ?? {}) as Partial<RetryPolicy>), ...(code?.retry ?? {}), ...(declared?.retry ?? {}) },
      output: declared?.output ?? (code?.output as Record<string, unknown> | undefined) ?? (published?.output as Record<string, unknown> | undefined),
    };
  }

  /** Offer a scheduled task (the outbox calls this); a second offer of the same id does nothing. */
  async function add(taskId: string, type: string, data: Record<string, unknown>): Promise<void> {
    const workflow = String(data.workflow ?? '');
    const version = Number(data.version ?? 0);
    const { retry } = await declarationOf(type, workflow, version);
    await scripts.extAdd([keys.externalTask(taskId), keys.externalReady(type)], clock.now(), taskId, {
      id: taskId, type, runId: String(data.runId), workflow, version: String(version), input: JSON.stringify(data.input ?? {}),
      idempotencyKey: String(data.idempotencyKey), maxAttempts: String(Math.max(1, retry.attempts)), backoffMs: String(retry.backoffMs),
    });
    await redis.sadd(keys.externalTypes(), type);
  }

  async function withdraw(taskId: string): Promise<void> {
    await scripts.extWithdraw([keys.externalTask(taskId), keys.externalLocked()], keys.externalReadyPrefix(), taskId);
  }

  function lockedView(rec: Record<string, string>, id: string): LockedTask {
    return {
      id, type: rec.type, runId: rec.runId, workflow: rec.workflow, input: JSON.parse(rec.input) as unknown, idempotencyKey: rec.idempotencyKey,
      attempt: Number(rec.attempt), maxAttempts: Number(rec.maxAttempts), lockToken: rec.token, lockDeadline: iso(Number(rec.deadline)),
    };
  }

  /** Lock what is waiting now; a task the run no longer awaits is withdrawn instead of handed out. */
  async function fetchOnce(args: FetchArgs): Promise<LockedTask[]> {
    const out: LockedTask[] = [];
    for (const type of args.types) {
      const want = args.max - out.length;
      if (want <= 0) break;
      const tokens = Array.from({ length: want }, () => randomBytes(16).toString('base64url'));
      const now = clock.now();
      const recs = await scripts.extFetch([keys.externalReady(type), keys.externalLocked()], {
        taskPrefix: keys.externalTaskPrefix(), readyPrefix: keys.externalReadyPrefix(), now, lockMs: args.lockMs, workerId: args.workerId, tokens,
      });
      for (const rec of recs) {
        const id = rec.id;
        const attempt = Number(rec.attempt);
        const marked = await deps.runs().markTask(rec.runId as RunId, id, 'running', attempt, {
          type: 'task.started', at: iso(now), actor: `task:${type}`, task: type, taskId: id, attempt, worker: args.workerId,
        });
        if (!marked.ok) {
          await withdraw(id);
          continue;
        }
        out.push(lockedView(rec, id));
      }
    }
    return out;
  }

  /** Long-poll: up to `max` tasks of `types`, waiting up to `waitMs` for the first. */
  async function fetch(args: FetchArgs): Promise<LockedTask[]> {
    const announce = args.announce !== false;
    if (announce) await deps.seen(args.workerId, args.types);
    let seenAt = Date.now();
    const until = Date.now() + args.waitMs;
    for (;;) {
      // A worker waiting in a long poll is live: renew its mark while it waits.
      if (announce && Date.now() - seenAt >= deps.seenEveryMs) {
        seenAt = Date.now();
        await deps.seen(args.workerId, args.types);
      }
      const got = await fetchOnce(args);
      const left = until - Date.now();
      if (got.length || left <= 0 || args.signal?.aborted) return got;
      await new Promise((r) => setTimeout(r, Math.min(POLL_MS, left)));
    }
  }

  function settleError(res: Exclude<SettleResult, { ok: true }>, id: string): ServicechartError {
    return refusal('external task', res.code, id, res.status);
  }

  async function record(id: string): Promise<Record<string, string>> {
    const rec = await redis.hgetall(keys.externalTask(id));
    if (!rec.status) throw notFound(`external task ${id}`);
    if (rec.status === 'withdrawn') throw settleError({ ok: false, code: 'WITHDRAWN' }, id);
    return rec;
  }

  function settle(id: string, action: 'begin' | 'finish' | 'retry' | 'extend', token: string, arg: number) {
    return scripts.extSettle([keys.externalTask(id), keys.externalLocked()], { action, token, now: clock.now(), arg, readyPrefix: keys.externalReadyPrefix(), taskId: id });
  }

  /** Apply a final result under the lock: begin (the lock holds a grace period), apply, finish. */
  async function deliver(id: string, token: string, result: { ok: true; output: unknown } | { ok: false; error: ErrorData }): Promise<{ runId: string }> {
    const begun = await settle(id, 'begin', token, SETTLE_GRACE_MS);
    if (!begun.ok) throw settleError(begun, id);
    const rec = begun.record!;
    const resumed = rec.prior === 'settling';
    const mark = writeMark();
    const { applied } = await deps.runs().applyTaskResult(rec.runId as RunId, id as TaskId, result, rec.type);
    // Replicated before the task is finished (its record is in another slot, on a cluster another
    // master): a failover cannot leave a finished task whose result the run lost. Until then the task
    // stays settling, and the worker's retry (or, once the lock lapses, another worker) settles it.
    await deps.acknowledge?.(rec.runId, mark);
    await settle(id, 'finish', token, 0);
    if (!applied) {
      // A repeat of a result applied a moment ago, or a run that moved on since the task was fetched.
      if (resumed) throw settleError({ ok: false, code: 'DONE' }, id);
      throw settleError({ ok: false, code: 'WITHDRAWN' }, id);
    }
    return { runId: rec.runId };
  }

  /** A worker's output: checked against the task's output schema (422, the lock stays), then applied. */
  async function complete(id: string, token: string, output: unknown): Promise<{ id: string; runId: string }> {
    const rec = await record(id);
    const { output: schema } = await declarationOf(rec.type, rec.workflow, Number(rec.version));
    if (schema) {
      const v = validatorFor(schema);
      if (!v(output)) {
        throw validationError(`the output does not match the output schema of task ${rec.type}`, (v.errors ?? []).map((e) => ({ path: `/body/output${e.instancePath}`, message: e.message ?? 'invalid' })));
      }
    }
    const { runId } = await deliver(id, token, { ok: true, output });
    deps.attempt(rec.type, 'completed');
    return { id, runId };
  }

  /** A worker's failure: retried with backoff while attempts remain and it is retryable, else the run gets the error. */
  async function fail(id: string, token: string, f: { message: string; retryable: boolean; retryInMs?: number }): Promise<{ id: string; runId: string; retrying: boolean; nextAttemptAt: string | null }> {
    const rec = await record(id);
    const attempt = Number(rec.attempt);
    const error: ErrorData = { code: ErrorCode.TASK_FAILED, message: f.message };
    if (f.retryable && attempt < Number(rec.maxAttempts)) {
      const delay = f.retryInMs ?? Number(rec.backoffMs) * 2 ** (attempt - 1);
      const at = clock.now() + delay;
      const res = await settle(id, 'retry', token, at);
      if (!res.ok) throw settleError(res, id);
      deps.attempt(rec.type, 'retrying');
      await deps.failed(rec.type, id).catch(() => undefined);
      const marked = await deps.runs().markTask(rec.runId as RunId, id, 'retrying', attempt, {
        type: 'task.retrying', at: iso(clock.now()), actor: `task:${rec.type}`, task: rec.type, taskId: id, attempt, error, retryAt: iso(at),
      });
      if (!marked.ok) {
        await withdraw(id);
        throw settleError({ ok: false, code: 'WITHDRAWN' }, id);
      }
      return { id, runId: rec.runId, retrying: true, nextAttemptAt: iso(at) };
    }
    const { runId } = await deliver(id, token, { ok: false, error });
    deps.attempt(rec.type, 'failed');
    await deps.failed(rec.type, id).catch(() => undefined);
    return { id, runId, retrying: false, nextAttemptAt: null };
  }

  async function extendLock(id: string, token: string, lockMs: number): Promise<{ id: string; lockDeadline: string }> {
    await record(id);
    const res = await settle(id, 'extend', token, lockMs);
    if (!res.ok) throw settleError(res, id);
    return { id, lockDeadline: iso(Number(res.value)) };
  }

  /** Waiting tasks of a type (due now, and waiting out a retry backoff) and the oldest one's age. */
  async function depth(type: string): Promise<{ waiting: number; delayed: number; oldestWaitingMs: number | null }> {
    const now = clock.now();
    const key = keys.externalReady(type);
    const [waiting, total, oldest] = await Promise.all([
      redis.zcount(key, '-inf', String(now)), redis.zcard(key), redis.zrange(key, '0', '0', 'WITHSCORES'),
    ]);
    const first = oldest.length ? Number(oldest[1]) : null;
    return { waiting, delayed: total - waiting, oldestWaitingMs: first !== null && first <= now ? now - first : null };
  }

  /** Tasks of a type waiting (due) since before `before`, oldest first, at most 100. */
  async function waitingSince(type: string, before: number): Promise<{ taskId: string; runId: string; since: number }[]> {
    const flat = await redis.zrangebyscore(keys.externalReady(type), '-inf', before, 'WITHSCORES', 'LIMIT', 0, 100);
    const out: { taskId: string; runId: string; since: number }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const runId = await redis.hget(keys.externalTask(flat[i]), 'runId');
      if (runId) out.push({ taskId: flat[i], runId, since: Number(flat[i + 1]) });
    }
    return out;
  }

  /** True once per task: the first watcher to report it unserved. */
  async function claimUnserved(taskId: string): Promise<boolean> {
    return (await redis.hsetnx(keys.externalTask(taskId), 'unserved', String(clock.now()))) === 1;
  }

  function types(): Promise<string[]> {
    return redis.smembers(keys.externalTypes());
  }

  return { add, withdraw, fetch, complete, fail, extendLock, depth, types, waitingSince, claimUnserved };
}

export type ExternalTasks = ReturnType<typeof createExternalTasks>;
