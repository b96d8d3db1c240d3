// Owns what an archived run is and what every archive store answers.
import type { HumanTaskDoc } from '../runs.ts';
import type { HistoryEntry, Page, RunStatus, StoredRun } from '../types.ts';

/** The format tag and version each archived line (or row) carries, so a reader knows what it holds. */
export const ARCHIVE_FORMAT = 'servicechart.archived-run';
export const ARCHIVE_FORMAT_VERSION = 1;

/** One finished run as it leaves Redis: its record, its whole history and its human tasks. */
export interface ArchivedRun {
  format: typeof ARCHIVE_FORMAT;
  v: typeof ARCHIVE_FORMAT_VERSION;
  archivedAt: number;
  run: StoredRun;
  /** The history length when archived; with run.seq it tells a newer copy of the same run. */
  hseq: number;
  history: HistoryEntry[];
  humanTasks: HumanTaskDoc[];
}

/** Filters of `GET /v1/runs?archived=true`: the run filters, plus a range of end time (epoch ms). */
export interface ArchiveFilter {
  workflow?: string;
  status?: RunStatus;
  state?: string;
  businessKey?: string;
  parentRunId?: string;
  /** Ended at or after. */
  since?: number | null;
  /** Ended before. */
  until?: number | null;
  limit?: number;
  cursor?: string | null;
}

export interface ArchiveStore {
  readonly kind: 'directory' | 'postgres';
  /** Resolves only once every record is durable; writing a run again replaces it (idempotent by run id). */
  put(records: ArchivedRun[]): Promise<void>;
  get(runId: string): Promise<ArchivedRun | null>;
  /** Newest end first; cursor `<endedAt>:<runId>`. */
  list(filter: ArchiveFilter): Promise<Page<ArchivedRun>>;
  /** Every run that ended in [since, until), oldest end first. */
  exportRange(since: number | null, until: number | null): AsyncIterable<ArchivedRun>;
  /** Throws when the store cannot take writes now (the sweeper pauses, /readyz reports it). */
  check(): Promise<void>;
  close(): Promise<void>;
}

/** Which copy of a run wins when a store holds two (a crash between archive write and removal). */
export function newer(a: ArchivedRun, b: ArchivedRun): ArchivedRun {
  if (a.run.seq !== b.run.seq) return a.run.seq > b.run.seq ? a : b;
  if (a.hseq !== b.hseq) return a.hseq > b.hseq ? a : b;
  return a.archivedAt >= b.archivedAt ? a : b;
}

export function parseArchiveCursor(cursor: string | null | undefined): { endedAt: number; id: string } | null {
  if (!cursor) return null;
  const m = /^(\d+):(r[0-9a-z]+)$/.exec(cursor);
  if (!m) return null;
  return { endedAt: Number(m[1]), id: m[2] };
}

/** Newest end first, then id descending: the order every store lists in. */
export function byEndDesc(a: ArchivedRun, b: ArchivedRun): number {
  const ea = a.run.endedAt ?? 0;
  const eb = b.run.endedAt ?? 0;
  if (ea !== eb) return eb - ea;
  return a.run.id < b.run.id ? 1 : a.run.id > b.run.id ? -1 : 0;
}
