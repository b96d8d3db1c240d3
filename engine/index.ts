// The engine's public surface: the only module `api/` and `workers/` import.
import { Queue } from 'bullmq';
import { systemClock, type Clock } from './clock.ts';
import { createKeys } from './keys.ts';
import { duplicateUnbounded, isCluster, type RedisClient } from './clients.ts';
import { ensureLayout, LayoutError, storedPartitions } from './layout.ts';
import { awaitReplicas, noReplicaAcks, watchConnections, writeMark, type ReplicaAcks } from './replication.ts';
import { createScripts } from './scripts.ts';
import { createRedisRunStorage } from './store/redis-store.ts';
import { Registry, checkMachineNames, type RegisteredWorkflow } from './registry.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { createOutbox } from './outbox.ts';
import { createKpiStore, type KpiReport, type OpenRun } from './kpis.ts';
import { EVENT_TYPE, createRunStore, type StartRunArgs, type SendEventOptions, type RunResult, type HumanTaskDoc } from './runs.ts';
import { createHistory } from './history.ts';
import { createBusinessKeys, type StartOrFindOpenArgs, type OpenRunResult } from './business-keys.ts';
import { createCmdb, REGISTRY_LIMITS } from './cmdb.ts';
import { createRunIndex, type HumanTaskFilter } from './run-index.ts';
import { topLevelStates } from './state-value.ts';
import { timeOf } from './definition/time.ts';
import { partitionConcurrency, startTimerWorker } from './timers.ts';
import { createCatalog, type PublishedTask, type SchemaConflict, type WorkerIdentity } from './catalog.ts';
import { createExternalTasks, type FetchArgs } from './external-tasks.ts';
import { hostname } from 'node:os';
import { defaultRetry, type TaskDeclaration, type TaskDefinition, type TaskServices } from './tasks.ts';
import { ErrorCode, ServicechartError, notFound, validationError } from './errors.ts';
import { parseRunId, runIdFromKey, runIdOfHumanTask, type RunId } from './ids.ts';
import { iso } from './clock.ts';
import { compileJsonWorkflow, type JsonWorkflowInput } from './json-workflow/compile.ts';
import type { WorkflowDefinition } from './definition/define.ts';
import { createArchiver, type Archiver, type ArchiverOptions } from './archive/sweeper.ts';
import { createArchiveReads, type ArchiveStatus } from './archive/reads.ts';
import type { ArchiveStore } from './archive/types.ts';
import { silentLogger, type HistoryEntry, type JsonObject, type ListRunsFilter, type Logger, type Page, type RunView } from './types.ts';

export * from './errors.ts';
export * from './types.ts';
export { systemClock, iso, type Clock } from './clock.ts';
export { parseRunId, runIdOfHumanTask, type RunId, type TaskId, type HumanTaskId } from './ids.ts';
export { defineTask, NonRetryableTaskError, type TaskDeclaration, type TaskDefinition, type TaskContext, type TaskServices, type RetryPolicy } from './tasks.ts';
export { defineWorkflow, taskActors, runRef, type WorkflowDefinition, type KpiDefinition } from './definition/index.ts';
export { windowsFor, allWindows, overlaps, windowCovers, timeOf, type TimeWindow, type WindowSchedule } from './definition/index.ts';
export type { RegisteredWorkflow } from './registry.ts';
export type { StartRunArgs, SendEventOptions, RunResult, HumanTaskDoc } from './runs.ts';
export type { StartOrFindOpenArgs, OpenRunResult } from './business-keys.ts';
export type { KpiReport, KpiFigure } from './kpis.ts';
export { connectRedis } from './connection.ts';
export { jsonWorkflowSchema, builtInActions, builtInGuards } from './json-workflow/compile.ts';
export { LayoutError, type LayoutProblem } from './layout.ts';
export { MAX_PARTITIONS } from './keys.ts';
export { partitionConcurrency } from './timers.ts';
export { isCluster, masters, duplicateUnbounded, type RedisClient } from './clients.ts';
export { toMermaid, toSvg } from './diagram/statechart.ts';
export { activeStatePaths, topLevelStates } from './state-value.ts';
export { servicechartVersion } from './version.ts';
export type { LockedTask, FetchArgs } from './external-tasks.ts';
export type { Publication, PublishedTask, WorkerIdentity, WorkerKind, SchemaConflict } from './catalog.ts';
export { ciGraphSvg, ciGraphMermaid } from './diagram/ci-graph.ts';
export {
  serviceSchema, ciSchema, REGISTRY_LIMITS, type ServiceDoc, type CiDoc, type EntryKind, type RegistrySnapshot, type AuditEntry, type ImpactReport, type ImportItem,
  type Cmdb,
} from './cmdb.ts';
export type { ArchiveStore, ArchivedRun, ArchiveFilter } from './archive/types.ts';
export { ARCHIVE_FORMAT, ARCHIVE_FORMAT_VERSION } from './archive/types.ts';
export { createDirectoryStore } from './archive/dir-store.ts';
export { createPostgresStore } from './archive/pg-store.ts';
export { parseRetention, parseDuration, type Retention } from './archive/retention.ts';
export type { ArchiverOptions, ArchiveHealth } from './archive/sweeper.ts';
export type { ArchiveStatus } from './archive/reads.ts';

export interface EngineOptions {
  /** Borrowed: the engine never closes it. One node (or a Sentinel-managed master), or a Redis Cluster. */
  redis: RedisClient;
  /**
   * How many partitions runs are spread over (1 to 256): each has its own queues and indexes in one
   * Redis Cluster slot. Default 1 on one node, 16 on a cluster. Fixed when an installation is first
   * used; a different value later makes `ready()` reject with a LayoutError.
   */
  partitions?: number;
  /**
   * Acknowledge a write from outside (a started run, an accepted event, a completed human task, a
   * cancel) only once this many replicas hold it (WAIT); else UNAVAILABLE. Default none.
   */
  replicaAcks?: ReplicaAcks;
  clock?: Clock;
  logger?: Logger;
  /** Key prefix; every key and queue of this engine lives under it. */
  prefix?: string;
  /**
   * Fault-injection points for durability tests: `afterCommit` runs after a step is committed and
   * before its outbox is flushed (a test kills the process there).
   */
  hooks?: { afterCommit?: (runId: string, seq: number) => void };
  /** A step from outside (start, event) whose context would exceed this is refused with 422. Default 256 KiB. */
  maxContextBytes?: number;
  workflows?: WorkflowDefinition[];
  tasks?: TaskDefinition<any, any>[];
  /** How long a worker stays live in the task catalog after its last heartbeat. Default 15 s. */
  workerTtlMs?: number;
  /**
   * Task types offered to external workers although a handler is registered (a built-in task a team
   * serves itself). Every process of an installation must say the same.
   */
  externalTasks?: string[];
  /** Where runs past retention go (borrowed: the engine never closes it); reads fall back to it. */
  archive?: ArchiveStore;
}

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

export interface WorkflowSummary {
  name: string;
  version: number;
  description: string;
  builtIn: boolean;
}

export interface WorkflowDetail extends WorkflowSummary {
  definition: unknown;
  inputSchema: unknown;
  versions: number[];
}

export interface StoredJsonWorkflow {
  schemaVersion: 1;
  name: string;
  version: number;
  description: string;
  definition: unknown;
  inputSchema: Record<string, unknown> | null;
  /** The workflow's task declarations (external tasks and their schemas). */
  tasks?: Record<string, TaskDeclaration>;
  createdAt: number;
  actor: string;
}

/**
 * Create an engine on a Redis connection.
 * @example
 * const engine = createEngine({ redis, workflows: [demo], tasks: [noop] });
 * const { run } = await engine.startRun({ workflow: 'demo', input: {} });
 * await engine.sendEvent(run.id, { type: 'GO' });
 */
/**
 * The partition count an installation under `prefix` recorded at first use (null: not used yet), for a
 * process that should follow it rather than be configured with it (the worker package).
 */
export function installationPartitions(redis: RedisClient, prefix = 'sc'): Promise<number | null> {
  return storedPartitions(redis, createKeys(prefix));
}

export function createEngine(opts: EngineOptions) {
  const redis = opts.redis;
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? silentLogger;
  const prefix = opts.prefix ?? 'sc';
  const keys = createKeys(prefix, opts.partitions ?? (isCluster(redis) ? 16 : 1));
  const registry = new Registry();
  // First, before anything touches Redis: a workflow the registry refuses stops the engine here.
  for (const t of opts.tasks ?? []) registry.registerTask(t);
  registry.routeExternally(opts.externalTasks ?? []);
  for (const w of opts.workflows ?? []) registry.registerWorkflow(w);
  // Every read and write of runs waits for the layout check; a mismatch rejects them all with the
  // LayoutError. A check Redis could not answer (unreachable, failing over) is tried again next time.
  let layout: Promise<void> | null = null;
  const layoutChecked = (): Promise<void> => {
    if (!layout) {
      const check = ensureLayout(redis, keys, prefix);
      layout = check;
      check.catch((err) => {
        if (!(err instanceof LayoutError) && layout === check) layout = null;
      });
    }
    return layout;
  };
  layoutChecked().catch(() => undefined);
  const scripts = createScripts(redis);
  const metrics: Metrics = createMetrics();
  // BullMQ wants its own connections with no per-request retry limit; these the engine owns.
  const bullConnection = duplicateUnbounded(redis);
  // Each partition's queues carry its hash tag, so every BullMQ script stays in the partition's slot.
  const queues = {
    tasks: keys.all.map((p) => new Queue('tasks', { connection: bullConnection, prefix: keys.queuePrefix(p) })),
    timers: keys.all.map((p) => new Queue('timers', { connection: bullConnection, prefix: keys.queuePrefix(p) })),
  };
  /** The queues in-process task handlers consume, one per partition (the single place that names them). */
  const taskQueues = (): Queue[] => queues.tasks;
  const jobCounts = async (list: Queue[]) => {
    const sum: Record<string, number> = {};
    for (const counts of await Promise.all(list.map((q) => q.getJobCounts('waiting', 'active', 'delayed', 'failed')))) {
      for (const [state, n] of Object.entries(counts)) sum[state] = (sum[state] ?? 0) + n;
    }
    return sum;
  };
  metrics.setQueueDepth(async () => ({ tasks: await jobCounts(queues.tasks), timers: await jobCounts(queues.timers) }));
  const kpis = createKpiStore(redis, keys, scripts);
  const catalog = createCatalog({ redis, keys, clock, logger, ttlMs: opts.workerTtlMs ?? 15_000 });
  const external = createExternalTasks({
    redis, keys, scripts, clock, registry, runs: () => runs, resolveWorkflow: (name, version) => resolveWorkflow(name, version),
    async published(type) {
      return (await catalog.live(type)).find((p) => p.task.input !== undefined || p.task.output !== undefined)?.task;
    },
    async seen(workerId, types) {
      // An HTTP worker is live for the types it asks for; what it publishes has no schemas.
      const known = new Set(types);
      const tasks = [...known].map((name) => ({ name }));
      await catalog.publish({ workerId, host: 'http', version: 'http', kind: 'http' }, tasks);
    },
    failed: (type, taskId) => catalog.failed(type, taskId),
    attempt: (type, outcome) => metrics.taskAttempt(type, outcome),
    seenEveryMs: Math.max(100, Math.floor(catalog.ttlMs / 3)),
  });
  const outbox = createOutbox({
    redis, keys, queues, logger, now: () => clock.now(), kpis, external,
    deliver: (send) => runs.deliverSend(send),
    taskJobOptions(name) {
      const def = registry.task(name);
      const retry = { ...defaultRetry, ...(def?.retry ?? {}) };
      return { attempts: Math.max(1, retry.attempts), backoffMs: retry.backoffMs };
    },
  });

  const loading = new Map<string, Promise<RegisteredWorkflow | undefined>>();
  async function loadJson(name: string, version?: number): Promise<RegisteredWorkflow | undefined> {
    const key = keys.workflowVersions(name);
    const v = version ?? (await redis.hlen(key));
    if (!v) return undefined;
    const cached = registry.get(name, v);
    if (cached) return cached;
    const cacheKey = `${name}@${v}`;
    let p = loading.get(cacheKey);
    if (!p) {
      p = (async () => {
        const raw = await redis.hget(key, String(v));
        if (!raw) return undefined;
        const stored = JSON.parse(raw) as StoredJsonWorkflow;
        const def = compileJsonWorkflow(
          { name: stored.name, version: stored.version, description: stored.description, definition: stored.definition, inputSchema: stored.inputSchema ?? undefined, tasks: stored.tasks ?? undefined },
          // Its task names were checked when it was registered; a task served only by remote workers
          // is not in this process's registry.
          { isTask: () => true },
        );
        return registry.get(name, v) ?? registry.registerWorkflow(def, { trusted: true });
      })();
      loading.set(cacheKey, p);
      void p.finally(() => loading.delete(cacheKey));
    }
    return p;
  }

  // Names owned by code (built in or registered in TypeScript); the API cannot replace them.
  const codeWorkflows = new Set((opts.workflows ?? []).map((w) => w.name));
  async function resolveWorkflow(name: string, version?: number): Promise<RegisteredWorkflow | undefined> {
    if (codeWorkflows.has(name)) return registry.get(name, version);
    return loadJson(name, version);
  }

  const cmdb = createCmdb({ redis, keys, scripts, clock });
  /** The registry snapshot for what a workflow reads: the names its `registry.refs` picks (or the run's own). */
  async function registryFor(wf: RegisteredWorkflow, given: { services: string[]; cis: string[] } | null, input: JsonObject) {
    if (!wf.registry) return null;
    const picked = given ?? wf.registry.refs(input);
    const clean = (names: string[]) => [...new Set(names.filter((n) => typeof n === 'string' && n !== ''))].slice(0, REGISTRY_LIMITS.refsPerRun);
    const refs = { services: clean(picked.services), cis: clean(picked.cis) };
    if (!refs.services.length && !refs.cis.length) return null;
    return { snapshot: (await cmdb.snapshot(refs)) as unknown as JsonObject, refs };
  }

  const storage = createRedisRunStorage({ redis, keys, scripts, layoutChecked });
  const runs = createRunStore({
    storage, clock, logger, registry, outbox, metrics, resolveWorkflow, registryFor, maxContextBytes: opts.maxContextBytes ?? 256 * 1024, hooks: opts.hooks ?? {},
  });
  const history = createHistory(redis, keys);
  const index = createRunIndex(redis, keys, (r) => runs.view(r), layoutChecked);
  const businessKeys = createBusinessKeys({ redis, keys, scripts, clock, runs, startRun: (a) => runs.startRun(a) });

  const replicaAcks = opts.replicaAcks ?? noReplicaAcks;
  /** Hand back `result` once the run's write is on the replicas asked for; UNAVAILABLE (503) otherwise. */
  if (replicaAcks.replicas > 0) watchConnections(redis);
  async function acknowledged<T>(runId: string, result: T, writtenAfter: number): Promise<T> {
    await awaitReplicas(redis, keys.run(runId as RunId), replicaAcks, writtenAfter);
    return result;
  }

  /** Task types at least one live worker (in-process, package or HTTP) serves now. */
  async function liveTaskNames(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const name of await catalog.types()) if ((await catalog.live(name)).length) out.add(name);
    return out;
  }

  const archive = opts.archive ?? null;
  const archived = createArchiveReads({ redis, keys, view: (r) => runs.view(r), store: archive });
  const fromArchive = archived.get;
  let archiver: Archiver | null = null;

  function runIdOrThrow(id: string): RunId {
    const runId = parseRunId(id);
    if (!runId) throw notFound(`run ${id}`);
    return runId;
  }

  /** One entry on a run's history that changes nothing else (task records, refused hook events). */
  function appendEntry(runId: RunId, type: string, fields: Record<string, unknown>, actor: string): Promise<boolean> {
    return storage.appendHistory(runId, [{ ...fields, type, at: iso(clock.now()), actor }]);
  }

  function taskServices(runId: RunId, taskName: string): TaskServices {
    return {
      async startRun(args) {
        const res = await runs.startRun({
          workflow: args.workflow, input: args.input, businessKey: args.businessKey ?? null,
          parentRunId: args.parentRunId === undefined ? runId : args.parentRunId, idempotencyKey: args.idempotencyKey, actor: `task:${taskName}`,
        });
        return { runId: res.run.id, duplicate: res.duplicate };
      },
      async sendEvent(target, event, idempotencyKey) {
        try {
          await runs.sendEvent(runIdOrThrow(target), event, { idempotencyKey, actor: `task:${taskName}` });
          return { applied: true };
        } catch (err) {
          const code = (err as { code?: string }).code;
          if (code === ErrorCode.EVENT_NOT_ACCEPTED || code === ErrorCode.RUN_ENDED || code === ErrorCode.WORKFLOW_ERROR) return { applied: false, reason: code };
          throw err;
        }
      },
      async cancelRun(target, reason) {
        try {
          await runs.cancelRun(runIdOrThrow(target), { reason, actor: `task:${taskName}` });
          return { cancelled: true };
        } catch (err) {
          if ((err as { code?: string }).code === ErrorCode.RUN_ENDED) return { cancelled: false, reason: ErrorCode.RUN_ENDED };
          throw err;
        }
      },
      async parentOf(id) {
        const runId = runIdOrThrow(id);
        const run = (await runs.getStored(runId)) ?? (await fromArchive(runId))?.run;
        return run?.parentRunId ?? null;
      },
      async listRuns(filter) {
        const page = await index.list({
          workflow: filter.workflow, status: filter.status, state: filter.state, limit: Math.min(Math.max(1, filter.limit ?? 50), 500), cursor: null,
        });
        return page.items;
      },
      async getRun(id) {
        const parsed = parseRunId(id);
        if (!parsed) return null;
        const stored = await runs.readStored(parsed);
        if (stored) return runs.view(stored.run, stored.live);
        const copy = await fromArchive(parsed);
        return copy ? archived.view(copy) : null;
      },
      async amendMeasure(target, measure, change, key) {
        const parsed = parseRunId(target);
        // An archived run's measures stay with the KPI figures in Redis: a correction still applies.
        const stored = parsed ? ((await runs.getStored(parsed)) ?? (await fromArchive(parsed))?.run ?? null) : null;
        if (!stored) return false;
        return kpis.amend(stored.workflow, stored.id, measure, change, `${runId}:${key}`);
      },
      async record(type, fields) {
        await appendEntry(runId, type, fields, `task:${taskName}`);
      },
      registry: {
        snapshot: (refs) => cmdb.snapshot({ services: refs.services ?? [], cis: refs.cis ?? [] }),
        related: (ids) => cmdb.related(ids),
      },
      now: () => clock.now(),
    };
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

  const closers: (() => Promise<void>)[] = [];

  const engine = {
    redis, clock, logger, keys, registry, metrics, runs, bullConnection, queues, taskServices, catalog,
    /** The service and CI registry (engine/cmdb.ts). */
    cmdb,

    /**
     * Settles once the installation's stored layout is checked (recorded on first use). Rejects with a
     * LayoutError when this process's partition count differs from the stored one, or the Redis holds
     * data of the release before partitions: a process should await it before serving.
     */
    ready(): Promise<void> {
      return layoutChecked();
    },

    /** How many runs have a status, over every partition. */
    countRuns(status: string): Promise<number> {
      return index.countByStatus(status);
    },

    /** External tasks: lock, complete, fail, extend (the `/v1/external-tasks` routes and `runWorker`). */
    externalTasks: {
      fetch: (args: FetchArgs) => external.fetch(args),
      complete: (id: string, lockToken: string, output: unknown) => external.complete(id, lockToken, output),
      fail: (id: string, lockToken: string, f: { message: string; retryable: boolean; retryInMs?: number }) => external.fail(id, lockToken, f),
      extendLock: (id: string, lockToken: string, lockMs: number) => external.extendLock(id, lockToken, lockMs),
    },

    /** Heartbeat of a worker into the live task catalog. */
    publishWorker(worker: Omit<WorkerIdentity, 'host'> & { host?: string }, tasks: PublishedTask[]): Promise<void> {
      return catalog.publish({ ...worker, host: worker.host ?? hostname() }, tasks);
    },

    /**
     * Every task type this installation knows: registered in this process, served by a live worker, or
     * offered to external workers; each with its schemas, live workers, queue depth, oldest waiting age,
     * failures in the last hour, and the schemas live workers disagree on.
     */
    async listTaskTypes(): Promise<TaskTypeView[]> {
      const now = clock.now();
      const names = new Set([...registry.taskNames(), ...(await catalog.types()), ...(await external.types())]);
      // In-process queue depth per task name, from the jobs waiting in the task queues.
      const inProcess = new Map<string, { waiting: number; delayed: number; oldest: number | null }>();
      for (const q of taskQueues()) {
        for (const [state, jobs] of [['waiting', await q.getJobs(['waiting', 'prioritized'], 0, 999)], ['delayed', await q.getJobs(['delayed'], 0, 999)]] as const) {
          for (const job of jobs) {
            if (!job) continue;
            const d = inProcess.get(job.name) ?? { waiting: 0, delayed: 0, oldest: null };
            d[state]++;
            if (state === 'waiting') d.oldest = Math.min(d.oldest ?? job.timestamp, job.timestamp);
            inProcess.set(job.name, d);
          }
        }
      }
      const out: TaskTypeView[] = [];
      for (const name of [...names].sort()) {
        const def = registry.task(name);
        const [workers, failures, ext] = await Promise.all([catalog.live(name), catalog.failuresLastHour(name), external.depth(name)]);
        const published = workers.find((w) => w.task.input !== undefined || w.task.output !== undefined)?.task;
        const local = inProcess.get(name);
        const oldest = [ext.oldestWaitingMs, local?.oldest != null ? now - local.oldest : null].filter((x): x is number => x !== null);
        out.push({
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
        });
      }
      return out;
    },

    /**
     * Watch for runs waiting on a task type no live worker serves: a task that waited `alertMs` while
     * its type had no live worker gets one `task.unserved` entry on its run's history (the run keeps
     * waiting). Any number of processes may watch: each task is reported once.
     */
    startUnservedWatch(options: { alertMs: number; everyMs?: number }): void {
      const check = async () => {
        const now = clock.now();
        // In-process tasks: a queue nobody consumes (an `api`-only installation, workers all down).
        for (const q of taskQueues()) {
          for (const job of await q.getJobs(['waiting', 'prioritized'], 0, 999)) {
            if (!job || job.timestamp > now - options.alertMs || (await catalog.live(job.name)).length) continue;
            const data = job.data as { runId: RunId; taskId: string };
            if (!(await redis.set(keys.custom('unserved', data.taskId), '1', 'EX', 86_400, 'NX'))) continue;
            await appendEntry(data.runId, 'task.unserved', {
              task: job.name, taskId: data.taskId, waitingMs: now - job.timestamp,
              message: `no live worker has served task type ${job.name} for ${Math.round(options.alertMs / 1000)} s; the run keeps waiting`,
            }, 'engine');
            logger.warn({ task: job.name, taskId: data.taskId, runId: data.runId }, `task ${job.name} has no live worker`);
          }
        }
        for (const type of await external.types()) {
          const stale = await external.waitingSince(type, now - options.alertMs);
          if (!stale.length || (await catalog.live(type)).length) continue;
          for (const t of stale) {
            if (!(await external.claimUnserved(t.taskId))) continue;
            await appendEntry(t.runId as RunId, 'task.unserved', {
              task: type, taskId: t.taskId, waitingMs: now - t.since,
              message: `no live worker has served task type ${type} for ${Math.round(options.alertMs / 1000)} s; the run keeps waiting`,
            }, 'engine');
            logger.warn({ task: type, taskId: t.taskId, runId: t.runId }, `task ${type} has no live worker`);
          }
        }
      };
      const timer = setInterval(() => {
        check().catch((err) => logger.warn({ err }, 'checking for unserved tasks failed'));
      }, options.everyMs ?? Math.min(30_000, Math.max(500, Math.floor(options.alertMs / 2))));
      timer.unref();
      closers.push(async () => clearInterval(timer));
    },

    /** A failed attempt of a task type, counted in the catalog's failures of the last hour. */
    recordTaskFailure(type: string, taskId: string): Promise<void> {
      return catalog.failed(type, taskId);
    },

    registerTask(task: TaskDefinition<any, any>): void {
      registry.registerTask(task);
    },

    registerWorkflow(def: WorkflowDefinition): void {
      registry.registerWorkflow(def);
      codeWorkflows.add(def.name);
    },

    /**
     * Register a code workflow at start whose tasks may be served only by remote workers: each task name
     * must be registered here or served by a live worker in the task catalog (VALIDATION_FAILED otherwise).
     * @example
     * await engine.registerWorkflowChecked(onboarding); // invokes `create_account`, served by a package worker
     */
    async registerWorkflowChecked(def: WorkflowDefinition): Promise<void> {
      const served = await liveTaskNames();
      const problems = checkMachineNames(def.machine, (n) => registry.isTask(n) || def.tasks?.[n] !== undefined || served.has(n));
      if (problems.length) throw validationError(`workflow ${def.name}@${def.version} uses names that are not registered`, problems);
      registry.registerWorkflow(def, { trusted: true });
      codeWorkflows.add(def.name);
    },

    /** Register a JSON-authored workflow: validated, then stored as the next version of its name. */
    async registerJsonWorkflow(input: Omit<JsonWorkflowInput, 'version'>, actor = 'api'): Promise<{ name: string; version: number }> {
      if (codeWorkflows.has(input.name)) {
        throw new ServicechartError(ErrorCode.CONFLICT, `workflow ${input.name} is defined in code and cannot be replaced through the API`);
      }
      const key = keys.workflowVersions(input.name);
      for (let attempt = 0; attempt < 20; attempt++) {
        const version = (await redis.hlen(key)) + 1;
        // Compiling checks every name; it throws VALIDATION_FAILED with each problem's path.
        // A task name is valid when this process has it, the workflow declares it, or a live worker serves it.
        const served = await liveTaskNames();
        compileJsonWorkflow({ ...input, version }, { isTask: (n) => registry.isTask(n) || served.has(n) });
        const stored: StoredJsonWorkflow = {
          schemaVersion: 1, name: input.name, version, description: input.description ?? '', definition: input.definition,
          inputSchema: (input.inputSchema as Record<string, unknown> | undefined) ?? null, createdAt: clock.now(), actor,
          ...(input.tasks ? { tasks: input.tasks } : {}),
        };
        if (await redis.hsetnx(key, String(version), JSON.stringify(stored))) {
          await redis.zadd(keys.workflowNames(), clock.now(), input.name);
          return { name: input.name, version };
        }
      }
      throw new ServicechartError(ErrorCode.CONFLICT, `workflow ${input.name} is being registered concurrently; try again`);
    },

    async listWorkflows(): Promise<WorkflowSummary[]> {
      const out = new Map<string, WorkflowSummary>();
      for (const name of codeWorkflows) {
        const w = registry.get(name)!;
        out.set(name, { name, version: w.version, description: w.description, builtIn: true });
      }
      for (const name of await redis.zrange(keys.workflowNames(), '0', '-1')) {
        const w = await loadJson(name);
        if (w && !out.has(name)) out.set(name, { name, version: w.version, description: w.description, builtIn: false });
      }
      return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
    },

    async getWorkflow(name: string, version?: number): Promise<WorkflowDetail> {
      const w = await resolveWorkflow(name, version);
      if (!w) throw notFound(`workflow ${name}${version ? ` version ${version}` : ''}`);
      const builtIn = codeWorkflows.has(name);
      const versions = builtIn ? registry.versions(name) : Array.from({ length: await redis.hlen(keys.workflowVersions(name)) }, (_, i) => i + 1);
      return {
        name: w.name, version: w.version, description: w.description, builtIn,
        definition: w.definition ?? (w.machine as { config: unknown }).config, inputSchema: w.inputSchema ?? null, versions,
      };
    },

    resolveWorkflow,

    async startRun(args: StartRunArgs): Promise<RunResult> {
      // A repeat of a start whose run has been archived answers that run, never a second copy.
      if (archive && args.idempotencyKey) {
        const id = runIdFromKey('start', args.idempotencyKey);
        if (!(await redis.exists(keys.run(id)))) {
          const copy = await fromArchive(id);
          if (copy) return { run: archived.view(copy), duplicate: true };
        }
      }
      const mark = writeMark();
      const res = await runs.startRun(args);
      return acknowledged(res.run.id, res, mark);
    },

    sendEvent(runId: string, event: JsonObject & { type: string }, opts: SendEventOptions = {}): Promise<RunResult> {
      if (typeof event.type !== 'string' || !EVENT_TYPE.test(event.type) || event.type.startsWith('xstate.')) {
        return Promise.reject(validationError('bad event type', [{ path: '/type', message: 'an event type is a name such as ACKNOWLEDGE (not xstate.*)' }]));
      }
      const mark = writeMark();
      return runs.sendEvent(runIdOrThrow(runId), event, opts).then((res) => acknowledged(runId, res, mark));
    },

    /**
     * The open run of a workflow with a business key, or a new one: concurrent duplicates start one run.
     * @example
     * const { runId, started } = await engine.startOrFindOpen({ workflow: 'incident', businessKey: 'a1b2', input });
     */
    async startOrFindOpen(args: StartOrFindOpenArgs): Promise<OpenRunResult> {
      const mark = writeMark();
      const res = await businessKeys.startOrFindOpen(args);
      return acknowledged(res.runId, res, mark);
    },

    /**
     * Wait until the writes made so far to `key` are on the replicas asked for (SERVICECHART_REPLICA_ACKS),
     * for callers that acknowledge a write of their own (a webhook delivery's record); UNAVAILABLE otherwise.
     */
    awaitReplicas(key: string, writtenAfter?: number): Promise<void> {
      return awaitReplicas(redis, key, replicaAcks, writtenAfter);
    },

    /** The moment to pass to `awaitReplicas`, taken before the write. */
    writeMark,

    /** Replace (or, with '', delete) a key only while it still holds `expected`: one Lua call. */
    compareAndSet(key: string, expected: string, value: string, ttlSeconds = 0): Promise<boolean> {
      return scripts.compareAndSet(key, expected, value, ttlSeconds);
    },

    /** The id of a run with this business key that has not ended (of `workflow` when given), or null. */
    async findOpenRun(businessKey: string, workflow?: string): Promise<string | null> {
      if (workflow) {
        const claimed = await businessKeys.findOpen(workflow, businessKey);
        if (claimed) return claimed;
      }
      const page = await index.list({ businessKey, status: 'running', limit: 1, ...(workflow ? { workflow } : {}) });
      return page.items[0]?.id ?? null;
    },

    cancelRun(runId: string, opts: { reason?: string | null; actor?: string } = {}): Promise<RunView> {
      const mark = writeMark();
      return runs.cancelRun(runIdOrThrow(runId), opts).then((view) => acknowledged(runId, view, mark));
    },

    /** A run from Redis, or once it has left Redis from the archive (`archived: true`). */
    async getRun(runId: string): Promise<RunView> {
      const id = runIdOrThrow(runId);
      const stored = await runs.readStored(id);
      if (stored) return runs.view(stored.run, stored.live);
      const copy = await fromArchive(id);
      if (!copy) throw notFound(`run ${runId}`);
      return archived.view(copy);
    },

    /** Runs in Redis, or with `archived: true` runs in the archive (those still in Redis left out: one copy each). */
    listRuns(filter: ListRunsFilter = {}): Promise<Page<RunView>> {
      return filter.archived ? archived.list(filter) : index.list(filter);
    },

    async getHistory(runId: string, opts: { cursor?: string | null; limit?: number } = {}): Promise<Page<HistoryEntry>> {
      const id = runIdOrThrow(runId);
      if (await redis.exists(keys.run(id))) return history.page(id, opts);
      const copy = await fromArchive(id);
      if (!copy) throw notFound(`run ${runId}`);
      return archived.historyPage(copy, opts);
    },

    /**
     * Sweep runs past retention into the archive in this process, every `everyMs`. Any number of
     * processes may sweep one Redis: each run is claimed by one of them at a time.
     */
    startArchiver(options: ArchiverOptions & { everyMs?: number }): Archiver {
      if (!archive) throw new Error('startArchiver needs an archive store (EngineOptions.archive)');
      archiver = createArchiver({ redis, keys, scripts, clock, logger, store: archive }, options);
      archiver.start(options.everyMs ?? 60_000);
      const mine = archiver;
      closers.push(() => mine.stop());
      return archiver;
    },

    /** The archive's state for /readyz: off (none configured), ok, or unavailable with the reason. */
    archiveHealth(): Promise<ArchiveStatus> {
      return archived.health(archiver?.health().since ?? null);
    },

    /** Human tasks, newest first, from the open or done index of every partition. */
    listHumanTasks(filter: HumanTaskFilter = {}): Promise<Page<HumanTaskDoc>> {
      return index.listHumanTasks(filter);
    },

    async getHumanTask(taskId: string): Promise<HumanTaskDoc> {
      const raw = await redis.get(keys.humanTask(taskId));
      if (!raw) throw notFound(`human task ${taskId}`);
      return JSON.parse(raw) as HumanTaskDoc;
    },

    /**
     * Complete a human task: its outcome's event goes to the run with `by` and `comment`, and the task
     * closes in the same step. A refused event leaves the task open.
     */
    async completeHumanTask(taskId: string, body: { outcome: string; by: string; comment?: string | null }, actor = 'api'): Promise<{ task: HumanTaskDoc; run: RunView }> {
      const runId = runIdOfHumanTask(taskId);
      const doc = runId ? await redis.get(keys.humanTask(taskId)) : null;
      if (!runId || !doc) throw notFound(`human task ${taskId}`);
      const task = JSON.parse(doc) as HumanTaskDoc;
      if (task.status !== 'open') throw new ServicechartError(ErrorCode.CONFLICT, `human task ${taskId} is ${task.status} already`);
      const eventType = Object.hasOwn(task.outcomes, body.outcome) ? task.outcomes[body.outcome] : undefined;
      if (typeof eventType !== 'string') {
        throw validationError('unknown outcome', [{ path: '/body/outcome', message: `outcome must be one of ${Object.keys(task.outcomes).join(', ')}` }]);
      }
      const event: JsonObject & { type: string } = { type: eventType, by: body.by };
      if (body.comment !== undefined && body.comment !== null) event.comment = body.comment;
      const completion = { id: taskId, outcome: body.outcome, by: body.by, comment: body.comment ?? null };
      const mark = writeMark();
      const { run } = await runs.sendEvent(runId, event, { actor, completion });
      await acknowledged(runId, null, mark);
      const now = iso(clock.now());
      return { task: { ...task, status: 'done', completedAt: now, outcome: body.outcome, by: body.by, comment: body.comment ?? null }, run };
    },

    /**
     * A workflow's KPIs over runs opened in [since, until) (epoch ms; null = unbounded), from the
     * figures kept as runs record their measures. Unknown workflow: NOT_FOUND.
     */
    async kpiReport(workflow: string, window: { since?: number | null; until?: number | null } = {}): Promise<KpiReport> {
      const wf = await resolveWorkflow(workflow);
      if (!wf) throw notFound(`workflow ${workflow}`);
      return kpis.report(workflow, wf.kpis ?? [], { ...window, now: clock.now() }, () => openRunsOf(workflow));
    },

    /**
     * Add an entry to a run's history without changing the run, for what an operator should see on its
     * timeline (a webhook event the run refused, with the reason). `type` is dotted (`hook.ignored`).
     * Answers false when the run does not exist.
     */
    async appendNote(runId: string, type: string, fields: JsonObject, actor: string): Promise<boolean> {
      if (!/^[a-z][a-z0-9_]*\.[a-z0-9_.]+$/.test(type)) throw validationError('bad history entry type', [{ path: '/type', message: 'a dotted lower-case name such as hook.ignored' }]);
      return appendEntry(runIdOrThrow(runId), type, fields, actor);
    },

    /** The seq of the newest history entry (0 for none). */
    async lastHistorySeq(runId: string): Promise<number> {
      return Number((await redis.hget(keys.run(runIdOrThrow(runId)), 'hseq')) ?? 0);
    },

    followHistory(runId: string, afterSeq: number, signal: AbortSignal): AsyncGenerator<HistoryEntry> {
      return history.follow(runIdOrThrow(runId), afterSeq, signal);
    },

    /** Finish outboxes older than `graceMs` that a crash left half-flushed, in every partition. */
    async sweepOutbox(graceMs = 5000): Promise<number> {
      await layoutChecked();
      return outbox.sweep(graceMs);
    },

    /**
     * Consume every partition's timers and sweep every partition's outboxes in this process (task
     * handlers: workers/runtime.ts). `concurrency` is the process's total, split over the partitions.
     */
    startTimerConsumer(options: { concurrency?: number; sweepEveryMs?: number } = {}): void {
      const concurrency = partitionConcurrency(options.concurrency ?? 50, keys.partitions);
      let stopped = false;
      const workers = (async () => {
        // Started once the layout is confirmed; while Redis cannot answer, the check is retried.
        for (;;) {
          try {
            await layoutChecked();
            break;
          } catch (err) {
            if (err instanceof LayoutError || stopped) throw err;
            await new Promise((r) => setTimeout(r, 1000));
          }
        }
        if (stopped) return [];
        return keys.all.map((p) => startTimerWorker({ connection: bullConnection, prefix: keys.queuePrefix(p), runs, logger, concurrency }));
      })();
      workers.catch((err) => logger.error({ err }, 'timer consumer not started'));
      const every = options.sweepEveryMs ?? 1000;
      // A second flush of an outbox is harmless (job ids are deterministic, stale jobs are dropped),
      // so the grace before re-applying another process's outbox can be short.
      const sweeper = setInterval(() => {
        layoutChecked().then(() => outbox.sweep(1000)).catch((err) => logger.warn({ err }, 'outbox sweep failed'));
      }, every);
      sweeper.unref();
      closers.push(async () => {
        stopped = true;
        clearInterval(sweeper);
        await Promise.all((await workers.catch(() => [])).map((w) => w.close()));
      });
    },

    async isReady(): Promise<boolean> {
      try {
        return (await Promise.race([redis.ping(), new Promise((r) => setTimeout(() => r('timeout'), 2000).unref())])) === 'PONG';
      } catch {
        return false;
      }
    },

    /** Stop consumers and close the connections the engine opened (not the borrowed one). */
    async close(): Promise<void> {
      for (const c of closers.splice(0)) await c();
      await Promise.all([...queues.tasks, ...queues.timers].map((q) => q.close()));
      await bullConnection.quit().catch(() => undefined);
    },
  };
  return engine;
}

export type Engine = ReturnType<typeof createEngine>;
