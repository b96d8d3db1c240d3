// Owns the reply codes of the Lua scripts: one table for every script. A script answers a table whose
// first element is one of these codes (then the code's values); scripts.ts defines each name as a Lua
// local ahead of every script body, so the Lua files return the same names this table gives numbers.
export const Reply = {
  /** Done as asked: committed, recorded, appended, added, replaced, withdrawn, removed. */
  OK: 1,
  /** What the caller read moved on (a run's seq, the registry version, a lock token): re-read and retry. */
  STALE: -1,
  /** Creating something that exists already (a run started 'new', an external task offered before). */
  EXISTS: -2,
  /** The idempotency key was used already: the stored answer follows. */
  DUPLICATE: -3,
  /** The run, task or key does not exist. */
  MISSING: -4,
  /** The run no longer awaits the task (a stale job). */
  NOT_AWAITED: -5,
  /** The external task was withdrawn: the run no longer waits for it. */
  WITHDRAWN: -6,
  /** The external task's lock expired (it is offered again). */
  EXPIRED: -7,
  /** The external task was completed already. */
  DONE: -8,
  /** The key or run changed since the caller read it (compare-and-set, archive removal). */
  CHANGED: -9,
} as const;

export type ReplyCode = keyof typeof Reply;

const byNumber = new Map<number, ReplyCode>(Object.entries(Reply).map(([name, n]) => [n, name as ReplyCode]));

/** The Lua prelude scripts.ts puts ahead of every script: `local OK, STALE, ... = 1, -1, ...`. */
export const LUA_PRELUDE = `local ${Object.keys(Reply).join(', ')} = ${Object.values(Reply).join(', ')}\n`;

/** A script's reply decoded: its code's name and the values after it. */
export interface Decoded<C extends ReplyCode = ReplyCode> {
  code: C;
  values: unknown[];
}

/**
 * The one mapper from a script's reply to its code: a reply outside the codes `script` may give is a
 * fault of the script (or of a script body registered under its name), and throws.
 */
export function decodeReply<C extends ReplyCode>(script: string, reply: unknown, allowed: readonly C[]): Decoded<C> {
  const list = Array.isArray(reply) ? reply : [reply];
  const code = byNumber.get(Number(list[0]));
  if (code === undefined || !(allowed as readonly ReplyCode[]).includes(code)) {
    throw new Error(`the Lua script ${script} replied ${JSON.stringify(list[0])}, which is none of ${allowed.join(', ')}`);
  }
  return { code: code as C, values: list.slice(1) };
}

/** The codes each script may answer (its contract; test/store/lua-contract.test.ts checks each one). */
export const SCRIPT_REPLIES = {
  commitStep: ['OK', 'STALE', 'EXISTS', 'DUPLICATE'],
  markTask: ['OK', 'MISSING', 'NOT_AWAITED'],
  appendHistory: ['OK', 'MISSING'],
  compareAndSet: ['OK', 'CHANGED'],
  kpiRecord: ['OK'],
  kpiDrop: ['OK'],
  extAdd: ['OK', 'EXISTS'],
  extFetch: ['OK'],
  extSettle: ['OK', 'MISSING', 'WITHDRAWN', 'STALE', 'EXPIRED', 'DONE'],
  extWithdraw: ['OK', 'MISSING', 'WITHDRAWN', 'DONE'],
  registryWrite: ['OK', 'STALE'],
  archiveRemove: ['OK', 'CHANGED', 'MISSING'],
} as const satisfies Record<string, readonly ReplyCode[]>;

export type ScriptName = keyof typeof SCRIPT_REPLIES;
export type RepliesOf<S extends ScriptName> = (typeof SCRIPT_REPLIES)[S][number];
