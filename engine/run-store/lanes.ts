// Owns what one process keeps per run between steps: a lane that orders its writes to a run (arrival
// order, and no optimistic retries between its own writers), and the live XState snapshot of the last
// step it committed.
import type { StepOutcome } from '../step.ts';
import type { StoredRun } from '../types.ts';

type MachineSnapshot = NonNullable<StepOutcome['machineSnapshot']>;

const SNAPSHOT_CACHE = 5000;

/** Run `fn` after every write queued on `runId` before it. */
export function createLanes(): <T>(runId: string, fn: () => Promise<T>) => Promise<T> {
  const lanes = new Map<string, Promise<unknown>>();
  return function inLane<T>(runId: string, fn: () => Promise<T>): Promise<T> {
    const prev = lanes.get(runId) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    lanes.set(runId, tail);
    void tail.then(() => {
      if (lanes.get(runId) === tail) lanes.delete(runId);
    });
    return next;
  };
}

/**
 * The live snapshot of the last step this process committed per run, keyed by seq: the next step on
 * the same run skips restoring it from JSON. A different seq means someone else moved the run, and the
 * stored record wins.
 */
export function createSnapshotCache() {
  const snapshots = new Map<string, { seq: number; run: StoredRun; snapshot: MachineSnapshot }>();
  return {
    /** The live snapshot of `run` if this process committed exactly that record last. */
    snapshotOf(run: StoredRun): MachineSnapshot | undefined {
      const hit = snapshots.get(run.id);
      return hit && hit.seq === run.seq ? hit.snapshot : undefined;
    },
    /** The record this process committed last (a guess: the commit's seq guard checks it). */
    lastRecord(runId: string): StoredRun | undefined {
      return snapshots.get(runId)?.run;
    },
    remember(outcome: StepOutcome): void {
      snapshots.delete(outcome.run.id);
      if (!outcome.machineSnapshot || outcome.run.status !== 'running') return;
      snapshots.set(outcome.run.id, { seq: outcome.run.seq, run: outcome.run, snapshot: outcome.machineSnapshot });
      if (snapshots.size > SNAPSHOT_CACHE) snapshots.delete(snapshots.keys().next().value!);
    },
    forget(runId: string): void {
      snapshots.delete(runId);
    },
  };
}

export type SnapshotCache = ReturnType<typeof createSnapshotCache>;
