// Owns the pure step of a run: XState's transition() and the durable effects its actions imply.
// Nothing here touches Redis or reads the clock; the caller commits what it returns.
import { createActor, initialTransition, transition, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import { iso } from './clock.ts';
import { newHumanTaskId, newTaskId, type RunId, type TaskId } from './ids.ts';
import type { HistoryDraft, JsonObject, RunStatus, StoredHumanTask, StoredRun, StoredTask, StoredTimer } from './types.ts';
import type { ErrorData } from './errors.ts';

export type OutboxOp =
  | { op: 'add'; queue: 'tasks' | 'timers'; name: string; jobId: string; data: JsonObject; dueAt?: number }
  | { op: 'remove'; queue: 'tasks' | 'timers'; jobId: string }
  | { op: 'cancelTask'; taskId: string };

export interface StepOutcome {
  accepted: boolean;
  run: StoredRun;
  history: HistoryDraft[];
  outbox: OutboxOp[];
  droppedTasks: string[];
  statusChanged: { from: RunStatus | null; to: RunStatus } | null;
  openedHumanTasks: StoredHumanTask[];
  closedHumanTasks: ClosedHumanTask[];
  /** The machine snapshot after the step, for the caller's cache (never stored as is). */
  machineSnapshot?: AnyMachineSnapshot;
}

export interface HumanCompletion {
  id: string;
  outcome: string;
  by: string;
  comment: string | null;
}

export interface ClosedHumanTask {
  task: StoredHumanTask;
  completion: HumanCompletion | null;
  at: number;
}

interface StepEnv {
  machine: AnyStateMachine;
  now: number;
  actor: string;
  isTask(src: string): boolean;
  /** The live snapshot of `prev` if the caller still holds it: spares restoring it from JSON. */
  cached?: AnyMachineSnapshot;
}

const INTERNAL = /^xstate\./;

/** The type of the entry marker `instrument` adds to every state with `meta.humanTask`. */
const HUMAN_ENTERED = 'servicechart.humanTaskEntered';
const humanEntryPath = new WeakMap<object, string>();
const instrumented = new WeakSet<AnyStateMachine>();
/** The time of the step in progress; `transition()` is synchronous, so one slot serves every machine. */
let stepAt: number | null = null;

/**
 * Teach a machine, once, the two things the engine cannot see from outside `transition()`:
 * - XState raises `xstate.done.state.*` inside the macrostep, where the engine cannot stamp it. Every event
 *   passes the machine's transition lookup before any action sees it, so the lookup stamps it with `$at`
 *   (a done event is a fresh object each time; events a machine raises itself are left alone).
 * - A human-task state left and entered again within one step is active before and after, so comparing
 *   active states misses the re-entry. An inline entry action marks each entry in the step's actions; it
 *   does nothing when run, and the name check of the registry skips inline actions.
 */
function instrument(machine: AnyStateMachine): void {
  if (instrumented.has(machine)) return;
  instrumented.add(machine);
  const lookup = machine.getTransitionData.bind(machine);
  machine.getTransitionData = ((snapshot, event) => {
    if (stepAt !== null && event.type.startsWith('xstate.done.state.') && !('$at' in event)) {
      (event as { $at?: number }).$at = stepAt;
    }
    return lookup(snapshot, event);
  }) as typeof machine.getTransitionData;
  const visit = (node: AnyStateMachine['root']) => {
    if ((node.meta as { humanTask?: unknown } | undefined)?.humanTask) {
      const marker = Object.defineProperty(() => undefined, 'name', { value: HUMAN_ENTERED });
      humanEntryPath.set(marker, node.path.join('.'));
      node.entry.push(marker as never);
    }
    for (const child of Object.values(node.states)) visit(child as AnyStateMachine['root']);
  };
  visit(machine.root);
}

/** Run XState's pure step with the machine instrumented and the step's time in `stepAt`. */
function atTime<T>(machine: AnyStateMachine, now: number, step: () => T): T {
  instrument(machine);
  stepAt = now;
  try {
    return step();
  } finally {
    stepAt = null;
  }
}

export function restoreSnapshot(machine: AnyStateMachine, persisted: unknown): AnyMachineSnapshot {
  return createActor(machine, { snapshot: persisted as never }).getSnapshot() as AnyMachineSnapshot;
}

export function nextEventsOf(snapshot: AnyMachineSnapshot): string[] {
  if (snapshot.status !== 'active') return [];
  const all = new Set<string>();
  for (const node of snapshot._nodes) {
    for (const e of node.ownEvents) if (!INTERNAL.test(e) && e !== '*') all.add(e);
  }
  return [...all].sort();
}

/** The dotted paths of the active state nodes, parents included. */
function activePaths(snapshot: AnyMachineSnapshot): Map<string, AnyMachineSnapshot['_nodes'][number]> {
  const out = new Map<string, AnyMachineSnapshot['_nodes'][number]>();
  for (const node of snapshot._nodes) if (node.path.length > 0) out.set(node.path.join('.'), node);
  return out;
}

/** The delay's name as the workflow wrote it, read from XState's `xstate.after.<delay>.<state id>`. */
function timerName(sendId: string): string {
  const m = /^xstate\.after\.([^.]+)\./.exec(sendId);
  return m ? m[1] : sendId;
}

/** `{field}` in a human task title from the context (`{number}` falls back to the business key). */
function fillTemplate(template: string, context: Record<string, unknown>, businessKey: string | null): string {
  return template.replace(/\{([A-Za-z0-9_]+)\}/g, (_, field: string) => {
    const v = (Object.hasOwn(context, field) ? context[field] : undefined) ?? (field === 'number' ? businessKey : undefined);
    return v === undefined || v === null ? '' : String(v);
  });
}

export function timerJobId(runId: RunId, timerId: string): string {
  return `${runId}.${timerId}`.replace(/[^A-Za-z0-9_.@#-]/g, '_');
}

/** Start a run: the machine's initial transition. */
export function stepStart(
  env: StepEnv,
  init: { runId: RunId; workflow: string; version: number; input: JsonObject; businessKey: string | null; parentRunId: RunId | null },
): StepOutcome {
  // The machine sees the run's identity; the stored input stays as the caller sent it.
  const machineInput = { ...init.input, $at: env.now, $runId: init.runId, $businessKey: init.businessKey };
  const [snapshot, actions] = atTime(env.machine, env.now, () => initialTransition(env.machine, machineInput));
  const run: StoredRun = {
    schemaVersion: 1,
    id: init.runId,
    workflow: init.workflow,
    version: init.version,
    status: 'running',
    snapshot: null,
    input: init.input,
    businessKey: init.businessKey,
    parentRunId: init.parentRunId,
    createdAt: env.now,
    updatedAt: env.now,
    endedAt: null,
    output: null,
    error: null,
    nextEvents: [],
    tasks: {},
    timers: {},
    humanTasks: {},
    seq: 0,
  };
  const history: HistoryDraft[] = [
    {
      type: 'run.started', at: iso(env.now), actor: env.actor, workflow: init.workflow, version: init.version,
      input: init.input, businessKey: init.businessKey, parentRunId: init.parentRunId,
    },
  ];
  return finish(env, run, null, snapshot as AnyMachineSnapshot, actions, history, null, true);
}

export type StepEvent =
  | { kind: 'event'; event: JsonObject & { type: string } }
  | { kind: 'timer'; timerId: string }
  | {
      kind: 'task';
      taskId: TaskId;
      result: { ok: true; output: unknown } | { ok: false; error: ErrorData };
      /** A fast task's start, recorded with its result (a slow one was marked running already). */
      started?: { at: number; attempt: number };
    };

/**
 * Apply one event to a running run. `accepted: false` means the machine took no transition: for an
 * outside event the caller refuses it; timer and task results still commit their bookkeeping.
 */
export function stepEvent(env: StepEnv, prev: StoredRun, input: StepEvent, completion?: HumanCompletion): StepOutcome {
  const run: StoredRun = { ...prev, tasks: { ...prev.tasks }, timers: { ...prev.timers }, humanTasks: { ...prev.humanTasks } };
  const snapshot = env.cached ?? restoreSnapshot(env.machine, prev.snapshot);
  const history: HistoryDraft[] = [];
  const at = iso(env.now);
  let event: JsonObject & { type: string };
  if (input.kind === 'event') {
    event = { ...input.event, $at: env.now };
    const { type, ...payload } = input.event;
    history.push({ type: 'event.received', at, actor: env.actor, event: type, payload });
    if (completion) {
      const h = prev.humanTasks[completion.id];
      history.push({ type: 'human.completed', at, actor: env.actor, humanTaskId: completion.id, title: h?.title, role: h?.role, outcome: completion.outcome, by: completion.by, comment: completion.comment });
    }
  } else if (input.kind === 'timer') {
    const timer = run.timers[input.timerId];
    delete run.timers[input.timerId];
    event = { ...timer.event, type: String(timer.event.type), $at: env.now };
    history.push({
      type: 'timer.fired', at, actor: `timer:${timer.timer}`, timer: timer.timer, timerId: timer.id,
      event: timer.event.type, dueAt: iso(timer.dueAt), latenessMs: Math.max(0, env.now - timer.dueAt),
    });
  } else {
    const task = run.tasks[input.taskId];
    delete run.tasks[input.taskId];
    const actor = `task:${task.name}`;
    if (input.started) {
      history.push({ type: 'task.started', at: iso(input.started.at), actor, task: task.name, taskId: task.id, attempt: input.started.attempt });
    }
    if (input.result.ok) {
      event = { type: `xstate.done.actor.${task.invokeId}`, output: input.result.output, actorId: task.invokeId, $at: env.now };
      history.push({ type: 'task.completed', at, actor, task: task.name, taskId: task.id, output: input.result.output });
    } else {
      event = { type: `xstate.error.actor.${task.invokeId}`, error: input.result.error, actorId: task.invokeId, $at: env.now };
      history.push({ type: 'task.failed', at, actor, task: task.name, taskId: task.id, error: input.result.error });
    }
  }
  const [next, actions] = atTime(env.machine, env.now, () => transition(env.machine, snapshot, event as never));
  // A transition that re-enters its own state without changing the context leaves the snapshot as it
  // was, yet it was taken: ask the machine as well.
  const accepted = next !== snapshot || snapshot.can(event as never);
  if (!accepted && input.kind === 'event') return refused(run, prev);
  return finish(env, run, snapshot, next as AnyMachineSnapshot, actions, history, completion ?? null, accepted);
}

/** Cancel a running run: withdraw every task and timer. */
export function stepCancel(env: Omit<StepEnv, 'machine' | 'isTask'>, prev: StoredRun, reason: string | null): StepOutcome {
  const run: StoredRun = { ...prev, tasks: {}, timers: {}, humanTasks: {}, status: 'cancelled', endedAt: env.now, updatedAt: env.now, nextEvents: [], seq: prev.seq + 1 };
  const outcome: StepOutcome = {
    accepted: true, run, history: [], outbox: [], droppedTasks: [], statusChanged: { from: prev.status, to: 'cancelled' },
    openedHumanTasks: [], closedHumanTasks: Object.values(prev.humanTasks).map((task) => ({ task, completion: null, at: env.now })),
  };
  withdrawAll(prev, outcome, env.now, env.actor);
  outcome.history.push({ type: 'run.cancelled', at: iso(env.now), actor: env.actor, reason });
  return outcome;
}

function refused(run: StoredRun, prev: StoredRun): StepOutcome {
  return { accepted: false, run: prev, history: [], outbox: [], droppedTasks: [], statusChanged: null, openedHumanTasks: [], closedHumanTasks: [] };
}

function withdrawAll(prev: StoredRun, outcome: StepOutcome, now: number, actor: string): void {
  const at = iso(now);
  for (const timer of Object.values(prev.timers)) {
    outcome.outbox.push({ op: 'remove', queue: 'timers', jobId: timerJobId(prev.id, timer.id) });
    outcome.history.push({ type: 'timer.cancelled', at, actor, timer: timer.timer, timerId: timer.id, event: timer.event.type, dueAt: iso(timer.dueAt) });
  }
  for (const task of Object.values(prev.tasks)) {
    withdrawTask(task, outcome, at, actor);
  }
  for (const h of Object.values(prev.humanTasks)) {
    outcome.history.push({ type: 'human.withdrawn', at, actor, humanTaskId: h.id, role: h.role, title: h.title });
  }
}

function withdrawTask(task: StoredTask, outcome: StepOutcome, at: string, actor: string): void {
  outcome.outbox.push({ op: 'remove', queue: 'tasks', jobId: task.id });
  outcome.outbox.push({ op: 'cancelTask', taskId: task.id });
  outcome.droppedTasks.push(task.id);
  outcome.history.push({ type: 'task.withdrawn', at, actor, task: task.name, taskId: task.id });
}

function finish(
  env: StepEnv,
  run: StoredRun,
  before: AnyMachineSnapshot | null,
  next: AnyMachineSnapshot,
  actions: { type: string; params?: unknown; exec?: unknown }[],
  history: HistoryDraft[],
  completion: HumanCompletion | null,
  accepted: boolean,
): StepOutcome {
  const seq = run.seq + 1;
  const at = iso(env.now);
  const outcome: StepOutcome = {
    accepted, run, history, outbox: [], droppedTasks: [], statusChanged: null, openedHumanTasks: [], closedHumanTasks: [],
  };
  const prevStatus = run.status;

  // States entered: what is active now and was not before.
  const beforePaths = before ? activePaths(before) : new Map();
  const afterPaths = activePaths(next);
  for (const path of afterPaths.keys()) {
    if (!beforePaths.has(path)) history.push({ type: 'state.entered', at, actor: env.actor, state: path });
  }

  let timerIndex = 0;
  for (const action of actions) {
    const params = (action.params ?? {}) as Record<string, unknown>;
    switch (action.type) {
      case 'xstate.raise': {
        if (typeof params.delay !== 'number') break;
        const sendId = String(params.id ?? (params.event as { type: string }).type);
        const id = `${sendId}@${seq}.${timerIndex++}`;
        const timer: StoredTimer = {
          id, sendId, timer: timerName(sendId), event: params.event as JsonObject, dueAt: env.now + Math.max(0, params.delay),
        };
        run.timers[id] = timer;
        outcome.outbox.push({
          op: 'add', queue: 'timers', name: timer.timer, jobId: timerJobId(run.id, id),
          data: { runId: run.id, timerId: id, dueAt: timer.dueAt }, dueAt: timer.dueAt,
        });
        history.push({ type: 'timer.scheduled', at, actor: env.actor, timer: timer.timer, timerId: id, event: timer.event.type, dueAt: iso(timer.dueAt) });
        break;
      }
      case 'xstate.cancel': {
        const sendId = String(params.sendId);
        for (const timer of Object.values(run.timers)) {
          if (timer.sendId !== sendId) continue;
          delete run.timers[timer.id];
          outcome.outbox.push({ op: 'remove', queue: 'timers', jobId: timerJobId(run.id, timer.id) });
          history.push({ type: 'timer.cancelled', at, actor: env.actor, timer: timer.timer, timerId: timer.id, event: timer.event.type, dueAt: iso(timer.dueAt) });
        }
        break;
      }
      case 'xstate.spawnChild': {
        const src = params.src;
        const invokeId = String(params.id);
        if (typeof src !== 'string' || !env.isTask(src)) {
          throw new Error(`invoke ${invokeId} names ${String(src)}, which is not a registered task`);
        }
        const id = newTaskId(run.id, seq, invokeId);
        const task: StoredTask = {
          id, name: src, invokeId, status: 'queued', attempts: 0, scheduledAt: env.now, idempotencyKey: `${run.id}:${src}:${seq}:${invokeId}`,
        };
        run.tasks[id] = task;
        outcome.outbox.push({
          op: 'add', queue: 'tasks', name: src, jobId: id,
          data: { runId: run.id, taskId: id, task: src, input: (params.input ?? {}) as JsonObject, idempotencyKey: task.idempotencyKey },
        });
        history.push({ type: 'task.scheduled', at, actor: env.actor, task: src, taskId: id, input: params.input ?? {} });
        break;
      }
      case 'xstate.stopChild': {
        // XState hands the child actor ref itself as the params of stopChild.
        const ref = (params.actorRef ?? params) as { id?: string } | string | undefined;
        const invokeId = typeof ref === 'string' ? ref : ref?.id;
        for (const task of Object.values(run.tasks)) {
          if (task.invokeId !== invokeId) continue;
          delete run.tasks[task.id];
          withdrawTask(task, outcome, at, env.actor);
        }
        break;
      }
      case 'xstate.emit': {
        const { type, ...fields } = params.event as { type: string };
        if (typeof type === 'string' && type.includes('.')) history.push({ ...fields, type, at, actor: `workflow:${run.workflow}` });
        break;
      }
      default:
        break;
    }
  }

  // Human tasks: open one for each state with meta.humanTask entered in this step and still active (a
  // state re-entered gets a new one), and withdraw the ones whose state was left or re-entered.
  const entered = new Set<string>();
  for (const action of actions) {
    const path = action.type === HUMAN_ENTERED && typeof action.exec === 'function' ? humanEntryPath.get(action.exec) : undefined;
    if (path !== undefined) entered.add(path);
  }
  let humanIndex = 0;
  for (const [path, node] of afterPaths) {
    const meta = (node.meta ?? {}) as { humanTask?: { role?: string; title?: string; outcomes?: Record<string, string>; dueInMs?: number } };
    if (!meta.humanTask || (beforePaths.has(path) && !entered.has(path))) continue;
    const h: StoredHumanTask = {
      id: newHumanTaskId(run.id, seq, humanIndex++),
      stateId: path,
      role: String(meta.humanTask.role ?? 'operator'),
      title: fillTemplate(String(meta.humanTask.title ?? path), (next.context ?? {}) as Record<string, unknown>, run.businessKey),
      outcomes: meta.humanTask.outcomes ?? {},
      createdAt: env.now,
      dueAt: typeof meta.humanTask.dueInMs === 'number' ? env.now + meta.humanTask.dueInMs : null,
    };
    run.humanTasks[h.id] = h;
    outcome.openedHumanTasks.push(h);
    history.push({ type: 'human.opened', at, actor: env.actor, humanTaskId: h.id, role: h.role, title: h.title, state: path });
  }
  for (const h of Object.values(run.humanTasks)) {
    const completed = completion?.id === h.id;
    if (outcome.openedHumanTasks.includes(h)) continue;
    if (afterPaths.has(h.stateId) && !completed && !entered.has(h.stateId)) continue;
    delete run.humanTasks[h.id];
    outcome.closedHumanTasks.push({ task: h, completion: completed ? completion : null, at: env.now });
    if (!completed) history.push({ type: 'human.withdrawn', at, actor: env.actor, humanTaskId: h.id, role: h.role, title: h.title });
  }

  run.snapshot = env.machine.getPersistedSnapshot(next);
  outcome.machineSnapshot = next;
  run.nextEvents = nextEventsOf(next);
  run.updatedAt = env.now;
  run.seq = seq;
  if (next.status === 'done' || next.status === 'error') {
    const remaining = { ...run, timers: run.timers, tasks: run.tasks, humanTasks: run.humanTasks };
    withdrawAll(remaining, outcome, env.now, env.actor);
    for (const task of Object.values(run.humanTasks)) outcome.closedHumanTasks.push({ task, completion: null, at: env.now });
    run.timers = {};
    run.tasks = {};
    run.humanTasks = {};
    run.endedAt = env.now;
    if (next.status === 'done') {
      run.status = 'done';
      run.output = next.output ?? null;
      history.push({ type: 'run.done', at, actor: env.actor, output: run.output, state: next.value });
    } else {
      run.status = 'failed';
      const err = next.error as { code?: string; message?: string } | undefined;
      run.error = { code: String(err?.code ?? 'WORKFLOW_ERROR'), message: String(err?.message ?? err ?? 'the workflow failed') };
      history.push({ type: 'run.failed', at, actor: env.actor, reason: `unhandled error: ${run.error.message}`, error: run.error });
    }
  }
  if (run.status !== prevStatus || before === null) outcome.statusChanged = { from: before === null ? null : prevStatus, to: run.status };
  return outcome;
}
