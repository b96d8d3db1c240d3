// The named actions of the delivery machine: context updates and the events and measures they emit.
import { assign, emit, enqueueActions } from 'xstate';
import type { Args, Enqueue, DeliveryContext, Incident, Outcome } from './types.ts';
import { iso, nowOf, toMs } from './time.ts';
import { measure } from './kpis.ts';

/**
 * The actions, for `setup({ actions })`. Typed loosely: parameterized actions do not fit setup()'s
 * inference, and the engine checks every action name when the workflow is registered.
 */
export const actions = {
  recordDeployed: assign(({ context, event }: Args) => {
    const o = event.output as { env: string; version: string; wave?: number | null };
    return { deployed: { ...context.deployed, [o.env]: { version: o.version, wave: o.wave ?? null } } };
  }),
  addFreeze: assign(({ context, event }: Args) => ({
    freezes: [...context.freezes, { from: toMs(event.from) ?? 0, to: toMs(event.to) ?? 0 }],
  })),
  emitFreeze: emit(({ event }: Args) => ({ type: 'delivery.freeze_recorded', from: event.from, to: event.to })),
  markFailure: assign(({ context, event }: Args, params: { reason: string }) => ({
    failureDetectedAt: context.failureDetectedAt ?? nowOf(event),
    failureReason: context.failureReason ?? params.reason,
  })),
  setOutcome: assign((_: Args, params: { outcome: Outcome }) => ({ outcome: params.outcome })),
  setCancel: assign(({ event }: Args, params: { outcome: Outcome; reason?: string }) => ({
    outcome: params.outcome, cancelReason: params.reason ?? (typeof event.reason === 'string' ? event.reason : typeof event.comment === 'string' ? event.comment : null),
  })),

  recordDecision: assign(({ event }: Args) => ({
    goDecision: { decision: event.type === 'GO' ? 'GO' : 'NO_GO', by: String(event.by), comment: typeof event.comment === 'string' ? event.comment : null, at: nowOf(event) } as DeliveryContext['goDecision'],
  })),
  adoptChange: assign(({ context, event }: Args) => ({
    changeRunId: context.changeRunId ?? (typeof event.childRunId === 'string' ? event.childRunId : null),
    changeWindow: event.type === 'CHANGE_AUTHORIZED' ? { plannedStart: (event.plannedStart as string) ?? null, plannedEnd: (event.plannedEnd as string) ?? null } : context.changeWindow,
  })),
  recordPause: assign(({ event }: Args) => ({ pausedBy: typeof event.by === 'string' ? event.by : null })),
  autoPause: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }) => {
    enqueue.assign({ pausedBy: 'health_check', lastHealth: event.output ?? (event as { error?: unknown }).error ?? null });
    enqueue.emit({ type: 'delivery.paused', by: 'health_check', reason: 'health_not_evaluated', weight: context.weight });
  }),
  extendWindow: assign(({ context, event }: Args) => ({
    window: context.window ? { ...context.window, end: toMs(event.end) ?? context.window.end } : { start: nowOf(event), end: toMs(event.end) ?? nowOf(event) },
  })),
  keepHealth: assign({ lastHealth: ({ event }: Args) => event.output ?? null }),
  countFailedCheck: enqueueActions(({ context, enqueue }: Args & { enqueue: Enqueue }) => {
    enqueue.assign({ failedChecks: context.failedChecks + 1 });
    enqueue.emit({ type: 'delivery.check_failed', failedChecks: context.failedChecks + 1, weight: context.weight });
  }),
  promoted: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }) => {
    const at = nowOf(event);
    enqueue.assign({ deployedAt: at });
    enqueue.emit({ type: 'delivery.promoted', at: iso(at), version: context.version });
    enqueue.emit(measure(context, 'promotedDeploymentFrequency', 1));
    enqueue.emit(measure(context, 'deploymentDuration', at - (context.productionStartedAt ?? at)));
    for (const c of context.release.commits) {
      const committed = toMs(c.committedAt);
      if (committed === null) continue;
      // The p90 KPI reads this same measure.
      enqueue.emit(measure(context, 'changeLeadTime', at - committed, { sha: c.sha }));
    }
  }),
  recordIncident: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }, params: { phase: 'bake' | 'els' }) => {
    const incident: Incident = { incidentRunId: String(event.incidentRunId), priority: Number(event.priority), at: nowOf(event), phase: params.phase };
    // A P1/P2 incident after promotion makes the deployment a failed change, rolled back or not (§3.11).
    enqueue.assign({ incidents: [...context.incidents, incident], changeFailed: context.changeFailed || incident.priority <= 2 });
    enqueue.emit({ type: 'delivery.incident_linked', ...incident });
  }),
  emitPreProdFailed: emit(({ context }: Args) => measure(context, 'preProductionFailureRate', 1)),
  finalMeasures: enqueueActions(({ context, enqueue }: Args & { enqueue: Enqueue }) => {
    // Only deployments that reached production count towards DORA's instability metrics.
    if (context.productionStartedAt === null) return;
    const rolledBack = context.outcome === 'rolled_back' || context.outcome === 'rollback_failed';
    enqueue.emit(measure(context, 'changeFailRate', rolledBack || context.changeFailed ? 1 : 0, { outcome: context.outcome }));
    enqueue.emit(measure(context, 'rollbackRate', rolledBack ? 1 : 0));
    if (context.strategy === 'canary') enqueue.emit(measure(context, 'canaryAbortRate', rolledBack && context.deployedAt === null ? 1 : 0));
    if (context.outcome === 'completed') enqueue.emit(measure(context, 'elsIncidents', context.elsIncidents));
  }),
} as Record<string, any>;
