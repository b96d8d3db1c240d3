// Owns the one list of everything a run leaves in Redis besides its KPI figures: the only place the
// archive knows key names (all of them built by keys.ts).
import type { Keys } from '../keys.ts';
import type { RunId } from '../ids.ts';
import type { HistoryEntry, StoredRun } from '../types.ts';

export interface RunFootprint {
  /** The run hash, its history stream and its outbox: deleted together by one script. */
  own: [string, string, string];
  /** The run's idempotency keys (under its hash tag), deleted with `own`. */
  idempotency: string[];
  /** [sorted set, member] entries naming the run or its human tasks. */
  indexEntries: [string, string][];
  /** The human task documents. */
  docs: string[];
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

/**
 * Every key and index entry of a run, from its record, its history and the idempotency keys its
 * hash names (`ik:<key>` fields).
 */
export function runFootprint(keys: Keys, run: StoredRun, history: HistoryEntry[], hashFields: Iterable<string> = []): RunFootprint {
  const id = run.id as RunId;
  const indexEntries: [string, string][] = [[keys.runsAll(), id], [keys.runsByWorkflow(run.workflow), id]];
  for (const s of STATUSES) indexEntries.push([keys.runsByStatus(s), id]);
  if (run.businessKey) indexEntries.push([keys.runsByBusinessKey(run.businessKey), id]);
  if (run.parentRunId) indexEntries.push([keys.runsByParent(run.parentRunId), id]);
  for (const name of run.refs?.services ?? []) indexEntries.push([keys.runsByRef('service', name), id]);
  for (const name of run.refs?.cis ?? []) indexEntries.push([keys.runsByRef('ci', name), id]);
  const humanIds = humanTaskIdsOf(run, history);
  for (const h of humanIds) indexEntries.push([keys.humanTasksOpen(), h], [keys.humanTasksDone(), h]);
  const idempotency: string[] = [];
  for (const f of hashFields) if (f.startsWith('ik:')) idempotency.push(f.slice(3));
  return {
    own: [keys.run(id), keys.history(id), keys.outbox(id)],
    idempotency,
    indexEntries,
    docs: humanIds.map((h) => keys.humanTask(h)),
    openClaim: run.businessKey ? keys.openClaim(run.workflow, run.businessKey) : null,
    ended: [keys.runsEndedByWorkflow(run.workflow), id],
    lease: keys.archiveClaim(id),
  };
}
