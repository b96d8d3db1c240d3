// Builds every Redis key name, and nothing else.
//
// Layout: a run belongs to one of P partitions (the CRC16 of its id, modulo P). Everything of a
// partition shares one hash tag, so it lives in one Redis Cluster slot: its runs (record, history,
// outbox, idempotency keys), its run and human-task indexes, its outbox marker set, its webhook
// delivery log and its BullMQ queues. One script can therefore commit a step together with its index
// updates and its outbox marker, and P partitions spread the load over the masters. Keys outside the
// partitions (the stored partition count, workflow versions, KPI figures per workflow, claims by
// business key or delivery id) each stay in one slot of their own; the registry, the external tasks and
// the task catalog each have a hash tag of their own, so each one's scripts and pipelines stay in one slot.
import calculateSlot from 'cluster-key-slot';
import { runIdOfHumanTask, type RunId } from './ids.ts';

const SLOTS = 16384;
export const MAX_PARTITIONS = 256;

export interface Keys {
  /** How many partitions this installation has. */
  readonly partitions: number;
  /** 0 .. partitions-1. */
  readonly all: readonly number[];
  /** The partition a run belongs to. */
  partitionOf(id: RunId | string): number;
  run(id: RunId): string;
  history(id: RunId): string;
  outbox(id: RunId): string;
  eventIdem(id: RunId, route: string, key: string): string;
  noIdem(id: RunId): string;
  outboxPending(p: number): string;
  runsAll(p: number): string;
  runsByWorkflow(p: number, workflow: string): string;
  runsByStatus(p: number, status: string): string;
  runsByBusinessKey(p: number, key: string): string;
  runsByParent(p: number, id: string): string;
  /** A partition's ended runs of a workflow by end time (the archive sweeper's work list). */
  runsEndedByWorkflow(p: number, workflow: string): string;
  /** Workflows that have ended runs in a partition (members of its runsEndedByWorkflow). */
  runsEndedWorkflows(p: number): string;
  /** Set once every run of a partition that ended before the ended index existed has been added to it. */
  runsEndedBackfilled(p: number): string;
  /** A sweeper's lease on archiving one run (in the run's partition). */
  archiveClaim(id: RunId): string;
  /** The claim that a business key has one open run of a workflow (business-keys.ts). */
  openClaim(workflow: string, businessKey: string): string;
  humanTasksOpen(p: number): string;
  humanTasksDone(p: number): string;
  /** A human task's document, in the partition of its run (read from the task id). */
  humanTask(id: string): string;
  hookDeliveries(p: number): string;
  /** BullMQ prefix of a partition's queues: its hash tag, so every queue script stays in its slot. */
  queuePrefix(p: number): string;
  /** Installation facts fixed at first use (the partition count). */
  layout(): string;
  workflowVersions(name: string): string;
  workflowNames(): string;
  /** The base of a workflow's KPI keys (kpis.ts derives the rest); its hash tag keeps them in one slot. */
  kpiBase(workflow: string): string;
  /** A partition's runs that named a registry service or CI when they started (cmdb.ts: open runs touching it). */
  runsByRef(p: number, kind: 'service' | 'ci', name: string): string;
  /**
   * The base of every registry key (services, CIs, version, audit lists): one hash tag, so a registry
   * write (one script) stays in one Cluster slot. cmdb.ts derives the rest.
   */
  registryBase(): string;
  taskCancelChannel(): string;
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
  /** Set once a waiting task has been reported `task.unserved` (task-types.ts), so each is reported once. */
  unservedMark(taskId: string): string;
  /** The claim on one webhook delivery id of a source, then its results (hook-deliveries.ts). */
  hookDelivery(source: string, deliveryId: string): string;
}

/**
 * The hash tag of each partition. Partition p's tag is the first of `<prefix>-p<p>`, `<prefix>-p<p>-1`,
 * ... whose slot falls in the p-th of P equal ranges of the slot space, so P partitions sit evenly
 * over masters that split the slots in contiguous ranges (what `redis-cli --cluster create` does).
 */
export function partitionTags(prefix: string, partitions: number): string[] {
  const tags: string[] = [];
  for (let p = 0; p < partitions; p++) {
    const lo = Math.floor((p * SLOTS) / partitions);
    const hi = Math.floor(((p + 1) * SLOTS) / partitions);
    for (let n = 0; ; n++) {
      const tag = n === 0 ? `${prefix}-p${p}` : `${prefix}-p${p}-${n}`;
      const slot = calculateSlot(tag);
      if (slot >= lo && slot < hi) {
        tags.push(`{${tag}}`);
        break;
      }
    }
  }
  return tags;
}

export function createKeys(prefix: string, partitions = 1): Keys {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    throw new RangeError(`partitions must be an integer from 1 to ${MAX_PARTITIONS} (got ${partitions})`);
  }
  const tags = partitionTags(prefix, partitions);
  const partitionOf = (id: string) => (partitions === 1 ? 0 : calculateSlot(id) % partitions);
  const runKey = (id: RunId, suffix: string) => `${tags[partitionOf(id)]}:run:${id}${suffix}`;
  return {
    partitions,
    all: tags.map((_, p) => p),
    partitionOf,
    run: (id) => runKey(id, ''),
    history: (id) => runKey(id, ':history'),
    outbox: (id) => runKey(id, ':outbox'),
    eventIdem: (id, route, key) => runKey(id, `:idem:${route}:${key}`),
    noIdem: (id) => runKey(id, ':idem:-'),
    outboxPending: (p) => `${tags[p]}:outbox-pending`,
    runsAll: (p) => `${tags[p]}:runs`,
    runsByWorkflow: (p, w) => `${tags[p]}:runs:wf:${w}`,
    runsByStatus: (p, s) => `${tags[p]}:runs:status:${s}`,
    runsByBusinessKey: (p, k) => `${tags[p]}:runs:bk:${k}`,
    runsByParent: (p, id) => `${tags[p]}:runs:parent:${id}`,
    runsEndedByWorkflow: (p, w) => `${tags[p]}:runs:ended:${w}`,
    runsEndedWorkflows: (p) => `${tags[p]}:runs:ended-wf`,
    runsEndedBackfilled: (p) => `${tags[p]}:runs:ended-backfilled`,
    archiveClaim: (id) => runKey(id, ':archiving'),
    openClaim: (workflow, businessKey) => `${prefix}:open:${workflow}:${businessKey}`,
    humanTasksOpen: (p) => `${tags[p]}:htasks:open`,
    humanTasksDone: (p) => `${tags[p]}:htasks:done`,
    humanTask: (id) => `${tags[partitionOf(runIdOfHumanTask(id) ?? id)]}:htask:${id}`,
    hookDeliveries: (p) => `${tags[p]}:hook-deliveries`,
    // BullMQ names its keys `<prefix>:<queue>:...`; the queues are `tasks` and `timers`, which no key
    // above starts with.
    queuePrefix: (p) => tags[p],
    layout: () => `${prefix}:layout`,
    workflowVersions: (name) => `${prefix}:wf:{${name}}:versions`,
    workflowNames: () => `${prefix}:wf-names`,
    kpiBase: (workflow) => `${prefix}:kpi:{${workflow}}`,
    runsByRef: (p, kind, name) => `${tags[p]}:runs:ref:${kind}:${name}`,
    registryBase: () => `{${prefix}-reg}`,
    taskCancelChannel: () => `${prefix}:task-cancel`,
    // External tasks: every key shares one hash tag, so fetch and settle scripts stay in one slot.
    externalTask: (id) => `{${prefix}-x}:task:${id}`,
    externalTaskPrefix: () => `{${prefix}-x}:task:`,
    externalReady: (type) => `{${prefix}-x}:ready:${type}`,
    externalReadyPrefix: () => `{${prefix}-x}:ready:`,
    externalLocked: () => `{${prefix}-x}:locked`,
    externalTypes: () => `{${prefix}-x}:types`,
    // The task catalog: one hash tag, so a heartbeat's pipeline (every type it serves) stays in one slot.
    catalogType: (type) => `{${prefix}-cat}:type:${type}`,
    catalogTypes: () => `{${prefix}-cat}:types`,
    taskFailures: (type) => `{${prefix}-cat}:failures:${type}`,
    unservedMark: (taskId) => `${prefix}:unserved:${taskId}`,
    hookDelivery: (source, deliveryId) => `${prefix}:hook-delivery:${source}:${deliveryId}`,
  };
}
