// Loads the Lua scripts once, registers them on a connection under their versioned names and wraps
// each in a typed call. Nothing else calls a script by its name.
//
// A script lives in `lua/<name>.v<version>-<count of KEYS>.lua` (`-n`: a variable count, which the caller
// passes first) and is registered as `sc_<name>_v<version>`. A changed body gets the next version, so two
// releases running side by side during a rolling upgrade never run different bodies under one name (on a
// shared connection the first definition of a name would win).
// Every reply goes through the one mapper of store/replies.ts: a code from its table, then values.
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RedisClient } from './clients.ts';
import { LUA_PRELUDE, SCRIPT_REPLIES, decodeReply, type Decoded, type RepliesOf, type ScriptName } from './store/replies.ts';

const dir = fileURLToPath(new URL('./lua/', import.meta.url));
const sources = new Map<string, { command: string; numberOfKeys: number | undefined; lua: string }>();
for (const file of readdirSync(dir)) {
  const m = /^([A-Za-z]+)\.v(\d+)-(\d+|n)\.lua$/.exec(file);
  if (!m) continue;
  if (sources.has(m[1])) throw new Error(`two versions of the Lua script ${m[1]} in ${dir}: keep the current one only`);
  sources.set(m[1], { command: `sc_${m[1]}_v${m[2]}`, numberOfKeys: m[3] === 'n' ? undefined : Number(m[3]), lua: LUA_PRELUDE + readFileSync(dir + file, 'utf8') });
}

/** The name each script is registered under on a connection (`sc_<name>_v<version>`). */
export function registeredName(script: ScriptName): string {
  const src = sources.get(script);
  if (!src) throw new Error(`no Lua script named ${script}`);
  return src.command;
}

type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

function command<S extends ScriptName>(redis: RedisClient, script: S): (...args: (string | number)[]) => Promise<Decoded<RepliesOf<S>>> {
  const src = sources.get(script);
  if (!src) throw new Error(`no Lua script named ${script}`);
  const r = redis as unknown as Record<string, ScriptFn>;
  if (typeof r[src.command] !== 'function') redis.defineCommand(src.command, { numberOfKeys: src.numberOfKeys, lua: src.lua });
  const allowed = SCRIPT_REPLIES[script] as readonly RepliesOf<S>[];
  return async (...args) => decodeReply(script, await r[src.command](...args), allowed);
}

export type CommitResult =
  | { ok: true; code: 'OK'; firstSeq: number; lastSeq: number }
  | { ok: false; code: 'STALE'; currentSeq: string }
  | { ok: false; code: 'EXISTS' }
  | { ok: false; code: 'DUPLICATE'; stored: string };

/** The keys of a step's commit, all in the run's partition. */
export interface CommitKeys {
  run: string;
  history: string;
  outbox: string;
  idem: string;
  outboxPending: string;
}

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
  /** The step's outbox marker [member, score], written with the outbox; null when the outbox is empty. */
  marker: [string, number] | null;
  /** Index updates in the run's partition: sorted-set additions [key, score, member], removals [key, member], documents [key, JSON]. */
  indexAdd: [string, number, string][];
  indexRemove: [string, string][];
  docs: [string, string][];
}

export type MarkResult = { ok: true; code: 'OK'; seq: number } | { ok: false; code: 'MISSING' | 'NOT_AWAITED' };

export interface Scripts {
  commitStep(keys: CommitKeys, args: CommitArgs): Promise<CommitResult>;
  markTask(keys: [string, string], taskId: string, status: string, entry: string): Promise<MarkResult>;
  /** Append entries to a run's history; false when the run does not exist. */
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
  archiveRemove(keys: [string, string, string], seq: number, hseq: number, otherKeys: string[]): Promise<RepliesOf<'archiveRemove'>>;
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
  | { ok: true; code: 'OK'; record?: Record<string, string>; value?: number }
  | { ok: false; code: Exclude<RepliesOf<'extSettle'>, 'OK'>; status?: string };

function recordOf(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1];
  return out;
}

export function createScripts(redis: RedisClient): Scripts {
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
      const { keyList, argv } = commitArgv(keys, a);
      const { code, values } = await commit(keyList.length, ...keyList, ...argv);
      switch (code) {
        case 'OK': return { ok: true, code, firstSeq: Number(values[0]), lastSeq: Number(values[1]) };
        case 'STALE': return { ok: false, code, currentSeq: String(values[0] ?? '') };
        case 'EXISTS': return { ok: false, code };
        case 'DUPLICATE': return { ok: false, code, stored: String(values[0]) };
      }
    },
    async markTask(keys, taskId, status, entry) {
      const { code, values } = await mark(...keys, taskId, status, entry);
      return code === 'OK' ? { ok: true, code, seq: Number(values[0]) } : { ok: false, code };
    },
    async appendHistory(keys, entries) {
      if (entries.length === 0) return true;
      return (await append(...keys, ...entries)).code === 'OK';
    },
    async kpiRecord(base, args) {
      return Number((await kpiRecord(base, ...args)).values[0]);
    },
    async kpiDrop(base, runId) {
      return Number((await kpiDrop(base, runId)).values[0]);
    },
    async compareAndSet(key, expected, value, ttlSeconds = 0) {
      return (await cas(key, expected, value, ttlSeconds)).code === 'OK';
    },
    async extAdd(keys, now, taskId, fields) {
      return (await extAdd(...keys, now, taskId, ...Object.entries(fields).flat())).code === 'OK';
    },
    async extFetch(keys, a) {
      const { values } = await extFetch(...keys, a.taskPrefix, a.readyPrefix, a.now, a.tokens.length, a.lockMs, a.workerId, ...a.tokens);
      return (values as string[][]).map(recordOf);
    },
    async extSettle(keys, a) {
      const { code, values } = await extSettle(...keys, a.action, a.token, a.now, a.arg, a.readyPrefix, a.taskId);
      if (code !== 'OK') return code === 'STALE' ? { ok: false, code, status: String(values[0]) } : { ok: false, code };
      if (Array.isArray(values[0])) return { ok: true, code, record: recordOf(values[0] as string[]) };
      return { ok: true, code, value: values[0] === undefined ? undefined : Number(values[0]) };
    },
    async extWithdraw(keys, readyPrefix, taskId) {
      return (await extWithdraw(...keys, readyPrefix, taskId)).code === 'OK';
    },
    async registryWrite(k, expected, keep, writes) {
      const keyList = [k.version, k.services, k.cis, ...writes.map((w) => w.auditKey)];
      const argv = [expected === null ? '' : String(expected), String(keep), ...writes.flatMap((w) => [w.kind, w.key, w.doc, w.audit])];
      const { code, values } = await regWrite(keyList.length, ...keyList, ...argv);
      return { ok: code === 'OK', version: Number(values[0]) };
    },
    async archiveRemove(keys, seq, hseq, otherKeys) {
      return (await archiveRemove(keys.length + otherKeys.length, ...keys, ...otherKeys, seq, hseq)).code;
    },
  };
}

/** commitStep's KEYS and ARGV, in the order its header documents. */
function commitArgv(keys: CommitKeys, a: CommitArgs): { keyList: string[]; argv: (string | number)[] } {
  const keyList = [keys.run, keys.history, keys.outbox, keys.idem, keys.outboxPending];
  const keyNumber = new Map<string, number>();
  const numberOf = (key: string): number => {
    let n = keyNumber.get(key);
    if (n === undefined) {
      n = keyList.push(key);
      keyNumber.set(key, n);
    }
    return n;
  };
  const argv: (string | number)[] = [
    String(a.expectedSeq), String(a.newSeq), a.doc, a.idemValue, a.idemTtlSeconds,
    a.marker ? a.marker[0] : '', a.marker ? a.marker[1] : 0,
    a.history.length, ...a.history,
    a.outbox.length, ...a.outbox.flat(),
    a.dropTaskStatus.length, ...a.dropTaskStatus,
    a.awaitTasks.length, ...a.awaitTasks.flat(),
    a.indexAdd.length, ...a.indexAdd.flatMap(([key, score, member]) => [numberOf(key), score, member]),
    a.indexRemove.length, ...a.indexRemove.flatMap(([key, member]) => [numberOf(key), member]),
    a.docs.length, ...a.docs.flatMap(([key, json]) => [numberOf(key), json]),
  ];
  return { keyList, argv };
}
