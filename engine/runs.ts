// Owns the life of a run in Redis: start, apply events, timer and task results, cancel, read.
// Every write is one commitStep script guarded by the run's sequence number.
import type { AnyStateMachine } from 'xstate';
import type { RedisClient } from './clients.ts';
import type { Clock } from './clock.ts';
import { iso } from './clock.ts';
import { ErrorCode, EventNotAcceptedError, ServicechartError, notFound, validationError } from './errors.ts';
import { newRunId, parseRunId, runIdFromKey, type RunId, type TaskId } from './ids.ts';
import type { Keys } from './keys.ts';
import type { MarkResult, Scripts } from './scripts.ts';
import { stepCancel, stepEvent, stepStart, type HumanCompletion, type StepOutcome, type StepEvent } from './step.ts';
import { outboxPairs, pendingMember, type KpiOp, type Outbox, type OutboxEntry } from './outbox.ts';
import { measureEntries, quantileMeasures } from './kpis.ts';
import type { Registry, RegisteredWorkflow } from './registry.ts';
import type { EngineHistoryDraft, HistoryDraft, JsonObject, Logger, RunView, StoredHumanTask, StoredRun, StoredTask, TaskStatus } from './types.ts';
import type { Metrics } from './metrics.ts';
import type { ErrorData } from './errors.ts';

/** How long a step's caller waits for its outbox to reach the queues before answering anyway. */
const OUTBOX_FLUSH_WAIT_MS = 1500;

export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;
/** The event types a run takes from outside (engine.sendEvent checks the same). */
export const EVENT_TYPE = /^[A-Za-z][A-Za-z0-9_.:-]{0,127}$/;
/** Answers of a target run that mean a run-to-run event goes nowhere (not a fault to retry). */
const UNDELIVERABLE = new Set<string>([ErrorCode.EVENT_NOT_ACCEPTED, ErrorCode.RUN_ENDED, ErrorCode.NOT_FOUND, ErrorCode.VALIDATION_FAILED, ErrorCode.WORKFLOW_ERROR]);
const MAX_COMMIT_ATTEMPTS = 50;

export interface StartRunArgs {
  workflow: string;
  version?: number;
  input?: JsonObject;
  businessKey?: string | null;
  parentRunId?: string | null;
  idempotencyKey?: string;
  actor?: string;
}

export interface SendEventOptions {
  idempotencyKey?: string;
  actor?: string;
  /** Completing a human task: the task must still be open, and it closes in the same step. */
  completion?: HumanCompletion;
}

export interface RunResult {
  run: RunView;
  duplicate: boolean;
}

export interface RunStoreDeps {
  redis: RedisClient;
  keys: Keys;
  scripts: Scripts;
  clock: Clock;
  logger: Logger;
  registry: Registry;
  outbox: Outbox;
  metrics: Metrics;
  resolveWorkflow(name: string, version?: number): Promise<RegisteredWorkflow | undefined>;
  /** The registry snapshot for what a workflow reads (null when it reads nothing): engine/index.ts wires cmdb.ts in. */
  registryFor(wf: RegisteredWorkflow, refs: { services: string[]; cis: string[] } | null, input: JsonObject): Promise<{ snapshot: JsonObject; refs: { services: string[]; cis: string[] } } | null>;
  maxContextBytes: number;
  hooks: { afterCommit?: (runId: string, seq: number) => void };
  /** Settles once the installation's layout is checked (layout.ts); nothing is read or written before. */
  layoutChecked: () => Promise<void>;
}

/** A human task as the API lists it; kept under its own key so it outlives the run's open set. */
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

function humanTaskDoc(run: StoredRun, h: StoredHumanTask, status: HumanTaskDoc['status'], c: HumanCompletion | null, at: number | null): HumanTaskDoc {
  return {
    id: h.id, runId: run.id, workflow: run.workflow, businessKey: run.businessKey, title: h.title, role: h.role, outcomes: h.outcomes, status,
    state: h.stateId, createdAt: iso(h.createdAt), dueAt: h.dueAt === null ? null : iso(h.dueAt),
    completedAt: at === null ? null : iso(at), outcome: c?.outcome ?? null, by: c?.by ?? null, comment: c?.comment ?? null,
  };
}

export function createRunStore(deps: RunStoreDeps) {
  const { redis, keys, scripts, clock, logger, registry, outbox, metrics } = deps;
  // Per-process queue of writes per run: keeps arrival order and spares optimistic retries.
  const lanes = new Map<string, Promise<unknown>>();
  // The live XState snapshot of the last step this process committed per run, keyed by seq: the
  // next step on the same run skips restoring it from JSON. A different seq means someone else
  // moved the run, and the stored record wins.
  const snapshots = new Map<string, { seq: number; run: StoredRun; snapshot: NonNullable<StepOutcome['machineSnapshot']> }>();
  const SNAPSHOT_CACHE = 5000;

  function cachedSnapshot(run: StoredRun) {
    const hit = snapshots.get(run.id);
    return hit && hit.seq === run.seq ? hit.snapshot : undefined;
  }

  function remember(outcome: StepOutcome): void {
    snapshots.delete(outcome.run.id);
    if (!outcome.machineSnapshot || outcome.run.status !== 'running') return;
    snapshots.set(outcome.run.id, { seq: outcome.run.seq, run: outcome.run, snapshot: outcome.machineSnapshot });
    if (snapshots.size > SNAPSHOT_CACHE) snapshots.delete(snapshots.keys().next().value!);
  }

  function inLane<T>(runId: string, fn: () => Promise<T>): Promise<T> {
    const prev = lanes.get(runId) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    lanes.set(runId, tail);
    void tail.then(() => {
      if (lanes.get(runId) === tail) lanes.delete(runId);
    });
    return next;
  }

  async function readStored(runId: RunId): Promise<{ run: StoredRun; live: Record<string, string> } | null> {
    await deps.layoutChecked();
    const all = await redis.hgetall(keys.run(runId));
    if (!all.doc) return null;
    const live: Record<string, string> = {};
    for (const [k, v] of Object.entries(all)) if (k.startsWith('ts:')) live[k.slice(3)] = v;
    return { run: JSON.parse(all.doc) as StoredRun, live };
  }

  function view(run: StoredRun, live: Record<string, string> = {}): RunView {
    const snap = (run.snapshot ?? {}) as { value?: unknown; context?: JsonObject };
    return {
      id: run.id,
      workflow: run.workflow,
      version: run.version,
      status: run.status,
      state: snap.value ?? null,
      context: snap.context ?? {},
      input: run.input,
      businessKey: run.businessKey,
      parentRunId: run.parentRunId,
      createdAt: iso(run.createdAt),
      updatedAt: iso(run.updatedAt),
      endedAt: run.endedAt === null ? null : iso(run.endedAt),
      nextEvents: run.nextEvents,
      tasks: Object.values(run.tasks).map((t) => {
        const l = live[t.id] ? (JSON.parse(live[t.id]) as { status: TaskStatus; attempts: number }) : null;
        return { id: t.id, name: t.name, status: l?.status ?? t.status, attempts: l?.attempts ?? t.attempts };
      }),
      timers: Object.values(run.timers)
        .sort((a, b) => a.dueAt - b.dueAt)
        .map((t) => ({ id: t.id, event: String(t.event.type), timer: t.timer, dueAt: iso(t.dueAt) })),
      humanTasks: Object.values(run.humanTasks).map((h) => ({
        id: h.id, role: h.role, title: h.title, outcomes: h.outcomes, dueAt: h.dueAt === null ? null : iso(h.dueAt),
      })),
      output: run.output,
      error: run.error,
    };
  }

  /** The step's index updates, all in the run's partition: the commit script writes them with the step. */
  function indexOps(outcome: StepOutcome): { add: [string, number, string][]; remove: [string, string][]; docs: [string, string][] } {
    const run = outcome.run;
    const p = keys.partitionOf(run.id);
    const add: [string, number, string][] = [];
    const remove: [string, string][] = [];
    if (outcome.statusChanged) {
      const { from, to } = outcome.statusChanged;
      if (from === null) {
        add.push([keys.runsAll(p), run.createdAt, run.id], [keys.runsByWorkflow(p, run.workflow), run.createdAt, run.id]);
        if (run.businessKey) add.push([keys.runsByBusinessKey(p, run.businessKey), run.createdAt, run.id]);
        if (run.parentRunId) add.push([keys.runsByParent(p, run.parentRunId), run.createdAt, run.id]);
        for (const name of run.refs?.services ?? []) add.push([keys.runsByRef(p, 'service', name), run.createdAt, run.id]);
        for (const name of run.refs?.cis ?? []) add.push([keys.runsByRef(p, 'ci', name), run.createdAt, run.id]);
      } else if (from !== to) {
        remove.push([keys.runsByStatus(p, from), run.id]);
      }
      add.push([keys.runsByStatus(p, to), run.createdAt, run.id]);
      // The archive sweeper finds ended runs by end time, per partition and workflow (engine/archive/sweeper.ts).
      if (to !== 'running') add.push([keys.runsEndedByWorkflow(p, run.workflow), run.endedAt ?? run.updatedAt, run.id], [keys.runsEndedWorkflows(p), 0, run.workflow]);
    }
    const docs: [string, string][] = [];
    for (const h of outcome.openedHumanTasks) {
      add.push([keys.humanTasksOpen(p), h.createdAt, h.id]);
      docs.push([keys.humanTask(h.id), JSON.stringify(humanTaskDoc(run, h, 'open', null, null))]);
    }
    for (const c of outcome.closedHumanTasks) {
      remove.push([keys.humanTasksOpen(p), c.task.id]);
      add.push([keys.humanTasksDone(p), c.at, c.task.id]);
      docs.push([keys.humanTask(c.task.id), JSON.stringify(humanTaskDoc(run, c.task, c.completion ? 'done' : 'withdrawn', c.completion, c.at))]);
    }
    return { add, remove, docs };
  }

  /** Measures the step recorded feed the KPI figures; a cancelled run leaves them all. */
  function kpiOps(outcome: StepOutcome): KpiOp | null {
    const run = outcome.run;
    if (outcome.statusChanged?.to === 'cancelled') return { op: 'kpiDrop', workflow: run.workflow, runId: run.id };
    if (!outcome.history.some((h) => h.type === 'measure.recorded')) return null;
    const quantiles = quantileMeasures(deps.registry.get(run.workflow, run.version)?.kpis);
    const entries = measureEntries(run.id, run.seq, run.createdAt, outcome.history, quantiles);
    return entries.length ? { op: 'kpi', workflow: run.workflow, runId: run.id, entries } : null;
  }

  /**
   * Commit a step: snapshot, history, outbox, outbox marker and index updates in one script; then
   * flush the outbox. Returns null when the run moved on meanwhile (the caller re-reads and retries).
   */
  async function commit(
    outcome: StepOutcome,
    expectedSeq: number | 'new',
    idem: { key: string; value: (run: RunView) => string } | null,
    prevTasks: Record<string, StoredTask>,
  ): Promise<{ ok: true } | { ok: false; reason: 'stale' | 'exists' } | { ok: false; reason: 'duplicate'; stored: string }> {
    await deps.layoutChecked();
    const run = outcome.run;
    const entries: OutboxEntry[] = [...outcome.outbox];
    const kpi = kpiOps(outcome);
    if (kpi) entries.push(kpi);
    const pairs = outboxPairs(run.seq, entries);
    const idx = indexOps(outcome);
    const history = outcome.history.map((h) => JSON.stringify(h));
    // `ts:<taskId>` beside the record says the run awaits that task: workers check it before running.
    const dropped = new Set(outcome.droppedTasks);
    for (const id of Object.keys(prevTasks)) if (!run.tasks[id]) dropped.add(id);
    const awaitTasks: [string, string][] = Object.keys(run.tasks)
      .filter((id) => !prevTasks[id])
      .map((id) => [id, JSON.stringify({ status: 'queued', attempts: 0 })]);
    const result = await scripts.commitStep({
      run: keys.run(run.id), history: keys.history(run.id), outbox: keys.outbox(run.id), idem: idem ? idem.key : keys.noIdem(run.id),
      outboxPending: keys.outboxPending(keys.partitionOf(run.id)),
    }, {
      expectedSeq,
      newSeq: run.seq,
      doc: JSON.stringify(run),
      idemValue: idem ? idem.value(view(run)) : '',
      idemTtlSeconds: IDEMPOTENCY_TTL_SECONDS,
      history,
      outbox: pairs,
      dropTaskStatus: [...dropped],
      awaitTasks,
      // The sweeper finds the step by its marker if this process dies before the outbox is flushed.
      marker: pairs.length ? [pendingMember(run.id, run.seq), clock.now()] : null,
      indexAdd: idx.add,
      indexRemove: idx.remove,
      docs: idx.docs,
    });
    if (!result.ok) {
      return result.reason === 'duplicate' ? { ok: false, reason: 'duplicate', stored: result.stored } : { ok: false, reason: result.reason };
    }
    if (outcome.statusChanged && outcome.statusChanged.to !== 'running') {
      metrics.runEnded(run.workflow, outcome.statusChanged.to, (run.endedAt ?? run.updatedAt) - run.createdAt);
    }
    deps.hooks.afterCommit?.(run.id, run.seq);
    if (pairs.length) {
      // The step is committed: a flush that fails is finished by the sweeper, and one that waits on
      // the queue connection through a failover goes on in the background instead of holding the
      // caller's answer (the API answers within seconds, never after the outage).
      const flushed = outbox.flush(run.id, run.seq, pairs).then(
        () => true,
        (err) => {
          logger.warn({ err, runId: run.id }, 'outbox flush failed; the sweeper will retry it');
          return true;
        },
      );
      let timer: NodeJS.Timeout | undefined;
      const waited = await Promise.race([flushed, new Promise<false>((r) => (timer = setTimeout(() => r(false), OUTBOX_FLUSH_WAIT_MS)))]);
      clearTimeout(timer);
      if (!waited) logger.warn({ runId: run.id }, `outbox flush still waiting after ${OUTBOX_FLUSH_WAIT_MS} ms (Redis failing over?); it goes on in the background`);
    }
    return { ok: true };
  }

  /** Outside input must not grow a run's context past the limit: refuse before anything is stored. */
  function checkContextSize(outcome: StepOutcome): void {
    const context = (outcome.run.snapshot as { context?: unknown } | null)?.context;
    const size = Buffer.byteLength(JSON.stringify(context ?? {}));
    if (size > deps.maxContextBytes) {
      throw validationError(`the run's context would be ${size} bytes, over the ${deps.maxContextBytes}-byte limit`, [{ path: '/context', message: `at most ${deps.maxContextBytes} bytes once serialised` }]);
    }
  }

  function envFor(wf: RegisteredWorkflow, actor: string, run?: StoredRun) {
    return {
      machine: wf.machine as AnyStateMachine, now: clock.now(), actor,
      // A JSON workflow's task names were checked when it was registered (against the live catalog too).
      isTask: wf.definition !== undefined || wf.tasksChecked ? () => true : registry.isTask,
      isExternal: (src: string) => registry.isExternal(wf, src),
      cached: run ? cachedSnapshot(run) : undefined,
    };
  }

  async function workflowOf(run: StoredRun): Promise<RegisteredWorkflow> {
    const wf = await deps.resolveWorkflow(run.workflow, run.version);
    if (!wf) throw new ServicechartError(ErrorCode.INTERNAL, `workflow ${run.workflow}@${run.version} is not registered in this process`);
    return wf;
  }

  async function startRun(args: StartRunArgs): Promise<RunResult> {
    const wf = await deps.resolveWorkflow(args.workflow, args.version);
    if (!wf) throw notFound(`workflow ${args.workflow}${args.version ? `@${args.version}` : ''}`);
    const input = args.input ?? {};
    if (wf.validateInput && !wf.validateInput(input)) {
      throw validationError(`input does not match the input schema of ${wf.name}`, (wf.validateInput.errors ?? []).map((e) => ({
        path: `/input${e.instancePath}`, message: e.message ?? 'invalid',
      })));
    }
    const now = clock.now();
    const runId = args.idempotencyKey ? runIdFromKey('start', args.idempotencyKey) : newRunId(now);
    if (args.idempotencyKey) {
      const existing = await readStored(runId);
      if (existing) return { run: view(existing.run, existing.live), duplicate: true };
    }
    const actor = args.actor ?? 'api';
    const registry = await deps.registryFor(wf, null, input);
    const outcome = stepStart(envFor(wf, actor), {
      runId, workflow: wf.name, version: wf.version, input, businessKey: args.businessKey ?? null,
      parentRunId: (args.parentRunId as RunId | null | undefined) ?? null, registry,
    });
    checkContextSize(outcome);
    const res = await commit(outcome, 'new', null, {});
    if (!res.ok) {
      const existing = await readStored(runId);
      if (existing) return { run: view(existing.run, existing.live), duplicate: true };
      throw new ServicechartError(ErrorCode.CONFLICT, 'the run could not be created');
    }
    remember(outcome);
    metrics.runStarted(wf.name);
    return { run: view(outcome.run), duplicate: false };
  }

  /** Read, step and commit, retrying when another writer moved the run on first. */
  async function mutate(
    runId: RunId,
    step: (run: StoredRun, wf: RegisteredWorkflow) => StepOutcome | null,
    idem: { key: string } | null,
  ): Promise<RunResult & { outcome: StepOutcome | null }> {
    return inLane(runId, async () => {
      for (let attempt = 0; attempt < MAX_COMMIT_ATTEMPTS; attempt++) {
        if (idem) {
          const prior = await redis.get(idem.key);
          if (prior) return { run: JSON.parse(prior) as RunView, duplicate: true, outcome: null };
        }
        // On the first attempt, the record this process committed last spares a read. The commit's
        // seq guard makes a stale one harmless: the commit fails and the loop reads afresh. A
        // refusal computed from it is not trusted either.
        const guess = attempt === 0 ? snapshots.get(runId)?.run : undefined;
        const stored = guess ? { run: guess, live: {} } : await readStored(runId);
        if (!stored) throw notFound(`run ${runId}`);
        const started = process.hrtime.bigint();
        let outcome: StepOutcome | null;
        try {
          outcome = step(stored.run, await workflowOf(stored.run));
        } catch (err) {
          if (guess) continue;
          throw err;
        }
        if (!outcome && guess) continue;
        if (!outcome) return { run: view(stored.run, stored.live), duplicate: false, outcome: null };
        const res = await commit(outcome, stored.run.seq, idem ? { key: idem.key, value: (v) => JSON.stringify(v) } : null, stored.run.tasks);
        if (res.ok) {
          remember(outcome);
          metrics.stepApplied(stored.run.workflow, Number(process.hrtime.bigint() - started) / 1e9);
          return { get run() { return view(outcome.run); }, duplicate: false, outcome };
        }
        snapshots.delete(runId);
        if (res.reason === 'duplicate') return { run: JSON.parse(res.stored) as RunView, duplicate: true, outcome: null };
        await new Promise((r) => setTimeout(r, Math.min(50, attempt * 2)));
      }
      throw new ServicechartError(ErrorCode.CONFLICT, `run ${runId} is too busy; try again`);
    });
  }

  /** A fresh registry snapshot for an event the run's workflow re-reads the registry on, or null. */
  async function registryForEvent(runId: RunId, type: string): Promise<JsonObject | null> {
    if (!registry.registryEvents().has(type)) return null;
    const stored = await getStored(runId);
    if (!stored?.refs) return null;
    const wf = await deps.resolveWorkflow(stored.workflow, stored.version);
    if (!wf?.registry?.events?.includes(type)) return null;
    return (await deps.registryFor(wf, stored.refs, stored.input))?.snapshot ?? null;
  }

  async function sendEvent(runId: RunId, outside: JsonObject & { type: string }, opts: SendEventOptions = {}): Promise<RunResult> {
    const idem = opts.idempotencyKey ? { key: keys.eventIdem(runId, 'events', opts.idempotencyKey) } : null;
    // Only the engine hands a registry snapshot: one in the sender's payload is dropped.
    const { $registry: _forged, ...clean } = outside;
    const snapshot = await registryForEvent(runId, clean.type);
    const event: JsonObject & { type: string } = snapshot ? { ...clean, $registry: snapshot } : clean;
    const res = await mutate(runId, (run, wf) => {
      if (run.status !== 'running') throw new ServicechartError(ErrorCode.RUN_ENDED, `run ${runId} has ended (${run.status})`);
      if (opts.completion && !Object.hasOwn(run.humanTasks, opts.completion.id)) {
        throw new ServicechartError(ErrorCode.CONFLICT, `human task ${opts.completion.id} is not open`);
      }
      const type = event.type;
      const validate = wf.validateEvent.get(type);
      if (validate && !validate(event)) {
        throw validationError(`the ${type} payload is invalid`, (validate.errors ?? []).map((e) => ({ path: `/body${e.instancePath}`, message: e.message ?? 'invalid' })));
      }
      const outcome = stepEvent(envFor(wf, opts.actor ?? 'api', run), run, { kind: 'event', event }, opts.completion);
      if (!outcome.accepted) throw new EventNotAcceptedError(type, run.nextEvents);
      checkContextSize(outcome);
      return outcome;
    }, idem);
    if (!res.duplicate) metrics.eventApplied(res.run.workflow, 'api');
    return { run: res.run, duplicate: res.duplicate };
  }

  /** A timer's job fired. Stale copies (the timer is gone) are dropped. */
  async function fireTimer(runId: RunId, timerId: string): Promise<{ applied: boolean; latenessMs?: number }> {
    let lateness: number | undefined;
    const res = await mutate(runId, (run, wf) => {
      const timer = run.timers[timerId];
      if (run.status !== 'running' || !timer) return null;
      lateness = Math.max(0, clock.now() - timer.dueAt);
      return stepEvent(envFor(wf, `timer:${timer.timer}`, run), run, { kind: 'timer', timerId });
    }, null);
    if (!res.outcome) return { applied: false };
    metrics.timerFired(res.run.workflow, lateness ?? 0);
    return { applied: true, latenessMs: lateness };
  }

  /** A task finished (or gave up). A result for a task the run no longer waits for is recorded, never applied. */
  async function applyTaskResult(
    runId: RunId,
    taskId: TaskId,
    result: { ok: true; output: unknown } | { ok: false; error: ErrorData },
    taskName: string,
    started?: { at: number; attempt: number },
  ): Promise<{ applied: boolean }> {
    const res = await mutate(runId, (run, wf) => {
      if (run.status !== 'running' || !run.tasks[taskId]) return null;
      const input: StepEvent = { kind: 'task', taskId, result, started };
      return stepEvent(envFor(wf, `task:${taskName}`, run), run, input);
    }, null);
    if (res.outcome) return { applied: true };
    const at = iso(clock.now());
    const entry: EngineHistoryDraft = result.ok
      ? { type: 'task.completed', at, actor: `task:${taskName}`, task: taskName, taskId, output: result.output, ignored: true, reason: 'the run no longer waits for this task' }
      : { type: 'task.failed', at, actor: `task:${taskName}`, task: taskName, taskId, error: result.error, ignored: true, reason: 'the run no longer waits for this task' };
    await deps.layoutChecked();
    await scripts.appendHistory([keys.run(runId), keys.history(runId)], [JSON.stringify(entry)]);
    return { applied: false };
  }

  /**
   * Deliver an event one run sent another (`sendTo` a runRef, `sendParent`), once: a second delivery
   * (the sweeper's, after a fault) meets the idempotency key. As in XState, an event the target does not take (ended, refused, unknown run)
   * is not an error for the sender; its history says why the event went nowhere.
   */
  async function deliverSend(send: { to: string; from: string; event: JsonObject & { type: string }; key: string }): Promise<{ applied: boolean; reason?: string }> {
    const from = send.from as RunId;
    let reason: string;
    const target = parseRunId(send.to);
    if (!target) reason = ErrorCode.NOT_FOUND;
    else if (typeof send.event.type !== 'string' || !EVENT_TYPE.test(send.event.type) || send.event.type.startsWith('xstate.')) reason = 'BAD_EVENT_TYPE';
    else {
      try {
        await sendEvent(target, send.event, { idempotencyKey: send.key, actor: `run:${from}` });
        return { applied: true };
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (!code || !UNDELIVERABLE.has(code)) throw err;
        reason = code;
      }
    }
    const entry: EngineHistoryDraft = { type: 'event.undelivered', at: iso(clock.now()), actor: 'engine', to: send.to, event: send.event.type, reason };
    await scripts.appendHistory([keys.run(from), keys.history(from)], [JSON.stringify(entry)]);
    return { applied: false, reason };
  }

  async function cancelRun(runId: RunId, opts: { reason?: string | null; actor?: string } = {}): Promise<RunView> {
    const res = await mutate(runId, (run) => {
      if (run.status !== 'running') throw new ServicechartError(ErrorCode.RUN_ENDED, `run ${runId} has ended (${run.status})`);
      return stepCancel({ now: clock.now(), actor: opts.actor ?? 'api' }, run, opts.reason ?? null);
    }, null);
    return res.run;
  }

  /**
   * Record a task attempt's status (and its history entry) while the run still awaits the task.
   * Answers `ok: false` for a stale job (the run no longer awaits the task).
   */
  async function markTask(runId: RunId, taskId: string, status: TaskStatus, attempts: number, entry: EngineHistoryDraft | null): Promise<MarkResult> {
    await deps.layoutChecked();
    return scripts.markTask([keys.run(runId), keys.history(runId)], taskId, JSON.stringify({ status, attempts }), entry ? JSON.stringify(entry) : '');
  }

  async function getRun(runId: RunId): Promise<RunView> {
    const stored = await readStored(runId);
    if (!stored) throw notFound(`run ${runId}`);
    return view(stored.run, stored.live);
  }

  async function getStored(runId: RunId): Promise<StoredRun | null> {
    return (await readStored(runId))?.run ?? null;
  }

  return { startRun, sendEvent, deliverSend, fireTimer, applyTaskResult, cancelRun, getRun, getStored, markTask, view, readStored };
}

export type RunStore = ReturnType<typeof createRunStore>;
