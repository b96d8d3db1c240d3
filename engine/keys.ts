// Builds every Redis key name, and nothing else. Keys of one run share a {hash tag}, so a
// script touching them stays in one Redis Cluster slot.
import type { RunId } from './ids.ts';

export interface Keys {
  run(id: RunId): string;
  history(id: RunId): string;
  outbox(id: RunId): string;
  eventIdem(id: RunId, route: string, key: string): string;
  noIdem(id: RunId): string;
  outboxPending(): string;
  runsAll(): string;
  runsByWorkflow(workflow: string): string;
  runsByStatus(status: string): string;
  runsByBusinessKey(key: string): string;
  runsByParent(id: string): string;
  /** Ended runs of a workflow by end time (the archive sweeper's work list). */
  runsEndedByWorkflow(workflow: string): string;
  /** Workflows that have ended runs (members of runsEndedByWorkflow). */
  runsEndedWorkflows(): string;
  /** Set once every run that ended before the ended index existed has been added to it. */
  runsEndedBackfilled(): string;
  /** A sweeper's lease on archiving one run. */
  archiveClaim(id: RunId): string;
  /** The claim that a business key has one open run of a workflow (business-keys.ts). */
  openClaim(workflow: string, businessKey: string): string;
  humanTasksOpen(): string;
  humanTasksDone(): string;
  humanTask(id: string): string;
  workflowVersions(name: string): string;
  workflowNames(): string;
  /** The base of a workflow's KPI keys (kpis.ts derives the rest); its hash tag keeps them in one slot. */
  kpiBase(workflow: string): string;
  /** The runs that named a registry service or CI when they started (cmdb.ts: open runs touching it). */
  runsByRef(kind: 'service' | 'ci', name: string): string;
  /**
   * The base of every registry key (services, CIs, version, audit lists): one hash tag, so a registry
   * write (one script) stays in one Cluster slot. cmdb.ts derives the rest.
   */
  registryBase(): string;
  taskCancelChannel(): string;
  queuePrefix(): string;
  /** One external task's record (external-tasks.ts); derived from externalTaskPrefix(). */
  externalTask(taskId: string): string;
  /** Prefix of the external task records, for the Lua scripts that reach a task by id. */
  externalTaskPrefix(): string;
  /** The external tasks of one type waiting for a worker (sorted set, score = when it may be fetched). */
  externalReady(type: string): string;
  /** Prefix of the per-type ready sets, for the Lua scripts that put a task back. */
  externalReadyPrefix(): string;
  /** The external tasks locked by a worker (sorted set, score = lock deadline). */
  externalLocked(): string;
  /** Task types ever offered to external workers (set), for listing. */
  externalTypes(): string;
  /** The live task catalog: one hash per task type, field = worker id, value = its publication. */
  catalogType(type: string): string;
  /** Task types in the catalog (sorted set, score = last heartbeat). */
  catalogTypes(): string;
  /** Failed attempts of a task type (sorted set of `<time>:<task id>`, score = time), for the last hour. */
  taskFailures(type: string): string;
  custom(...parts: string[]): string;
}

export function createKeys(prefix: string): Keys {
  const runKey = (id: RunId, suffix: string) => `${prefix}:run:{${id}}${suffix}`;
  return {
    run: (id) => runKey(id, ''),
    history: (id) => runKey(id, ':history'),
    outbox: (id) => runKey(id, ':outbox'),
    eventIdem: (id, route, key) => runKey(id, `:idem:${route}:${key}`),
    noIdem: (id) => runKey(id, ':idem:-'),
    outboxPending: () => `${prefix}:outbox-pending`,
    runsAll: () => `${prefix}:runs`,
    runsByWorkflow: (w) => `${prefix}:runs:wf:${w}`,
    runsByStatus: (s) => `${prefix}:runs:status:${s}`,
    runsByBusinessKey: (k) => `${prefix}:runs:bk:${k}`,
    runsByParent: (id) => `${prefix}:runs:parent:${id}`,
    runsEndedByWorkflow: (w) => `${prefix}:runs:ended:${w}`,
    runsEndedWorkflows: () => `${prefix}:runs:ended-wf`,
    runsEndedBackfilled: () => `${prefix}:runs:ended-backfilled`,
    archiveClaim: (id) => runKey(id, ':archiving'),
    openClaim: (workflow, businessKey) => `${prefix}:open:${workflow}:${businessKey}`,
    humanTasksOpen: () => `${prefix}:htasks:open`,
    humanTasksDone: () => `${prefix}:htasks:done`,
    humanTask: (id) => `${prefix}:htask:${id}`,
    workflowVersions: (name) => `${prefix}:wf:{${name}}:versions`,
    workflowNames: () => `${prefix}:wf-names`,
    kpiBase: (workflow) => `${prefix}:kpi:{${workflow}}`,
    runsByRef: (kind, name) => `${prefix}:runs:ref:${kind}:${name}`,
    registryBase: () => `{${prefix}-reg}`,
    taskCancelChannel: () => `${prefix}:task-cancel`,
    // BullMQ keys all carry this hash tag, so every queue script stays in one slot.
    queuePrefix: () => `{${prefix}-q}`,
    // External tasks: every key shares one hash tag, so fetch and settle scripts stay in one slot.
    externalTask: (id) => `{${prefix}-x}:task:${id}`,
    externalTaskPrefix: () => `{${prefix}-x}:task:`,
    externalReady: (type) => `{${prefix}-x}:ready:${type}`,
    externalReadyPrefix: () => `{${prefix}-x}:ready:`,
    externalLocked: () => `{${prefix}-x}:locked`,
    externalTypes: () => `{${prefix}-x}:types`,
    catalogType: (type) => `${prefix}:catalog:${type}`,
    catalogTypes: () => `${prefix}:catalog`,
    taskFailures: (type) => `${prefix}:task-failures:${type}`,
    custom: (...parts) => [prefix, ...parts].join(':'),
  };
}
