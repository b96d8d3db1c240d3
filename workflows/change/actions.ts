// The named actions of the change machine: context updates and the events and measures they emit.
import { assign, emit, enqueueActions } from 'xstate';
import { parseRisk, type Risk } from './risk.ts';
import type { ChangeConflict, TimeWindow } from './windows.ts';
import type { Args, ChangeContext, Enqueue, ChangeType, CloseCode, TopState } from './types.ts';
import { ms, nowOf } from './time.ts';
import { changeDelayDefaults } from './delays.ts';
import { freezeOverrideApproved, has, inBlackout, inMaintenanceWindow, leadTimeOk, pendingGroups, templateActive } from './rules.ts';
import { approvalPlanFor, approvals } from './approval-plan.ts';
import { measure } from './kpis.ts';
import { rereadSchedules } from './registry.ts';

/**
 * The actions, for `setup({ actions })`. Typed loosely: actions defined outside setup() do not fit its
 * inference, and the engine checks every action name when the workflow is registered.
 */
export const actions = {
  ...approvals.actions,
  /** Marks every pending group withdrawn, and remembers which, for the `withdraw_approvals` task. */
  withdrawApprovals: enqueueActions(({ context, enqueue }: { context: ChangeContext; enqueue: Enqueue }) => {
    const groups = pendingGroups(context);
    enqueue.assign({ withdrawnGroups: groups });
    if (groups.length) {
      enqueue.emit({ type: 'approval.withdrawn', groups });
      enqueue('withdrawPendingApprovals');
    }
  }),
  markSubmitted: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }) => {
    const at = nowOf(event);
    if (context.submitCount === 0) enqueue.emit(measure(context, 'emergencyChangeRatio', context.changeType === 'emergency' ? 1 : 0));
    enqueue.assign({
      submitCount: context.submitCount + 1, submittedAt: context.submittedAt ?? at, approvals: {}, approvalPlan: {}, problems: [],
      returnReason: null, rejection: null, withdrawnGroups: [], parentNotice: null, wasAuthorized: false, approvalPhaseStartedAt: null,
    });
    enqueue.emit({ type: 'change.submitted', by: event.by ?? null, changeType: context.changeType });
  }),
  updateDetails: assign(({ context, event }: Args) => {
    const e = event as Record<string, unknown>;
    const text = (k: keyof ChangeContext) => (typeof e[k] === 'string' ? (e[k] as string) : (context[k] as string | null));
    return {
      changeType: (e.changeType as ChangeType | undefined) ?? context.changeType,
      title: text('title'), description: text('description'), justification: text('justification'),
      implementationPlan: text('implementationPlan'), backoutPlan: text('backoutPlan'), testPlan: text('testPlan'),
      plannedStart: text('plannedStart'), plannedEnd: text('plannedEnd'), environment: text('environment'), implementer: text('implementer'),
      ci: Array.isArray(e.ci) ? (e.ci as string[]) : context.ci,
      services: Array.isArray(e.services) ? (e.services as string[]) : context.services,
      impact: typeof e.impact === 'number' ? e.impact : context.impact,
      backoutTested: typeof e.backoutTested === 'boolean' ? e.backoutTested : context.backoutTested,
      freezeOverride: typeof e.freezeOverride === 'boolean' ? e.freezeOverride : context.freezeOverride,
    };
  }),
  setQuestionnaireRisk: assign({ questionnaireRisk: ({ event }: Args) => parseRisk(event.risk) }),
  setConflicts: assign(({ event }: Args) => {
    const conflicts = (event.output as { conflicts?: ChangeConflict[] })?.conflicts ?? [];
    const words = conflicts.map((c) => [c.kind, c.ci, c.otherChange ? `(${c.otherChange})` : null].filter(Boolean).join(' '));
    return { conflicts, conflictNote: words.length ? ` · conflicts: ${words.join(', ')}` : '' };
  }),
  setRisk: assign(({ event }: Args) => {
    const out = event.output as { risk: Risk; riskReasons: string[] };
    return { risk: out.risk, riskReasons: out.riskReasons };
  }),
  computeApprovalPlan: assign({ approvalPlan: ({ context }: Args) => approvalPlanFor(context) }),
  emitPlan: emit(({ context }: Args) => ({ type: 'change.routed', changeType: context.changeType, risk: context.risk, approvalPlan: context.approvalPlan })),
  routingFailed: assign(({ context, event }: Args) => {
    const problems: string[] = [];
    if (context.changeType === 'standard' && !templateActive(context)) problems.push('template_inactive');
    if (context.changeType === 'standard' && !inMaintenanceWindow(context)) problems.push('outside_maintenance_window');
    if (context.changeType === 'normal' && !leadTimeOk(context, nowOf(event))) problems.push('insufficient_lead_time');
    if (inBlackout(context)) problems.push('blackout_conflict');
    return { problems, returnReason: problems[0] ?? 'not_routable', withdrawnGroups: [] };
  }),
  // Params arrive as `unknown` here (XState cannot infer them for these three), hence the casts.
  setReturn: assign(({ context }: Args, params: unknown) => {
    const { reason } = params as { reason: string };
    return { returnReason: reason, problems: reason === 'rejected' ? context.problems : [reason] };
  }),
  recordRejection: enqueueActions(({ context, enqueue }: Args & { enqueue: Enqueue }) => {
    const rejected = Object.entries(context.approvals).filter(([, a]) => a.status === 'rejected');
    const comments = rejected.flatMap(([group, a]) => a.votes.filter((v) => v.decision === 'rejected').map((v) => ({ group, by: v.by, comment: v.comment })));
    enqueue.assign({ rejection: { groups: rejected.map(([g]) => g), comments }, problems: ['rejected'] });
    enqueue.emit(measure(context, 'rejectionRate', 1, { groups: rejected.map(([g]) => g) }));
  }),
  approvalExpired: emit(({ context }: Args) => measure(context, 'approvalExpired', 1)),
  markApprovalPhase: assign({ approvalPhaseStartedAt: ({ context, event }: Args) => context.approvalPhaseStartedAt ?? nowOf(event) }),
  markAuthorized: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }) => {
    const at = nowOf(event);
    enqueue.assign({ wasAuthorized: true, authorizedAt: at, parentNotice: null });
    if (context.approvalPhaseStartedAt !== null) {
      enqueue.emit(measure(context, 'approvalCycleTime', at - context.approvalPhaseStartedAt));
      enqueue.emit(measure(context, 'rejectionRate', 0));
    }
  }),
  addFreeze: assign({
    schedules: ({ context, event }: Args) => {
      const w: TimeWindow = { start: String(event.from), end: String(event.to), name: 'freeze' };
      const b = context.schedules.blackout;
      const blackout = !b ? [w] : Array.isArray(b) ? [...b, w] : { ...b, '*': [...(b['*'] ?? []), w] };
      return { ...context.schedules, blackout };
    },
  }),
  setPlannedDates: assign(({ context, event }: Args) => ({
    plannedStart: String(event.plannedStart), plannedEnd: String(event.plannedEnd),
    // The windows are read again from the registry for the new dates when the run took them from there.
    ...(rereadSchedules(context, event.$registry) ?? {}),
  })),
  /** A normal or emergency change whose dates move is authorized again (§2.3, choice). */
  reauthorize: assign(({ context, event }: Args) => {
    const keep = Object.fromEntries(Object.entries(context.approvals).filter(([g]) => g === 'technical'));
    return { approvals: keep, parentNotice: context.wasAuthorized ? 'rescheduled' : null, wasAuthorized: false, approvalPhaseStartedAt: nowOf(event) };
  }),
  clearParentNotice: assign({ parentNotice: null }),
  putOnHold: assign(({ event }: Args, params: unknown) => ({ heldFrom: (params as { from: TopState }).from, onHoldReason: String(event.reason ?? '') })),
  releaseHold: assign({ onHoldReason: null }),
  setCancel: assign(({ event }: Args) => ({ cancelReason: String(event.reason ?? 'canceled'), canceledBy: typeof event.by === 'string' ? event.by : null })),
  markImplementEntry: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }) => {
    const at = nowOf(event);
    const freeze = inBlackout(context) && freezeOverrideApproved(context);
    const outside = has(context, 'outside_maintenance_window');
    enqueue.assign({ implementStartedAt: at, reachedImplement: true, usedFreezeOverride: freeze });
    if (context.submittedAt !== null) enqueue.emit(measure(context, 'leadTimeToImplement', at - context.submittedAt));
    const start = ms(context.plannedStart);
    if (start !== null) enqueue.emit(measure(context, 'scheduleAdherence', Math.abs(at - start)));
    if (freeze || outside) enqueue.emit(measure(context, 'changesInFreezeOrOutsideWindow', 1, { freeze, outsideWindow: outside }));
  }),
  markWorkStarted: assign({ workStartedAt: ({ context, event }: Args) => context.workStartedAt ?? nowOf(event) }),
  markBackout: assign({ backedOut: true, workStartedAt: ({ context, event }: Args) => context.workStartedAt ?? nowOf(event) }),
  markOverrun: assign({ overran: true }),
  extendWindow: assign({
    plannedEnd: ({ context, event }: Args) => {
      if (typeof event.plannedEnd === 'string' && ms(event.plannedEnd) !== null) return event.plannedEnd;
      const base = Math.max(ms(context.plannedEnd) ?? 0, nowOf(event));
      return new Date(base + context.windowExtensionMs).toISOString();
    },
  }),
  setCloseCode: assign(({ context, event }: Args, params: unknown) => ({
    closeCode: (params as { code: CloseCode }).code, workStartedAt: context.workStartedAt ?? nowOf(event), workEndedAt: nowOf(event),
    closeNotes: typeof event.comment === 'string' ? event.comment : context.closeNotes,
  })),
  deploymentResult: assign(({ context, event }: Args) => {
    const code: CloseCode = event.result === 'successful' ? 'successful' : event.result === 'completed_with_issues' ? 'successful_issues' : 'unsuccessful';
    return { closeCode: code, workStartedAt: context.workStartedAt ?? nowOf(event), workEndedAt: nowOf(event), backedOut: context.backedOut || event.rolledBack === true };
  }),
  setDeliveryRun: assign({ deliveryRunId: ({ event }: Args) => (event.output as { runId?: string })?.runId ?? null }),
  markReview: assign(({ context, event }: Args) => ({
    reviewAt: nowOf(event),
    pirRequired: context.changeType === 'emergency' || context.unauthorized || context.closeCode !== 'successful' || context.risk === 'high',
  })),
  markPirOpened: assign({ pirOpenedAt: ({ event }: Args) => nowOf(event) }),
  setPirTask: assign({ pirTaskRef: ({ event }: Args) => (event.output as { pirTaskRef?: string })?.pirTaskRef ?? null }),
  acceptPir: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }) => {
    const at = nowOf(event);
    enqueue.assign({ closeNotes: typeof event.comment === 'string' ? event.comment : context.closeNotes });
    const due = context.delaysMs.pirDueDelay ?? changeDelayDefaults.pirDueDelay;
    if (context.pirOpenedAt !== null) enqueue.emit(measure(context, 'pirOnTime', at - context.pirOpenedAt <= due ? 1 : 0));
  }),
  closeMeasures: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }) => {
    const at = nowOf(event);
    enqueue.assign({ outcome: 'closed' });
    if (context.submittedAt !== null) enqueue.emit(measure(context, 'leadTime', at - context.submittedAt));
    if (!context.reachedImplement) return;
    const code = context.closeCode;
    enqueue.emit(measure(context, 'changeSuccessRate', code === 'successful' ? 1 : 0, { closeCode: code }));
    enqueue.emit(measure(context, 'changeFailureRate', code === 'unsuccessful' ? 1 : 0, { closeCode: code }));
    enqueue.emit(measure(context, 'successfulWithIssues', code === 'successful_issues' ? 1 : 0, { closeCode: code }));
    enqueue.emit(measure(context, 'backoutRate', context.backedOut ? 1 : 0));
    enqueue.emit(measure(context, 'overrunRate', context.overran ? 1 : 0));
    const score = code === 'successful' ? 3 : code === 'successful_issues' ? -2 : -5;
    enqueue.emit(measure(context, 'changeSuccessScore', score, { closeCode: code }));
  }),
  markCanceled: assign({ outcome: 'canceled' }),
  /** The result of `cancel_child` on the change's delivery, in the history (a failure is `task.failed` too). */
  recordChildCancel: emit(({ context, event }: Args) => ({
    type: 'change.child_cancelled', runId: context.deliveryRunId, workflow: 'delivery',
    cancelled: event.output?.cancelled ?? false, reason: event.output?.reason ?? (event.error !== undefined ? 'cancel_failed' : null),
  })),
  emitUnauthorized: emit(({ context }: Args) => measure(context, 'unauthorizedChanges', 1)),
} as Record<string, any>;
