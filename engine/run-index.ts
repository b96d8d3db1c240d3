// Owns listing runs: newest first from the most selective index, with the other filters applied on read.
import type { Redis } from 'ioredis';
import type { Keys } from './keys.ts';
import type { ListRunsFilter, Page, RunView, StoredRun } from './types.ts';
import { validationError } from './errors.ts';

const SCAN_BUDGET = 5000;

/** The top-level state names of an XState state value (`open` of `{ open: { work: 'new' } }`). */
export function topLevelStates(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value && typeof value === 'object') return Object.keys(value);
  return [];
}

export function createRunIndex(redis: Redis, keys: Keys, view: (run: StoredRun) => RunView) {
  function pick(f: ListRunsFilter): string {
    if (f.businessKey) return keys.runsByBusinessKey(f.businessKey);
    if (f.parentRunId) return keys.runsByParent(f.parentRunId);
    if (f.status) return keys.runsByStatus(f.status);
    if (f.workflow) return keys.runsByWorkflow(f.workflow);
    return keys.runsAll();
  }

  function matches(run: StoredRun, f: ListRunsFilter): boolean {
    if (f.workflow && run.workflow !== f.workflow) return false;
    if (f.status && run.status !== f.status) return false;
    if (f.businessKey && run.businessKey !== f.businessKey) return false;
    if (f.parentRunId && run.parentRunId !== f.parentRunId) return false;
    if (f.state && !topLevelStates((run.snapshot as { value?: unknown } | null)?.value).includes(f.state)) return false;
    return true;
  }

  async function list(f: ListRunsFilter): Promise<Page<RunView>> {
    const limit = f.limit ?? 50;
    let maxScore = '+inf';
    let after: { score: number; member: string } | null = null;
    if (f.cursor) {
      const m = /^(\d+):(r[0-9a-z]+)$/.exec(f.cursor);
      if (!m) throw validationError('bad cursor', [{ path: '/cursor', message: 'not a cursor this endpoint returned' }]);
      after = { score: Number(m[1]), member: m[2] };
      maxScore = m[1];
    }
    const key = pick(f);
    const items: RunView[] = [];
    let scanned = 0;
    let last: { score: number; member: string } | null = null;
    let exhausted = false;
    while (items.length < limit && scanned < SCAN_BUDGET) {
      const batch = Math.max(limit * 2, 100);
      const rows = await redis.zrevrangebyscore(key, maxScore, '-inf', 'WITHSCORES', 'LIMIT', 0, batch + 50);
      const pairs: { member: string; score: number }[] = [];
      for (let i = 0; i < rows.length; i += 2) pairs.push({ member: rows[i], score: Number(rows[i + 1]) });
      // Equal scores come in reverse member order: skip what the cursor already covered.
      const fresh = after ? pairs.filter((p) => p.score < after!.score || p.member < after!.member) : pairs;
      if (fresh.length === 0) {
        exhausted = true;
        break;
      }
      const take = fresh.slice(0, batch);
      const docs = await redis.pipeline(take.map((p) => ['hget', keys.run(p.member as never), 'doc'])).exec();
      for (let i = 0; i < take.length; i++) {
        scanned++;
        last = take[i];
        const doc = docs?.[i]?.[1] as string | null;
        if (doc) {
          const run = JSON.parse(doc) as StoredRun;
          if (matches(run, f)) items.push(view(run));
        }
        if (items.length === limit) break;
      }
      if (!last) break;
      after = last;
      maxScore = String(last.score);
      if (take.length < batch && items.length < limit && last === take[take.length - 1]) {
        exhausted = true;
        break;
      }
    }
    const more = !exhausted && last !== null;
    let nextCursor: string | null = null;
    if (more && last) {
      const probe = await redis.zrevrangebyscore(key, String(last.score), '-inf', 'WITHSCORES', 'LIMIT', 0, 51);
      let hasMore = false;
      for (let i = 0; i < probe.length; i += 2) {
        const s = Number(probe[i + 1]);
        if (s < last.score || probe[i] < last.member) {
          hasMore = true;
          break;
        }
      }
      if (hasMore) nextCursor = `${last.score}:${last.member}`;
    }
    return { items, nextCursor };
  }

  return { list };
}
