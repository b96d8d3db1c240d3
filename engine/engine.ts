// Declares the engine's contract: everything api/, workers/ and bin/ may call, and nothing else.
// createEngine (create-engine.ts) implements it; the modules named beside each group do the work.
import type { Job, Queue, Worker } from 'bullmq';
import type { Archiver, ArchiverOptions } from './archive/sweeper.ts';
import type { ArchiveStatus } from './archive/reads.ts';
import type { PublishedTask, WorkerIdentity } from './catalog.ts';
import type { Cmdb } from './cmdb.ts';
import type { ErrorData } from './errors.ts';
import type { FetchArgs, LockedTask } from './external-tasks.ts';
import type { HookDeliveryStore } from './hook-deliveries.ts';
import type { RunId, TaskId } from './ids.ts';
import type { JsonWorkflowInput } from './json-workflow/compile.ts';
import type { KpiReport } from './kpis.ts';
import type { RegisteredWorkflow } from './registry.ts';
import type { HumanTaskFilter } from './run-index.ts';
import type { HumanTaskDoc, RunResult, SendEventOptions, StartRunArgs } from './runs.ts';
import type { OpenRunResult, StartOrFindOpenArgs } from './business-keys.ts';
import type { TaskTypeView } from './task-types.ts';
import type { TaskDefinition, TaskServices } from './tasks.ts';
import type { HistoryEntry, JsonObject, ListRunsFilter, Logger, Page, RunView } from './types.ts';
import type { WorkflowDefinition } from './definition/define.ts';
import type { WorkflowDetail, WorkflowSummary } from './workflow-catalog.ts';

/**
 * A durable process engine on one Redis installation (one node, Sentinel or Cluster).
 * @example
 * const engine = createEngine({ redis, workflows: [demo], tasks: [noop] });
 * const { run } = await engine.startRun({ workflow: 'demo', input: {} });
 * await engine.sendEvent(run.id, { type: 'GO' });
 */
export interface Engine {
  // --- Lifecycle (create-engine.ts) ---

  /**
   * Settles once the installation's stored layout is checked (recorded on first use). Rejects with a
   * LayoutError when this process's partition count differs from the stored one, or the Redis holds
   * data of the release before partitions: a process should await it before serving.
   */
  ready(): Promise<void>;
  /** True when Redis answers a PING within 2 s (for /readyz); never throws. */
  isReady(): Promise<boolean>;
  /** Stop the consumers, watches and sweepers this engine started and close the connections it opened (not the borrowed one). */
  close(): Promise<void>;
  /** The engine's clock (epoch ms): what every timestamp it writes is taken from. */
  now(): number;

  // --- Workflows (workflow-catalog.ts) ---

  /** Register a task definition in this process (the same name again replaces it). */
  registerTask(task: TaskDefinition<any, any>): void;
  /**
   * Register a code workflow; every name its machine uses must be registered in this process or
   * declared by the workflow (VALIDATION_FAILED otherwise; CONFLICT for another machine under the same name and version).
   */
  registerWorkflow(def: WorkflowDefinition): void;
  /**
   * Register a code workflow at start whose tasks may be served only by remote workers: each task name
   * must be registered here or served by a live worker in the task catalog (VALIDATION_FAILED otherwise).
   * @example
   * await engine.registerWorkflowChecked(onboarding); // invokes `create_account`, served by a package worker
   */
  registerWorkflowChecked(def: WorkflowDefinition): Promise<void>;
  /**
   * Register a JSON-authored workflow: validated (VALIDATION_FAILED with each problem's path), then
   * stored as the next version of its name. CONFLICT for a name defined in code.
   */
  registerJsonWorkflow(input: Omit<JsonWorkflowInput, 'version'>, actor?: string): Promise<{ name: string; version: number }>;
  /** Every workflow's latest version, code and JSON, by name. */
  listWorkflows(): Promise<WorkflowSummary[]>;
  /** One workflow (latest version unless given), with its definition and versions; NOT_FOUND otherwise. */
  getWorkflow(name: string, version?: number): Promise<WorkflowDetail>;
  /** The compiled workflow (latest version unless given), or undefined when there is none. */
  resolveWorkflow(name: string, version?: number): Promise<RegisteredWorkflow | undefined>;

  // --- Runs: writes from outside, acknowledged by the replicas asked for (run-commands.ts) ---

  /**
   * Start a run. With `idempotencyKey` a repeat answers the first run with `duplicate: true`.
   * Throws VALIDATION_FAILED (input), NOT_FOUND (workflow), UNAVAILABLE (Redis, replicas).
   */
  startRun(args: StartRunArgs): Promise<RunResult>;
  /**
   * Apply an event to a run in one atomic step. Throws NOT_FOUND, RUN_ENDED, EVENT_NOT_ACCEPTED (with
   * the events the state accepts), VALIDATION_FAILED (a bad type or an oversized context), UNAVAILABLE.
   */
  sendEvent(runId: string, event: JsonObject & { type: string }, opts?: SendEventOptions): Promise<RunResult>;
  /**
   * The open run of a workflow with a business key, or a new one: concurrent duplicates start one run.
   * @example
   * const { runId, started } = await engine.startOrFindOpen({ workflow: 'incident', businessKey: 'a1b2', input });
   */
  startOrFindOpen(args: StartOrFindOpenArgs): Promise<OpenRunResult>;
  /** Cancel a run: its tasks and timers are withdrawn. Throws NOT_FOUND, RUN_ENDED, UNAVAILABLE. */
  cancelRun(runId: string, opts?: { reason?: string | null; actor?: string }): Promise<RunView>;
  /**
   * Add an entry to a run's history without changing the run, for what an operator should see on its
   * timeline (a webhook event the run refused, with the reason). `type` is dotted (`hook.ignored`;
   * VALIDATION_FAILED otherwise). Answers false when the run does not exist.
   */
  appendNote(runId: string, type: string, fields: JsonObject, actor: string): Promise<boolean>;

  // --- Runs: reads (run-reads.ts) ---

  /** The id of a run with this business key that has not ended (of `workflow` when given), or null. */
  findOpenRun(businessKey: string, workflow?: string): Promise<string | null>;
  /** A run from Redis, or once it has left Redis from the archive (`archived: true`); NOT_FOUND otherwise. */
  getRun(runId: string): Promise<RunView>;
  /** Runs in Redis, or with `archived: true` runs in the archive (those still in Redis left out: one copy each). */
  listRuns(filter?: ListRunsFilter): Promise<Page<RunView>>;
  /** How many runs have a status, over every partition. */
  countRuns(status: string): Promise<number>;
  /** A page of a run's history, oldest first after `cursor`; NOT_FOUND for an unknown run. */
  getHistory(runId: string, opts?: { cursor?: string | null; limit?: number }): Promise<Page<HistoryEntry>>;
  /** The seq of the newest history entry (0 for none). */
  lastHistorySeq(runId: string): Promise<number>;
  /** The run's history entries after `afterSeq` as they are written, until `signal` aborts. */
  followHistory(runId: string, afterSeq: number, signal: AbortSignal): AsyncGenerator<HistoryEntry>;

  // --- Human tasks (run-reads.ts, run-commands.ts) ---

  /** Human tasks, newest first, from the open or done index of every partition. */
  listHumanTasks(filter?: HumanTaskFilter): Promise<Page<HumanTaskDoc>>;
  /** One human task; NOT_FOUND otherwise. */
  getHumanTask(taskId: string): Promise<HumanTaskDoc>;
  /**
   * Complete a human task: its outcome's event goes to the run with `by` and `comment`, and the task
   * closes in the same step. A refused event leaves the task open. Throws NOT_FOUND, CONFLICT (closed
   * already), VALIDATION_FAILED (unknown outcome), and what `sendEvent` throws.
   */
  completeHumanTask(taskId: string, body: { outcome: string; by: string; comment?: string | null }, actor?: string): Promise<{ task: HumanTaskDoc; run: RunView }>;

  // --- Service measurement and the registry ---

  /**
   * A workflow's KPIs over runs opened in [since, until) (epoch ms; null = unbounded), from the
   * figures kept as runs record their measures. Unknown workflow: NOT_FOUND.
   */
  kpiReport(workflow: string, window?: { since?: number | null; until?: number | null }): Promise<KpiReport>;
  /** The service and CI registry (cmdb.ts): entries, history, impact, import and export. */
  readonly cmdb: Cmdb;

  // --- Tasks: external workers and the live catalog (external-tasks.ts, catalog.ts, task-types.ts) ---

  /** External tasks: lock, complete, fail, extend (the `/v1/external-tasks` routes and `runWorker`). */
  readonly externalTasks: ExternalTaskPort;
  /** Heartbeat of a worker into the live task catalog, with the tasks it serves. */
  publishWorker(worker: Omit<WorkerIdentity, 'host'> & { host?: string }, tasks: PublishedTask[]): Promise<void>;
  /** A worker leaves the catalog for these task types (on shutdown). */
  unpublishWorker(workerId: string, types: string[]): Promise<void>;
  /** How long a worker stays live in the catalog after its last heartbeat (ms); beat at a third of it. */
  readonly workerTtlMs: number;
  /**
   * Every task type this installation knows: registered in this process, served by a live worker, or
   * offered to external workers; each with its schemas, live workers, queue depth, oldest waiting age,
   * failures in the last hour, and the schemas live workers disagree on.
   */
  listTaskTypes(): Promise<TaskTypeView[]>;
  /**
   * Watch for runs waiting on a task type no live worker serves: a task that waited `alertMs` while
   * its type had no live worker gets one `task.unserved` entry on its run's history (the run keeps
   * waiting). Any number of processes may watch: each task is reported once. Stops on `close()`.
   */
  startUnservedWatch(options: { alertMs: number; everyMs?: number }): void;

  /** Task bookkeeping for the in-process task worker (workers/runtime.ts). */
  readonly worker: TaskWorkerPort;

  // --- Webhooks (hook-deliveries.ts) ---

  /** Delivery-id claims (a redelivery answers the first delivery's results) and the delivery log. */
  readonly deliveries: HookDeliveryStore;

  // --- Operations: queues, metrics, consumers, archive (queues.ts, archive/) ---

  /** Every partition's task and timer queues, for a read-only queue board; closed by `close()`. */
  queues(): Queue[];
  /** The Prometheus exposition of this engine's series (runs, events, steps, tasks, timers, queue depth). */
  metricsText(): Promise<{ contentType: string; text: string }>;
  /**
   * Consume every partition's timers and sweep every partition's outboxes in this process (task
   * handlers: `worker.consumeTasks`). `concurrency` is the process's total, split over the partitions.
   */
  startTimerConsumer(options?: { concurrency?: number; sweepEveryMs?: number }): void;
  /** Finish outboxes older than `graceMs` that a crash left half-flushed, in every partition; answers how many. */
  sweepOutbox(graceMs?: number): Promise<number>;
  /**
   * Sweep runs past retention into the archive in this process, every `everyMs`. Any number of
   * processes may sweep one Redis: each run is claimed by one of them at a time. Throws without an archive.
   */
  startArchiver(options: ArchiverOptions & { everyMs?: number }): Archiver;
  /** The archive's state for /readyz: off (none configured), ok, or unavailable with the reason. */
  archiveHealth(): Promise<ArchiveStatus>;
}

/** External tasks as workers outside the process see them (external-tasks.ts). */
export interface ExternalTaskPort {
  /** Lock up to `max` waiting tasks of `types` to `workerId` for `lockMs`, waiting up to `waitMs` for one. */
  fetch(args: FetchArgs): Promise<LockedTask[]>;
  /** Apply a locked task's output to its run. Throws CONFLICT (lock lost), TASK_WITHDRAWN (the run no longer awaits it), VALIDATION_FAILED (output schema). */
  complete(id: string, lockToken: string, output: unknown): Promise<{ id: string; runId: string }>;
  /** Report a failed attempt: retried with backoff while attempts remain and it is retryable, else the run gets the error. */
  fail(id: string, lockToken: string, failure: { message: string; retryable: boolean; retryInMs?: number }): Promise<{ id: string; runId: string; retrying: boolean; nextAttemptAt: string | null }>;
  /** Keep the lock `lockMs` longer. Throws CONFLICT (lock lost), TASK_WITHDRAWN. */
  extendLock(id: string, lockToken: string, lockMs: number): Promise<{ id: string; lockDeadline: string }>;
}

/** One attempt of one task invocation, as the task worker runs it. */
export interface TaskAttemptRef {
  runId: RunId;
  taskId: TaskId;
  /** The task type. */
  task: string;
  /** 1 for the first attempt. */
  attempt: number;
}

export type TaskResult = { ok: true; output: unknown } | { ok: false; error: ErrorData };

/**
 * What the in-process task worker asks of the engine (worker-port.ts). The port creates the BullMQ
 * workers itself, so the queue names, the partitions and the connection stay inside the engine; the
 * worker brings the processor (validation, timeouts, retry decisions).
 */
export interface TaskWorkerPort {
  readonly logger: Logger;
  /** The task definition registered in this process under `name`, or undefined. */
  task(name: string): TaskDefinition<any, any> | undefined;
  /** The tasks this process serves in process: a handler, and not routed to external workers. */
  servedTasks(): TaskDefinition<any, any>[];
  /** The engine calls a task's handler may make, on behalf of `runId`. */
  services(runId: RunId, taskName: string): TaskServices;
  /**
   * Mark an attempt running (a `task.started` entry at `startedAt`). `ok: false` when the run no longer
   * awaits the task (it moved on, or was cancelled): the handler should stop.
   */
  markRunning(attempt: TaskAttemptRef, startedAt: number): Promise<{ ok: boolean }>;
  /** Mark an attempt failed and about to be retried (a `task.retrying` entry); `ok: false` as for markRunning. */
  markRetrying(attempt: TaskAttemptRef, error: ErrorData): Promise<{ ok: boolean }>;
  /**
   * Hand an attempt's result to its run: the task's done or error event, applied in one step. `started`
   * records the attempt's start in the same commit when it was not marked running. A run that no longer
   * awaits the task records the result as ignored (`applied: false`).
   */
  applyResult(attempt: TaskAttemptRef, result: TaskResult, started?: { at: number; attempt: number }): Promise<{ applied: boolean }>;
  /** Count an attempt's outcome in the metrics. */
  countAttempt(task: string, outcome: 'completed' | 'failed' | 'retrying'): void;
  /** A failed attempt, counted in the catalog's failures of the last hour. */
  recordFailure(task: string, taskId: string): Promise<void>;
  /**
   * Call `listener` with the id of each task the engine withdraws (its run was cancelled or left the
   * state) from now on, in any process. Resolves once subscribed.
   */
  onWithdrawn(listener: (taskId: string) => void): Promise<{ close(): Promise<void> }>;
  /**
   * Consume every partition's task queue with `processor`: one BullMQ Worker per partition, `concurrency`
   * (the process's total, default 50) split over them; a killed worker's jobs are retried after
   * `lockDurationMs` (default 10 s). Errors are logged. The caller closes the workers.
   */
  consumeTasks(processor: (job: Job) => Promise<unknown>, options?: { concurrency?: number; lockDurationMs?: number }): Worker[];
}
