// Owns reading one list kept in P pieces (one per partition) as if it were one: newest first, with
// cursors that mean the same whatever the partition count. The order is by score, then by member,
// both descending, which is the order ZREVRANGEBYSCORE gives within one sorted set, so P = 1 and
// P = 16 list the same items in the same order.
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './clients.ts';

export interface Position {
  score: number;
  member: string;
}

export interface Entry extends Position {
  partition: number;
}

/** True when `a` comes before `b` newest first. */
export function newer(a: Position, b: Position): boolean {
  return a.score > b.score || (a.score === b.score && a.member > b.member);
}

export function formatCursor(p: Position): string {
  return `${p.score}:${p.member}`;
}

/** A cursor `<score>:<member>` whose member matches `member`, or null when it is not one. */
export function parseCursor(cursor: string, member: RegExp): Position | null {
  const i = cursor.indexOf(':');
  if (i <= 0 || !/^\d+$/.test(cursor.slice(0, i))) return null;
  const m = cursor.slice(i + 1);
  return member.test(m) ? { score: Number(cursor.slice(0, i)), member: m } : null;
}

interface Source {
  key: string;
  partition: number;
  buf: Position[];
  i: number;
  /** The last position read from this set; the next read starts after it. */
  pos: Position | null;
  done: boolean;
  count: number;
}

/**
 * Read sorted sets (one per partition) as one, newest first, strictly after `after`. Each set is read
 * in growing batches, only as far as the merged order needs it.
 */
export function mergeSortedSets(redis: RedisClient, sets: { key: string; partition: number }[], after: Position | null) {
  const sources: Source[] = sets.map((s) => ({ ...s, buf: [], i: 0, pos: after, done: false, count: 0 }));

  async function fill(s: Source, hint: number): Promise<void> {
    let count = s.count || Math.max(10, hint);
    for (;;) {
      const rows = await redis.zrevrangebyscore(s.key, s.pos ? String(s.pos.score) : '+inf', '-inf', 'WITHSCORES', 'LIMIT', 0, count);
      const fresh: Position[] = [];
      for (let i = 0; i < rows.length; i += 2) {
        const p = { member: rows[i], score: Number(rows[i + 1]) };
        if (!s.pos || newer(s.pos, p)) fresh.push(p);
      }
      s.done = rows.length / 2 < count;
      if (fresh.length || s.done) {
        s.buf = fresh;
        s.i = 0;
        if (fresh.length) s.pos = fresh[fresh.length - 1];
        s.count = Math.min(count * 2, 1000);
        return;
      }
      // Everything read shares the position's score and was covered already: read past the tie.
      count *= 4;
    }
  }

  const ready = (s: Source) => s.i < s.buf.length;

  /** The next `n` entries (fewer at the end). */
  async function take(n: number): Promise<Entry[]> {
    const out: Entry[] = [];
    while (out.length < n) {
      const hint = Math.ceil(((n - out.length) * 1.5) / sources.length) + 2;
      await Promise.all(sources.filter((s) => !ready(s) && !s.done).map((s) => fill(s, hint)));
      let best: Source | null = null;
      for (const s of sources) if (ready(s) && (!best || newer(s.buf[s.i], best.buf[best.i]))) best = s;
      if (!best) break;
      out.push({ ...best.buf[best.i++], partition: best.partition });
    }
    return out;
  }

  /** Whether any entry is left after those taken. */
  async function more(): Promise<boolean> {
    if (sources.some(ready)) return true;
    await Promise.all(sources.filter((s) => !s.done).map((s) => fill(s, 1)));
    return sources.some(ready);
  }

  return { take, more };
}

/**
 * Read something for each entry with one pipeline per partition (a pipeline stays in one slot); the
 * answers come back in the entries' order.
 */
export async function readEach<T>(redis: RedisClient, entries: Entry[], read: (pipe: ChainableCommander, e: Entry) => void): Promise<(T | null)[]> {
  const out: (T | null)[] = new Array(entries.length).fill(null);
  const byPartition = new Map<number, number[]>();
  entries.forEach((e, i) => {
    const list = byPartition.get(e.partition);
    if (list) list.push(i);
    else byPartition.set(e.partition, [i]);
  });
  await Promise.all([...byPartition.values()].map(async (indexes) => {
    const pipe = redis.pipeline();
    for (const i of indexes) read(pipe, entries[i]);
    const replies = (await pipe.exec()) ?? [];
    indexes.forEach((idx, j) => {
      const [err, value] = replies[j] ?? [null, null];
      if (err) throw err;
      out[idx] = (value ?? null) as T | null;
    });
  }));
  return out;
}
