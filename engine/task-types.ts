// Owns the view of task types an installation has (GET /v1/task-types): definitions, live workers,
// queue depth and failures; and the watch that notes on a run's history a task no live worker serves.
import type { Queue } from 'bullmq';
import type { Catalog, SchemaConflict } from './catalog.ts';
import type { RedisClient } from './clients.ts';
import { iso, type Clock } from './clock.ts';
import type { ExternalTasks } from './external-tasks.ts';
import type { RunId } from './ids.ts';
import type { Keys } from './keys.ts';
import type { Registry } from './registry.ts';
import { defaultRetry } from './tasks.ts';
import type { Logger } from './types.ts';

/** A task type as `GET /v1/task-types` lists it. */
export interface TaskTypeView {
  name: string;
  description: string | null;
  /** Where a run's invocation goes unless its workflow declares it external. */
  execution: 'in-process' | 'external';
  input: unknown;
  output: unknown;
  retry: unknown;
  timeoutMs: number | null;
  workers: { workerId: string; host: string; version: string; kind: string; heartbeatAt: string; expiresAt: string }[];
  queue: { waiting: number; delayed: number; oldestWaitingMs: number | null };
  failuresLastHour: number;
  /** Live workers that publish different schemas for this name, or null. */
  conflict: SchemaConflict | null;
}

export interface TaskTypeDeps {
  redis: RedisClient;
  keys: Keys;
  clock: Clock;
  logger: Logger;
  registry: Registry;
  catalog: Catalog;
  external: ExternalTasks;
  /** The queues in-process task handlers consume, one per partition. */
  taskQueues: Queue[];
  /** One entry on a run's history that changes nothing else. */
  appendEntry(runId: RunId, type: string, fields: Record<string, unknown>, actor: string): Promise<boolean>;
}

type LocalDepth = Map<string, { waiting: number; delayed: number; oldest: number | null }>;

/** In-process queue depth per task name, from the jobs waiting in the task queues. */
async function localDepth(taskQueues: Queue[]): Promise<LocalDepth> {
  const out: LocalDepth = new Map();
  for (const q of taskQueues) {
    for (const [state, jobs] of [['waiting', await q.getJobs(['waiting', 'prioritized'], 0, 999)], ['delayed', await q.getJobs(['delayed'], 0, 999)]] as const) {
      for (const job of jobs) {
        if (!job) continue;
        const d = out.get(job.name) ?? { waiting: 0, delayed: 0, oldest: null };
        d[state]++;
        if (state === 'waiting') d.oldest = Math.min(d.oldest ?? job.timestamp, job.timestamp);
        out.set(job.name, d);
      }
    }
  }
  return out;
}

async function viewOf(deps: TaskTypeDeps, name: string, inProcess: LocalDepth, now: number): Promise<TaskTypeView> {
  const { registry, catalog, external } = deps;
  const def = registry.task(name);
  const [workers, failures, ext] = await Promise.all([catalog.live(name), catalog.failuresLastHour(name), external.depth(name)]);
  const published = workers.find((w) => w.task.input !== undefined || w.task.output !== undefined)?.task;
  const local = inProcess.get(name);
  const oldest = [ext.oldestWaitingMs, local?.oldest != null ? now - local.oldest : null].filter((x): x is number => x !== null);
  return {
    name,
    description: def?.description ?? published?.description ?? null,
    execution: registry.isExternal(undefined, name) ? 'external' : 'in-process',
    input: def?.input ?? published?.input ?? null,
    output: def?.output ?? published?.output ?? null,
    retry: def ? { ...defaultRetry, ...(def.retry ?? {}) } : (published?.retry ?? null),
    timeoutMs: def?.timeoutMs ?? published?.timeoutMs ?? null,
    workers: workers.map((w) => ({ workerId: w.workerId, host: w.host, version: w.version, kind: w.kind, heartbeatAt: iso(w.heartbeatAt), expiresAt: iso(w.expiresAt) })),
    queue: { waiting: ext.waiting + (local?.waiting ?? 0), delayed: ext.delayed + (local?.delayed ?? 0), oldestWaitingMs: oldest.length ? Math.max(...oldest) : null },
    failuresLastHour: failures,
    conflict: catalog.conflictOf(workers),
  };
}

async function noteUnserved(deps: TaskTypeDeps, runId: RunId, task: string, taskId: string, waitingMs: number, alertMs: number): Promise<void> {
  await deps.appendEntry(runId, 'task.unserved', {
    task, taskId, waitingMs,
    message: `no live worker has served task type ${task} for ${Math.round(alertMs / 1000)} s; the run keeps waiting`,
  }, 'engine');
  deps.logger.warn({ task, taskId, runId }, `task ${task} has no live worker`);
}

/** One pass of the watch: every task waiting `alertMs` on a type no live worker serves, noted once. */
async function checkUnserved(deps: TaskTypeDeps, alertMs: number): Promise<void> {
  const { catalog, external } = deps;
  const now = deps.clock.now();
  // In-process tasks: a queue nobody consumes (an `api`-only installation, workers all down).
  for (const q of deps.taskQueues) {
    for (const job of await q.getJobs(['waiting', 'prioritized'], 0, 999)) {
      if (!job || job.timestamp > now - alertMs || (await catalog.live(job.name)).length) continue;
      const data = job.data as { runId: RunId; taskId: string };
      if (!(await deps.redis.set(deps.keys.unservedMark(data.taskId), '1', 'EX', 86_400, 'NX'))) continue;
      await noteUnserved(deps, data.runId, job.name, data.taskId, now - job.timestamp, alertMs);
    }
  }
  for (const type of await external.types()) {
    const stale = await external.waitingSince(type, now - alertMs);
    if (!stale.length || (await catalog.live(type)).length) continue;
    for (const t of stale) {
      if (!(await external.claimUnserved(t.taskId))) continue;
      await noteUnserved(deps, t.runId as RunId, type, t.taskId, now - t.since, alertMs);
    }
  }
}

export function createTaskTypes(deps: TaskTypeDeps) {
  const { registry, catalog, external } = deps;
  return {
    async listTaskTypes(): Promise<TaskTypeView[]> {
      const now = deps.clock.now();
      const names = new Set([...registry.taskNames(), ...(await catalog.types()), ...(await external.types())]);
      const inProcess = await localDepth(deps.taskQueues);
      const out: TaskTypeView[] = [];
      for (const name of [...names].sort()) out.push(await viewOf(deps, name, inProcess, now));
      return out;
    },

    /** Task types at least one live worker (in-process, package or HTTP) serves now. */
    async liveTaskNames(): Promise<Set<string>> {
      const out = new Set<string>();
      for (const name of await catalog.types()) if ((await catalog.live(name)).length) out.add(name);
      return out;
    },

    /** Runs the unserved check every `everyMs`; answers how to stop it. */
    watchUnserved(options: { alertMs: number; everyMs?: number }): () => Promise<void> {
      const timer = setInterval(() => {
        checkUnserved(deps, options.alertMs).catch((err) => deps.logger.warn({ err }, 'checking for unserved tasks failed'));
      }, options.everyMs ?? Math.min(30_000, Math.max(500, Math.floor(options.alertMs / 2))));
      timer.unref();
      return async () => clearInterval(timer);
    },
  };
}
