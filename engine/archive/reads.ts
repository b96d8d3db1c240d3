// Owns reading runs that have left Redis: one run, a page of them, a history page, the store's health.
// Reads prefer Redis: a run still there (archived, not yet removed) is never answered from the archive.
import type { Redis } from 'ioredis';
import type { Keys } from '../keys.ts';
import type { RunId } from '../ids.ts';
import { ErrorCode, ServicechartError, validationError } from '../errors.ts';
import type { HistoryEntry, ListRunsFilter, Page, RunView, StoredRun } from '../types.ts';
import type { ArchiveStore, ArchivedRun } from './types.ts';

export interface ArchiveReadsDeps {
  redis: Redis;
  keys: Keys;
  /** The engine's view of a stored run. */
  view(run: StoredRun): RunView;
  store: ArchiveStore | null;
}

export interface ArchiveStatus {
  status: 'off' | 'ok' | 'unavailable';
  store?: string;
  error?: string;
  since?: string | null;
}

function unavailable(store: ArchiveStore, err: unknown): ServicechartError {
  return new ServicechartError(ErrorCode.UNAVAILABLE, `the archive (${store.kind}) does not answer: ${err instanceof Error ? err.message : String(err)}`);
}

export function createArchiveReads(deps: ArchiveReadsDeps) {
  const { redis, keys, store } = deps;

  function view(copy: ArchivedRun): RunView {
    return { ...deps.view(copy.run), archived: true };
  }

  /** The archived copy of a run; null when there is none (or no archive). The caller has looked in Redis first. */
  async function get(id: RunId): Promise<ArchivedRun | null> {
    if (!store) return null;
    try {
      return await store.get(id);
    } catch (err) {
      throw unavailable(store, err);
    }
  }

  /** A page of archived runs, newest end first; runs still in Redis are left out (one copy each). */
  async function list(filter: ListRunsFilter): Promise<Page<RunView>> {
    if (!store) return { items: [], nextCursor: null };
    if (filter.cursor && !/^\d+:r[0-9a-z]+$/.test(filter.cursor)) throw validationError('bad cursor', [{ path: '/cursor', message: 'not a cursor this endpoint returned' }]);
    let page: Page<ArchivedRun>;
    try {
      page = await store.list({
        workflow: filter.workflow, status: filter.status, state: filter.state, businessKey: filter.businessKey, parentRunId: filter.parentRunId,
        since: filter.endedSince ?? null, until: filter.endedUntil ?? null, limit: filter.limit ?? 50, cursor: filter.cursor ?? null,
      });
    } catch (err) {
      throw unavailable(store, err);
    }
    const live = page.items.length ? await redis.pipeline(page.items.map((c) => ['exists', keys.run(c.run.id)])).exec() : [];
    return { items: page.items.filter((_, i) => live?.[i]?.[1] !== 1).map(view), nextCursor: page.nextCursor };
  }

  /** A page of an archived run's history, paged as Redis pages it (the cursor is the last seq seen). */
  function historyPage(copy: ArchivedRun, opts: { cursor?: string | null; limit?: number }): Page<HistoryEntry> {
    const limit = opts.limit ?? 50;
    const after = opts.cursor ? Number(opts.cursor) : 0;
    const rest = copy.history.filter((h) => h.seq > after);
    const items = rest.slice(0, limit);
    return { items, nextCursor: rest.length > limit ? String(items[items.length - 1].seq) : null };
  }

  /** Whether the store answers now (within 2 s); `since` is when this process's sweeper saw it fail. */
  async function health(since: string | null): Promise<ArchiveStatus> {
    if (!store) return { status: 'off' };
    try {
      await Promise.race([store.check(), new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 2 s')), 2000).unref())]);
      return { status: 'ok', store: store.kind };
    } catch (err) {
      return { status: 'unavailable', store: store.kind, error: err instanceof Error ? err.message : String(err), since };
    }
  }

  return { get, view, list, historyPage, health };
}
