// What every part of the run store shares: its dependencies (the storage port among them), the
// per-process lanes and snapshot cache, the commit, and the step's environment for a workflow.
import type { AnyStateMachine } from 'xstate';
import type { Clock } from '../clock.ts';
import { ErrorCode, ServicechartError, validationError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import type { Outbox } from '../outbox.ts';
import type { Registry, RegisteredWorkflow } from '../registry.ts';
import type { HumanCompletion, StepOutcome, stepEvent } from '../step.ts';
import type { RunStorage } from '../store/port.ts';
import type { JsonObject, Logger, RunView, StoredRun, StoredTask } from '../types.ts';
import type { SnapshotCache } from './lanes.ts';

/** What the pure step needs of a workflow (step.ts). */
type StepEnv = Parameters<typeof stepEvent>[0];

export interface RunStoreDeps {
  storage: RunStorage;
  clock: Clock;
  logger: Logger;
  registry: Registry;
  outbox: Outbox;
  metrics: Metrics;
  resolveWorkflow(name: string, version?: number): Promise<RegisteredWorkflow | undefined>;
  /** The registry snapshot for what a workflow reads (null when it reads nothing): engine/index.ts wires cmdb.ts in. */
  registryFor(wf: RegisteredWorkflow, refs: { services: string[]; cis: string[] } | null, input: JsonObject): Promise<{ snapshot: JsonObject; refs: { services: string[]; cis: string[] } } | null>;
  maxContextBytes: number;
  hooks: { afterCommit?: (runId: string, seq: number) => void };
}

export interface StartRunArgs {
  workflow: string;
  version?: number;
  input?: JsonObject;
  businessKey?: string | null;
  parentRunId?: string | null;
  idempotencyKey?: string;
  actor?: string;
}

export interface SendEventOptions {
  idempotencyKey?: string;
  actor?: string;
  /** Completing a human task: the task must still be open, and it closes in the same step. */
  completion?: HumanCompletion;
}

export interface RunResult {
  run: RunView;
  duplicate: boolean;
}

/** What a commit of a step needs besides the step's outcome (run-store/commit.ts). */
export interface CommitRequest {
  expectedSeq: number | 'new';
  prevTasks: Record<string, StoredTask>;
  /** The answer to keep under the request's idempotency key, made from the committed record. */
  idempotency: { key: string; value: () => string } | null;
  wf: RegisteredWorkflow;
}

export type CommitAnswer = { ok: true } | { ok: false; code: 'STALE' | 'EXISTS' } | { ok: false; code: 'DUPLICATE'; stored: string };
export type Committer = (outcome: StepOutcome, req: CommitRequest) => Promise<CommitAnswer>;

export interface RunStoreContext {
  deps: RunStoreDeps;
  cache: SnapshotCache;
  inLane: <T>(runId: string, fn: () => Promise<T>) => Promise<T>;
  commit: Committer;
}

/** What the pure step needs of a workflow, and the live snapshot of `run` when this process holds it. */
export function envFor(ctx: RunStoreContext, wf: RegisteredWorkflow, actor: string, run?: StoredRun): StepEnv {
  const { registry, clock } = ctx.deps;
  return {
    machine: wf.machine as AnyStateMachine, now: clock.now(), actor,
    // A JSON workflow's task names were checked when it was registered (against the live catalog too).
    isTask: wf.definition !== undefined || wf.tasksChecked ? () => true : registry.isTask,
    isExternal: (src: string) => registry.isExternal(wf, src),
    cached: run ? ctx.cache.snapshotOf(run) : undefined,
  };
}

export async function workflowOf(ctx: RunStoreContext, run: StoredRun): Promise<RegisteredWorkflow> {
  const wf = await ctx.deps.resolveWorkflow(run.workflow, run.version);
  if (!wf) throw new ServicechartError(ErrorCode.INTERNAL, `workflow ${run.workflow}@${run.version} is not registered in this process`);
  return wf;
}

/** Outside input must not grow a run's context past the limit: refuse before anything is stored. */
export function checkContextSize(ctx: RunStoreContext, outcome: StepOutcome): void {
  const max = ctx.deps.maxContextBytes;
  const context = (outcome.run.snapshot as { context?: unknown } | null)?.context;
  const size = Buffer.byteLength(JSON.stringify(context ?? {}));
  if (size > max) {
    throw validationError(`the run's context would be ${size} bytes, over the ${max}-byte limit`, [{ path: '/context', message: `at most ${max} bytes once serialised` }]);
  }
}
