// Owns what moves an existing run other than a task: an outside event, a timer firing, an event one
// run sends another, a cancel.
import { ErrorCode, EventNotAcceptedError, ServicechartError, validationError } from '../errors.ts';
import { parseRunId, type RunId } from '../ids.ts';
import { iso } from '../clock.ts';
import { stepCancel, stepEvent } from '../step.ts';
import type { HistoryDraft, JsonObject, RunView } from '../types.ts';
import { checkContextSize, envFor, type RunResult, type RunStoreContext, type SendEventOptions } from './context.ts';
import { mutate } from './mutate.ts';

/** The event types a run takes from outside (engine.sendEvent checks the same). */
export const EVENT_TYPE = /^[A-Za-z][A-Za-z0-9_.:-]{0,127}$/;
/** Answers of a target run that mean a run-to-run event goes nowhere (not a fault to retry). */
const UNDELIVERABLE = new Set<string>([ErrorCode.EVENT_NOT_ACCEPTED, ErrorCode.RUN_ENDED, ErrorCode.NOT_FOUND, ErrorCode.VALIDATION_FAILED, ErrorCode.WORKFLOW_ERROR]);

/** A fresh registry snapshot for an event the run's workflow re-reads the registry on, or null. */
async function registryForEvent(ctx: RunStoreContext, runId: RunId, type: string): Promise<JsonObject | null> {
  if (!ctx.deps.registry.registryEvents().has(type)) return null;
  const stored = (await ctx.deps.storage.read(runId))?.run;
  if (!stored?.refs) return null;
  const wf = await ctx.deps.resolveWorkflow(stored.workflow, stored.version);
  if (!wf?.registry?.events?.includes(type)) return null;
  return (await ctx.deps.registryFor(wf, stored.refs, stored.input))?.snapshot ?? null;
}

export async function sendEvent(ctx: RunStoreContext, runId: RunId, outside: JsonObject & { type: string }, opts: SendEventOptions = {}): Promise<RunResult> {
  const idem = opts.idempotencyKey ? { key: opts.idempotencyKey } : null;
  // Only the engine hands a registry snapshot: one in the sender's payload is dropped.
  const { $registry: _forged, ...clean } = outside;
  const snapshot = await registryForEvent(ctx, runId, clean.type);
  const event: JsonObject & { type: string } = snapshot ? { ...clean, $registry: snapshot } : clean;
  const res = await mutate(ctx, runId, (run, wf) => {
    if (run.status !== 'running') throw new ServicechartError(ErrorCode.RUN_ENDED, `run ${runId} has ended (${run.status})`);
    if (opts.completion && !Object.hasOwn(run.humanTasks, opts.completion.id)) {
      throw new ServicechartError(ErrorCode.CONFLICT, `human task ${opts.completion.id} is not open`);
    }
    const type = event.type;
    const validate = wf.validateEvent.get(type);
    if (validate && !validate(event)) {
      throw validationError(`the ${type} payload is invalid`, (validate.errors ?? []).map((e) => ({ path: `/body${e.instancePath}`, message: e.message ?? 'invalid' })));
    }
    const outcome = stepEvent(envFor(ctx, wf, opts.actor ?? 'api', run), run, { kind: 'event', event }, opts.completion);
    if (!outcome.accepted) throw new EventNotAcceptedError(type, run.nextEvents);
    checkContextSize(ctx, outcome);
    return outcome;
  }, idem);
  if (res.outcome) ctx.deps.metrics.eventApplied(res.outcome.run.workflow, 'api');
  // The view is built when read (a run-to-run delivery never reads it).
  return { get run() { return res.run; }, duplicate: res.duplicate };
}

/** A timer's job fired. Stale copies (the timer is gone) are dropped. */
export async function fireTimer(ctx: RunStoreContext, runId: RunId, timerId: string): Promise<{ applied: boolean; latenessMs?: number }> {
  let lateness: number | undefined;
  const res = await mutate(ctx, runId, (run, wf) => {
    const timer = run.timers[timerId];
    if (run.status !== 'running' || !timer) return null;
    lateness = Math.max(0, ctx.deps.clock.now() - timer.dueAt);
    return stepEvent(envFor(ctx, wf, `timer:${timer.timer}`, run), run, { kind: 'timer', timerId });
  }, null);
  if (!res.outcome) return { applied: false };
  ctx.deps.metrics.timerFired(res.outcome.run.workflow, lateness ?? 0);
  return { applied: true, latenessMs: lateness };
}

/**
 * Deliver an event one run sent another (`sendTo` a runRef, `sendParent`), once: a second delivery
 * (the sweeper's, after a fault) meets the idempotency key. As in XState, an event the target does not take (ended, refused, unknown run)
 * is not an error for the sender; its history says why the event went nowhere.
 */
export async function deliverSend(ctx: RunStoreContext, send: { to: string; from: string; event: JsonObject & { type: string }; key: string }): Promise<{ applied: boolean; reason?: string }> {
  const from = send.from as RunId;
  let reason: string;
  const target = parseRunId(send.to);
  if (!target) reason = ErrorCode.NOT_FOUND;
  else if (typeof send.event.type !== 'string' || !EVENT_TYPE.test(send.event.type) || send.event.type.startsWith('xstate.')) reason = 'BAD_EVENT_TYPE';
  else {
    try {
      await sendEvent(ctx, target, send.event, { idempotencyKey: send.key, actor: `run:${from}` });
      return { applied: true };
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (!code || !UNDELIVERABLE.has(code)) throw err;
      reason = code;
    }
  }
  const entry: HistoryDraft = { type: 'event.undelivered', at: iso(ctx.deps.clock.now()), actor: 'engine', to: send.to, event: send.event.type, reason };
  await ctx.deps.storage.appendHistory(from, [entry]);
  return { applied: false, reason };
}

export async function cancelRun(ctx: RunStoreContext, runId: RunId, opts: { reason?: string | null; actor?: string } = {}): Promise<RunView> {
  const res = await mutate(ctx, runId, (run) => {
    if (run.status !== 'running') throw new ServicechartError(ErrorCode.RUN_ENDED, `run ${runId} has ended (${run.status})`);
    return stepCancel({ now: ctx.deps.clock.now(), actor: opts.actor ?? 'api' }, run, opts.reason ?? null);
  }, null);
  return res.run;
}
