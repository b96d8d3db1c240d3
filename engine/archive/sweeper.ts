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

export function createArchiver(deps: ArchiverDeps, opts: ArchiverOptions) {
  const { redis, keys, scripts, clock, logger, store } = deps;
  const batchSize = opts.batchSize ?? 100;
  const leaseMs = opts.leaseMs ?? 60_000;
  const token = randomBytes(8).toString('hex');
  let health: ArchiveHealth = { status: 'ok', since: null, error: null };
  const backfilled = new Set<number>();

  function unavailable(err: unknown): void {
    const error = err instanceof Error ? err.message : String(err);
    if (health.status === 'ok') {
      health = { status: 'unavailable', since: new Date(clock.now()).toISOString(), error };
      logger.error({ err: error, store: store.kind }, 'archive unavailable: archiving paused, nothing is removed from Redis until it accepts writes again');
    } else health = { ...health, error };
  }

  function available(): void {
    if (health.status !== 'ok') logger.info({ store: store.kind, since: health.since }, 'archive available again: archiving resumes');
    health = { status: 'ok', since: null, error: null };
  }

  /**
   * A partition's runs that ended before the ended index existed: added once (idempotent, so concurrent
   * sweepers may both do it).
   */
  async function backfill(p: number): Promise<void> {
    if (backfilled.has(p)) return;
    if (await redis.exists(keys.runsEndedBackfilled(p))) {
      backfilled.add(p);
      return;
    }
    let added = 0;
    for (const status of ['done', 'failed', 'cancelled'] as const) {
      let cursor = '0';
      do {
        const [next, flat] = await redis.zscan(keys.runsByStatus(p, status), cursor, 'COUNT', 500);
        cursor = next;
        const ids = flat.filter((_, i) => i % 2 === 0);
        if (!ids.length) continue;
        const docs = await redis.pipeline(ids.map((id) => ['hget', keys.run(id as RunId), 'doc'])).exec();
        const pipe = redis.pipeline();
        for (let i = 0; i < ids.length; i++) {
          const doc = docs?.[i]?.[1] as string | null;
          if (!doc) continue;
          const run = JSON.parse(doc) as StoredRun;
          pipe.zadd(keys.runsEndedByWorkflow(p, run.workflow), 'NX', run.endedAt ?? run.updatedAt, run.id);
          pipe.zadd(keys.runsEndedWorkflows(p), 'NX', 0, run.workflow);
        }
        const replies = (await pipe.exec()) ?? [];
        // Count what was missing: runs that ended since the index existed are in it already.
        for (let i = 0; i < replies.length; i += 2) added += Number(replies[i]?.[1] ?? 0);
      } while (cursor !== '0');
    }
    await redis.set(keys.runsEndedBackfilled(p), String(clock.now()));
    backfilled.add(p);
    if (added) logger.info({ runs: added, partition: p }, 'ended-runs index backfilled for runs that ended before it existed');
  }

  /** Lease runs of one partition (one pipeline, one slot). */
  async function claim(ids: string[]): Promise<string[]> {
    const replies = await redis.pipeline(ids.map((id) => ['set', keys.archiveClaim(id as RunId), token, 'PX', leaseMs, 'NX'])).exec();
    return ids.filter((_, i) => replies?.[i]?.[1] === 'OK');
  }

  async function release(ids: string[]): Promise<void> {
    await Promise.all(ids.map((id) => scripts.compareAndSet(keys.archiveClaim(id as RunId), token, '').catch(() => false)));
  }

  /** The human task documents of many runs of one partition in one round trip. */
  async function humanDocs(idsPerRun: string[][]): Promise<HumanTaskDoc[][]> {
    const all = idsPerRun.flat();
    const docs = all.length ? await redis.mget(...all.map((h) => keys.humanTask(h))) : [];
    let at = 0;
    return idsPerRun.map((ids) => {
      const mine = docs.slice(at, at + ids.length);
      at += ids.length;
      return mine.filter((d): d is string => d !== null).map((d) => JSON.parse(d) as HumanTaskDoc);
    });
  }

  /** Index entries, documents, the business-key claim; the ended entry last, and only when all else went. */
  async function removeIndexed(fp: RunFootprint, runId: string): Promise<void> {
    const pipe = redis.pipeline();
    for (const [key, member] of fp.indexEntries) pipe.zrem(key, member);
    if (fp.docs.length) pipe.del(...fp.docs);
    const failed = ((await pipe.exec()) ?? []).find(([err]) => err);
    if (failed) throw failed[0];
    // Another slot (the external tasks' tag), so a command of its own.
    if (fp.externalTasks.length) await redis.del(...fp.externalTasks);
    if (fp.openClaim) {
      const held = await redis.get(fp.openClaim);
      if (held && held.startsWith(`${runId}|`)) await scripts.compareAndSet(fp.openClaim, held, '');
    }
    await redis.zrem(fp.ended[0], fp.ended[1]);
  }

  /** Archive then remove one claimed batch of partition `p`'s runs; answers how many runs left Redis. */
  async function archiveBatch(p: number, ids: string[]): Promise<number> {
    const pipe = redis.pipeline();
    for (const id of ids) {
      pipe.hgetall(keys.run(id as RunId));
      pipe.xrange(keys.history(id as RunId), '-', '+');
      pipe.exists(keys.outbox(id as RunId));
    }
    const rows = (await pipe.exec()) ?? [];
    // A failed read must not pass for a missing run (that path drops index entries).
    const failed = rows.find(([err]) => err);
    if (failed) throw failed[0];
    const now = clock.now();
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
    const humans = await humanDocs(ready.map((r) => humanTaskIdsOf(r.record.run, r.record.history)));
    ready.forEach((r, i) => (r.record.humanTasks = humans[i]));
    if (ready.length) {
      await fromStore(store.put(ready.map((r) => r.record)));
      available();
      opts.hooks?.afterArchiveWrite?.(ready.map((r) => r.record.run.id));
    }
    let removed = 0;
    // Runs are independent of each other: their removals go out together.
    await Promise.all(ready.map(async ({ record, fields }) => {
      const fp = runFootprint(keys, record.run, record.history, fields);
      const res = await scripts.archiveRemove(fp.own, record.run.seq, record.hseq, fp.idempotency);
      if (res === 'OK') {
        await removeIndexed(fp, record.run.id);
        removed++;
      }
      // CHANGED: a note or an outbox flush came after the read; the next sweep archives the newer copy.
    }));
    // Removed from Redis before a crash, its index entries not yet: finish from the archive copy.
    for (const id of leftovers) {
      const copy = await fromStore(store.get(id));
      if (copy) {
        await removeIndexed(runFootprint(keys, copy.run, copy.history), id);
        removed++;
      } else {
        logger.warn({ runId: id }, 'the ended-runs index named a run that is in neither Redis nor the archive; entry dropped');
        const wf = await redis.zrange(keys.runsEndedWorkflows(p), '0', '-1');
        await Promise.all(wf.map((w) => redis.zrem(keys.runsEndedByWorkflow(p, w), id)));
      }
    }
    return removed;
  }

  /** One pass over every partition's workflows with ended runs; answers how many runs left Redis. */
  async function sweep(): Promise<number> {
    try {
      await store.check();
    } catch (err) {
      unavailable(err);
      return 0;
    }
    let total = 0;
    const now = clock.now();
    for (const p of keys.all) {
      await backfill(p);
      for (const workflow of await redis.zrange(keys.runsEndedWorkflows(p), '0', '-1')) {
        const keep = opts.retention.of(workflow);
        if (keep === null) continue;
        let offset = 0;
        for (;;) {
          const ids = await redis.zrangebyscore(keys.runsEndedByWorkflow(p, workflow), '-inf', now - keep, 'LIMIT', offset, batchSize);
          if (!ids.length) break;
          const mine = await claim(ids);
          let removed = 0;
          try {
            if (mine.length) removed = await archiveBatch(p, mine);
          } catch (err) {
            await release(mine);
            if (!(err instanceof ArchiveStoreError)) throw err;
            unavailable(err);
            return total;
          }
          await release(mine);
          total += removed;
          offset += ids.length - removed;
        }
      }
    }
    available();
    return total;
  }

  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;
  let stopped = false;

  return {
    sweep,
    health: (): ArchiveHealth => health,
    /** Sweep every `everyMs` (a pass never overlaps the previous one). */
    start(everyMs: number): void {
      const tick = () => {
        if (stopped) return;
        running = sweep()
          .then((n) => {
            if (n) logger.info({ runs: n, store: store.kind }, 'runs past retention archived and removed from Redis');
          })
          .catch((err) => logger.warn({ err }, 'archive sweep failed; the next one retries'))
          .finally(() => {
            running = null;
            if (!stopped) {
              timer = setTimeout(tick, everyMs);
              timer.unref();
            }
          });
      };
      timer = setTimeout(tick, Math.min(everyMs, 1000));
      timer.unref();
    },
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}

export type Archiver = ReturnType<typeof createArchiver>;
