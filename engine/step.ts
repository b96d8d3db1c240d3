// Owns the pure step of a run: XState's transition() and the durable effects its actions imply.
// Nothing here touches Redis or reads the clock; the caller commits what it returns.
import { createActor, fromTransition, type AnyActorRef, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import { iso } from './clock.ts';
import { newHumanTaskId, newTaskId, type RunId, type TaskId } from './ids.ts';
import type { EngineHistoryDraft, HistoryDraft, JsonObject, RunStatus, StoredHumanTask, StoredRun, StoredTask, StoredTimer } from './types.ts';
import { ErrorCode, ServicechartError, type ErrorData } from './errors.ts';
import { runIdOfRef } from './definition/define.ts';

export type OutboxOp =
  | { op: 'add'; queue: 'tasks' | 'timers' | 'external'; name: string; jobId: string; data: JsonObject; dueAt?: number }
  | { op: 'remove'; queue: 'tasks' | 'timers' | 'external'; jobId: string }
  | { op: 'cancelTask'; taskId: string }
  /** An event for another run, delivered once (the key) and in the order the run sent them. */
  | { op: 'send'; to: string; from: string; event: JsonObject & { type: string }; key: string };

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
  /** Whether a task goes to external workers (external-tasks.ts) rather than the in-process queue. */
  isExternal(src: string): boolean;
  /** The live snapshot of `prev` if the caller still holds it: spares restoring it from JSON. */
  cached?: AnyMachineSnapshot;
}

const INTERNAL = /^xstate\./;

/** The type of the entry marker `instrument` adds to every state with `meta.humanTask`. */
const HUMAN_ENTERED = 'servicechart.humanTaskEntered';
const humanEntryPath = new WeakMap<object, string>();
const instrumented = new WeakSet<AnyStateMachine>();
/** True for the entry markers `instrument` adds (the registry's durability check lets them pass). */
export function isEngineAction(fn: unknown): boolean {
  return typeof fn === 'function' && humanEntryPath.has(fn);
}

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

/** An action as XState's action executor hands it over: `info.self` is the stepping actor. */
interface StepAction {
  type: string;
  params?: unknown;
  exec?: unknown;
  info?: { self?: AnyActorRef };
}

interface Stepped {
  next: AnyMachineSnapshot;
  actions: StepAction[];
  /** Events the machine sent to itself without delay, in the order it took them. */
  selfEvents: (JsonObject & { type: string })[];
}

type PureScope = Parameters<AnyStateMachine['transition']>[2];

/** Logic of the stand-ins the pure step needs: a parent run's actor ref and a fresh actor system. */
const INERT = fromTransition((s: null) => s, null);

/** The stand-in `self` of a machine's pure steps, with and without a parent run, built once per machine. */
const inertSelves = new WeakMap<AnyStateMachine, { orphan?: { system: unknown }; child?: { system: unknown } }>();

/**
 * The `self` a machine's pure steps share. Building an actor runs the machine's initial transition, so
 * it is built once per machine (and parent-ness) rather than every step; a step never changes it apart
 * from the system each step hands it, and transition() is synchronous, so steps never share one at once.
 */
function inertSelf(machine: AnyStateMachine, hasParent: boolean): { system: unknown } {
  let selves = inertSelves.get(machine);
  if (!selves) inertSelves.set(machine, (selves = {}));
  const slot = hasParent ? 'child' : 'orphan';
  return (selves[slot] ??= createActor(machine, hasParent ? { parent: createActor(INERT) } : undefined) as unknown as { system: unknown });
}

/**
 * One macrostep, as XState's pure `transition()`/`initialTransition()` take it (an inert actor scope
 * whose action executor only collects), with one difference: the run of a parent run gets a parent
 * actor ref, so `sendParent` resolves as in a live child actor (XState's inert scope has no parent and
 * throws). Like XState's, every step gets a fresh system, so actors with a systemId that one step (or
 * building `self`) created do not collide with the next step's own.
 */
function pureMacrostep(machine: AnyStateMachine, hasParent: boolean, take: (scope: PureScope) => AnyMachineSnapshot): { next: AnyMachineSnapshot; actions: StepAction[] } {
  const actions: StepAction[] = [];
  const self = inertSelf(machine, hasParent);
  const system = createActor(INERT).system;
  self.system = system;
  const scope = {
    self, system, id: '', sessionId: '', defer() {}, logger() {}, stopChild() {}, emit() {},
    actionExecutor: (a: StepAction) => void actions.push(a),
  } as unknown as PureScope;
  return { next: take(scope), actions };
}

/** More self-sent events than this in one step is a loop: the step fails rather than spin. */
const MAX_SELF_EVENTS = 100;

function isSelfSend(a: StepAction): boolean {
  const p = (a.params ?? {}) as { to?: unknown; delay?: unknown };
  return a.type === 'xstate.sendTo' && typeof p.delay !== 'number' && p.to !== undefined && p.to === a.info?.self;
}

/**
 * A step as a live actor takes it: the macrostep of the event, then one macrostep for each event the
 * machine sent to itself without delay, in order. A live actor queues those in its mailbox, behind the
 * macrostep that sent them and ahead of any later outside event, since `send` processes the mailbox
 * synchronously: applying them here, in the same commit, is that order exactly.
 */
function macrosteps(env: StepEnv, hasParent: boolean, first: (scope: PureScope) => AnyMachineSnapshot): Stepped {
  const taken = pureMacrostep(env.machine, hasParent, first);
  let next = taken.next;
  const actions: StepAction[] = [];
  const queue: (JsonObject & { type: string })[] = [];
  const selfEvents: Stepped['selfEvents'] = [];
  const collect = (list: StepAction[]) => {
    for (const a of list) {
      if (isSelfSend(a)) queue.push((a.params as { event: JsonObject & { type: string } }).event);
      else actions.push(a);
    }
  };
  collect(taken.actions);
  while (queue.length && next.status === 'active') {
    if (selfEvents.length >= MAX_SELF_EVENTS) throw new Error(`the machine sent itself more than ${MAX_SELF_EVENTS} events in one step`);
    const event = { ...queue.shift()!, $at: env.now };
    selfEvents.push(event);
    const from = next;
    const step = pureMacrostep(env.machine, hasParent, (scope) => env.machine.transition(from, event as never, scope) as AnyMachineSnapshot);
    next = step.next;
    collect(step.actions);
  }
  return { next, actions, selfEvents };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function restoreSnapshot(machine: AnyStateMachine, persisted: unknown): AnyMachineSnapshot {
  return createActor(machine, { snapshot: persisted as never }).getSnapshot() as AnyMachineSnapshot;
}

type StateNode = AnyMachineSnapshot['_nodes'][number];

/** What a state node contributes to the events a run takes: a node's transitions never change. */
const ownEventsOf = new WeakMap<StateNode, string[]>();
/** A state node's dotted path. */
const pathOf = new WeakMap<StateNode, string>();

export function nextEventsOf(snapshot: AnyMachineSnapshot): string[] {
  if (snapshot.status !== 'active') return [];
  const all = new Set<string>();
  for (const node of snapshot._nodes) {
    let own = ownEventsOf.get(node);
    if (!own) ownEventsOf.set(node, (own = node.ownEvents.filter((e) => !INTERNAL.test(e) && e !== '*')));
    for (const e of own) all.add(e);
  }
  return [...all].sort();
}

/** The dotted paths of the active state nodes, parents included. */
function activePaths(snapshot: AnyMachineSnapshot): Map<string, StateNode> {
  const out = new Map<string, StateNode>();
  for (const node of snapshot._nodes) {
    if (node.path.length === 0) continue;
    let path = pathOf.get(node);
    if (path === undefined) pathOf.set(node, (path = node.path.join('.')));
    out.set(path, node);
  }
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

/** The history entry naming the registry snapshot a step handed the machine (the source of what it copied). */
function registryRead(env: StepEnv, snapshot: JsonObject): EngineHistoryDraft {
  const s = snapshot as { version?: number; readAt?: string; services?: object; cis?: object; missing?: string[] };
  return {
    type: 'registry.read', at: iso(env.now), actor: env.actor, version: s.version ?? 0, readAt: s.readAt ?? null,
    services: Object.keys(s.services ?? {}), cis: Object.keys(s.cis ?? {}), missing: s.missing ?? [], snapshot,
  };
}

/** Start a run: the machine's initial transition. */
export function stepStart(
  env: StepEnv,
  init: {
    runId: RunId; workflow: string; version: number; input: JsonObject; businessKey: string | null; parentRunId: RunId | null;
    /** What the registry held for the names the input gave (cmdb.ts), and those names. */
    registry?: { snapshot: JsonObject; refs: { services: string[]; cis: string[] } } | null;
  },
): StepOutcome {
  // The machine sees the run's identity (and the registry snapshot); the stored input stays as the caller sent it.
  // Only the engine hands a snapshot: a `$registry` in the caller's input never reaches the machine.
  const { $registry: _forged, ...given } = init.input;
  const machineInput = {
    ...given, $at: env.now, $runId: init.runId, $businessKey: init.businessKey,
    ...(init.registry ? { $registry: init.registry.snapshot } : {}),
  };
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
    ...(init.registry ? { refs: init.registry.refs } : {}),
  };
  const history: HistoryDraft[] = [
    {
      type: 'run.started', at: iso(env.now), actor: env.actor, workflow: init.workflow, version: init.version,
      input: init.input, businessKey: init.businessKey, parentRunId: init.parentRunId,
    },
  ];
  if (init.registry) history.push(registryRead(env, init.registry.snapshot));
  try {
    const stepped = atTime(env.machine, env.now, () =>
      macrosteps(env, init.parentRunId !== null, (scope) => env.machine.getInitialSnapshot(scope, machineInput) as AnyMachineSnapshot));
    return finish(env, run, null, stepped, history, null, true);
  } catch (err) {
    throw workflowError(`the workflow ${init.workflow} failed to start: ${messageOf(err)}`, err);
  }
}

function workflowError(message: string, cause: unknown): ServicechartError {
  return new ServicechartError(ErrorCode.WORKFLOW_ERROR, message, { cause });
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
  const history: HistoryDraft[] = [];
  const at = iso(env.now);
  let event: JsonObject & { type: string };
  if (input.kind === 'event') {
    event = { ...input.event, $at: env.now };
    const { type, $registry, ...payload } = input.event;
    history.push({ type: 'event.received', at, actor: env.actor, event: type, payload });
    if ($registry && typeof $registry === 'object') history.push(registryRead(env, $registry as JsonObject));
    if (completion) {
      const h = prev.humanTasks[completion.id];
      history.push({ type: 'human.completed', at, actor: env.actor, humanTaskId: completion.id, title: h?.title, role: h?.role, outcome: completion.outcome, by: completion.by, comment: completion.comment });
    }
  } else if (input.kind === 'timer') {
    const timer = run.timers[input.timerId];
    delete run.timers[input.timerId];
    // XState's scheduler forgets the send id when any event scheduled under it fires: a later
    // cancel of that id withdraws nothing, even an event scheduled under it since.
    if (timer.sendId !== null) {
      for (const t of Object.values(run.timers)) if (t.sendId === timer.sendId && t.cancellable !== false) run.timers[t.id] = { ...t, cancellable: false };
    }
    event = { ...timer.event, type: String(timer.event.type), $at: env.now };
    history.push({
      type: 'timer.fired', at, actor: `timer:${timer.timer}`, timer: timer.timer, timerId: timer.id,
      event: timer.event.type, dueAt: iso(timer.dueAt), latenessMs: Math.max(0, env.now - timer.dueAt),
    });
    if (timer.target) return delayedSendFired(env, run, timer, history);
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
  const before = { history: history.length, timers: { ...run.timers }, tasks: { ...run.tasks } };
  try {
    const snapshot = env.cached ?? restoreSnapshot(env.machine, prev.snapshot);
    const stepped = atTime(env.machine, env.now, () =>
      macrosteps(env, prev.parentRunId !== null, (scope) => env.machine.transition(snapshot, event as never, scope) as AnyMachineSnapshot));
    // A transition that re-enters its own state without changing the context leaves the snapshot as it
    // was, yet it was taken: ask the machine as well.
    const accepted = stepped.next !== snapshot || snapshot.can(event as never);
    if (!accepted && input.kind === 'event') return refused(run, prev);
    return finish(env, run, snapshot, stepped, history, completion ?? null, accepted);
  } catch (err) {
    // Whatever the workflow's own code threw, or an action the engine cannot make durable.
    if (input.kind === 'event') throw workflowError(`the workflow failed while applying ${input.event.type}: ${messageOf(err)}`, err);
    history.length = before.history;
    const what = input.kind === 'timer' ? `timer ${input.timerId}` : `the result of task ${input.taskId}`;
    return failRun(env, { ...run, timers: before.timers, tasks: before.tasks }, history, `the workflow failed while applying ${what}: ${messageOf(err)}`);
  }
}

/**
 * End a run `failed` after its workflow threw on a timer or task result: nobody is there to answer, so
 * the run stops rather than wait on a step that can never be taken; its timers and tasks are withdrawn.
 */
function failRun(env: StepEnv, run: StoredRun, history: HistoryDraft[], message: string): StepOutcome {
  const error = { code: ErrorCode.WORKFLOW_ERROR, message };
  const failed: StoredRun = { ...run, tasks: {}, timers: {}, humanTasks: {}, status: 'failed', error, endedAt: env.now, updatedAt: env.now, nextEvents: [], seq: run.seq + 1 };
  const outcome: StepOutcome = {
    accepted: true, run: failed, history, outbox: [], droppedTasks: [], statusChanged: { from: run.status, to: 'failed' },
    openedHumanTasks: [], closedHumanTasks: Object.values(run.humanTasks).map((task) => ({ task, completion: null, at: env.now })),
  };
  withdrawAll(run, outcome, env.now, env.actor);
  history.push({ type: 'run.failed', at: iso(env.now), actor: env.actor, reason: message, error });
  return outcome;
}

/** A delayed event for another run came due: it leaves through the outbox; this run's state stays. */
function delayedSendFired(env: StepEnv, run: StoredRun, timer: StoredTimer, history: HistoryDraft[]): StepOutcome {
  run.seq += 1;
  run.updatedAt = env.now;
  const outcome: StepOutcome = { accepted: true, run, history, outbox: [], droppedTasks: [], statusChanged: null, openedHumanTasks: [], closedHumanTasks: [] };
  sendToRun(env, run, outcome, timer.target!, timer.event as JsonObject & { type: string }, `t${timer.id}`);
  return outcome;
}

/** An event for another run: an outbox entry with an idempotency key the step's seq makes unique. */
function sendToRun(env: StepEnv, run: StoredRun, outcome: StepOutcome, to: string, event: JsonObject & { type: string }, tag: string): void {
  const { $at: _at, ...clean } = event;
  outcome.outbox.push({ op: 'send', to, from: run.id, event: clean, key: `${run.id}:${run.seq}:${tag}` });
  const { type, ...payload } = clean;
  outcome.history.push({ type: 'event.sent', at: iso(env.now), actor: env.actor, to, event: type, payload });
}

/** Cancel a running run: withdraw every task and timer. */
export function stepCancel(env: Omit<StepEnv, 'machine' | 'isTask' | 'isExternal'>, prev: StoredRun, reason: string | null): StepOutcome {
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
  outcome.outbox.push({ op: 'remove', queue: task.external ? 'external' : 'tasks', jobId: task.id });
  outcome.outbox.push({ op: 'cancelTask', taskId: task.id });
  outcome.droppedTasks.push(task.id);
  outcome.history.push({ type: 'task.withdrawn', at, actor, task: task.name, taskId: task.id });
}

const ENGINE_HISTORY_TYPE = /^(run|task|timer|state|event|human|xstate|workflow)\./;

/** Where a `sendTo` goes: this run itself, its parent run, or the run of a `runRef`. */
function sendTarget(action: StepAction, run: StoredRun): 'self' | string {
  const to = (action.params as { to?: unknown } | undefined)?.to;
  const self = action.info?.self as (AnyActorRef & { _parent?: AnyActorRef }) | undefined;
  if (to !== undefined && to === self) return 'self';
  if (to !== undefined && self?._parent !== undefined && to === self._parent && run.parentRunId) return run.parentRunId;
  const runId = runIdOfRef(to);
  if (runId !== null) return runId;
  const name = (to as { id?: unknown } | null)?.id;
  throw new Error(`sendTo names ${name === undefined ? 'an actor' : `"${String(name)}"`}, which is neither this run, its parent run nor a runRef: the engine cannot deliver it`);
}

/** What `finish` builds while it turns one step's actions into durable effects. */
interface Effects {
  env: StepEnv;
  run: StoredRun;
  /** The seq the step commits as. */
  seq: number;
  at: string;
  outcome: StepOutcome;
  history: HistoryDraft[];
  timerIndex: number;
  sendIndex: number;
}

type ActivePaths = ReturnType<typeof activePaths>;

/** Turn a step XState took into the run's new record and the durable effects its actions imply. */
function finish(
  env: StepEnv,
  run: StoredRun,
  before: AnyMachineSnapshot | null,
  stepped: Stepped,
  history: HistoryDraft[],
  completion: HumanCompletion | null,
  accepted: boolean,
): StepOutcome {
  const { next, actions } = stepped;
  const outcome: StepOutcome = {
    accepted, run, history, outbox: [], droppedTasks: [], statusChanged: null, openedHumanTasks: [], closedHumanTasks: [],
  };
  const fx: Effects = { env, run, seq: run.seq + 1, at: iso(env.now), outcome, history, timerIndex: 0, sendIndex: 0 };
  const prevStatus = run.status;
  for (const e of stepped.selfEvents) {
    const { type, $at: _at, ...payload } = e;
    history.push({ type: 'event.received', at: fx.at, actor: `workflow:${run.workflow}`, event: type, payload, self: true });
  }
  // States entered: what is active now and was not before.
  const beforePaths: ActivePaths = before ? activePaths(before) : new Map();
  const afterPaths = activePaths(next);
  for (const path of afterPaths.keys()) {
    if (!beforePaths.has(path)) history.push({ type: 'state.entered', at: fx.at, actor: env.actor, state: path });
  }
  for (const action of actions) applyAction(fx, action);
  settleHumanTasks(fx, next, actions, beforePaths, afterPaths, completion);
  run.snapshot = env.machine.getPersistedSnapshot(next);
  outcome.machineSnapshot = next;
  run.nextEvents = nextEventsOf(next);
  run.updatedAt = env.now;
  run.seq = fx.seq;
  if (next.status === 'done' || next.status === 'error') endRun(fx, next);
  if (run.status !== prevStatus || before === null) outcome.statusChanged = { from: before === null ? null : prevStatus, to: run.status };
  return outcome;
}

/** One action of the step made durable: a timer, a send, a task, a history entry. */
function applyAction(fx: Effects, action: StepAction): void {
  const params = (action.params ?? {}) as Record<string, unknown>;
  switch (action.type) {
    case 'xstate.raise':
      // Without a delay XState took the event inside the macrostep already.
      if (typeof params.delay === 'number') scheduleTimer(fx, params.event as JsonObject & { type: string }, params.delay, params.id, null);
      return;
    case 'xstate.sendTo': {
      const target = sendTarget(action, fx.run);
      const event = params.event as JsonObject & { type: string };
      if (typeof params.delay === 'number') scheduleTimer(fx, event, params.delay, params.id, target === 'self' ? null : target);
      else if (target !== 'self') sendToRun(fx.env, { ...fx.run, seq: fx.seq }, fx.outcome, target, event, `s${fx.sendIndex++}`);
      return;
    }
    case 'xstate.cancel':
      return cancelTimer(fx, String(params.sendId));
    case 'xstate.spawnChild':
      return spawnTask(fx, params);
    case 'xstate.stopChild':
      return stopTasks(fx, params);
    case 'xstate.emit': {
      const { type, ...fields } = params.event as { type: string };
      const actor = `workflow:${fx.run.workflow}`;
      // A dotted type of the workflow's own is a history entry of that type; any other (an engine type
      // or an undotted name) is recorded as what it is, an emitted event.
      if (typeof type === 'string' && type.includes('.') && !ENGINE_HISTORY_TYPE.test(type)) fx.history.push({ ...fields, type, at: fx.at, actor });
      else fx.history.push({ type: 'workflow.emitted', at: fx.at, actor, emitted: { ...fields, type } });
      return;
    }
    case 'xstate.log':
      fx.history.push({ type: 'workflow.logged', at: fx.at, actor: `workflow:${fx.run.workflow}`, label: params.label ?? null, value: params.value ?? null });
      return;
    default:
      if (action.type === HUMAN_ENTERED && typeof action.exec === 'function' && humanEntryPath.has(action.exec)) return;
      // Never drop an action: what the engine does not know how to make durable fails the step.
      throw new Error(`the action ${action.type} runs code outside the statechart, which the engine cannot make durable`);
  }
}

/** A delayed event: a timer job, for this run or (`target`) another run. */
function scheduleTimer(fx: Effects, event: JsonObject & { type: string }, delay: number, sendIdParam: unknown, target: string | null): void {
  const { env, run, outcome } = fx;
  // XState's scheduler keeps one handle per send id: a new event under an id makes the one before it
  // uncancellable (it still fires); an event sent without id gets a random one nobody can cancel.
  const sendId = sendIdParam === undefined ? null : String(sendIdParam);
  if (sendId !== null) {
    for (const t of Object.values(run.timers)) if (t.sendId === sendId && t.cancellable !== false) run.timers[t.id] = { ...t, cancellable: false };
  }
  const id = `${sendId ?? event.type}@${fx.seq}.${fx.timerIndex++}`;
  const timer: StoredTimer = {
    id, sendId, timer: timerName(sendId ?? event.type), event, dueAt: env.now + Math.max(0, delay), cancellable: sendId !== null,
    ...(target === null ? {} : { target }),
  };
  run.timers[id] = timer;
  outcome.outbox.push({
    op: 'add', queue: 'timers', name: timer.timer, jobId: timerJobId(run.id, id),
    data: { runId: run.id, timerId: id, dueAt: timer.dueAt }, dueAt: timer.dueAt,
  });
  fx.history.push({ type: 'timer.scheduled', at: fx.at, actor: env.actor, timer: timer.timer, timerId: id, event: timer.event.type, dueAt: iso(timer.dueAt), ...(target === null ? {} : { to: target }) });
}

/** One handle per send id, as XState's scheduler: at most one event is withdrawn. */
function cancelTimer(fx: Effects, sendId: string): void {
  const { run } = fx;
  const timer = Object.values(run.timers).find((t) => t.sendId === sendId && t.cancellable !== false);
  if (!timer) return;
  delete run.timers[timer.id];
  fx.outcome.outbox.push({ op: 'remove', queue: 'timers', jobId: timerJobId(run.id, timer.id) });
  fx.history.push({ type: 'timer.cancelled', at: fx.at, actor: fx.env.actor, timer: timer.timer, timerId: timer.id, event: timer.event.type, dueAt: iso(timer.dueAt) });
}

/** An invoked task: a job for the in-process queue or for external workers. */
function spawnTask(fx: Effects, params: Record<string, unknown>): void {
  const { env, run, seq } = fx;
  const src = params.src;
  const invokeId = String(params.id);
  if (typeof src !== 'string' || !env.isTask(src)) {
    throw new Error(`invoke ${invokeId} names ${String(src)}, which is not a registered task`);
  }
  const id = newTaskId(run.id, seq, invokeId);
  const task: StoredTask = {
    id, name: src, invokeId, status: 'queued', attempts: 0, scheduledAt: env.now, idempotencyKey: `${run.id}:${src}:${seq}:${invokeId}`,
  };
  const external = env.isExternal(src);
  if (external) task.external = true;
  run.tasks[id] = task;
  const data: JsonObject = { runId: run.id, taskId: id, task: src, input: (params.input ?? {}) as JsonObject, idempotencyKey: task.idempotencyKey };
  // An external task's record names the workflow version, whose declaration holds its schemas.
  if (external) Object.assign(data, { workflow: run.workflow, version: run.version });
  fx.outcome.outbox.push({ op: 'add', queue: external ? 'external' : 'tasks', name: src, jobId: id, data });
  fx.history.push({ type: 'task.scheduled', at: fx.at, actor: env.actor, task: src, taskId: id, input: params.input ?? {} });
}

/** A stopped invocation: its tasks are withdrawn. XState hands the child actor ref itself as the params. */
function stopTasks(fx: Effects, params: Record<string, unknown>): void {
  const ref = (params.actorRef ?? params) as { id?: string } | string | undefined;
  const invokeId = typeof ref === 'string' ? ref : ref?.id;
  for (const task of Object.values(fx.run.tasks)) {
    if (task.invokeId !== invokeId) continue;
    delete fx.run.tasks[task.id];
    withdrawTask(task, fx.outcome, fx.at, fx.env.actor);
  }
}

/**
 * Human tasks: open one for each state with meta.humanTask entered in this step and still active (a
 * state re-entered gets a new one), and withdraw the ones whose state was left or re-entered.
 */
function settleHumanTasks(fx: Effects, next: AnyMachineSnapshot, actions: StepAction[], beforePaths: ActivePaths, afterPaths: ActivePaths, completion: HumanCompletion | null): void {
  const { env, run, outcome, history, at } = fx;
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
      id: newHumanTaskId(run.id, fx.seq, humanIndex++),
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
}

/** The machine reached a final state (done) or an unhandled error (failed): everything it awaited is withdrawn. */
function endRun(fx: Effects, next: AnyMachineSnapshot): void {
  const { env, run, outcome, history, at } = fx;
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
