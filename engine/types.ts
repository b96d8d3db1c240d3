// Owns the shapes the engine stores in Redis and hands to callers.
import type { RunId, TaskId, HumanTaskId } from './ids.ts';
import type { ErrorData } from './errors.ts';
import type { FromSchema } from 'json-schema-to-ts';
import type { EngineHistoryDraft, EngineHistoryType, ModelHistoryDraft } from './history-schema.ts';
import type { runViewSchema } from './run-view-schema.ts';

// The schemas the types below are derived from; the API documents runs and history entries with them.
export { runViewSchema } from './run-view-schema.ts';
export { engineHistorySchemas, historyEntrySchema, modelHistorySchema } from './history-schema.ts';

export type RunStatus = 'running' | 'done' | 'failed' | 'cancelled';
export type TaskStatus = 'queued' | 'running' | 'retrying' | 'done' | 'failed';
export type JsonObject = Record<string, unknown>;

export interface StoredTask {
  id: TaskId;
  name: string;
  invokeId: string;
  status: TaskStatus;
  attempts: number;
  scheduledAt: number;
  idempotencyKey: string;
  /** Offered to external workers (external-tasks.ts) rather than queued for in-process handlers. */
  external?: true;
}

export interface StoredTimer {
  id: string;
  /** The send id XState's `cancel` names it by; null when sent without one (nothing can cancel it). */
  sendId: string | null;
  timer: string;
  event: JsonObject & { type: string };
  dueAt: number;
  /**
   * False once a later event under the same send id took its handle, or one under it fired: XState's
   * scheduler keeps one handle per id, so `cancel` no longer reaches this one (it still fires).
   */
  cancellable?: boolean;
  /** A delayed `sendTo` another run: the run it goes to when due (absent: this run). */
  target?: string;
}

export interface StoredHumanTask {
  id: HumanTaskId;
  stateId: string;
  role: string;
  title: string;
  outcomes: Record<string, string>;
  createdAt: number;
  dueAt: number | null;
}

/** The run record as it lives in Redis (field `doc` of the run hash). */
export interface StoredRun {
  schemaVersion: 1;
  id: RunId;
  workflow: string;
  version: number;
  status: RunStatus;
  snapshot: unknown;
  input: JsonObject;
  businessKey: string | null;
  parentRunId: RunId | null;
  createdAt: number;
  updatedAt: number;
  endedAt: number | null;
  output: unknown;
  error: ErrorData | null;
  nextEvents: string[];
  tasks: Record<string, StoredTask>;
  timers: Record<string, StoredTimer>;
  humanTasks: Record<string, StoredHumanTask>;
  /** Bumped by every committed step; a job carries the token of the step that made it. */
  seq: number;
  /** The registry services and CIs the run named at start (indexed: open runs touching an entry). */
  refs?: { services: string[]; cis: string[] };
}

/**
 * A run as every engine call and the API return it: derived from its schema (run-view-schema.ts), with
 * the run ids branded.
 */
export type RunView = Omit<FromSchema<typeof runViewSchema>, 'id' | 'parentRunId'> & { id: RunId; parentRunId: RunId | null };

/** The entry types the engine writes (history-schema.ts holds each one's schema). */
export type HistoryType = EngineHistoryType;
export type { EngineHistoryDraft, ModelHistoryDraft };

/**
 * A history entry before Redis numbers it: one the engine writes, discriminated by `type`, or one the
 * process model adds (its own dotted type and fields). Derived from the schemas in history-schema.ts.
 */
export type HistoryDraft = EngineHistoryDraft | ModelHistoryDraft;

/**
 * A history entry as stored and served: numbered by `seq`. Read back from Redis or the archive (written
 * perhaps by an older version), an entry may hold fields its type does not name: they read as unknown.
 */
export type HistoryEntry = HistoryDraft extends infer D ? (D extends unknown ? D & { seq: number; [field: string]: unknown } : never) : never;

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface ListRunsFilter {
  workflow?: string;
  status?: RunStatus;
  state?: string;
  businessKey?: string;
  parentRunId?: string;
  /** List the archive instead of Redis (runs past retention); newest end first. */
  archived?: boolean;
  /** With `archived`: ended at or after / before (epoch ms). */
  endedSince?: number | null;
  endedUntil?: number | null;
  limit?: number;
  cursor?: string | null;
}

export interface Logger {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {} };
