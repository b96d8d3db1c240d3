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

/** The external tasks' state: their dependencies and the output validators compiled so far. */
interface ExternalState extends ExternalTaskDeps {
  // Output schemas may come from a JSON workflow or a remote worker: compiled as schemas from outside.
  ajv: ReturnType<typeof userSchemaAjv>;
  validators: Map<string, ValidateFunction>;
}

function validatorFor(s: ExternalState, schema: Record<string, unknown>): ValidateFunction {
  const key = JSON.stringify(schema);
  let v = s.validators.get(key);
  if (!v) {
    const compiled = compileUserSchema(s.ajv, schema, '/output');
    if (!compiled.validate) throw new ServicechartError(ErrorCode.INTERNAL, `the output schema of this task cannot be used: ${compiled.problems.map((p) => p.message).join('; ')}`);
    v = compiled.validate;
    s.validators.set(key, v);
    if (s.validators.size > 500) s.validators.delete(s.validators.keys().next().value!);
  }
  return v;
}

async function declarationOf(s: ExternalState, type: string, workflow: string, version: number) {
  const code = s.registry.task(type);
  const wf = await s.resolveWorkflow(workflow, version).catch(() => undefined);
  const declared = wf?.tasks?.[type];
  const published = code && declared ? undefined : await s.published(type);
  return {
    retry: { ...defaultRetry, ...((published?.retry ?? {}) as Partial<RetryPolicy>), ...(code?.retry ?? {}), ...(declared?.retry ?? {}) },
    output: declared?.output ?? (code?.output as Record<string, unknown> | undefined) ?? (published?.output as Record<string, unknown> | undefined),
  };
}

/** Offer a scheduled task (the outbox calls this); a second offer of the same id does nothing. */
async function add(s: ExternalState, taskId: string, type: string, data: Record<string, unknown>): Promise<void> {
  const workflow = String(data.workflow ?? '');
  const version = Number(data.version ?? 0);
  const { retry } = await declarationOf(s, type, workflow, version);
  await s.scripts.extAdd([s.keys.externalTask(taskId), s.keys.externalReady(type)], s.clock.now(), taskId, {
    id: taskId, type, runId: String(data.runId), workflow, version: String(version), input: JSON.stringify(data.input ?? {}),
    idempotencyKey: String(data.idempotencyKey), maxAttempts: String(Math.max(1, retry.attempts)), backoffMs: String(retry.backoffMs),
  });
  await s.redis.sadd(s.keys.externalTypes(), type);
}

async function withdraw(s: ExternalState, taskId: string): Promise<void> {
  await s.scripts.extWithdraw([s.keys.externalTask(taskId), s.keys.externalLocked()], s.keys.externalReadyPrefix(), taskId);
}

function lockedView(rec: Record<string, string>, id: string): LockedTask {
  return {
    id, type: rec.type, runId: rec.runId, workflow: rec.workflow, input: JSON.parse(rec.input) as unknown, idempotencyKey: rec.idempotencyKey,
    attempt: Number(rec.attempt), maxAttempts: Number(rec.maxAttempts), lockToken: rec.token, lockDeadline: iso(Number(rec.deadline)),
  };
}

/** Lock what is waiting now; a task the run no longer awaits is withdrawn instead of handed out. */
async function fetchOnce(s: ExternalState, args: FetchArgs): Promise<LockedTask[]> {
  const out: LockedTask[] = [];
  for (const type of args.types) {
    const want = args.max - out.length;
    if (want <= 0) break;
    const tokens = Array.from({ length: want }, () => randomBytes(16).toString('base64url'));
    const now = s.clock.now();
    const recs = await s.scripts.extFetch([s.keys.externalReady(type), s.keys.externalLocked()], {
      taskPrefix: s.keys.externalTaskPrefix(), readyPrefix: s.keys.externalReadyPrefix(), now, lockMs: args.lockMs, workerId: args.workerId, tokens,
    });
    for (const rec of recs) {
      const id = rec.id;
      const attempt = Number(rec.attempt);
      const marked = await s.runs().markTask(rec.runId as RunId, id, 'running', attempt, {
        type: 'task.started', at: iso(now), actor: `task:${type}`, task: type, taskId: id, attempt, worker: args.workerId,
      });
      if (!marked.ok) {
        await withdraw(s, id);
        continue;
      }
      out.push(lockedView(rec, id));
    }
  }
  return out;
}

/** Long-poll: up to `max` tasks of `types`, waiting up to `waitMs` for the first. */
async function fetchTasks(s: ExternalState, args: FetchArgs): Promise<LockedTask[]> {
  const announce = args.announce !== false;
  if (announce) await s.seen(args.workerId, args.types);
  let seenAt = Date.now();
  const until = Date.now() + args.waitMs;
  for (;;) {
    // A worker waiting in a long poll is live: renew its mark while it waits.
    if (announce && Date.now() - seenAt >= s.seenEveryMs) {
      seenAt = Date.now();
      await s.seen(args.workerId, args.types);
    }
    const got = await fetchOnce(s, args);
    const left = until - Date.now();
    if (got.length || left <= 0 || args.signal?.aborted) return got;
    await new Promise((r) => setTimeout(r, Math.min(POLL_MS, left)));
  }
}

function settleError(res: Exclude<SettleResult, { ok: true }>, id: string): ServicechartError {
  return refusal('external task', res.code, id, res.status);
}

async function record(s: ExternalState, id: string): Promise<Record<string, string>> {
  const rec = await s.redis.hgetall(s.keys.externalTask(id));
  if (!rec.status) throw notFound(`external task ${id}`);
  if (rec.status === 'withdrawn') throw settleError({ ok: false, code: 'WITHDRAWN' }, id);
  return rec;
}

function settle(s: ExternalState, id: string, action: 'begin' | 'finish' | 'retry' | 'extend', token: string, arg: number) {
  return s.scripts.extSettle([s.keys.externalTask(id), s.keys.externalLocked()], { action, token, now: s.clock.now(), arg, readyPrefix: s.keys.externalReadyPrefix(), taskId: id });
}

/** Apply a final result under the lock: begin (the lock holds a grace period), apply, finish. */
async function deliver(s: ExternalState, id: string, token: string, result: { ok: true; output: unknown } | { ok: false; error: ErrorData }): Promise<{ runId: string }> {
  const begun = await settle(s, id, 'begin', token, SETTLE_GRACE_MS);
  if (!begun.ok) throw settleError(begun, id);
  const rec = begun.record!;
  const resumed = rec.prior === 'settling';
  const mark = writeMark();
  const { applied } = await s.runs().applyTaskResult(rec.runId as RunId, id as TaskId, result, rec.type);
  // Replicated before the task is finished (its record is in another slot, on a cluster another
  // master): a failover cannot leave a finished task whose result the run lost. Until then the task
  // stays settling, and the worker's retry (or, once the lock lapses, another worker) settles it.
  await s.acknowledge?.(rec.runId, mark);
  await settle(s, id, 'finish', token, 0);
  if (!applied) {
    // A repeat of a result applied a moment ago, or a run that moved on since the task was fetched.
    if (resumed) throw settleError({ ok: false, code: 'DONE' }, id);
    throw settleError({ ok: false, code: 'WITHDRAWN' }, id);
  }
  return { runId: rec.runId };
}

/** A worker's output: checked against the task's output schema (422, the lock stays), then applied. */
async function complete(s: ExternalState, id: string, token: string, output: unknown): Promise<{ id: string; runId: string }> {
  const rec = await record(s, id);
  const { output: schema } = await declarationOf(s, rec.type, rec.workflow, Number(rec.version));
  if (schema) {
    const v = validatorFor(s, schema);
    if (!v(output)) {
      throw validationError(`the output does not match the output schema of task ${rec.type}`, (v.errors ?? []).map((e) => ({ path: `/body/output${e.instancePath}`, message: e.message ?? 'invalid' })));
    }
  }
  const { runId } = await deliver(s, id, token, { ok: true, output });
  s.attempt(rec.type, 'completed');
  return { id, runId };
}

/** A worker's failure: retried with backoff while attempts remain and it is retryable, else the run gets the error. */
async function fail(s: ExternalState, id: string, token: string, f: { message: string; retryable: boolean; retryInMs?: number }): Promise<{ id: string; runId: string; retrying: boolean; nextAttemptAt: string | null }> {
  const rec = await record(s, id);
  const attempt = Number(rec.attempt);
  const error: ErrorData = { code: ErrorCode.TASK_FAILED, message: f.message };
  if (f.retryable && attempt < Number(rec.maxAttempts)) {
    const delay = f.retryInMs ?? Number(rec.backoffMs) * 2 ** (attempt - 1);
    const at = s.clock.now() + delay;
    const res = await settle(s, id, 'retry', token, at);
    if (!res.ok) throw settleError(res, id);
    s.attempt(rec.type, 'retrying');
    await s.failed(rec.type, id).catch(() => undefined);
    const marked = await s.runs().markTask(rec.runId as RunId, id, 'retrying', attempt, {
      type: 'task.retrying', at: iso(s.clock.now()), actor: `task:${rec.type}`, task: rec.type, taskId: id, attempt, error, retryAt: iso(at),
    });
    if (!marked.ok) {
      await withdraw(s, id);
      throw settleError({ ok: false, code: 'WITHDRAWN' }, id);
    }
    return { id, runId: rec.runId, retrying: true, nextAttemptAt: iso(at) };
  }
  const { runId } = await deliver(s, id, token, { ok: false, error });
  s.attempt(rec.type, 'failed');
  await s.failed(rec.type, id).catch(() => undefined);
  return { id, runId, retrying: false, nextAttemptAt: null };
}

async function extendLock(s: ExternalState, id: string, token: string, lockMs: number): Promise<{ id: string; lockDeadline: string }> {
  await record(s, id);
  const res = await settle(s, id, 'extend', token, lockMs);
  if (!res.ok) throw settleError(res, id);
  return { id, lockDeadline: iso(Number(res.value)) };
}

/** Waiting tasks of a type (due now, and waiting out a retry backoff) and the oldest one's age. */
async function depth(s: ExternalState, type: string): Promise<{ waiting: number; delayed: number; oldestWaitingMs: number | null }> {
  const now = s.clock.now();
  const key = s.keys.externalReady(type);
  const [waiting, total, oldest] = await Promise.all([
    s.redis.zcount(key, '-inf', String(now)), s.redis.zcard(key), s.redis.zrange(key, '0', '0', 'WITHSCORES'),
  ]);
  const first = oldest.length ? Number(oldest[1]) : null;
  return { waiting, delayed: total - waiting, oldestWaitingMs: first !== null && first <= now ? now - first : null };
}

/** Tasks of a type waiting (due) since before `before`, oldest first, at most 100. */
async function waitingSince(s: ExternalState, type: string, before: number): Promise<{ taskId: string; runId: string; since: number }[]> {
  const flat = await s.redis.zrangebyscore(s.keys.externalReady(type), '-inf', before, 'WITHSCORES', 'LIMIT', 0, 100);
  const out: { taskId: string; runId: string; since: number }[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const runId = await s.redis.hget(s.keys.externalTask(flat[i]), 'runId');
    if (runId) out.push({ taskId: flat[i], runId, since: Number(flat[i + 1]) });
  }
  return out;
}

/** True once per task: the first watcher to report it unserved. */
async function claimUnserved(s: ExternalState, taskId: string): Promise<boolean> {
  return (await s.redis.hsetnx(s.keys.externalTask(taskId), 'unserved', String(s.clock.now()))) === 1;
}

function types(s: ExternalState): Promise<string[]> {
  return s.redis.smembers(s.keys.externalTypes());
}

/** Tasks served by external workers over Redis: offered, locked to a worker, settled like in-process results. */
export function createExternalTasks(deps: ExternalTaskDeps) {
  const s: ExternalState = { ...deps, ajv: userSchemaAjv(), validators: new Map() };
  return {
    add: (taskId: string, type: string, data: Record<string, unknown>) => add(s, taskId, type, data),
    withdraw: (taskId: string) => withdraw(s, taskId),
    fetch: (args: FetchArgs) => fetchTasks(s, args),
    complete: (id: string, token: string, output: unknown) => complete(s, id, token, output),
    fail: (id: string, token: string, f: { message: string; retryable: boolean; retryInMs?: number }) => fail(s, id, token, f),
    extendLock: (id: string, token: string, lockMs: number) => extendLock(s, id, token, lockMs),
    depth: (type: string) => depth(s, type),
    types: () => types(s),
    waitingSince: (type: string, before: number) => waitingSince(s, type, before),
    claimUnserved: (taskId: string) => claimUnserved(s, taskId),
  };
}

export type ExternalTasks = ReturnType<typeof createExternalTasks>;
