// Owns the one list of everything a run leaves in Redis besides its KPI figures: the only place the
// archive knows key names (all of them built by keys.ts).
import type { Keys } from '../keys.ts';
import type { RunId } from '../ids.ts';
import type { HistoryEntry, StoredRun } from '../types.ts';

export interface RunFootprint {
  /** The run hash, its history stream and its outbox: deleted together by one script (one slot: the run's partition). */
  own: [string, string, string];
  /** The run's idempotency keys (under its hash tag), deleted with `own`. */
  idempotency: string[];
  /** [sorted set, member] entries naming the run or its human tasks, all in the run's partition. */
  indexEntries: [string, string][];
  /** The human task documents. */
  docs: string[];
  /**
   * Records of the run's tasks for external workers (settled ones stay an hour, withdrawn ones a day);
   * all under the external tasks' one hash tag. Absent keys (in-process tasks) cost nothing to delete.
   */
  externalTasks: string[];
  /** The open-run claim of its business key: deleted only while it still names this run. */
  openClaim: string | null;
  /** The ended index entry, removed last: while it stays, a later sweep finishes the removal. */
  ended: [string, string];
  /** The sweeper's lease on the run. */
  lease: string;
}

const STATUSES = ['running', 'done', 'failed', 'cancelled'] as const;

/** Human task ids a run ever had, from its history (and any still open on the record). */
export function humanTaskIdsOf(run: StoredRun, history: HistoryEntry[]): string[] {
  const ids = new Set(Object.keys(run.humanTasks ?? {}));
  for (const h of history) if (h.type === 'human.opened' && typeof h.humanTaskId === 'string') ids.add(h.humanTaskId);
  return [...ids];
}

/** Task ids a run ever scheduled, from its history (and any still on the record). */
function taskIdsOf(run: StoredRun, history: HistoryEntry[]): string[] {
  const ids = new Set(Object.keys(run.tasks ?? {}));
  for (const h of history) if (h.type === 'task.scheduled' && typeof h.taskId === 'string') ids.add(h.taskId);
  return [...ids];
}

/**
 * Every key and index entry of a run, from its record, its history and the idempotency keys its
 * hash names (`ik:<key>` fields).
 */
export function runFootprint(keys: Keys, run: StoredRun, history: HistoryEntry[], hashFields: Iterable<string> = []): RunFootprint {
  const id = run.id as RunId;
  // Every index entry and document of a run is in its partition (one slot); the business-key claim is not.
  const p = keys.partitionOf(id);
  const indexEntries: [string, string][] = [[keys.runsAll(p), id], [keys.runsByWorkflow(p, run.workflow), id]];
  for (const s of STATUSES) indexEntries.push([keys.runsByStatus(p, s), id]);
  if (run.businessKey) indexEntries.push([keys.runsByBusinessKey(p, run.businessKey), id]);
  if (run.parentRunId) indexEntries.push([keys.runsByParent(p, run.parentRunId), id]);
  for (const name of run.refs?.services ?? []) indexEntries.push([keys.runsByRef(p, 'service', name), id]);
  for (const name of run.refs?.cis ?? []) indexEntries.push([keys.runsByRef(p, 'ci', name), id]);
  const humanIds = humanTaskIdsOf(run, history);
  for (const h of humanIds) indexEntries.push([keys.humanTasksOpen(p), h], [keys.humanTasksDone(p), h]);
  const idempotency: string[] = [];
  for (const f of hashFields) if (f.startsWith('ik:')) idempotency.push(f.slice(3));
  return {
    own: [keys.run(id), keys.history(id), keys.outbox(id)],
    idempotency,
    indexEntries,
    docs: humanIds.map((h) => keys.humanTask(h)),
    externalTasks: taskIdsOf(run, history).map((t) => keys.externalTask(t)),
    openClaim: run.businessKey ? keys.openClaim(run.workflow, run.businessKey) : null,
    ended: [keys.runsEndedByWorkflow(p, run.workflow), id],
    lease: keys.archiveClaim(id),
  };
}
