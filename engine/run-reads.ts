// Owns reading runs for callers outside the engine: one run, pages of runs, history (paged or live),
// human tasks, open runs by business key; from Redis first, else from the archive.
import type { ArchiveStore } from './archive/types.ts';
import { createArchiveReads } from './archive/reads.ts';
import type { RedisClient } from './clients.ts';
import { timeOf } from './definition/time.ts';
import { notFound } from './errors.ts';
import { parseRunId, type RunId } from './ids.ts';
import type { Keys } from './keys.ts';
import type { OpenRun } from './kpis.ts';
import { createRunIndex, type HumanTaskFilter } from './run-index.ts';
import { topLevelStates } from './state-value.ts';
import type { HumanTaskDoc, RunStore } from './runs.ts';
import type { RunStorage } from './store/port.ts';
import type { HistoryEntry, ListRunsFilter, Page, RunView } from './types.ts';

export interface RunReadDeps {
  redis: RedisClient;
  keys: Keys;
  runs: RunStore;
  /** Run records, history and human-task documents (store/port.ts). */
  storage: RunStorage;
  archive: ArchiveStore | null;
  layoutChecked(): Promise<void>;
  /** The open run a business-key claim names (business-keys.ts), or null. */
  claimedOpenRun(workflow: string, businessKey: string): Promise<string | null>;
}

/** A run id from outside: NOT_FOUND when it is not one. */
export function runIdOrThrow(id: string): RunId {
  const runId = parseRunId(id);
  if (!runId) throw notFound(`run ${id}`);
  return runId;
}

export function createRunReads(deps: RunReadDeps) {
  const { redis, keys, runs, storage } = deps;
  const index = createRunIndex(redis, keys, (r) => runs.view(r), deps.layoutChecked);
  const archived = createArchiveReads({ redis, keys, view: (r) => runs.view(r), store: deps.archive });

  /** A run as the API shows it, from Redis or the archive; null when there is none. */
  async function findRun(id: RunId): Promise<RunView | null> {
    const stored = await runs.readStored(id);
    if (stored) return runs.view(stored.run, stored.live);
    const copy = await archived.get(id);
    return copy ? archived.view(copy) : null;
  }

  async function getHistory(runId: string, opts: { cursor?: string | null; limit?: number } = {}): Promise<Page<HistoryEntry>> {
    const id = runIdOrThrow(runId);
    const page = await storage.historyPage(id, opts);
    if (page) return page;
    const copy = await archived.get(id);
    if (!copy) throw notFound(`run ${runId}`);
    return archived.historyPage(copy, opts);
  }

  /** The runs of a workflow open now (for backlog KPIs), at most 20,000. */
  async function openRunsOf(workflow: string): Promise<OpenRun[]> {
    const out: OpenRun[] = [];
    let cursor: string | null = null;
    do {
      const page = await index.list({ workflow, status: 'running', limit: 500, cursor });
      for (const r of page.items) {
        const context = (r.context ?? {}) as Record<string, unknown>;
        out.push({ openedAt: timeOf(context.openedAt) ?? Date.parse(r.createdAt), states: topLevelStates(r.state), context });
      }
      cursor = page.nextCursor;
    } while (cursor && out.length < 20_000);
    return out;
  }

  return {
    findRun, getHistory, openRunsOf,
    /** The archived copy of a run (null when none, or no archive); look in Redis first. */
    fromArchive: archived.get,
    /** A run as the archive holds it (`archived: true`), or null; look in Redis first. */
    async archivedRun(id: RunId): Promise<RunView | null> {
      const copy = await archived.get(id);
      return copy ? archived.view(copy) : null;
    },
    archiveHealth: archived.health,
    async getRun(runId: string): Promise<RunView> {
      const run = await findRun(runIdOrThrow(runId));
      if (!run) throw notFound(`run ${runId}`);
      return run;
    },
    listRuns(filter: ListRunsFilter = {}): Promise<Page<RunView>> {
      return filter.archived ? archived.list(filter) : index.list(filter);
    },
    countRuns: (status: string): Promise<number> => index.countByStatus(status),
    async lastHistorySeq(runId: string): Promise<number> {
      return storage.lastHistorySeq(runIdOrThrow(runId));
    },
    followHistory(runId: string, afterSeq: number, signal: AbortSignal): AsyncGenerator<HistoryEntry> {
      return storage.followHistory(runIdOrThrow(runId), afterSeq, signal);
    },
    listHumanTasks: (filter: HumanTaskFilter = {}): Promise<Page<HumanTaskDoc>> => index.listHumanTasks(filter),
    async getHumanTask(taskId: string): Promise<HumanTaskDoc> {
      const doc = await storage.humanTask(taskId);
      if (!doc) throw notFound(`human task ${taskId}`);
      return doc;
    },
    async findOpenRun(businessKey: string, workflow?: string): Promise<string | null> {
      if (workflow) {
        const claimed = await deps.claimedOpenRun(workflow, businessKey);
        if (claimed) return claimed;
      }
      const page = await index.list({ businessKey, status: 'running', limit: 1, ...(workflow ? { workflow } : {}) });
      return page.items[0]?.id ?? null;
    },
  };
}

export type RunReads = ReturnType<typeof createRunReads>;
