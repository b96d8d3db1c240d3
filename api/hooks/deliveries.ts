// Owns webhook delivery bookkeeping: the claim that makes a redelivered id answer with the first
// delivery's results, and the capped log of every delivery (GET /v1/hooks/deliveries), kept as one
// stream per partition (so no one slot takes every delivery) and read back merged, newest first.
import { ErrorCode, ServicechartError, validationError, type Engine, type Page } from '../../engine/index.ts';
import type { HookResult } from './dispatch.ts';

const DELIVERY_TTL_SECONDS = 7 * 24 * 3600;
/** A pending claim older than this belongs to a request that died: the next delivery takes it over. */
const STALE_PENDING_MS = 30_000;
/** How long a concurrent repeat waits for the first delivery's results. */
const WAIT_FOR_PENDING_MS = 5_000;
/** About this many entries are kept, over all partitions. */
const LOG_MAX = 10_000;

/** What the claim key holds; JSON with a schemaVersion so later releases can read it. */
type StoredDelivery = { schemaVersion: 1; state: 'pending'; at: number } | { schemaVersion: 1; state: 'done'; at: number; results: HookResult[] };

export type DeliveryClaim = { kind: 'claimed'; token: string } | { kind: 'repeat'; results: HookResult[] };

export interface DeliveryLogEntry {
  /** `<ms>-<seq>-<partition>`: the entry's stream id and its partition. */
  id: string;
  source: string;
  deliveryId: string | null;
  receivedAt: string;
  status: number;
  results: HookResult[];
  /** Why the delivery was refused (401, 400, ...) or what it came to. */
  reason: string | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A log entry's place: its stream id and its partition. */
interface LogPosition {
  ms: number;
  seq: number;
  p: number;
}

function newerEntry(a: LogPosition, b: LogPosition): boolean {
  return a.ms !== b.ms ? a.ms > b.ms : a.seq !== b.seq ? a.seq > b.seq : a.p > b.p;
}

export function createDeliveryStore(engine: Engine) {
  const { redis, keys, clock } = engine;
  const claimKey = (source: string, id: string) => keys.custom('hook-delivery', source, id);
  const perPartitionMax = Math.ceil(LOG_MAX / keys.partitions);
  let nextPartition = Math.floor(Math.random() * keys.partitions);

  /**
   * Claim a delivery id. A repeat of a finished delivery gets its results; a repeat of one in flight
   * waits for it; a claim left pending by a crash is taken over.
   */
  async function claim(source: string, id: string): Promise<DeliveryClaim> {
    const key = claimKey(source, id);
    const deadline = Date.now() + WAIT_FOR_PENDING_MS;
    for (;;) {
      const token = JSON.stringify({ schemaVersion: 1, state: 'pending', at: clock.now(), n: Math.random() });
      if ((await redis.set(key, token, 'EX', DELIVERY_TTL_SECONDS, 'NX')) === 'OK') return { kind: 'claimed', token };
      const current = await redis.get(key);
      if (current === null) continue;
      const stored = JSON.parse(current) as StoredDelivery;
      if (stored.state === 'done') return { kind: 'repeat', results: stored.results };
      if (clock.now() - stored.at > STALE_PENDING_MS) {
        if (await engine.compareAndSet(key, current, token, DELIVERY_TTL_SECONDS)) return { kind: 'claimed', token };
        continue;
      }
      if (Date.now() > deadline) throw new ServicechartError(ErrorCode.UNAVAILABLE, `delivery ${id} is still being processed; retry it later`);
      await sleep(25);
    }
  }

  /** Store the results a repeat of this delivery will answer with. */
  async function finish(source: string, id: string, token: string, results: HookResult[]): Promise<void> {
    const done: StoredDelivery = { schemaVersion: 1, state: 'done', at: clock.now(), results };
    const mark = engine.writeMark();
    await engine.compareAndSet(claimKey(source, id), token, JSON.stringify(done), DELIVERY_TTL_SECONDS);
    // The delivery is answered 202 only once its record is replicated too (SERVICECHART_REPLICA_ACKS).
    await engine.awaitReplicas(claimKey(source, id), mark);
  }

  /** Give the claim back after a failure, so the tool's retry does the work. */
  async function release(source: string, id: string, token: string): Promise<void> {
    await engine.compareAndSet(claimKey(source, id), token, '', 0);
  }

  async function log(entry: Omit<DeliveryLogEntry, 'id' | 'receivedAt'> & { receivedAt: number }): Promise<void> {
    const doc = { ...entry, receivedAt: new Date(entry.receivedAt).toISOString() };
    // Round robin over the partitions: each stream takes its share and keeps its share of the cap.
    nextPartition = (nextPartition + 1) % keys.partitions;
    await redis.xadd(keys.hookDeliveries(nextPartition), 'MAXLEN', '~', String(perPartitionMax), '*', 'd', JSON.stringify(doc));
  }

  /**
   * Newest first over every partition's stream: by stream id, then partition, both descending; `cursor`
   * is the id of the last entry of the previous page.
   */
  async function list(filter: { source?: string; limit: number; cursor?: string | null }): Promise<Page<DeliveryLogEntry>> {
    let after: LogPosition | null = null;
    if (filter.cursor) {
      const m = /^(\d+)-(\d+)-(\d+)$/.exec(filter.cursor);
      if (!m || Number(m[3]) >= keys.partitions) throw validationError('bad cursor', [{ path: '/query/cursor', message: 'not a cursor this endpoint returned' }]);
      after = { ms: Number(m[1]), seq: Number(m[2]), p: Number(m[3]) };
    }
    const batch = Math.max(filter.limit, 100);
    // Per stream: what is left to merge, and where the next read ends (exclusive unless `inclusive`).
    const streams = keys.all.map((p) => {
      // Entries of a lower partition with the cursor's exact stream id come after it.
      const end = after ? (p < after.p ? `${after.ms}-${after.seq}` : `(${after.ms}-${after.seq}`) : '+';
      return { p, end, buf: [] as { pos: LogPosition; doc: Omit<DeliveryLogEntry, 'id'> }[], done: false };
    });
    const fill = async (s: (typeof streams)[number]) => {
      const rows = (await redis.xrevrange(keys.hookDeliveries(s.p), s.end, '-', 'COUNT', batch)) as [string, string[]][];
      s.done = rows.length < batch;
      for (const [id, fields] of rows) {
        const [ms, seq] = id.split('-').map(Number);
        s.buf.push({ pos: { ms, seq, p: s.p }, doc: JSON.parse(fields[1]) as Omit<DeliveryLogEntry, 'id'> });
        s.end = `(${id}`;
      }
    };
    const items: DeliveryLogEntry[] = [];
    while (items.length < filter.limit) {
      await Promise.all(streams.filter((s) => !s.buf.length && !s.done).map(fill));
      let best: (typeof streams)[number] | null = null;
      for (const s of streams) if (s.buf.length && (!best || newerEntry(s.buf[0].pos, best.buf[0].pos))) best = s;
      if (!best) break;
      const { pos, doc } = best.buf.shift()!;
      if (filter.source && doc.source !== filter.source) continue;
      items.push({ id: `${pos.ms}-${pos.seq}-${pos.p}`, ...doc });
    }
    return { items, nextCursor: items.length === filter.limit ? items[items.length - 1].id : null };
  }

  return { claim, finish, release, log, list };
}

export type DeliveryStore = ReturnType<typeof createDeliveryStore>;
