// Owns moving runs past their retention from Redis to the archive. Any number of sweepers may run:
// each claims the runs it works on with a lease, writes them to the archive, and only once the
// archive has them durably deletes them from Redis, index entries last. A crash at any point leaves
// the run in Redis (archived again later: writes are idempotent by run id) or archived and partly
// removed (the ended index still names it, and the next sweep finishes the removal from the archive copy).
// Everything works one partition at a time: a batch's runs, leases, index entries and documents share
// the partition's hash tag, so each pipeline and script stays in one Redis Cluster slot.
import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../clients.ts';
import type { Clock } from '../clock.ts';
import type { Keys } from '../keys.ts';
import type { Scripts } from '../scripts.ts';
import type { RunId } from '../ids.ts';
import type { HumanTaskDoc } from '../runs.ts';
import type { HistoryEntry, Logger, StoredRun } from '../types.ts';
import { ARCHIVE_FORMAT, ARCHIVE_FORMAT_VERSION, type ArchiveStore, type ArchivedRun } from './types.ts';
import { humanTaskIdsOf, runFootprint, type RunFootprint } from './footprint.ts';
import type { Retention } from './retention.ts';

export interface ArchiverOptions {
  retention: Retention;
  /** Runs claimed and written per archive write. Default 100. */
  batchSize?: number;
  /** How long a claim on a run holds if its sweeper dies. Default 60 s. */
  leaseMs?: number;
  /** Fault injection for tests: called after the archive accepted a batch, before anything is removed. */
  hooks?: { afterArchiveWrite?: (runIds: string[]) => void };
}

export interface ArchiveHealth {
  status: 'ok' | 'unavailable';
  since: string | null;
  error: string | null;
}

export interface ArchiverDeps {
  redis: RedisClient;
  keys: Keys;
  scripts: Scripts;
  clock: Clock;
  logger: Logger;
  store: ArchiveStore;
}

/** A Redis stream reply as history entries. */
export function historyFromStream(rows: [string, string[]][]): HistoryEntry[] {
  return rows.map(([id, fields]) => ({ ...(JSON.parse(fields[1]) as Omit<HistoryEntry, 'seq'>), seq: Number(id.split('-')[0]) }) as HistoryEntry);
}

/** The archive refused or failed a read or write (as opposed to Redis failing). */
class ArchiveStoreError extends Error {}

async function fromStore<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw new ArchiveStoreError(err instanceof Error ? err.message : String(err), { cause: err });
  }
}

/** A sweeper's state: its dependencies and options, its lease token, the archive's health, and its timer. */
interface ArchiverState extends ArchiverDeps {
  opts: ArchiverOptions;
  batchSize: number;
  leaseMs: number;
  token: string;
  health: ArchiveHealth;
  /** Partitions whose ended-runs index is known to be backfilled. */
  backfilled: Set<number>;
  timer: NodeJS.Timeout | null;
  running: Promise<unknown> | null;
  stopped: boolean;
}

function unavailable(ar: ArchiverState, err: unknown): void {
  const error = err instanceof Error ? err.message : String(err);
  if (ar.health.status === 'ok') {
    ar.health = { status: 'unavailable', since: new Date(ar.clock.now()).toISOString(), error };
    ar.logger.error({ err: error, store: ar.store.kind }, 'archive unavailable: archiving paused, nothing is removed from Redis until it accepts writes again');
  } else ar.health = { ...ar.health, error };
}

function available(ar: ArchiverState): void {
  if (ar.health.status !== 'ok') ar.logger.info({ store: ar.store.kind, since: ar.health.since }, 'archive available again: archiving resumes');
  ar.health = { status: 'ok', since: null, error: null };
}

/**
 * A partition's runs that ended before the ended index existed: added once (idempotent, so concurrent
 * sweepers may both do it).
 */
async function backfill(ar: ArchiverState, p: number): Promise<void> {
  if (ar.backfilled.has(p)) return;
  if (await ar.redis.exists(ar.keys.runsEndedBackfilled(p))) {
    ar.backfilled.add(p);
    return;
  }
  let added = 0;
  for (const status of ['done', 'failed', 'cancelled'] as const) {
    let cursor = '0';
    do {
      const [next, flat] = await ar.redis.zscan(ar.keys.runsByStatus(p, status), cursor, 'COUNT', 500);
      cursor = next;
      const ids = flat.filter((_, i) => i % 2 === 0);
      if (!ids.length) continue;
      const docs = await ar.redis.pipeline(ids.map((id) => ['hget', ar.keys.run(id as RunId), 'doc'])).exec();
      const pipe = ar.redis.pipeline();
      for (let i = 0; i < ids.length; i++) {
        const doc = docs?.[i]?.[1] as string | null;
        if (!doc) continue;
        const run = JSON.parse(doc) as StoredRun;
        pipe.zadd(ar.keys.runsEndedByWorkflow(p, run.workflow), 'NX', run.endedAt ?? run.updatedAt, run.id);
        pipe.zadd(ar.keys.runsEndedWorkflows(p), 'NX', 0, run.workflow);
      }
      const replies = (await pipe.exec()) ?? [];
      // Count what was missing: runs that ended since the index existed are in it already.
      for (let i = 0; i < replies.length; i += 2) added += Number(replies[i]?.[1] ?? 0);
    } while (cursor !== '0');
  }
  await ar.redis.set(ar.keys.runsEndedBackfilled(p), String(ar.clock.now()));
  ar.backfilled.add(p);
  if (added) ar.logger.info({ runs: added, partition: p }, 'ended-runs index backfilled for runs that ended before it existed');
}

/** Lease runs of one partition (one pipeline, one slot). */
async function claim(ar: ArchiverState, ids: string[]): Promise<string[]> {
  const replies = await ar.redis.pipeline(ids.map((id) => ['set', ar.keys.archiveClaim(id as RunId), ar.token, 'PX', ar.leaseMs, 'NX'])).exec();
  return ids.filter((_, i) => replies?.[i]?.[1] === 'OK');
}

async function release(ar: ArchiverState, ids: string[]): Promise<void> {
  await Promise.all(ids.map((id) => ar.scripts.compareAndSet(ar.keys.archiveClaim(id as RunId), ar.token, '').catch(() => false)));
}

/** The human task documents of many runs of one partition in one round trip. */
async function humanDocs(ar: ArchiverState, idsPerRun: string[][]): Promise<HumanTaskDoc[][]> {
  const all = idsPerRun.flat();
  const docs = all.length ? await ar.redis.mget(...all.map((h) => ar.keys.humanTask(h))) : [];
  let at = 0;
  return idsPerRun.map((ids) => {
    const mine = docs.slice(at, at + ids.length);
    at += ids.length;
    return mine.filter((d): d is string => d !== null).map((d) => JSON.parse(d) as HumanTaskDoc);
  });
}

/** Index entries, documents, the business-key claim; the ended entry last, and only when all else went. */
async function removeIndexed(ar: ArchiverState, fp: RunFootprint, runId: string): Promise<void> {
  const pipe = ar.redis.pipeline();
  for (const [key, member] of fp.indexEntries) pipe.zrem(key, member);
  if (fp.docs.length) pipe.del(...fp.docs);
  const failed = ((await pipe.exec()) ?? []).find(([err]) => err);
  if (failed) throw failed[0];
  // Another slot (the external tasks' tag), so a command of its own.
  if (fp.externalTasks.length) await ar.redis.del(...fp.externalTasks);
  if (fp.openClaim) {
    const held = await ar.redis.get(fp.openClaim);
    if (held && held.startsWith(`${runId}|`)) await ar.scripts.compareAndSet(fp.openClaim, held, '');
  }
  await ar.redis.zrem(fp.ended[0], fp.ended[1]);
}

/** Archive then remove one claimed batch of partition `p`'s runs; answers how many runs left Redis. */
async function archiveBatch(ar: ArchiverState, p: number, ids: string[]): Promise<number> {
  const pipe = ar.redis.pipeline();
  for (const id of ids) {
    pipe.hgetall(ar.keys.run(id as RunId));
    pipe.xrange(ar.keys.history(id as RunId), '-', '+');
    pipe.exists(ar.keys.outbox(id as RunId));
  }
  const rows = (await pipe.exec()) ?? [];
  // A failed read must not pass for a missing run (that path drops index entries).
  const failed = rows.find(([err]) => err);
  if (failed) throw failed[0];
  const now = ar.clock.now();
  const ready: { record: ArchivedRun; fields: string[] }[] = [];
  const leftovers: string[] = [];
  for (let i = 0; i < ids.length; i++) {
    const hash = (rows[3 * i]?.[1] ?? {}) as Record<string, string>;
    if (!hash.doc) {
      leftovers.push(ids[i]);
      continue;
    }
    const run = JSON.parse(hash.doc) as StoredRun;
    // Still running (cannot be: ended runs never run again), or its last step's outbox (KPI figures,
    // index updates) not flushed yet: a later sweep takes it.
    if (run.status === 'running' || rows[3 * i + 2]?.[1] === 1) continue;
    const history = historyFromStream((rows[3 * i + 1]?.[1] ?? []) as [string, string[]][]);
    ready.push({
      record: { format: ARCHIVE_FORMAT, v: ARCHIVE_FORMAT_VERSION, archivedAt: now, run, hseq: Number(hash.hseq ?? 0), history, humanTasks: [] },
      fields: Object.keys(hash),
    });
  }
  const humans = await humanDocs(ar, ready.map((r) => humanTaskIdsOf(r.record.run, r.record.history)));
  ready.forEach((r, i) => (r.record.humanTasks = humans[i]));
  if (ready.length) {
    await fromStore(ar.store.put(ready.map((r) => r.record)));
    available(ar);
    ar.opts.hooks?.afterArchiveWrite?.(ready.map((r) => r.record.run.id));
  }
  let removed = 0;
  // Runs are independent of each other: their removals go out together.
  await Promise.all(ready.map(async ({ record, fields }) => {
    const fp = runFootprint(ar.keys, record.run, record.history, fields);
    const res = await ar.scripts.archiveRemove(fp.own, record.run.seq, record.hseq, fp.idempotency);
    if (res === 'OK') {
      await removeIndexed(ar, fp, record.run.id);
      removed++;
    }
    // CHANGED: a note or an outbox flush came after the read; the next sweep archives the newer copy.
  }));
  // Removed from Redis before a crash, its index entries not yet: finish from the archive copy.
  for (const id of leftovers) {
    const copy = await fromStore(ar.store.get(id));
    if (copy) {
      await removeIndexed(ar, runFootprint(ar.keys, copy.run, copy.history), id);
      removed++;
    } else {
      ar.logger.warn({ runId: id }, 'the ended-runs index named a run that is in neither Redis nor the archive; entry dropped');
      const wf = await ar.redis.zrange(ar.keys.runsEndedWorkflows(p), '0', '-1');
      await Promise.all(wf.map((w) => ar.redis.zrem(ar.keys.runsEndedByWorkflow(p, w), id)));
    }
  }
  return removed;
}

/** One pass over every partition's workflows with ended runs; answers how many runs left Redis. */
async function sweep(ar: ArchiverState): Promise<number> {
  try {
    await ar.store.check();
  } catch (err) {
    unavailable(ar, err);
    return 0;
  }
  let total = 0;
  const now = ar.clock.now();
  for (const p of ar.keys.all) {
    await backfill(ar, p);
    for (const workflow of await ar.redis.zrange(ar.keys.runsEndedWorkflows(p), '0', '-1')) {
      const keep = ar.opts.retention.of(workflow);
      if (keep === null) continue;
      let offset = 0;
      for (;;) {
        const ids = await ar.redis.zrangebyscore(ar.keys.runsEndedByWorkflow(p, workflow), '-inf', now - keep, 'LIMIT', offset, ar.batchSize);
        if (!ids.length) break;
        const mine = await claim(ar, ids);
        let removed = 0;
        try {
          if (mine.length) removed = await archiveBatch(ar, p, mine);
        } catch (err) {
          await release(ar, mine);
          if (!(err instanceof ArchiveStoreError)) throw err;
          unavailable(ar, err);
          return total;
        }
        await release(ar, mine);
        total += removed;
        offset += ids.length - removed;
      }
    }
  }
  available(ar);
  return total;
}

/** Sweep every `everyMs` (a pass never overlaps the previous one). */
function start(ar: ArchiverState, everyMs: number): void {
  const tick = () => {
    if (ar.stopped) return;
    ar.running = sweep(ar)
      .then((n) => {
        if (n) ar.logger.info({ runs: n, store: ar.store.kind }, 'runs past retention archived and removed from Redis');
      })
      .catch((err) => ar.logger.warn({ err }, 'archive sweep failed; the next one retries'))
      .finally(() => {
        ar.running = null;
        if (!ar.stopped) {
          ar.timer = setTimeout(tick, everyMs);
          ar.timer.unref();
        }
      });
  };
  ar.timer = setTimeout(tick, Math.min(everyMs, 1000));
  ar.timer.unref();
}
async function stop(ar: ArchiverState): Promise<void> {
  ar.stopped = true;
  if (ar.timer) clearTimeout(ar.timer);
  await ar.running;
}

export function createArchiver(deps: ArchiverDeps, opts: ArchiverOptions) {
  const ar: ArchiverState = {
    ...deps, opts, batchSize: opts.batchSize ?? 100, leaseMs: opts.leaseMs ?? 60_000, token: randomBytes(8).toString('hex'),
    health: { status: 'ok', since: null, error: null }, backfilled: new Set(), timer: null, running: null, stopped: false,
  };
  return {
    sweep: () => sweep(ar),
    health: (): ArchiveHealth => ar.health,
    /** Sweep every `everyMs` (a pass never overlaps the previous one). */
    start: (everyMs: number) => start(ar, everyMs),
    stop: () => stop(ar),
  };
}

export type Archiver = ReturnType<typeof createArchiver>;
