// Owns what a step writes, as a plan the storage port commits: the new record, history entries, outbox
// entries (KPI operations among them), index operations, human-task documents, the tasks the run starts
// or stops awaiting, the idempotency answer and the seq the write is guarded by. Pure, and key-agnostic:
// indexes are named, never keyed; only the storage adapter (store/redis-store.ts) knows key names.
import { iso } from './clock.ts';
import type { KpiDefinition } from './definition/define.ts';
import type { RunId } from './ids.ts';
import { measureEntries, quantileMeasures } from './kpis.ts';
import type { KpiOp, OutboxEntry } from './outbox.ts';
import type { HumanCompletion, StepOutcome } from './step.ts';
import type { HistoryDraft, StoredHumanTask, StoredRun, StoredTask, TaskStatus } from './types.ts';

/** A human task as the API lists it; kept as a document of its own so it outlives the run's open set. */
export interface HumanTaskDoc {
  id: string;
  runId: string;
  workflow: string;
  businessKey: string | null;
  title: string;
  role: string;
  outcomes: Record<string, string>;
  status: 'open' | 'done' | 'withdrawn';
  state: string;
  createdAt: string;
  dueAt: string | null;
  completedAt: string | null;
  outcome: string | null;
  by: string | null;
  comment: string | null;
}

/** A task attempt's live status, kept beside the record while the run awaits the task. */
export interface LiveTaskStatus {
  status: TaskStatus;
  attempts: number;
}

/**
 * The indexes of a run's partition. `value` picks the entry of a keyed index (the status, workflow,
 * business key, parent run, service or CI name).
 */
export type RunIndexName =
  | 'all' | 'byWorkflow' | 'byStatus' | 'byBusinessKey' | 'byParent' | 'byService' | 'byCi'
  | 'endedByWorkflow' | 'endedWorkflows' | 'humanTasksOpen' | 'humanTasksDone';

export type IndexOp =
  | { op: 'add'; index: RunIndexName; value?: string; score: number; member: string }
  | { op: 'remove'; index: RunIndexName; value?: string; member: string };

export interface CommitPlan {
  runId: RunId;
  /** The seq the stored record must still have, or 'new' when the run must not exist yet. */
  expectedSeq: number | 'new';
  record: StoredRun;
  history: HistoryDraft[];
  /** What the step leaves for the queues and the KPI figures, in order (outbox.ts carries it out). */
  outbox: OutboxEntry[];
  index: IndexOp[];
  humanTasks: HumanTaskDoc[];
  /** Tasks the run starts awaiting (with their first live status) and stops awaiting. */
  tasks: { await: { taskId: string; live: LiveTaskStatus }[]; drop: string[] };
  /** The answer kept under the request's idempotency key (for a day), or null. */
  idempotency: { key: string; value: string } | null;
  /** When the plan is committed: the outbox's sweeper finds an unflushed step by it. */
  at: number;
}

export interface PlanContext {
  expectedSeq: number | 'new';
  /** The tasks the run awaited before the step. */
  prevTasks: Record<string, StoredTask>;
  idempotency: { key: string; value: string } | null;
  /** The workflow's KPIs (which measures keep quantiles). */
  kpis: KpiDefinition[] | undefined;
  at: number;
}

export function planCommit(outcome: StepOutcome, ctx: PlanContext): CommitPlan {
  const run = outcome.run;
  const kpi = kpiOp(outcome, ctx.kpis);
  const { index, humanTasks } = indexPlan(outcome);
  return {
    runId: run.id,
    expectedSeq: ctx.expectedSeq,
    record: run,
    history: outcome.history,
    outbox: kpi ? [...outcome.outbox, kpi] : outcome.outbox,
    index,
    humanTasks,
    tasks: taskPlan(outcome, ctx.prevTasks),
    idempotency: ctx.idempotency,
    at: ctx.at,
  };
}

/** `ts:<taskId>` beside the record says the run awaits that task: workers check it before running. */
function taskPlan(outcome: StepOutcome, prevTasks: Record<string, StoredTask>): CommitPlan['tasks'] {
  const tasks = outcome.run.tasks;
  const drop = new Set(outcome.droppedTasks);
  for (const id of Object.keys(prevTasks)) if (!tasks[id]) drop.add(id);
  const awaited = Object.keys(tasks).filter((id) => !prevTasks[id]).map((taskId) => ({ taskId, live: { status: 'queued' as const, attempts: 0 } }));
  return { await: awaited, drop: [...drop] };
}

/** The step's index updates, all in the run's partition, and the human-task documents it writes. */
function indexPlan(outcome: StepOutcome): { index: IndexOp[]; humanTasks: HumanTaskDoc[] } {
  const run = outcome.run;
  const index: IndexOp[] = [];
  const add = (name: RunIndexName, value: string | undefined, score: number, member: string) => index.push({ op: 'add', index: name, value, score, member });
  if (outcome.statusChanged) {
    const { from, to } = outcome.statusChanged;
    if (from === null) {
      add('all', undefined, run.createdAt, run.id);
      add('byWorkflow', run.workflow, run.createdAt, run.id);
      if (run.businessKey) add('byBusinessKey', run.businessKey, run.createdAt, run.id);
      if (run.parentRunId) add('byParent', run.parentRunId, run.createdAt, run.id);
      for (const name of run.refs?.services ?? []) add('byService', name, run.createdAt, run.id);
      for (const name of run.refs?.cis ?? []) add('byCi', name, run.createdAt, run.id);
    } else if (from !== to) {
      index.push({ op: 'remove', index: 'byStatus', value: from, member: run.id });
    }
    add('byStatus', to, run.createdAt, run.id);
    // The archive sweeper finds ended runs by end time, per partition and workflow (engine/archive/sweeper.ts).
    if (to !== 'running') {
      add('endedByWorkflow', run.workflow, run.endedAt ?? run.updatedAt, run.id);
      add('endedWorkflows', undefined, 0, run.workflow);
    }
  }
  const humanTasks: HumanTaskDoc[] = [];
  for (const h of outcome.openedHumanTasks) {
    add('humanTasksOpen', undefined, h.createdAt, h.id);
    humanTasks.push(humanTaskDoc(run, h, 'open', null, null));
  }
  for (const c of outcome.closedHumanTasks) {
    index.push({ op: 'remove', index: 'humanTasksOpen', member: c.task.id });
    add('humanTasksDone', undefined, c.at, c.task.id);
    humanTasks.push(humanTaskDoc(run, c.task, c.completion ? 'done' : 'withdrawn', c.completion, c.at));
  }
  return { index, humanTasks };
}

/** Measures the step recorded feed the KPI figures; a cancelled run leaves them all. */
function kpiOp(outcome: StepOutcome, kpis: KpiDefinition[] | undefined): KpiOp | null {
  const run = outcome.run;
  if (outcome.statusChanged?.to === 'cancelled') return { op: 'kpiDrop', workflow: run.workflow, runId: run.id };
  if (!outcome.history.some((h) => h.type === 'measure.recorded')) return null;
  const entries = measureEntries(run.id, run.seq, run.createdAt, outcome.history, quantileMeasures(kpis));
  return entries.length ? { op: 'kpi', workflow: run.workflow, runId: run.id, entries } : null;
}

function humanTaskDoc(run: StoredRun, h: StoredHumanTask, status: HumanTaskDoc['status'], c: HumanCompletion | null, at: number | null): HumanTaskDoc {
  return {
    id: h.id, runId: run.id, workflow: run.workflow, businessKey: run.businessKey, title: h.title, role: h.role, outcomes: h.outcomes, status,
    state: h.stateId, createdAt: iso(h.createdAt), dueAt: h.dueAt === null ? null : iso(h.dueAt),
    completedAt: at === null ? null : iso(at), outcome: c?.outcome ?? null, by: c?.by ?? null, comment: c?.comment ?? null,
  };
}
