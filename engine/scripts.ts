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

export function createScripts(redis: Redis): Scripts {
  const commit = command(redis, 'commitStep');
  const mark = command(redis, 'markTask');
  const append = command(redis, 'appendHistory');
  const kpiRecord = command(redis, 'kpiRecord');
  const kpiDrop = command(redis, 'kpiDrop');
  const cas = command(redis, 'compareAndSet');
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
