// Owns webhook delivery bookkeeping: the claim (claims.ts) that makes a redelivered id answer with the
// first delivery's results, and the capped log of every delivery (GET /v1/hooks/deliveries), kept as
// one stream per partition (so no one slot takes every delivery) and read back merged, newest first.
import type { Claims, Holder } from './claims.ts';
import type { Clock } from './clock.ts';
import type { RedisClient } from './clients.ts';
import { validationError } from './errors.ts';
import type { Keys } from './keys.ts';
import type { Page } from './types.ts';

const DELIVERY_TTL_SECONDS = 7 * 24 * 3600;
/** A pending claim older than this belongs to a request that died: the next delivery takes it over. */
const STALE_PENDING_MS = 30_000;
/** How long a concurrent repeat waits for the first delivery's results. */
const WAIT_FOR_PENDING_MS = 5_000;
/** About this many entries are kept, over all partitions. */
const LOG_MAX = 10_000;

/** What one item of a delivery came to, as the hook route answers it (api/hooks/dispatch.ts). */
export interface HookResult {
  action: 'started' | 'event' | 'duplicate' | 'ignored';
  runId?: string;
  reason?: string;
}

/** What the claim key holds; JSON with a schemaVersion so later releases can read it. */
type StoredDelivery = { schemaVersion: 1; state: 'pending'; at: number } | { schemaVersion: 1; state: 'done'; at: number; results: HookResult[] };

export type DeliveryClaim = { kind: 'claimed'; token: string } | { kind: 'repeat'; results: HookResult[] };

export interface HookDeliveryStore {
  /**
   * Claim a delivery id of a source. A repeat of a finished delivery answers `repeat` with its results;
   * a repeat of one in flight waits for it (UNAVAILABLE after 5 s: the tool retries); a claim left
   * pending by a request that died (30 s) is taken over.
   */
  claim(source: string, id: string): Promise<DeliveryClaim>;
  /**
   * Store the results a repeat of this delivery will answer with (nothing when the claim was taken
   * over meanwhile). Resolves once the record is on the replicas asked for; UNAVAILABLE otherwise.
   */
  finish(source: string, id: string, token: string, results: HookResult[]): Promise<void>;
  /** Give the claim back after a failure, so the tool's retry does the work. */
  release(source: string, id: string, token: string): Promise<void>;
  /** Add an entry to the delivery log (about 10,000 are kept). */
  log(entry: Omit<DeliveryLogEntry, 'id' | 'receivedAt'> & { receivedAt: number }): Promise<void>;
  /** The delivery log, newest first; `cursor` is the previous page's `nextCursor` (VALIDATION_FAILED when it is not one). */
  list(filter: { source?: string; limit: number; cursor?: string | null }): Promise<Page<DeliveryLogEntry>>;
}

export interface HookDeliveryDeps {
  redis: RedisClient;
  keys: Keys;
  clock: Clock;
  claims: Claims;
  /** Resolves once writes to `key` made after `writtenAfter` are on the replicas asked for. */
  awaitReplicas(key: string, writtenAfter: number): Promise<void>;
  /** The moment to pass to `awaitReplicas`, taken before the write. */
  writeMark(): number;
}

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

/** A log entry's place: its stream id and its partition. */
interface LogPosition {
  ms: number;
  seq: number;
  p: number;
}

function newerEntry(a: LogPosition, b: LogPosition): boolean {
  return a.ms !== b.ms ? a.ms > b.ms : a.seq !== b.seq ? a.seq > b.seq : a.p > b.p;
}

/**
 * Newest first over every partition's stream: by stream id, then partition, both descending; `cursor`
 * is the id of the last entry of the previous page.
 */
async function listDeliveries(redis: RedisClient, keys: Keys, filter: { source?: string; limit: number; cursor?: string | null }): Promise<Page<DeliveryLogEntry>> {
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

export function createHookDeliveries(deps: HookDeliveryDeps): HookDeliveryStore {
  const { redis, keys, clock, claims } = deps;
  const claimKey = (source: string, id: string) => keys.hookDelivery(source, id);
  const perPartitionMax = Math.ceil(LOG_MAX / keys.partitions);
  let nextPartition = Math.floor(Math.random() * keys.partitions);

  function holderOf(current: string): Holder<HookResult[]> {
    const stored = JSON.parse(current) as StoredDelivery;
    if (stored.state === 'done') return { kind: 'settled', value: stored.results };
    return clock.now() - stored.at > STALE_PENDING_MS ? { kind: 'stale' } : { kind: 'in-flight' };
  }

  async function claim(source: string, id: string): Promise<DeliveryClaim> {
    const res = await claims.claim({
      key: claimKey(source, id),
      fresh: () => ({ value: JSON.stringify({ schemaVersion: 1, state: 'pending', at: clock.now(), n: Math.random() }) }),
      inspect: holderOf,
      ttlSeconds: DELIVERY_TTL_SECONDS,
      waitMs: WAIT_FOR_PENDING_MS,
      pollMs: 25,
      busyMessage: `delivery ${id} is still being processed; retry it later`,
    });
    return res.kind === 'claimed' ? { kind: 'claimed', token: res.claim.value } : { kind: 'repeat', results: res.value };
  }

  async function finish(source: string, id: string, token: string, results: HookResult[]): Promise<void> {
    const done: StoredDelivery = { schemaVersion: 1, state: 'done', at: clock.now(), results };
    const mark = deps.writeMark();
    await claims.settle(claimKey(source, id), token, JSON.stringify(done), DELIVERY_TTL_SECONDS);
    // The delivery is answered 202 only once its record is replicated too (SERVICECHART_REPLICA_ACKS).
    await deps.awaitReplicas(claimKey(source, id), mark);
  }

  async function release(source: string, id: string, token: string): Promise<void> {
    await claims.release(claimKey(source, id), token);
  }

  async function log(entry: Omit<DeliveryLogEntry, 'id' | 'receivedAt'> & { receivedAt: number }): Promise<void> {
    const doc = { ...entry, receivedAt: new Date(entry.receivedAt).toISOString() };
    // Round robin over the partitions: each stream takes its share and keeps its share of the cap.
    nextPartition = (nextPartition + 1) % keys.partitions;
    await redis.xadd(keys.hookDeliveries(nextPartition), 'MAXLEN', '~', String(perPartitionMax), '*', 'd', JSON.stringify(doc));
  }

  return { claim, finish, release, log, list: (filter) => listDeliveries(redis, keys, filter) };
}
