// Owns the branded identifiers and how they are made and parsed.
import { createHash, randomBytes } from 'node:crypto';

export type RunId = string & { readonly __brand: 'RunId' };
export type TaskId = string & { readonly __brand: 'TaskId' };
export type HumanTaskId = string & { readonly __brand: 'HumanTaskId' };

const RUN_ID = /^r[0-9a-z]{8,40}$/;

let counter = 0;

/** Time-ordered: runs made in the same millisecond by one process still sort in creation order. */
export function newRunId(now: number): RunId {
  counter = (counter + 1) % 36 ** 4;
  return `r${now.toString(36)}${counter.toString(36).padStart(4, '0')}${randomBytes(4).toString('hex')}` as RunId;
}

/** A run id derived from an idempotency key: the same key always names the same run. */
export function runIdFromKey(scope: string, key: string): RunId {
  return `r${createHash('sha256').update(`${scope}\u0000${key}`).digest('hex').slice(0, 28)}` as RunId;
}

export function parseRunId(value: string): RunId | null {
  return RUN_ID.test(value) ? (value as RunId) : null;
}

export function newTaskId(runId: RunId, seq: number, invokeId: string): TaskId {
  return `${runId}.t${seq}.${invokeId.replace(/[^A-Za-z0-9_-]/g, '_')}` as TaskId;
}

export function newHumanTaskId(runId: RunId, seq: number, index: number): HumanTaskId {
  return `${runId}.h${seq}x${index}` as HumanTaskId;
}

/** The run a human task belongs to, read from its id. */
export function runIdOfHumanTask(taskId: string): RunId | null {
  const m = /^(r[0-9a-z]{8,40})\.h\d+x\d+$/.exec(taskId);
  return m ? (m[1] as RunId) : null;
}
