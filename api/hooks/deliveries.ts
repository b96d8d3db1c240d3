// Owns webhook delivery bookkeeping: the claim that makes a redelivered id answer with the first
// delivery's results, and the capped log of every delivery (GET /v1/hooks/deliveries).
import { ErrorCode, ServicechartError, validationError, type Engine, type Page } from '../../engine/index.ts';
import type { HookResult } from './dispatch.ts';

const DELIVERY_TTL_SECONDS = 7 * 24 * 3600;
/** A pending claim older than this belongs to a request that died: the next delivery takes it over. */
const STALE_PENDING_MS = 30_000;
/** How long a concurrent repeat waits for the first delivery's results. */
const WAIT_FOR_PENDING_MS = 5_000;
const LOG_MAX = 10_000;

/** What the claim key holds; JSON with a schemaVersion so later releases can read it. */
type StoredDelivery = { schemaVersion: 1; state: 'pending'; at: number } | { schemaVersion: 1; state: 'done'; at: number; results: HookResult[] };

export type DeliveryClaim = { kind: 'claimed'; token: string } | { kind: 'repeat'; results: HookResult[] };

export interface DeliveryLogEntry {
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

export function createDeliveryStore(engine: Engine) {
  const { redis, keys, clock } = engine;
  const claimKey = (source: string, id: string) => keys.custom('hook-delivery', source, id);
  const logKey = keys.custom('hook-deliveries');

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
    await engine.compareAndSet(claimKey(source, id), token, JSON.stringify(done), DELIVERY_TTL_SECONDS);
  }

  /** Give the claim back after a failure, so the tool's retry does the work. */
  async function release(source: string, id: string, token: string): Promise<void> {
    await engine.compareAndSet(claimKey(source, id), token, '', 0);
  }

  async function log(entry: Omit<DeliveryLogEntry, 'id' | 'receivedAt'> & { receivedAt: number }): Promise<void> {
    const doc = { ...entry, receivedAt: new Date(entry.receivedAt).toISOString() };
    await redis.xadd(logKey, 'MAXLEN', '~', String(LOG_MAX), '*', 'd', JSON.stringify(doc));
  }

  /** Newest first; `cursor` is the stream id of the last entry of the previous page. */
  async function list(filter: { source?: string; limit: number; cursor?: string | null }): Promise<Page<DeliveryLogEntry>> {
    if (filter.cursor && !/^\d+-\d+$/.test(filter.cursor)) throw validationError('bad cursor', [{ path: '/query/cursor', message: 'not a cursor this endpoint returned' }]);
    const items: DeliveryLogEntry[] = [];
    let end = filter.cursor ? `(${filter.cursor}` : '+';
    let last: string | null = null;
    let more = true;
    while (items.length < filter.limit && more) {
      const batch = (await redis.xrevrange(logKey, end, '-', 'COUNT', Math.max(filter.limit, 100))) as [string, string[]][];
      more = batch.length > 0;
      for (const [id, fields] of batch) {
        end = `(${id}`;
        const doc = JSON.parse(fields[1]) as Omit<DeliveryLogEntry, 'id'>;
        if (filter.source && doc.source !== filter.source) continue;
        items.push({ id, ...doc });
        last = id;
        if (items.length === filter.limit) break;
      }
    }
    return { items, nextCursor: items.length === filter.limit ? last : null };
  }

  return { claim, finish, release, log, list };
}

export type DeliveryStore = ReturnType<typeof createDeliveryStore>;
