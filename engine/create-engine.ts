// Owns building an engine: opens its parts on the borrowed Redis connection, wires them together, and
// answers the Engine (engine.ts) they implement. What each part does lives in the module it names.
import { hostname } from 'node:os';
import { createArchiver, type Archiver } from './archive/sweeper.ts';
import type { ArchiveStore } from './archive/types.ts';
import { createBusinessKeys } from './business-keys.ts';
import { createCatalog } from './catalog.ts';
import { createClaims } from './claims.ts';
import { confirmElsewhere, confirmedDeliveries } from './cross-slot.ts';
import { duplicateUnbounded, isCluster, type RedisClient } from './clients.ts';
import { iso, systemClock, type Clock } from './clock.ts';
import { createCmdb, REGISTRY_LIMITS } from './cmdb.ts';
import type { Engine } from './engine.ts';
import { notFound } from './errors.ts';
import { createExternalTasks } from './external-tasks.ts';
import { createHookDeliveries } from './hook-deliveries.ts';
import type { RunId } from './ids.ts';
import { createKeys, type Keys } from './keys.ts';
import { createKpiStore } from './kpis.ts';
import { ensureLayout, LayoutError, storedPartitions } from './layout.ts';
import { createMetrics } from './metrics.ts';
import { createOutbox } from './outbox.ts';
import { createQueues } from './queues.ts';
import { Registry, type RegisteredWorkflow } from './registry.ts';
import { awaitReplicas, noReplicaAcks, watchConnections, writeMark, type ReplicaAcks } from './replication.ts';
import { createRunCommands } from './run-commands.ts';
import { createRunReads } from './run-reads.ts';
import { createRunStore, type RunStore } from './runs.ts';
import { createScripts } from './scripts.ts';
import { createRedisRunStorage } from './store/redis-store.ts';
import { createTaskServices } from './task-services.ts';
import { createTaskTypes } from './task-types.ts';
import { defaultRetry, type TaskDefinition, type TaskServices } from './tasks.ts';
import { createWorkerPort } from './worker-port.ts';
import { createWorkflowCatalog } from './workflow-catalog.ts';
import type { WorkflowDefinition } from './definition/define.ts';
import { silentLogger, type JsonObject, type Logger } from './types.ts';

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

/** What white-box tests read besides the Engine (engine/testing.ts); never handed to api/, workers/ or bin/. */
export interface EngineInternals {
  keys: Keys;
  runs: RunStore;
  taskServices(runId: RunId, taskName: string): TaskServices;
}

/**
 * The partition count an installation under `prefix` recorded at first use (null: not used yet), for a
 * process that should follow it rather than be configured with it (the worker package).
 */
export function installationPartitions(redis: RedisClient, prefix = 'sc'): Promise<number | null> {
  return storedPartitions(redis, createKeys(prefix));
}

/**
 * Create an engine on a Redis connection.
 * @example
 * const engine = createEngine({ redis, workflows: [demo], tasks: [noop] });
 * const { run } = await engine.startRun({ workflow: 'demo', input: {} });
 * await engine.sendEvent(run.id, { type: 'GO' });
 */
export function createEngine(opts: EngineOptions): Engine {
  return assembleEngine(opts).engine;
}

/** The parts every other part is built on: connection, keys, clock, registry, scripts, queues, layout check. */
function openCore(opts: EngineOptions) {
  const redis = opts.redis;
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
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? silentLogger;
  const metrics = createMetrics();
  // BullMQ wants its own connections with no per-request retry limit; these the engine owns.
  const bullConnection = duplicateUnbounded(redis);
  const queues = createQueues({ keys, connection: bullConnection, logger, metrics });
  const scripts = createScripts(redis);
  const catalog = createCatalog({ redis, keys, clock, logger, ttlMs: opts.workerTtlMs ?? 15_000 });
  const replicaAcks = opts.replicaAcks ?? noReplicaAcks;
  if (replicaAcks.replicas > 0) watchConnections(redis);
  return { redis, keys, registry, layoutChecked, clock, logger, metrics, bullConnection, queues, scripts, catalog, replicaAcks };
}

type Core = ReturnType<typeof openCore>;

/** The stores that hold runs and what surrounds them, wired to each other. */
function openStores(core: Core, opts: EngineOptions) {
  const { redis, keys, scripts, clock, logger, registry, metrics, catalog, queues, layoutChecked, replicaAcks } = core;
  const kpis = createKpiStore(redis, keys, scripts);
  // The run store, external tasks and outbox call each other; each reaches the others once built.
  let runs: RunStore;
  const elsewhere = confirmElsewhere(redis, replicaAcks);
  const deliverConfirmed = confirmedDeliveries(elsewhere, keys, () => runs);
  const external = createExternalTasks({
    redis, keys, scripts, clock, registry, runs: () => runs, resolveWorkflow: (name, version) => workflows.resolveWorkflow(name, version),
    acknowledge: (runId, writtenAfter) => awaitReplicas(redis, keys.run(runId as RunId), replicaAcks, writtenAfter),
    async published(type) {
      return (await catalog.live(type)).find((p) => p.task.input !== undefined || p.task.output !== undefined)?.task;
    },
    async seen(workerId, types) {
      // An HTTP worker is live for the types it asks for; what it publishes has no schemas.
      const tasks = [...new Set(types)].map((name) => ({ name }));
      await catalog.publish({ workerId, host: 'http', version: 'http', kind: 'http' }, tasks);
    },
    failed: (type, taskId) => catalog.failed(type, taskId),
    attempt: (type, outcome) => metrics.taskAttempt(type, outcome),
    seenEveryMs: Math.max(100, Math.floor(catalog.ttlMs / 3)),
  });
  const outbox = createOutbox({
    redis, keys, queues: { tasks: queues.tasks, timers: queues.timers }, logger, now: () => clock.now(),
    kpis: { ...kpis, record: (workflow, runId, entries) => elsewhere(keys.kpiBase(workflow), () => kpis.record(workflow, runId, entries)) },
    external: { ...external, add: (taskId, type, data) => elsewhere(keys.externalTask(taskId), () => external.add(taskId, type, data)) },
    deliver: deliverConfirmed,
    taskJobOptions(name) {
      const retry = { ...defaultRetry, ...(registry.task(name)?.retry ?? {}) };
      return { attempts: Math.max(1, retry.attempts), backoffMs: retry.backoffMs };
    },
  });
  /** One entry on a run's history that changes nothing else (task records, refused hook events, unserved tasks). */
  const storage = createRedisRunStorage({ redis, keys, scripts, layoutChecked });
  const appendEntry = (runId: RunId, type: string, fields: Record<string, unknown>, actor: string): Promise<boolean> =>
    storage.appendHistory(runId, [{ ...fields, type, at: iso(clock.now()), actor }]);
  const taskTypes = createTaskTypes({ redis, keys, clock, logger, registry, catalog, external, taskQueues: queues.tasks, appendEntry });
  const workflows = createWorkflowCatalog({ redis, keys, clock, registry, workflows: opts.workflows ?? [], liveTaskNames: taskTypes.liveTaskNames });
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
  runs = createRunStore({
    storage, clock, logger, registry, outbox, metrics, resolveWorkflow: workflows.resolveWorkflow, registryFor,
    maxContextBytes: opts.maxContextBytes ?? 256 * 1024, hooks: opts.hooks ?? {},
  });
  return { kpis, external, outbox, storage, appendEntry, taskTypes, workflows, cmdb, runs, elsewhere, deliverConfirmed };
}

type Stores = ReturnType<typeof openStores>;

/** The parts callers use (reads, commands, task services, the worker port, deliveries), over the stores. */
function openServices(core: Core, stores: Stores, opts: EngineOptions) {
  const { redis, keys, scripts, clock, replicaAcks } = core;
  const { runs, storage, appendEntry } = stores;
  const claims = createClaims({ redis, scripts });
  const businessKeys = createBusinessKeys({ claims, keys, clock, runs, startRun: (a) => runs.startRun(a) });
  const archive = opts.archive ?? null;
  const reads = createRunReads({ redis, keys, runs, storage, archive, layoutChecked: core.layoutChecked, claimedOpenRun: businessKeys.findOpen });
  const commands = createRunCommands({ redis, keys, clock, runs, reads, replicaAcks, archived: archive !== null, startOrFindOpen: businessKeys.startOrFindOpen, appendEntry });
  const taskServices = createTaskServices({ clock, runs, reads, kpis: stores.kpis, cmdb: stores.cmdb, appendEntry, keys, elsewhere: stores.elsewhere });
  const worker = createWorkerPort({ ...core, runs, services: taskServices });
  const deliveries = createHookDeliveries({
    redis, keys, clock, claims, writeMark,
    awaitReplicas: (key, writtenAfter) => awaitReplicas(redis, key, replicaAcks, writtenAfter),
  });
  return { archive, reads, commands, taskServices, worker, deliveries };
}

/** The engine's parts, wired: the Engine callers get, and the internals white-box tests read (testing.ts). */
export function assembleEngine(opts: EngineOptions): { engine: Engine; internals: EngineInternals } {
  const core = openCore(opts);
  const stores = openStores(core, opts);
  const services = openServices(core, stores, opts);
  const engine = facade(core, stores, services);
  return { engine, internals: { keys: core.keys, runs: stores.runs, taskServices: services.taskServices } };
}

/** The Engine object: each member hands over to the part that owns it. */
function facade(core: Core, stores: Stores, services: ReturnType<typeof openServices>): Engine {
  const { redis, clock, logger, catalog, queues, layoutChecked } = core;
  const { workflows, taskTypes, external } = stores;
  const { reads, commands, archive } = services;
  const closers: (() => Promise<void>)[] = [];
  let archiver: Archiver | null = null;
  return {
    ready: layoutChecked,
    async isReady() {
      try {
        return (await Promise.race([redis.ping(), new Promise((r) => setTimeout(() => r('timeout'), 2000).unref())])) === 'PONG';
      } catch {
        return false;
      }
    },
    async close() {
      for (const c of closers.splice(0)) await c();
      await queues.close();
      await core.bullConnection.quit().catch(() => undefined);
    },
    now: () => clock.now(),
    ...workflows,
    ...commands,
    findOpenRun: reads.findOpenRun, getRun: reads.getRun, listRuns: reads.listRuns, countRuns: reads.countRuns, getHistory: reads.getHistory,
    lastHistorySeq: reads.lastHistorySeq, followHistory: reads.followHistory, listHumanTasks: reads.listHumanTasks, getHumanTask: reads.getHumanTask,
    async kpiReport(workflow, window = {}) {
      const wf = await workflows.resolveWorkflow(workflow);
      if (!wf) throw notFound(`workflow ${workflow}`);
      return stores.kpis.report(workflow, wf.kpis ?? [], { ...window, now: clock.now() }, () => reads.openRunsOf(workflow));
    },
    cmdb: stores.cmdb,
    externalTasks: {
      fetch: (args) => external.fetch(args),
      complete: (id, lockToken, output) => external.complete(id, lockToken, output),
      fail: (id, lockToken, f) => external.fail(id, lockToken, f),
      extendLock: (id, lockToken, lockMs) => external.extendLock(id, lockToken, lockMs),
    },
    publishWorker: (worker, tasks) => catalog.publish({ ...worker, host: worker.host ?? hostname() }, tasks),
    unpublishWorker: (workerId, types) => catalog.unpublish(workerId, types),
    workerTtlMs: catalog.ttlMs,
    listTaskTypes: taskTypes.listTaskTypes,
    startUnservedWatch: (options) => void closers.push(taskTypes.watchUnserved(options)),
    worker: services.worker,
    deliveries: services.deliveries,
    queues: queues.all,
    async metricsText() {
      return { contentType: core.metrics.registry.contentType, text: await core.metrics.registry.metrics() };
    },
    startTimerConsumer(options = {}) {
      const stopTimers = queues.consumeTimers({ ...stores.runs, deliverSend: stores.deliverConfirmed }, layoutChecked, options.concurrency ?? 50);
      // A second flush of an outbox is harmless (job ids are deterministic, stale jobs are dropped),
      // so the grace before re-applying another process's outbox can be short.
      const sweeper = setInterval(() => {
        layoutChecked().then(() => stores.outbox.sweep(1000)).catch((err) => logger.warn({ err }, 'outbox sweep failed'));
      }, options.sweepEveryMs ?? 1000);
      sweeper.unref();
      closers.push(async () => {
        clearInterval(sweeper);
        await stopTimers();
      });
    },
    async sweepOutbox(graceMs = 5000) {
      await layoutChecked();
      return stores.outbox.sweep(graceMs);
    },
    startArchiver(options) {
      if (!archive) throw new Error('startArchiver needs an archive store (EngineOptions.archive)');
      const mine = createArchiver({ redis, keys: core.keys, scripts: core.scripts, clock, logger, store: archive }, options);
      archiver = mine;
      mine.start(options.everyMs ?? 60_000);
      closers.push(() => mine.stop());
      return mine;
    },
    archiveHealth: () => reads.archiveHealth(archiver?.health().since ?? null),
  };
}
