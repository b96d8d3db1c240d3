// The storage port of runs: everything the run store (runs.ts and run-store/) and the run reads
// (run-reads.ts: history, human tasks) ask of storage, in the
// engine's own terms. A commit takes a CommitPlan (commit-plan.ts) and answers a reply code of
// store/replies.ts; nothing here names a key. store/redis-store.ts is the one adapter.
import type { CommitPlan, HumanTaskDoc, LiveTaskStatus } from '../commit-plan.ts';
import type { RunId } from '../ids.ts';
import type { HistoryDraft, HistoryEntry, Page, StoredRun } from '../types.ts';

/** A run's record and the live status of each task it awaits (by task id). */
export interface StoredRunState {
  run: StoredRun;
  live: Record<string, LiveTaskStatus>;
}

/** A commit's answer. `written` is the outbox as stored, handed to the outbox's flush (outbox.ts). */
export type CommitReply =
  | { ok: true; code: 'OK'; written: [string, string][] }
  | { ok: false; code: 'STALE' | 'EXISTS' }
  | { ok: false; code: 'DUPLICATE'; stored: string };

export type MarkReply = { ok: true; code: 'OK'; seq: number } | { ok: false; code: 'MISSING' | 'NOT_AWAITED' };

export interface RunStorage {
  /** The run's record and live task statuses, or null when the run is not stored. */
  read(runId: RunId): Promise<StoredRunState | null>;
  /** The answer kept under an idempotency key of the run's events, or null when the key is unused. */
  idempotent(runId: RunId, key: string): Promise<string | null>;
  /** Write a step's plan, all or nothing: a refusal (STALE, EXISTS, DUPLICATE) writes nothing. */
  commit(plan: CommitPlan): Promise<CommitReply>;
  /** Append history entries without changing the run (a note); false when the run does not exist. */
  appendHistory(runId: RunId, entries: HistoryDraft[]): Promise<boolean>;
  /** Record a task attempt's live status (and its history entry) while the run still awaits the task. */
  markTask(runId: RunId, taskId: string, live: LiveTaskStatus, entry: HistoryDraft | null): Promise<MarkReply>;
  /** A page of the run's history, oldest first (the cursor is the last seq seen); null when the run is not stored. */
  historyPage(runId: RunId, opts: { cursor?: string | null; limit?: number }): Promise<Page<HistoryEntry> | null>;
  /** The seq of the run's newest history entry (0 for none, or no such run). */
  lastHistorySeq(runId: RunId): Promise<number>;
  /** New history entries after `afterSeq`, written by any process, until the signal aborts. */
  followHistory(runId: RunId, afterSeq: number, signal: AbortSignal): AsyncGenerator<HistoryEntry>;
  /** A human task's document (it outlives the run's open set), or null. */
  humanTask(taskId: string): Promise<HumanTaskDoc | null>;
}
