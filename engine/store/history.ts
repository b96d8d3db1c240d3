// Reading a run's history from its Redis stream for the Redis run storage (redis-store.ts): pages, and a
// live follow for SSE.
import { duplicateUnbounded, type RedisClient } from '../clients.ts';
import type { Keys } from '../keys.ts';
import type { RunId } from '../ids.ts';
import type { HistoryEntry, Page } from '../types.ts';

function parse(id: string, fields: string[]): HistoryEntry {
  const json = fields[fields.indexOf('e') + 1];
  return { ...(JSON.parse(json) as Omit<HistoryEntry, 'seq'>), seq: Number(id.split('-')[0]) } as HistoryEntry;
}

export function createHistory(redis: RedisClient, keys: Keys) {
  /** Oldest first; the cursor is the last seq seen. */
  async function page(runId: RunId, opts: { cursor?: string | null; limit?: number } = {}): Promise<Page<HistoryEntry>> {
    const limit = opts.limit ?? 50;
    const after = opts.cursor ? Number(opts.cursor) : 0;
    const rows = (await redis.xrange(keys.history(runId), `(${after}-0`, '+', 'COUNT', limit + 1)) as [string, string[]][];
    const items = rows.slice(0, limit).map(([id, f]) => parse(id, f));
    return { items, nextCursor: rows.length > limit ? String(items[items.length - 1].seq) : null };
  }

  async function all(runId: RunId): Promise<HistoryEntry[]> {
    const rows = (await redis.xrange(keys.history(runId), '-', '+')) as [string, string[]][];
    return rows.map(([id, f]) => parse(id, f));
  }

  /**
   * Follow new entries after `afterSeq` until the signal aborts. Uses its own blocking connection,
   * so entries written by any process arrive.
   */
  async function* follow(runId: RunId, afterSeq: number, signal: AbortSignal): AsyncGenerator<HistoryEntry> {
    const conn = duplicateUnbounded(redis);
    const onAbort = () => conn.disconnect();
    signal.addEventListener('abort', onAbort, { once: true });
    let last = `${afterSeq}-0`;
    try {
      while (!signal.aborted) {
        let res: [string, [string, string[]][]][] | null;
        try {
          res = (await conn.xread('BLOCK', 5000, 'STREAMS', keys.history(runId), last)) as typeof res;
        } catch (err) {
          if (signal.aborted) return;
          throw err;
        }
        if (!res) continue;
        for (const [id, fields] of res[0][1]) {
          last = id;
          yield parse(id, fields);
        }
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      conn.disconnect();
    }
  }

  return { page, all, follow };
}

export type History = ReturnType<typeof createHistory>;
