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

/** What the index reads with: the connection, the key names, the run view, and the partition layout check. */
interface RunIndexState {
  redis: RedisClient;
  keys: Keys;
  view: (run: StoredRun) => RunView;
  layoutChecked: () => Promise<void>;
}

function pick(s: RunIndexState, p: number, f: ListRunsFilter): string {
  if (f.businessKey) return s.keys.runsByBusinessKey(p, f.businessKey);
  if (f.parentRunId) return s.keys.runsByParent(p, f.parentRunId);
  if (f.status) return s.keys.runsByStatus(p, f.status);
  if (f.workflow) return s.keys.runsByWorkflow(p, f.workflow);
  return s.keys.runsAll(p);
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
  s: RunIndexState,
  sets: { key: string; partition: number }[],
  after: Position | null,
  limit: number,
  fetch: (entries: Entry[]) => Promise<(T | null)[]>,
): Promise<Page<T>> {
  const merged = mergeSortedSets(s.redis, sets, after);
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

async function list(s: RunIndexState, f: ListRunsFilter): Promise<Page<RunView>> {
  await s.layoutChecked();
  const limit = f.limit ?? 50;
  let after: Position | null = null;
  if (f.cursor) {
    after = parseCursor(f.cursor, /^r[0-9a-z]+$/);
    if (!after) throw validationError('bad cursor', [{ path: '/cursor', message: 'not a cursor this endpoint returned' }]);
  }
  const sets = s.keys.all.map((p) => ({ key: pick(s, p, f), partition: p }));
  return page(s, sets, after, limit, async (entries) => {
    const docs = await readEach<string>(s.redis, entries, (pipe, e) => pipe.hget(s.keys.run(e.member as never), 'doc'));
    return docs.map((doc) => {
      if (!doc) return null;
      const run = JSON.parse(doc) as StoredRun;
      return matches(run, f) ? s.view(run) : null;
    });
  });
}

/** Human tasks, newest first, from the open or done index of every partition (of the run's alone with `runId`). */
async function listHumanTasks(s: RunIndexState, filter: HumanTaskFilter): Promise<Page<HumanTaskDoc>> {
  await s.layoutChecked();
  const limit = filter.limit ?? 50;
  let after: Position | null = null;
  if (filter.cursor) {
    after = parseCursor(filter.cursor, /^r[0-9a-z]+\.h\d+x\d+$/);
    if (!after) throw validationError('bad cursor', [{ path: '/query/cursor', message: 'not a cursor this endpoint returned' }]);
  }
  const set = (p: number) => (filter.status === 'done' ? s.keys.humanTasksDone(p) : s.keys.humanTasksOpen(p));
  const partitions = filter.runId ? [s.keys.partitionOf(filter.runId)] : s.keys.all;
  return page(s, partitions.map((p) => ({ key: set(p), partition: p })), after, limit, async (entries) => {
    const docs = await readEach<string>(s.redis, entries, (pipe, e) => pipe.get(s.keys.humanTask(e.member)));
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
async function countByStatus(s: RunIndexState, status: string): Promise<number> {
  await s.layoutChecked();
  const counts = await Promise.all(s.keys.all.map((p) => s.redis.zcard(s.keys.runsByStatus(p, status))));
  return counts.reduce((a, b) => a + b, 0);
}

/** Run and human-task listings over the indexes of every partition. */
export function createRunIndex(redis: RedisClient, keys: Keys, view: (run: StoredRun) => RunView, layoutChecked: () => Promise<void>) {
  const s: RunIndexState = { redis, keys, view, layoutChecked };
  return {
    list: (f: ListRunsFilter) => list(s, f),
    listHumanTasks: (filter: HumanTaskFilter) => listHumanTasks(s, filter),
    countByStatus: (status: string) => countByStatus(s, status),
  };
}
