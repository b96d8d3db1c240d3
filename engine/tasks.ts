// Owns what a task is: its name, schemas, retry policy, timeout and handler.
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import { ServicechartError, ErrorCode } from './errors.ts';
import type { RunId, TaskId } from './ids.ts';
import type { RunView } from './types.ts';
import type { TaskDeclaration } from './definition/define.ts';

export type { TaskDeclaration };
import type { RegistrySnapshot } from './cmdb.ts';

export interface RetryPolicy {
  /** Total attempts, the first included. */
  attempts: number;
  /** First backoff; each retry doubles it. */
  backoffMs: number;
}

export interface TaskContext {
  runId: RunId;
  taskId: TaskId;
  /** Stable across every attempt of this invocation: pass it on to external systems. */
  idempotencyKey: string;
  attempt: number;
  /** Aborted on timeout, on cancellation of the run or the state, and on worker shutdown. */
  signal: AbortSignal;
  /** Engine calls a task may make (start a child run, send an event to a run, cancel a run). */
  services: TaskServices;
}

export interface TaskServices {
  startRun(args: { workflow: string; input?: Record<string, unknown>; businessKey?: string | null; parentRunId?: string | null; idempotencyKey: string }): Promise<{ runId: string; duplicate: boolean }>;
  sendEvent(runId: string, event: { type: string; [k: string]: unknown }, idempotencyKey: string): Promise<{ applied: boolean; reason?: string }>;
  /**
   * Cancel a run as `POST /v1/runs/:id/cancel` does: its tasks and timers are withdrawn and its status
   * becomes `cancelled`. A run that has ended already answers `cancelled: false` (a retry is harmless).
   */
  cancelRun(runId: string, reason: string | null): Promise<{ cancelled: boolean; reason?: string }>;
  /** The run's parent run id, or null. */
  parentOf(runId: string): Promise<string | null>;
  /**
   * The first page (newest first, at most `limit`, default 50, capped at 500) of the runs that match, as
   * `GET /v1/runs` filters them: `state` is a top-level state name.
   * @example
   * const baking = await ctx.services.listRuns({ workflow: 'delivery', status: 'running', state: 'bake' });
   */
  listRuns(filter: { workflow?: string; status?: 'running'; state?: string; limit?: number }): Promise<RunView[]>;
  /** Any run as `GET /v1/runs/:id` shows it, or null when there is none. */
  getRun(runId: string): Promise<RunView | null>;
  /**
   * Correct a measure another run recorded, after the fact, for `GET /v1/kpis`: `set` its value (a change
   * later found to have caused a P1/P2 incident counts as failed) or `add` to it (a score penalty). Once
   * per calling run and `key`; the count of runs behind the figure stays. False when that run recorded
   * no such measure.
   */
  amendMeasure(runId: string, measure: string, change: { set: number } | { add: number }, key: string): Promise<boolean>;
  /** Append model-specific entries (`notify.recorded`, …) to the calling run's history. */
  record(type: string, fields: Record<string, unknown>): Promise<void>;
  /** The service and CI registry, read-only. */
  registry: {
    /** The named services and CIs (and the CIs' services) as stored now. */
    snapshot(refs: { services?: string[]; cis?: string[] }): Promise<RegistrySnapshot>;
    /** The CIs related to these through dependsOn either way (what they need and what needs them), these included. */
    related(ids: string[]): Promise<string[]>;
  };
  now(): number;
}

declare const boundTo: unique symbol;

/**
 * A task's JSON Schema bound to the type it describes. Only `defineTask` binds one (from the schema
 * literal itself), so a handler's types can never drift from what the worker validates.
 */
export type TaskSchema<T> = JSONSchema & { readonly [boundTo]: T };

export interface TaskDefinition<TInput, TOutput> {
  name: string;
  description?: string;
  input: TaskSchema<TInput>;
  output: TaskSchema<TOutput>;
  /** Runs the task in a worker process. A task declared `external: true` has none. */
  handler?: (input: TInput, ctx: TaskContext) => Promise<TOutput>;
  retry?: Partial<RetryPolicy>;
  /** Per-attempt timeout; the handler's signal aborts when it passes. */
  timeoutMs?: number;
  /**
   * Served by external workers (`POST /v1/external-tasks/fetch`, or `runWorker` of the worker package)
   * even where this process could run it: see docs/external-tasks.md for the rule.
   */
  external?: boolean;
}

/** What `defineTask` takes: the schemas as literals; the handler's types are derived from them. */
export interface TaskSpec<I extends JSONSchema, O extends JSONSchema, TInput, TOutput> extends Omit<TaskDefinition<TInput, TOutput>, 'input' | 'output' | 'handler'> {
  input: I;
  output: O;
  handler?: (input: NoInfer<TInput>, ctx: TaskContext) => Promise<NoInfer<TOutput>>;
}

export const defaultRetry: RetryPolicy = { attempts: 3, backoffMs: 1000 };
export const defaultTimeoutMs = 30_000;

/**
 * Derive a task from another one (`{ ...task, retry, handler }`): its schemas keep their types. Declared
 * first, so that TypeScript reports a mistake in a new task against the form below (the last one tried).
 */
export function defineTask<TInput, TOutput>(def: TaskDefinition<TInput, TOutput>): TaskDefinition<TInput, TOutput>;
/**
 * Declare a task: the handler's input and output types follow from the schemas (json-schema-to-ts's
 * `FromSchema`), which the worker validates every input and output against.
 * @example
 * export const notify = defineTask({
 *   name: 'notify', input: { type: 'object', properties: { to: { type: 'string' } }, required: ['to'] },
 *   output: { type: 'object', properties: { sent: { type: 'boolean' } }, required: ['sent'] },
 *   handler: async (input, ctx) => ({ sent: input.to !== '' }),
 * });
 */
export function defineTask<const I extends JSONSchema, const O extends JSONSchema, TInput = FromSchema<I>, TOutput = FromSchema<O>>(
  def: TaskSpec<I, O, TInput, TOutput>,
): TaskDefinition<NoInfer<TInput>, NoInfer<TOutput>>;
export function defineTask(def: TaskSpec<JSONSchema, JSONSchema, unknown, unknown>): TaskDefinition<unknown, unknown> {
  return def as TaskDefinition<unknown, unknown>;
}

/** Throw from a handler when a retry cannot help: the error goes to the run at once. */
export class NonRetryableTaskError extends ServicechartError {
  constructor(message: string, options: { cause?: unknown; code?: string } = {}) {
    super(ErrorCode.TASK_FAILED, message, { cause: options.cause });
    this.name = 'NonRetryableTaskError';
    if (options.code) (this as { code: string }).code = options.code;
  }
}
