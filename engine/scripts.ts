// Loads the Lua scripts once, registers them on a connection and wraps each in a typed call.
// Nothing else calls a script by its string name.
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';

const dir = fileURLToPath(new URL('./lua/', import.meta.url));
// `<name>-<count of KEYS>.lua`; `-n` takes a variable count, which the caller passes first.
const sources = new Map<string, { numberOfKeys: number | undefined; lua: string }>();
for (const file of readdirSync(dir)) {
  const m = /^([A-Za-z]+)-(\d+|n)\.lua$/.exec(file);
  if (m) sources.set(m[1], { numberOfKeys: m[2] === 'n' ? undefined : Number(m[2]), lua: readFileSync(dir + file, 'utf8') });
}

type ScriptReply = [number, ...(string | number | null)[]];
type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

function command(redis: Redis, name: string): ScriptFn {
  const r = redis as unknown as Record<string, ScriptFn>;
  if (typeof r[name] !== 'function') {
    const src = sources.get(name);
    if (!src) throw new Error(`no Lua script named ${name}`);
    redis.defineCommand(name, src);
  }
  return (...args) => (redis as unknown as Record<string, ScriptFn>)[name](...args);
}

export type CommitResult =
  | { ok: true; firstSeq: number; lastSeq: number }
  | { ok: false; reason: 'stale'; currentSeq: string }
  | { ok: false; reason: 'exists' }
  | { ok: false; reason: 'duplicate'; stored: string };

export interface CommitArgs {
  expectedSeq: number | 'new';
  newSeq: number;
  doc: string;
  idemValue: string;
  idemTtlSeconds: number;
  history: string[];
  outbox: [string, string][];
  dropTaskStatus: string[];
  /** Tasks the run starts awaiting: [taskId, live status JSON]. */
  awaitTasks: [string, string][];
}

export type MarkResult = { ok: true; seq: number } | { ok: false; reason: 'missing' | 'stale' };

export interface Scripts {
  commitStep(keys: [string, string, string, string], args: CommitArgs): Promise<CommitResult>;
  markTask(keys: [string, string], taskId: string, status: string, entry: string): Promise<MarkResult>;
  appendHistory(keys: [string, string], entries: string[]): Promise<boolean>;
  /** Record measure entries once each (kpis.ts); answers how many were new. */
  kpiRecord(base: string, args: string[]): Promise<number>;
  /** Leave a run out of the figures; answers how many entries were undone. */
  kpiDrop(base: string, runId: string): Promise<number>;
  /** Replace (or, with '', delete) a key only while it holds `expected`; false when it changed. */
  compareAndSet(key: string, expected: string, value: string, ttlSeconds?: number): Promise<boolean>;
  /** Offer a task to external workers once (external-tasks.ts); false when its record exists already. */
  extAdd(keys: [string, string], now: number, taskId: string, fields: Record<string, string>): Promise<boolean>;
  /** Lock up to `tokens.length` ready tasks of one type; answers their records. */
  extFetch(keys: [string, string], args: { taskPrefix: string; readyPrefix: string; now: number; lockMs: number; workerId: string; tokens: string[] }): Promise<Record<string, string>[]>;
  extSettle(keys: [string, string], args: { action: 'begin' | 'finish' | 'retry' | 'extend'; token: string; now: number; arg: number; readyPrefix: string; taskId: string }): Promise<SettleResult>;
  extWithdraw(keys: [string, string], readyPrefix: string, taskId: string): Promise<boolean>;
  /**
   * Apply registry writes while the version is still `expected` (null: any); cmdb.ts owns the layout.
   * Answers the new version, or `{ ok: false }` with the current one when it moved.
   */
  registryWrite(keys: { version: string; services: string; cis: string }, expected: number | null, keep: number, writes: RegistryWrite[]): Promise<{ ok: boolean; version: number }>;
  /** Delete an archived run's own keys while its seq and hseq are still the archived ones (archive/sweeper.ts). */
  archiveRemove(keys: [string, string, string], seq: number, hseq: number, otherKeys: string[]): Promise<'removed' | 'changed' | 'missing'>;
}

export interface RegistryWrite {
  kind: 's' | 'c';
  key: string;
  /** The document's JSON, or '' to delete it. */
  doc: string;
  auditKey: string;
  audit: string;
}

export type SettleResult =
  | { ok: true; record?: Record<string, string>; value?: number }
  | { ok: false; reason: 'missing' | 'withdrawn' | 'stale' | 'expired' | 'done'; status?: string };

function recordOf(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1];
  return out;
}

export function createScripts(redis: Redis): Scripts {
  const commit = command(redis, 'commitStep');
  const mark = command(redis, 'markTask');
  const append = command(redis, 'appendHistory');
  const kpiRecord = command(redis, 'kpiRecord');
  const kpiDrop = command(redis, 'kpiDrop');
  const cas = command(redis, 'compareAndSet');
  const extAdd = command(redis, 'extAdd');
  const extFetch = command(redis, 'extFetch');
  const extSettle = command(redis, 'extSettle');
  const extWithdraw = command(redis, 'extWithdraw');
  const regWrite = command(redis, 'registryWrite');
  const archiveRemove = command(redis, 'archiveRemove');
  return {
    async commitStep(keys, a) {
      const argv: (string | number)[] = [
        String(a.expectedSeq), String(a.newSeq), a.doc, a.idemValue, a.idemTtlSeconds,
        a.history.length, ...a.history,
        a.outbox.length, ...a.outbox.flat(),
        a.dropTaskStatus.length, ...a.dropTaskStatus,
        a.awaitTasks.length, ...a.awaitTasks.flat(),
      ];
      const reply = (await commit(...keys, ...argv)) as ScriptReply;
      switch (reply[0]) {
        case 1: return { ok: true, firstSeq: Number(reply[1]), lastSeq: Number(reply[2]) };
        case -1: return { ok: false, reason: 'stale', currentSeq: String(reply[1] ?? '') };
        case -2: return { ok: false, reason: 'exists' };
        case -3: return { ok: false, reason: 'duplicate', stored: String(reply[1]) };
        default: throw new Error(`commitStep replied ${String(reply[0])}`);
      }
    },
    async markTask(keys, taskId, status, entry) {
      const reply = (await mark(...keys, taskId, status, entry)) as ScriptReply;
      if (reply[0] === 1) return { ok: true, seq: Number(reply[1]) };
      return { ok: false, reason: reply[0] === -5 ? 'stale' : 'missing' };
    },
    async appendHistory(keys, entries) {
      if (entries.length === 0) return true;
      const reply = (await append(...keys, ...entries)) as ScriptReply;
      return reply[0] === 1;
    },
    async kpiRecord(base, args) {
      return Number(await kpiRecord(base, ...args));
    },
    async kpiDrop(base, runId) {
      return Number(await kpiDrop(base, runId));
    },
    async compareAndSet(key, expected, value, ttlSeconds = 0) {
      return Number(await cas(key, expected, value, ttlSeconds)) === 1;
    },
    async extAdd(keys, now, taskId, fields) {
      return Number(await extAdd(...keys, now, taskId, ...Object.entries(fields).flat())) === 1;
    },
    async extFetch(keys, a) {
      const reply = (await extFetch(...keys, a.taskPrefix, a.readyPrefix, a.now, a.tokens.length, a.lockMs, a.workerId, ...a.tokens)) as string[][];
      return reply.map(recordOf);
    },
    async extSettle(keys, a) {
      const reply = (await extSettle(...keys, a.action, a.token, a.now, a.arg, a.readyPrefix, a.taskId)) as [number, unknown?];
      switch (reply[0]) {
        case 1: return Array.isArray(reply[1]) ? { ok: true, record: recordOf(reply[1] as string[]) } : { ok: true, value: reply[1] === undefined ? undefined : Number(reply[1]) };
        case -1: return { ok: false, reason: 'missing' };
        case -2: return { ok: false, reason: 'withdrawn' };
        case -3: return { ok: false, reason: 'stale', status: String(reply[1]) };
        case -4: return { ok: false, reason: 'expired' };
        case -5: return { ok: false, reason: 'done' };
        default: throw new Error(`extSettle replied ${String(reply[0])}`);
      }
    },
    async extWithdraw(keys, readyPrefix, taskId) {
      return Number(await extWithdraw(...keys, readyPrefix, taskId)) === 1;
    },
    async registryWrite(k, expected, keep, writes) {
      const keyList = [k.version, k.services, k.cis, ...writes.map((w) => w.auditKey)];
      const argv = [expected === null ? '' : String(expected), String(keep), ...writes.flatMap((w) => [w.kind, w.key, w.doc, w.audit])];
      const reply = (await regWrite(keyList.length, ...keyList, ...argv)) as ScriptReply;
      return { ok: reply[0] === 1, version: Number(reply[1]) };
    },
    async archiveRemove(keys, seq, hseq, otherKeys) {
      const reply = Number(await archiveRemove(keys.length + otherKeys.length, ...keys, ...otherKeys, seq, hseq));
      return reply === 1 ? 'removed' : reply === 0 ? 'changed' : 'missing';
    },
  };
}
