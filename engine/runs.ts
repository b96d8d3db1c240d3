// Owns the life of a run: start, apply events, timer and task results, cancel, read. Every write is one
// commit of a CommitPlan (commit-plan.ts) through the storage port (store/port.ts), guarded by the
// run's sequence number. The parts live in run-store/: lanes and snapshot cache (lanes.ts), the commit
// and outbox flush (commit.ts), the read-step-commit loop (mutate.ts), start.ts, events.ts, tasks.ts.
import type { RunId } from './ids.ts';
import { refusal } from './store/errors.ts';
import type { RunView, StoredRun } from './types.ts';
import { createCommitter } from './run-store/commit.ts';
import type { RunStoreContext, RunStoreDeps } from './run-store/context.ts';
import { cancelRun, deliverSend, fireTimer, sendEvent } from './run-store/events.ts';
import { createLanes, createSnapshotCache } from './run-store/lanes.ts';
import { startRun } from './run-store/start.ts';
import { applyTaskResult, markTask } from './run-store/tasks.ts';
import { viewOf } from './run-store/view.ts';

export { EVENT_TYPE } from './run-store/events.ts';
export { IDEMPOTENCY_TTL_SECONDS } from './store/redis-store.ts';
export type { HumanTaskDoc } from './commit-plan.ts';
export type { RunStoreDeps, StartRunArgs, SendEventOptions, RunResult } from './run-store/context.ts';

/** A run-store part with the store's context bound: the method the store hands out. */
type Bound<F> = F extends (ctx: RunStoreContext, ...args: infer A) => infer R ? (...args: A) => R : never;
function bind<F extends (ctx: RunStoreContext, ...args: never[]) => unknown>(ctx: RunStoreContext, fn: F): Bound<F> {
  return ((...args: never[]) => fn(ctx, ...args)) as Bound<F>;
}

export function createRunStore(deps: RunStoreDeps) {
  const ctx: RunStoreContext = { deps, cache: createSnapshotCache(), inLane: createLanes(), commit: createCommitter(deps) };

  async function getRun(runId: RunId): Promise<RunView> {
    const stored = await deps.storage.read(runId);
    if (!stored) throw refusal('run', 'MISSING', runId);
    return viewOf(stored.run, stored.live);
  }

  async function getStored(runId: RunId): Promise<StoredRun | null> {
    return (await deps.storage.read(runId))?.run ?? null;
  }

  return {
    startRun: bind(ctx, startRun),
    sendEvent: bind(ctx, sendEvent),
    deliverSend: bind(ctx, deliverSend),
    fireTimer: bind(ctx, fireTimer),
    applyTaskResult: bind(ctx, applyTaskResult),
    cancelRun: bind(ctx, cancelRun),
    markTask: bind(ctx, markTask),
    getRun,
    getStored,
    view: viewOf,
    readStored: (runId: RunId) => deps.storage.read(runId),
  };
}

export type RunStore = ReturnType<typeof createRunStore>;
