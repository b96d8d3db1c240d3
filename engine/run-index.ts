// Owns listing runs and human tasks: newest first from the most selective index of every partition,
// merged, with the other filters applied on read. A cursor is the last item's place in that order
// (`<time>:<id>`), so a page means the same whatever the partition count.
import { topLevelStates } from './state-value.ts';
import type { RedisClient } from './clients.ts';
import type { Keys } from './keys.ts';
import type { HumanTaskDoc } from './runs.ts';
import type { ListRunsFilter, Page, RunView, StoredRun } from './types.ts';
import { validationError } from './errors.ts';
import { formatCursor, mergeSortedSets, parseCursor, readEach, type Entry, type Position } from './gather.ts';

/** At most this many index entries are read for one page; a sparse filter answers a short page with a cursor. */
const SCAN_BUDGET = 5000;

export interface HumanTaskFilter {
  status?: 'open' | 'done';
  role?: string;
  workflow?: string;
  runId?: string;
  limit?: number;
  cursor?: string | null;
}

/** The top-level state names of an XState state value (`open` of `{ open: { work: 'new' } }`). */
export function createRunIndex(redis: RedisClient, keys: Keys, view: (run: StoredRun) => RunView, layoutChecked: () => Promise<void>) {
  function pick(p: number, f: ListRunsFilter): string {
    if (f.businessKey) return keys.runsByBusinessKey(p, f.businessKey);
    if (f.parentRunId) return keys.runsByParent(p, f.parentRunId);
    if (f.status) return keys.runsByStatus(p, f.status);
    if (f.workflow) return keys.runsByWorkflow(p, f.workflow);
    return keys.runsAll(p);
  }

  function matches(run: StoredRun, f: ListRunsFilter): boolean {
    if (f.workflow && run.workflow !== f.workflow) return false;
    if (f.status && run.status !== f.status) return false;
    if (f.businessKey && run.businessKey !== f.businessKey) return false;
    if (f.parentRunId && run.parentRunId !== f.parentRunId) return false;
    if (f.state && !topLevelStates((run.snapshot as { value?: unknown } | null)?.value).includes(f.state)) return false;
    return true;
  }

  /**
   * One page of a merged index: entries are read in order, their documents fetched (one pipeline per
   * partition) and kept when `decode` answers an item, until the page is full or the budget spent.
   */
  async function page<T>(
    sets: { key: string; partition: number }[],
    after: Position | null,
    limit: number,
    fetch: (entries: Entry[]) => Promise<(T | null)[]>,
  ): Promise<Page<T>> {
    const merged = mergeSortedSets(redis, sets, after);
    const items: T[] = [];
    let scanned = 0;
    let last: Position | null = null;
    let unread = false;
    for (let round = 0; items.length < limit && scanned < SCAN_BUDGET; round++) {
      // First as many as the page needs (every entry matches, usually); past a filter, bigger reads.
      const need = limit - items.length;
      const want = Math.min(round === 0 ? need : Math.max(need * 2, 100), SCAN_BUDGET - scanned);
      const entries = await merged.take(want);
      if (!entries.length) break;
      const docs = await fetch(entries);
      let i = 0;
      for (; i < entries.length && items.length < limit; i++) {
        scanned++;
        last = entries[i];
        const doc = docs[i];
        if (doc !== null) items.push(doc);
      }
      if (i < entries.length) unread = true;
      if (entries.length < want) break;
    }
    const more = last !== null && (unread || (await merged.more()));
    return { items, nextCursor: more && last ? formatCursor(last) : null };
  }

  async function list(f: ListRunsFilter): Promise<Page<RunView>> {
    await layoutChecked();
    const limit = f.limit ?? 50;
    let after: Position | null = null;
    if (f.cursor) {
      after = parseCursor(f.cursor, /^r[0-9a-z]+$/);
      if (!after) throw validationError('bad cursor', [{ path: '/cursor', message: 'not a cursor this endpoint returned' }]);
    }
    const sets = keys.all.map((p) => ({ key: pick(p, f), partition: p }));
    return page(sets, after, limit, async (entries) => {
      const docs = await readEach<string>(redis, entries, (pipe, e) => pipe.hget(keys.run(e.member as never), 'doc'));
      return docs.map((doc) => {
        if (!doc) return null;
        const run = JSON.parse(doc) as StoredRun;
        return matches(run, f) ? view(run) : null;
      });
    });
  }

  /** Human tasks, newest first, from the open or done index of every partition (of the run's alone with `runId`). */
  async function listHumanTasks(filter: HumanTaskFilter): Promise<Page<HumanTaskDoc>> {
    await layoutChecked();
    const limit = filter.limit ?? 50;
    let after: Position | null = null;
    if (filter.cursor) {
      after = parseCursor(filter.cursor, /^r[0-9a-z]+\.h\d+x\d+$/);
      if (!after) throw validationError('bad cursor', [{ path: '/query/cursor', message: 'not a cursor this endpoint returned' }]);
    }
    const set = (p: number) => (filter.status === 'done' ? keys.humanTasksDone(p) : keys.humanTasksOpen(p));
    const partitions = filter.runId ? [keys.partitionOf(filter.runId)] : keys.all;
    return page(partitions.map((p) => ({ key: set(p), partition: p })), after, limit, async (entries) => {
      const docs = await readEach<string>(redis, entries, (pipe, e) => pipe.get(keys.humanTask(e.member)));
      return docs.map((raw) => {
        const doc = raw ? (JSON.parse(raw) as HumanTaskDoc) : null;
        if (!doc) return null;
        if (filter.role && doc.role !== filter.role) return null;
        if (filter.workflow && doc.workflow !== filter.workflow) return null;
        if (filter.runId && doc.runId !== filter.runId) return null;
        return doc;
      });
    });
  }

  /** How many runs have a status (every partition's index). */
  async function countByStatus(status: string): Promise<number> {
    await layoutChecked();
    const counts = await Promise.all(keys.all.map((p) => redis.zcard(keys.runsByStatus(p, status))));
    return counts.reduce((a, b) => a + b, 0);
  }

  return { list, listHumanTasks, countByStatus };
}
