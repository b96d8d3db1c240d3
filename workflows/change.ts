// The `change` process model (change enablement, PROCESSES.md §2): New → Assess → Authorize → Scheduled →
// Implement → Review → Closed, with standard, normal, emergency and unauthorized paths, group approvals,
// maintenance windows and freezes, on-hold, overrun and backout, and the links to incident and delivery.
import { and, assign, emit, enqueueActions, not, setup, stateIn, type AnyEventObject } from 'xstate';
import { defineWorkflow, taskActors, type KpiDefinition } from './lib/define.ts';
import {
  approvalDelays, approvalImplementations, approvalRegion, eligibleApprovers, type ApprovalPolicy, type ApprovalsContext,
} from './lib/approvals.ts';
import {
  blackoutsOverlapping, inMaintenanceWindows, maxRisk, parseRisk, type ChangeConflict, type ChangeSchedules, type Risk,
  type ScheduledChange, type TimeWindow,
} from './lib/change-rules.ts';
import { changeEventSchemas, changeInputSchema } from './lib/change-schemas.ts';

export type ChangeType = 'standard' | 'normal' | 'emergency';
export type CloseCode = 'successful' | 'successful_issues' | 'unsuccessful';
type TopState = 'new' | 'assess' | 'authorize' | 'scheduled';

export interface ChangeTemplate {
  active?: boolean;
  title?: string;
  implementationPlan?: string;
  backoutPlan?: string;
  testPlan?: string;
  [k: string]: unknown;
}

export interface ChangeContext extends ApprovalsContext {
  number: string | null;
  changeType: ChangeType;
  unauthorized: boolean;
  autoSubmit: boolean;
  templateId: string | null;
  templates: Record<string, ChangeTemplate>;
  title: string | null;
  description: string | null;
  justification: string | null;
  implementationPlan: string | null;
  backoutPlan: string | null;
  backoutTested: boolean | null;
  testPlan: string | null;
  ci: string[];
  services: string[];
  /** The first affected service, for task titles ("Accept risk for {service}"). */
  service: string | null;
  environment: string | null;
  impact: number | null;
  criticality: number | null;
  serviceCriticality: Record<string, number>;
  plannedStart: string | null;
  plannedEnd: string | null;
  assignmentGroup: string | null;
  implementer: string | null;
  approvalPolicy: Record<string, ApprovalPolicy>;
  schedules: ChangeSchedules;
  changeSchedule: ScheduledChange[];
  cab: { meetingsAt: string[] };
  leadTimeMs: number;
  windowExtensionMs: number;
  earlyStartToleranceMs: number;
  groupFailureRate: number | null;
  freezeOverride: boolean;
  startDelivery: boolean;
  links: Record<string, unknown>;
  openedAt: number;
  risk: Risk | null;
  riskReasons: string[];
  questionnaireRisk: Risk | null;
  conflicts: ChangeConflict[];
  /** The conflicts in words, shown in the approvers' task titles (" · conflicts: ci_overlap db-01 (CHG-1)"). */
  conflictNote: string;
  problems: string[];
  returnReason: string | null;
  rejection: { groups: string[]; comments: { group: string; by: string; comment: string | null }[] } | null;
  heldFrom: TopState | null;
  onHoldReason: string | null;
  withdrawnGroups: string[];
  /** What the parent hears when the change leaves `authorize` for a new round (CHANGE_DEAUTHORIZED). */
  parentNotice: string | null;
  wasAuthorized: boolean;
  submitCount: number;
  submittedAt: number | null;
  approvalPhaseStartedAt: number | null;
  authorizedAt: number | null;
  implementStartedAt: number | null;
  workStartedAt: number | null;
  workEndedAt: number | null;
  reviewAt: number | null;
  pirRequired: boolean;
  pirOpenedAt: number | null;
  pirTaskRef: string | null;
  closeCode: CloseCode | null;
  closeNotes: string | null;
  reachedImplement: boolean;
  backedOut: boolean;
  overran: boolean;
  usedFreezeOverride: boolean;
  deliveryRunId: string | null;
  outcome: 'closed' | 'canceled' | null;
  cancelReason: string | null;
  canceledBy: string | null;
}

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** Defaults of every named delay (PROCESSES.md §2.6); `delaysMs.<name>` replaces each. */
export const changeDelayDefaults = {
  approvalReminderDelay: DAY,
  approvalEscalationDelay: 2 * DAY,
  ecabReminderDelay: 15 * MIN,
  ecabEscalationDelay: 30 * MIN,
  overrunGraceDelay: 30 * MIN,
  pirDueDelay: 5 * DAY,
  pirEscalationDelay: 10 * DAY,
} as const;

/** Delays counted to an absolute time: `delaysMs.<name>` is the offset before that time. */
export const changeOffsetDefaults = {
  authorizationCutoffDelay: HOUR,
  untilPlannedStartDelay: 0,
  plannedEndDelay: 0,
  cabMeetingDelay: 0,
} as const;

type Args = { context: ChangeContext; event: AnyEventObject };

/**
 * The engine's time of the event being handled: `$at` (every event the engine delivers has it, done
 * events of states included), or the input's for the start; the fallback only keeps a slip from being absurd.
 */
function nowOf(event: AnyEventObject, context?: ChangeContext): number {
  const e = event as { $at?: unknown; input?: { $at?: unknown } };
  if (typeof e.$at === 'number') return e.$at;
  if (typeof e.input?.$at === 'number') return e.input.$at;
  return context?.openedAt ?? 0;
}

function ms(iso: string | null | undefined): number | null {
  if (typeof iso !== 'string') return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : null;
}

function offset(context: ChangeContext, name: keyof typeof changeOffsetDefaults): number {
  return context.delaysMs[name] ?? changeOffsetDefaults[name];
}

const has = (c: ChangeContext, kind: ChangeConflict['kind']) => c.conflicts.some((x) => x.kind === kind);
const inBlackout = (c: ChangeContext) => has(c, 'blackout');
const inMaintenanceWindow = (c: ChangeContext) => c.ci.length > 0 && ms(c.plannedStart) !== null && !has(c, 'outside_maintenance_window');
const templateActive = (c: ChangeContext) => c.templateId !== null && c.templates[c.templateId]?.active !== false && c.templateId in c.templates;
const leadTimeOk = (c: ChangeContext, now: number) => {
  const start = ms(c.plannedStart);
  return start !== null && start - now >= c.leadTimeMs;
};
const isComplete = (c: ChangeContext) => {
  const plans = [c.implementationPlan, c.backoutPlan, c.testPlan].every((p) => typeof p === 'string' && p.trim() !== '');
  const start = ms(c.plannedStart);
  const end = ms(c.plannedEnd);
  const window = start !== null && end !== null && end > start;
  return plans && c.ci.length > 0 && (window || c.changeType === 'emergency');
};
const approved = (c: ChangeContext, group: string) => c.approvals[group]?.status === 'approved';
const stillAuthorized = (c: ChangeContext) => Object.keys(c.approvalPlan).every((g) => approved(c, g));
const freezeOverrideApproved = (c: ChangeContext) =>
  c.changeType === 'emergency' && c.freezeOverride && approved(c, 'ecab') && approved(c, 'changeManager');
const pendingGroups = (c: ChangeContext) => Object.entries(c.approvals).filter(([, a]) => a.status === 'pending').map(([g]) => g);
const requester = (c: ChangeContext) => c.requestedBy ?? 'change_requester';
const ref = (c: ChangeContext) => c.number ?? c.title ?? 'change';

/** The change authority of §2.5 (type × risk), then the input's `approvalPolicy` per group. */
export function approvalPlanFor(c: ChangeContext): Record<string, ApprovalPolicy> {
  const first: ApprovalPolicy = { waitFor: 'first_response' };
  let plan: Record<string, ApprovalPolicy> = {};
  if (c.unauthorized) plan = { changeManager: first };
  else if (c.changeType === 'emergency') {
    plan = { ecab: first };
    if (inBlackout(c) && c.freezeOverride) plan.changeManager = first;
  } else if (c.changeType === 'normal') {
    plan = { technical: first, changeManager: first };
    if (c.risk === 'moderate') plan.cab = { waitFor: 'percentage', percent: 50 };
    if (c.risk === 'high') {
      plan.cab = { waitFor: 'percentage', percent: 67 };
      plan.serviceOwner = first;
    }
  }
  for (const g of Object.keys(plan)) if (c.approvalPolicy[g]) plan[g] = c.approvalPolicy[g];
  return plan;
}

function measure(c: ChangeContext, name: string, value: number, dims: Record<string, unknown> = {}) {
  return {
    type: 'measure.recorded', measure: name, value, openedAt: new Date(c.openedAt).toISOString(),
    dims: { type: c.changeType, risk: c.risk, assignmentGroup: c.assignmentGroup, environment: c.environment, ...dims },
  };
}

/** The event a waiting parent hears when the change goes back to New (§5), or null. */
function parentReturnEvent(c: ChangeContext): Record<string, unknown> | null {
  if (c.returnReason === 'rejected') return { type: 'CHANGE_REJECTED', comments: c.rejection?.comments ?? [] };
  if (c.wasAuthorized && ['blackout_conflict', 'approval_expired', 'rescheduled'].includes(c.returnReason ?? '')) {
    return { type: 'CHANGE_DEAUTHORIZED', reason: c.returnReason };
  }
  return null;
}

interface Step {
  name: string;
  src: string;
  input: (args: { context: ChangeContext }) => Record<string, unknown>;
  /** Skip the step unless this guard holds. */
  when?: string;
  /** Actions on the task's result (done or error), before the next step. */
  actions?: Loose;
}

/**
 * Effects that must happen before the run moves on (a final state withdraws a task that has not run),
 * as states that each wait for one task; a failed effect is in the history and does not stop the change.
 */
function sequence(steps: Step[], exit: string): Loose {
  const route = (from: number) => {
    const out: { guard?: string; target: string }[] = [];
    for (const s of steps.slice(from)) {
      out.push(s.when ? { guard: s.when, target: s.name } : { target: s.name });
      if (!s.when) return out;
    }
    return [...out, { target: exit }];
  };
  const states: Record<string, unknown> = { start: { always: route(0) } };
  steps.forEach((s, i) => {
    const next = s.actions ? route(i + 1).map((t) => ({ ...t, actions: s.actions })) : route(i + 1);
    states[s.name] = { invoke: { id: s.name, src: s.src, input: s.input, onDone: next, onError: next } };
  });
  return { initial: 'start', states };
}

const notice = (subject: (c: ChangeContext) => string, to: (c: ChangeContext) => string | string[] = requester) =>
  ({ context }: { context: ChangeContext }) => ({ to: to(context), subject: subject(context), template: 'change' });
const managers = (c: ChangeContext) => {
  const list = eligibleApprovers(c, 'changeManager');
  return list.length ? list : 'change_manager';
};

const approvals = approvalImplementations<ChangeContext>();

// Transition and state-node builders are typed loosely: the engine checks every name at registration.
/* eslint-disable @typescript-eslint/no-explicit-any */
type Loose = any;
const hold = (from: TopState): Loose => ({ target: '#change.onHold', actions: ['withdrawApprovals', { type: 'putOnHold', params: { from } }] });
const cancel: Loose = { target: '#change.canceling', actions: ['withdrawApprovals', 'setCancel'] };
const backToNew = (reason: string): Loose => ({ target: '#change.new.returning', actions: ['withdrawApprovals', { type: 'setReturn', params: { reason } }] });
const implemented = (code: CloseCode): Loose => ({
  guard: and(['isImplementerOrManager', not('isBackingOut')]), target: '#change.review', actions: { type: 'setCloseCode', params: { code } },
});

const machine = setup({
  types: {} as { context: ChangeContext; input: Record<string, unknown> & { $at: number }; events: AnyEventObject },
  actors: taskActors(
    'assess_risk', 'detect_conflicts', 'request_approvals', 'withdraw_approvals', 'add_to_cab_agenda', 'create_pir_task',
    'notify', 'notify_parent', 'start_run', 'cancel_child', 'send_change_event', 'rollback',
  ),
  guards: {
    ...approvals.guards,
    /** Each of the groups that the plan requires has approved. */
    groupsApproved: ({ context }: Args, params: { groups: string[] }) => params.groups.every((g) => !(g in context.approvalPlan) || approved(context, g)),
    isUnauthorized: ({ context }: Args) => context.unauthorized,
    isStandard: ({ context }: Args) => context.changeType === 'standard',
    isEmergency: ({ context }: Args) => context.changeType === 'emergency',
    autoSubmits: ({ context }: Args) => context.autoSubmit,
    isComplete: ({ context }: Args) => isComplete(context),
    /** §2.3 routing after the submit tasks. */
    standardReady: ({ context }: Args) =>
      context.changeType === 'standard' && templateActive(context) && inMaintenanceWindow(context) && !inBlackout(context),
    normalReady: ({ context, event }: Args) => context.changeType === 'normal' && leadTimeOk(context, nowOf(event)) && !inBlackout(context),
    emergencyReady: ({ context }: Args) => context.changeType === 'emergency' && (!inBlackout(context) || context.freezeOverride),
    /** Emergency changes go as soon as possible, and unauthorized ones have happened: no cutoff for them. */
    cutoffApplies: ({ context }: Args) => context.changeType !== 'emergency' && !context.unauthorized && ms(context.plannedStart) !== null,
    mayRevert: ({ context, event }: Args) =>
      typeof event.by === 'string' && (event.by === context.requestedBy || (context.approvers.changeManager ?? []).includes(event.by)),
    /** ServiceNow's ACL on `type`: standard → normal/emergency, normal ↔ emergency, before any approval exists. */
    typeChangeAllowed: ({ context, event }: Args) => {
      const to = event.changeType as ChangeType | undefined;
      if (to === undefined || to === context.changeType) return true;
      if (Object.values(context.approvals).some((a) => a.votes.length > 0)) return false;
      return to !== 'standard';
    },
    mayImplement: ({ context }: Args) => stillAuthorized(context) && (!inBlackout(context) || freezeOverrideApproved(context)),
    earlyStartOk: ({ context, event }: Args) => {
      const start = ms(context.plannedStart);
      const ok = start === null || nowOf(event) >= start - context.earlyStartToleranceMs;
      return ok && stillAuthorized(context) && (!inBlackout(context) || freezeOverrideApproved(context));
    },
    rescheduleStandardOk: ({ context, event }: Args) => {
      const start = ms(event.plannedStart as string);
      const end = ms(event.plannedEnd as string);
      if (context.changeType !== 'standard' || start === null || end === null || end <= start) return false;
      return inMaintenanceWindows(context.schedules, context.ci, start, end) && blackoutsOverlapping(context.schedules, context.ci, start, end).length === 0;
    },
    rescheduleOthersOk: ({ context, event }: Args) => {
      const start = ms(event.plannedStart as string);
      const end = ms(event.plannedEnd as string);
      return context.changeType !== 'standard' && start !== null && end !== null && end > start;
    },
    freezeHitsWindow: ({ context, event }: Args) => {
      const from = ms(event.from as string);
      const to = ms(event.to as string);
      const start = ms(context.plannedStart);
      const end = ms(context.plannedEnd) ?? start;
      return context.changeType !== 'emergency' && from !== null && to !== null && start !== null && end !== null && start < to && from < Math.max(end, start + 1);
    },
    hasWithdrawnGroups: ({ context }: Args) => context.withdrawnGroups.length > 0,
    parentWaits: ({ context }: Args) => parentReturnEvent(context) !== null,
    hasParentNotice: ({ context }: Args) => context.parentNotice !== null,
    hasPlannedEnd: ({ context }: Args) => ms(context.plannedEnd) !== null,
    hasCabMeeting: ({ context }: Args) => context.cab.meetingsAt.some((m) => ms(m) !== null),
    deliveryLinked: ({ context }: Args) => context.deliveryRunId !== null || typeof context.links.delivery === 'string',
    startsDelivery: ({ context }: Args) => context.startDelivery && context.links.release !== undefined,
    hasDeliveryRun: ({ context }: Args) => context.deliveryRunId !== null,
    /** `start_run` of the delivery is in flight: its run id is not known yet. */
    deliveryStarting: stateIn('#change.implement.startingDelivery'),
    /** §2.3: `by` ∈ implementer ∪ changeManager (anyone, when the change names neither). */
    isImplementerOrManager: ({ context, event }: Args) => {
      const allowed = [...(context.implementer ? [context.implementer] : []), ...(context.approvers.implementer ?? []), ...(context.approvers.changeManager ?? [])];
      return typeof event.by === 'string' && (allowed.length === 0 || allowed.includes(event.by));
    },
    isBackingOut: ({ context }: Args) => context.backedOut,
    /** Events sent through the API carry no childRunId; one from a run must come from the linked delivery. */
    fromLinkedDelivery: ({ context, event }: Args) =>
      event.childRunId === undefined || context.deliveryRunId === null || event.childRunId === context.deliveryRunId,
    workNotStarted: ({ context }: Args) => context.workStartedAt === null,
    pirRequired: ({ context }: Args) => context.pirRequired,
    heldFrom: ({ context }: Args, params: { state: TopState }) => context.heldFrom === params.state,
  },
  actions: {
    ...approvals.actions,
    /** Marks every pending group withdrawn, and remembers which, for the `withdraw_approvals` task. */
    withdrawApprovals: enqueueActions(({ context, enqueue }: { context: ChangeContext; enqueue: any }) => {
      const groups = pendingGroups(context);
      enqueue.assign({ withdrawnGroups: groups });
      if (groups.length) {
        enqueue.emit({ type: 'approval.withdrawn', groups });
        enqueue('withdrawPendingApprovals');
      }
    }),
    markSubmitted: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }) => {
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
    recordRejection: enqueueActions(({ context, enqueue }: Args & { enqueue: any }) => {
      const rejected = Object.entries(context.approvals).filter(([, a]) => a.status === 'rejected');
      const comments = rejected.flatMap(([group, a]) => a.votes.filter((v) => v.decision === 'rejected').map((v) => ({ group, by: v.by, comment: v.comment })));
      enqueue.assign({ rejection: { groups: rejected.map(([g]) => g), comments }, problems: ['rejected'] });
      enqueue.emit(measure(context, 'rejectionRate', 1, { groups: rejected.map(([g]) => g) }));
    }),
    approvalExpired: emit(({ context }: Args) => measure(context, 'approvalExpired', 1)),
    markApprovalPhase: assign({ approvalPhaseStartedAt: ({ context, event }: Args) => context.approvalPhaseStartedAt ?? nowOf(event) }),
    markAuthorized: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }) => {
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
    setPlannedDates: assign({ plannedStart: ({ event }: Args) => String(event.plannedStart), plannedEnd: ({ event }: Args) => String(event.plannedEnd) }),
    /** A normal or emergency change whose dates move is authorized again (§2.3, choice). */
    reauthorize: assign(({ context, event }: Args) => {
      const keep = Object.fromEntries(Object.entries(context.approvals).filter(([g]) => g === 'technical'));
      return { approvals: keep, parentNotice: context.wasAuthorized ? 'rescheduled' : null, wasAuthorized: false, approvalPhaseStartedAt: nowOf(event) };
    }),
    clearParentNotice: assign({ parentNotice: null }),
    putOnHold: assign(({ event }: Args, params: unknown) => ({ heldFrom: (params as { from: TopState }).from, onHoldReason: String(event.reason ?? '') })),
    releaseHold: assign({ onHoldReason: null }),
    setCancel: assign(({ event }: Args) => ({ cancelReason: String(event.reason ?? 'canceled'), canceledBy: typeof event.by === 'string' ? event.by : null })),
    markImplementEntry: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }) => {
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
    acceptPir: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }) => {
      const at = nowOf(event);
      enqueue.assign({ closeNotes: typeof event.comment === 'string' ? event.comment : context.closeNotes });
      const due = context.delaysMs.pirDueDelay ?? changeDelayDefaults.pirDueDelay;
      if (context.pirOpenedAt !== null) enqueue.emit(measure(context, 'pirOnTime', at - context.pirOpenedAt <= due ? 1 : 0));
    }),
    closeMeasures: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }) => {
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
  },
  delays: {
    ...approvalDelays(changeDelayDefaults),
    authorizationCutoffDelay: ({ context, event }: Args) => {
      const start = ms(context.plannedStart);
      return start === null ? 0 : Math.max(0, start - offset(context, 'authorizationCutoffDelay') - nowOf(event, context));
    },
    untilPlannedStartDelay: ({ context, event }: Args) => {
      const start = ms(context.plannedStart);
      if (context.changeType === 'emergency' || start === null) return 0;
      return Math.max(0, start - offset(context, 'untilPlannedStartDelay') - nowOf(event, context));
    },
    plannedEndDelay: ({ context, event }: Args) => {
      const end = ms(context.plannedEnd);
      return end === null ? 0 : Math.max(0, end - offset(context, 'plannedEndDelay') - nowOf(event, context));
    },
    cabMeetingDelay: ({ context, event }: Args) => {
      const now = nowOf(event, context);
      const next = context.cab.meetingsAt.map(ms).filter((t): t is number => t !== null && t >= now).sort((a, b) => a - b)[0];
      return next === undefined ? 0 : Math.max(0, next - offset(context, 'cabMeetingDelay') - now);
    },
  },
}).createMachine({
  id: 'change',
  context: ({ input }) => contextFromInput(input),
  initial: 'new',
  states: {
    new: {
      initial: 'init',
      on: { PUT_ON_HOLD: hold('new'), CANCEL: cancel },
      states: {
        init: {
          always: [
            { guard: 'isUnauthorized', target: '#change.authorize', actions: ['computeApprovalPlan', 'emitUnauthorized', 'emitPlan'] },
            { guard: 'autoSubmits', target: 'submitting', actions: 'markSubmitted' },
            { target: 'draft' },
          ],
        },
        draft: {
          meta: { humanTask: { role: 'change_requester', title: 'Complete and submit {number}', outcomes: { SUBMIT: 'SUBMIT' } } },
          on: {
            UPDATE_DETAILS: { guard: 'typeChangeAllowed', actions: 'updateDetails' },
            SUBMIT: { guard: 'isComplete', target: 'submitting', actions: 'markSubmitted' },
            RISK_ASSESSED: { actions: 'setQuestionnaireRisk' },
          },
        },
        // Conflicts first: the risk rules read them (rule 30, "not in maintenance window").
        submitting: {
          initial: 'detectingConflicts',
          states: {
            detectingConflicts: {
              invoke: {
                id: 'detectConflicts', src: 'detect_conflicts', input: ({ context }: { context: ChangeContext }) => conflictInput(context),
                onDone: { target: 'assessingRisk', actions: 'setConflicts' },
                onError: { target: '#change.new.returning', actions: { type: 'setReturn', params: { reason: 'conflict_detection_failed' } } },
              },
            },
            assessingRisk: {
              invoke: {
                id: 'assessRisk', src: 'assess_risk', input: ({ context }: { context: ChangeContext }) => riskInput(context),
                onDone: { target: 'routing', actions: 'setRisk' },
                onError: { target: '#change.new.returning', actions: { type: 'setReturn', params: { reason: 'risk_assessment_failed' } } },
              },
            },
            routing: {
              always: [
                { guard: 'standardReady', target: '#change.scheduled', actions: ['computeApprovalPlan', 'emitPlan', 'markAuthorized'] },
                { guard: 'normalReady', target: '#change.assess', actions: ['computeApprovalPlan', 'emitPlan'] },
                { guard: 'emergencyReady', target: '#change.authorize', actions: ['computeApprovalPlan', 'emitPlan'] },
                { target: '#change.new.returning', actions: 'routingFailed' },
              ],
            },
          },
        },
        // Back to New: withdraw what was pending, tell the requester why, and tell a waiting parent.
        returning: sequence([
          { name: 'withdrawing', src: 'withdraw_approvals', when: 'hasWithdrawnGroups', input: ({ context }) => ({ groups: context.withdrawnGroups, reason: context.returnReason }) },
          { name: 'informing', src: 'notify', input: notice((c) => `${ref(c)} is back in New: ${c.returnReason ?? 'returned'}`) },
          { name: 'notifyingParent', src: 'notify_parent', when: 'parentWaits', input: ({ context }) => ({ event: parentReturnEvent(context) ?? { type: 'CHANGE_REJECTED' } }) },
        ], '#change.new.draft'),
      },
    },

    assess: {
      ...approvalRegion({
        group: 'technical', role: 'technical_approver', title: 'Technical review of {number}', approveEvent: 'APPROVE_TECHNICAL',
        rejectEvent: 'REJECT_TECHNICAL', reminderDelay: 'approvalReminderDelay', escalationDelay: 'approvalEscalationDelay', escalateTo: 'changeManager',
      }),
      entry: 'markApprovalPhase',
      // `always` rather than `onDone`: a rejection must leave before the region is done.
      always: [
        { guard: 'anyApprovalRejected', target: '#change.new.returning', actions: ['recordRejection', 'withdrawApprovals', { type: 'setReturn', params: { reason: 'rejected' } }] },
        { guard: { type: 'groupsApproved', params: { groups: ['technical'] } }, target: 'authorize' },
      ],
      after: { authorizationCutoffDelay: { guard: 'cutoffApplies', ...backToNew('approval_expired'), actions: ['withdrawApprovals', { type: 'setReturn', params: { reason: 'approval_expired' } }, 'approvalExpired'] } },
      on: {
        REVERT_TO_NEW: { guard: 'mayRevert', ...backToNew('reverted') },
        PUT_ON_HOLD: hold('assess'),
        CANCEL: cancel,
      },
    },

    authorize: {
      type: 'parallel',
      entry: 'markApprovalPhase',
      states: {
        changeManager: approvalRegion({
          group: 'changeManager', role: 'change_manager', title: 'Authorize {number} ({risk}){conflictNote}', approveEvent: 'APPROVE_CM', rejectEvent: 'REJECT_CM',
          reminderDelay: 'approvalReminderDelay', escalationDelay: 'approvalEscalationDelay', escalateTo: 'changeManager',
        }),
        cab: cabRegion(),
        ecab: approvalRegion({
          group: 'ecab', role: 'ecab', title: 'Emergency authorization for {number}', approveEvent: 'APPROVE_ECAB', rejectEvent: 'REJECT_ECAB',
          reminderDelay: 'ecabReminderDelay', escalationDelay: 'ecabEscalationDelay', escalateTo: 'changeManager',
        }),
        serviceOwner: approvalRegion({
          group: 'serviceOwner', role: 'service_owner', title: 'Accept risk for {service}', approveEvent: 'APPROVE_OWNER', rejectEvent: 'REJECT_OWNER',
          reminderDelay: 'approvalReminderDelay', escalationDelay: 'approvalEscalationDelay', escalateTo: 'changeManager',
        }),
        // A change re-authorized after a move of its dates tells a waiting parent it is no longer authorized.
        parentNotice: {
          initial: 'route',
          states: {
            route: { always: [{ guard: 'hasParentNotice', target: 'notifying' }, { target: 'done' }] },
            notifying: {
              invoke: {
                id: 'deauthorizedNotice', src: 'notify_parent', input: ({ context }: { context: ChangeContext }) => ({ event: { type: 'CHANGE_DEAUTHORIZED', reason: context.parentNotice } }),
                onDone: { target: 'done', actions: 'clearParentNotice' }, onError: { target: 'done', actions: 'clearParentNotice' },
              },
            },
            done: { type: 'final' },
          },
        },
      },
      // A rejection ends the round at once: the groups still pending are withdrawn (§2.10 scenario 3).
      // Hence `always` rather than `onDone`, as in assess.
      always: [
        { guard: 'anyApprovalRejected', target: '#change.new.returning', actions: ['recordRejection', 'withdrawApprovals', { type: 'setReturn', params: { reason: 'rejected' } }] },
        { guard: and(['approvalsGranted', not('hasParentNotice'), 'isUnauthorized']), target: 'review', actions: 'markAuthorized' },
        { guard: and(['approvalsGranted', not('hasParentNotice')]), target: 'scheduled', actions: 'markAuthorized' },
      ],
      after: { authorizationCutoffDelay: { guard: 'cutoffApplies', ...backToNew('approval_expired'), actions: ['withdrawApprovals', { type: 'setReturn', params: { reason: 'approval_expired' } }, 'approvalExpired'] } },
      on: {
        REVERT_TO_NEW: { guard: 'mayRevert', ...backToNew('reverted') },
        FREEZE_DECLARED: [
          { guard: 'freezeHitsWindow', target: '#change.new.returning', actions: ['addFreeze', 'withdrawApprovals', { type: 'setReturn', params: { reason: 'blackout_conflict' } }] },
          { actions: 'addFreeze' },
        ],
        PUT_ON_HOLD: hold('authorize'),
        CANCEL: cancel,
      },
    },

    scheduled: {
      initial: 'announcing',
      on: {
        START_IMPLEMENTATION: { guard: 'earlyStartOk', target: 'implement', actions: emit(({ event }: Args) => ({ type: 'change.manual_start', by: event.by ?? null })) },
        RESCHEDULE: [
          { guard: 'rescheduleStandardOk', target: 'scheduled', reenter: true, actions: 'setPlannedDates' },
          { guard: 'rescheduleOthersOk', target: 'authorize', actions: ['setPlannedDates', 'reauthorize'] },
        ],
        FREEZE_DECLARED: [
          { guard: 'freezeHitsWindow', target: '#change.new.returning', actions: ['addFreeze', 'withdrawApprovals', { type: 'setReturn', params: { reason: 'blackout_conflict' } }] },
          { actions: 'addFreeze' },
        ],
        PUT_ON_HOLD: hold('scheduled'),
        CANCEL: cancel,
      },
      states: {
        announcing: sequence([
          { name: 'notifying', src: 'notify', input: notice((c) => `${ref(c)} is scheduled`) },
          { name: 'notifyingParent', src: 'notify_parent', input: ({ context }) => ({ event: { type: 'CHANGE_AUTHORIZED', plannedStart: context.plannedStart, plannedEnd: context.plannedEnd } }) },
        ], '#change.scheduled.checking'),
        checking: {
          invoke: {
            id: 'recheckConflicts', src: 'detect_conflicts', input: ({ context }: { context: ChangeContext }) => conflictInput(context),
            onDone: { target: 'waiting', actions: 'setConflicts' }, onError: 'waiting',
          },
        },
        waiting: {
          after: {
            untilPlannedStartDelay: [
              { guard: 'mayImplement', target: '#change.implement' },
              { target: '#change.new.returning', actions: ['withdrawApprovals', { type: 'setReturn', params: { reason: 'blackout_conflict' } }] },
            ],
          },
        },
      },
    },

    implement: {
      initial: 'announcing',
      entry: 'markImplementEntry',
      on: {
        IMPLEMENTED_SUCCESSFULLY: implemented('successful'),
        IMPLEMENTED_WITH_ISSUES: implemented('successful_issues'),
        IMPLEMENTATION_FAILED: implemented('unsuccessful'),
        DEPLOYMENT_RESULT: { guard: and(['fromLinkedDelivery', not('isBackingOut')]), target: 'review', actions: 'deploymentResult' },
        DELIVERY_COMPLETED: { guard: and(['fromLinkedDelivery', not('isBackingOut')]), target: 'review', actions: { type: 'setCloseCode', params: { code: 'successful' } } },
        DELIVERY_FAILED: { guard: and(['fromLinkedDelivery', not('isBackingOut')]), target: 'review', actions: { type: 'setCloseCode', params: { code: 'unsuccessful' } } },
        WORK_STARTED: { guard: 'isImplementerOrManager', actions: 'markWorkStarted' },
        // Not while the delivery is being started: its run id is not known yet, so it could not be canceled.
        CANCEL: { guard: and(['workNotStarted', not('deliveryStarting')]), ...cancel },
      },
      states: {
        announcing: sequence([
          { name: 'notifying', src: 'notify', input: notice((c) => `${ref(c)} is being implemented`) },
          { name: 'sendingChangeEvent', src: 'send_change_event', input: ({ context }) => ({ summary: `${ref(context)}: ${context.title ?? 'change'} started`, source: 'servicechart-change', custom_details: { ci: context.ci, risk: context.risk, changeType: context.changeType } }) },
          { name: 'notifyingParent', src: 'notify_parent', input: () => ({ event: { type: 'CHANGE_IMPLEMENT_STARTED' } }) },
        ], '#change.implement.starting'),
        starting: {
          always: [{ guard: 'startsDelivery', target: 'startingDelivery' }, { target: 'inProgress' }],
        },
        // A change that carries a release starts its own production delivery (§2.9).
        startingDelivery: {
          invoke: {
            id: 'startDelivery', src: 'start_run',
            input: ({ context }: { context: ChangeContext }) => ({ workflow: 'delivery', input: deliveryInput(context) }),
            onDone: { target: 'inProgress', actions: 'setDeliveryRun' },
            onError: { target: 'inProgress', actions: emit({ type: 'change.delivery_start_failed' }) },
          },
        },
        inProgress: {
          initial: 'route',
          after: { plannedEndDelay: { guard: 'hasPlannedEnd', target: 'overrun' } },
          on: { BACKOUT: { target: 'backingOut', actions: 'markBackout' } },
          states: {
            route: { always: [{ guard: 'deliveryLinked', target: 'delivering' }, { target: 'manual' }] },
            manual: {
              meta: {
                humanTask: {
                  role: 'implementer', title: 'Implement {number}',
                  outcomes: { SUCCESS: 'IMPLEMENTED_SUCCESSFULLY', ISSUES: 'IMPLEMENTED_WITH_ISSUES', FAILED: 'IMPLEMENTATION_FAILED', BACK_OUT: 'BACKOUT' },
                },
              },
            },
            delivering: {},
          },
        },
        overrun: {
          initial: 'grace',
          entry: ['markOverrun', emit({ type: 'change.overrun' })],
          on: {
            EXTEND_WINDOW: { guard: { type: 'isEligibleApprover', params: { group: 'changeManager' } }, target: 'inProgress', actions: 'extendWindow' },
            BACKOUT: { target: 'backingOut', actions: 'markBackout' },
          },
          states: {
            grace: {
              invoke: { id: 'overrunNotice', src: 'notify', input: notice((c) => `${ref(c)} is past its planned end`, managers) },
              after: { overrunGraceDelay: 'deciding' },
            },
            deciding: {
              meta: { humanTask: { role: 'change_manager', title: '{number} is past its window', outcomes: { EXTEND: 'EXTEND_WINDOW', BACK_OUT: 'BACKOUT' } } },
            },
          },
        },
        backingOut: {
          initial: 'running',
          states: {
            running: {
              invoke: {
                id: 'rollback', src: 'rollback', input: ({ context }: { context: ChangeContext }) => ({ backoutPlan: context.backoutPlan, ci: context.ci, deliveryRunId: context.deliveryRunId }),
                onDone: { target: '#change.review', actions: { type: 'setCloseCode', params: { code: 'unsuccessful' } } },
                onError: 'manual',
              },
            },
            // The automated backout failed: a person runs the backout plan.
            manual: {
              meta: { humanTask: { role: 'implementer', title: 'Back out {number} by hand', outcomes: { DONE: 'BACKOUT_COMPLETED' } } },
              on: { BACKOUT_COMPLETED: { target: '#change.review', actions: { type: 'setCloseCode', params: { code: 'unsuccessful' } } } },
            },
          },
        },
      },
    },

    review: {
      initial: 'notifying',
      entry: 'markReview',
      states: {
        notifying: {
          invoke: { id: 'reviewNotice', src: 'notify', input: notice((c) => `${ref(c)} is in review (${c.closeCode ?? 'no close code'})`), onDone: 'deciding', onError: 'deciding' },
        },
        deciding: { always: [{ guard: 'pirRequired', target: 'pir' }, { target: 'closing' }] },
        pir: {
          meta: { humanTask: { role: 'change_manager', title: 'Post-implementation review of {number}', outcomes: { ACCEPT: 'PIR_ACCEPTED' } } },
          entry: 'markPirOpened',
          invoke: {
            id: 'pirTask', src: 'create_pir_task', input: ({ context }: { context: ChangeContext }) => ({ closeCode: context.closeCode, unauthorized: context.unauthorized, changeType: context.changeType }),
            onDone: { actions: 'setPirTask' },
          },
          initial: 'open',
          after: { pirDueDelay: '.reminding', pirEscalationDelay: '.escalating' },
          on: { PIR_ACCEPTED: { guard: { type: 'isEligibleApprover', params: { group: 'changeManager' } }, target: 'closing', actions: 'acceptPir' } },
          states: {
            open: {},
            reminding: { invoke: { id: 'pirReminder', src: 'notify', input: notice((c) => `PIR of ${ref(c)} is due`, managers), onDone: 'open', onError: 'open' } },
            escalating: { invoke: { id: 'pirEscalation', src: 'notify', input: notice((c) => `PIR of ${ref(c)} is overdue`, managers), onDone: 'open', onError: 'open' } },
          },
        },
        closing: sequence([
          { name: 'notifyingParent', src: 'notify_parent', input: ({ context }) => ({ event: { type: 'CHANGE_CLOSED', closeCode: context.closeCode } }) },
        ], '#change.closed'),
      },
    },

    onHold: {
      initial: 'entering',
      on: { RELEASE_HOLD: { target: '.releasing', actions: 'releaseHold' }, CANCEL: cancel },
      states: {
        entering: { always: [{ guard: 'hasWithdrawnGroups', target: 'withdrawing' }, { target: 'held' }] },
        withdrawing: {
          invoke: {
            id: 'holdWithdraw', src: 'withdraw_approvals', input: ({ context }: { context: ChangeContext }) => ({ groups: context.withdrawnGroups, reason: 'on_hold' }),
            onDone: 'held', onError: 'held',
          },
        },
        held: {},
        // Back where the hold began; `authorize` regions re-enter through `init`, keeping approved groups.
        releasing: {
          always: [
            { guard: { type: 'heldFrom', params: { state: 'assess' } }, target: '#change.assess' },
            { guard: { type: 'heldFrom', params: { state: 'authorize' } }, target: '#change.authorize' },
            { guard: { type: 'heldFrom', params: { state: 'scheduled' } }, target: '#change.scheduled' },
            { target: '#change.new.draft' },
          ],
        },
      },
    },

    canceling: sequence([
      { name: 'withdrawing', src: 'withdraw_approvals', when: 'hasWithdrawnGroups', input: ({ context }) => ({ groups: context.withdrawnGroups, reason: 'canceled' }) },
      { name: 'notifying', src: 'notify', input: notice((c) => `${ref(c)} is canceled: ${c.cancelReason ?? ''}`) },
      // The change's only child run is the delivery it started (§2.9); it is cancelled as
      // `POST /v1/runs/:id/cancel` would, so that no deployment starts for a canceled change.
      { name: 'cancelingDelivery', src: 'cancel_child', when: 'hasDeliveryRun', input: ({ context }) => ({ runId: context.deliveryRunId ?? '', reason: 'change_canceled' }), actions: 'recordChildCancel' },
      { name: 'notifyingParent', src: 'notify_parent', input: ({ context }) => ({ event: { type: 'CHANGE_CANCELED', closeCode: null, reason: context.cancelReason } }) },
    ], '#change.canceled'),

    closed: { type: 'final', entry: 'closeMeasures' },
    canceled: { type: 'final', entry: 'markCanceled' },
  },
  output: ({ context }) => ({
    outcome: context.outcome ?? 'closed', closeCode: context.closeCode, reason: context.cancelReason, changeType: context.changeType, risk: context.risk,
  }),
});

/** The CAB region: the common approval region plus the CAB agenda and the meeting timer (§2.6). */
function cabRegion() {
  const region = approvalRegion({
    group: 'cab', role: 'cab', title: 'CAB decision on {number}{conflictNote}', approveEvent: 'APPROVE_CAB', rejectEvent: 'REJECT_CAB',
    reminderDelay: 'approvalReminderDelay', escalationDelay: 'approvalEscalationDelay', escalateTo: 'changeManager',
  });
  const pending = region.states.pending;
  pending.invoke = [
    pending.invoke,
    { id: 'cabAgenda', src: 'add_to_cab_agenda', input: ({ context }: { context: ChangeContext }) => ({ meetingsAt: context.cab.meetingsAt, risk: context.risk, conflicts: context.conflicts }) },
  ];
  pending.states.nudges.after.cabMeetingDelay = { guard: 'hasCabMeeting', target: '.meeting' };
  pending.states.nudges.states.meeting = {
    invoke: { id: 'cabMeetingNotice', src: 'notify', input: notice((c) => `CAB meeting: ${ref(c)} is on the agenda`, (c) => eligibleApprovers(c, 'cab')), onDone: 'idle', onError: 'idle' },
  };
  return region;
}

function conflictInput(c: ChangeContext) {
  return {
    ci: c.ci, plannedStart: c.plannedStart, plannedEnd: c.plannedEnd, schedules: c.schedules, changeSchedule: c.changeSchedule,
    implementer: c.implementer, self: c.number,
  };
}

function riskInput(c: ChangeContext) {
  return {
    environment: c.environment, impact: c.impact, criticality: c.criticality, serviceCriticality: c.serviceCriticality, services: c.services,
    backoutPlan: c.backoutPlan, backoutTested: c.backoutTested, conflicts: c.conflicts, groupFailureRate: c.groupFailureRate,
    questionnaireRisk: c.questionnaireRisk,
  };
}

function deliveryInput(c: ChangeContext): Record<string, unknown> {
  const release = typeof c.links.release === 'object' && c.links.release !== null ? c.links.release : { id: String(c.links.release) };
  const window = ms(c.plannedStart) !== null && ms(c.plannedEnd) !== null ? { start: c.plannedStart, end: c.plannedEnd } : undefined;
  return { release, environments: ['production'], changePolicy: 'none', requestedBy: c.requestedBy, approvers: c.approvers, window, reason: 'planned' };
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null;
}

function int(v: unknown): number | null {
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) ? n : null;
}

function bool(v: unknown): boolean | null {
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  return null;
}

function list(v: unknown): string[] {
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string' && x !== '');
  return typeof v === 'string' && v !== '' ? [v] : [];
}

/** The context from the run input: §2.1 fields, the aliases webhook mappings and parent runs use, and the defaults. */
export function contextFromInput(input: Record<string, unknown> & { $at: number }): ChangeContext {
  const rawType = String(input.changeType ?? input.type ?? 'normal').toLowerCase();
  const changeType: ChangeType = rawType === 'standard' || rawType === 'emergency' ? rawType : 'normal';
  const links = (typeof input.links === 'object' && input.links !== null ? input.links : {}) as Record<string, unknown>;
  const templates = (input.templates ?? {}) as Record<string, ChangeTemplate>;
  const templateId = str(input.templateId);
  const template: ChangeTemplate = (templateId && templates[templateId]) || {};
  const services = [...list(input.services), ...list(input.service)];
  const delaysMs = (input.delaysMs ?? {}) as Record<string, number>;
  const cab = (input.cab ?? {}) as { meetingsAt?: string[] };
  const startedByRun = ['incident', 'delivery', 'release'].some((k) => links[k] !== undefined && links[k] !== null) || input.parent !== undefined || input.parentRunId !== undefined;
  return {
    number: str(input.number),
    changeType,
    unauthorized: bool(input.unauthorized) ?? false,
    autoSubmit: bool(input.autoSubmit) ?? startedByRun,
    templateId,
    templates,
    title: str(input.title) ?? str(input.summary) ?? str(input.shortDescription) ?? str(template.title),
    description: str(input.description) ?? str(input.shortDescription),
    justification: str(input.justification),
    implementationPlan: str(input.implementationPlan) ?? str(template.implementationPlan),
    backoutPlan: str(input.backoutPlan) ?? str(template.backoutPlan),
    backoutTested: bool(input.backoutTested),
    testPlan: str(input.testPlan) ?? str(template.testPlan),
    ci: list(input.ci),
    services,
    service: services[0] ?? null,
    environment: str(input.environment),
    impact: int(input.impact),
    criticality: int(input.criticality),
    serviceCriticality: (input.serviceCriticality ?? {}) as Record<string, number>,
    plannedStart: str(input.plannedStart),
    plannedEnd: str(input.plannedEnd),
    requestedBy: str(input.requestedBy),
    assignmentGroup: str(input.assignmentGroup),
    implementer: str(input.implementer),
    approvers: (input.approvers ?? {}) as Record<string, string[]>,
    approvalPolicy: (input.approvalPolicy ?? {}) as Record<string, ApprovalPolicy>,
    schedules: (input.schedules ?? {}) as ChangeSchedules,
    changeSchedule: (input.changeSchedule ?? []) as ScheduledChange[],
    cab: { meetingsAt: cab.meetingsAt ?? [] },
    leadTimeMs: typeof input.leadTimeMs === 'number' ? input.leadTimeMs : 72 * HOUR,
    windowExtensionMs: typeof input.windowExtensionMs === 'number' ? input.windowExtensionMs : HOUR,
    earlyStartToleranceMs: typeof input.earlyStartToleranceMs === 'number' ? input.earlyStartToleranceMs : 15 * MIN,
    groupFailureRate: typeof input.groupFailureRate === 'number' ? input.groupFailureRate : null,
    freezeOverride: (bool(input.freezeOverride) ?? bool(input.freezeOverrideRequested) ?? false) && changeType === 'emergency',
    startDelivery: bool(input.startDelivery) ?? false,
    links,
    delaysMs,
    openedAt: input.$at,
    risk: null,
    riskReasons: [],
    questionnaireRisk: parseRisk(input.risk),
    conflicts: [],
    conflictNote: '',
    approvalPlan: {},
    approvals: {},
    problems: [],
    returnReason: null,
    rejection: null,
    heldFrom: null,
    onHoldReason: null,
    withdrawnGroups: [],
    parentNotice: null,
    wasAuthorized: false,
    submitCount: 0,
    submittedAt: null,
    approvalPhaseStartedAt: null,
    authorizedAt: null,
    implementStartedAt: null,
    workStartedAt: null,
    workEndedAt: null,
    reviewAt: null,
    pirRequired: false,
    pirOpenedAt: null,
    pirTaskRef: null,
    closeCode: null,
    closeNotes: null,
    reachedImplement: false,
    backedOut: false,
    overran: false,
    usedFreezeOverride: false,
    deliveryRunId: null,
    outcome: null,
    cancelReason: null,
    canceledBy: null,
  };
}

/** §2.11, fed by `measure.recorded` entries as each moment happens. */
export const changeKpis: KpiDefinition[] = [
  { name: 'changeSuccessRate', label: 'Change success rate', unit: 'ratio', aggregate: 'mean', breakdown: ['type', 'risk', 'assignmentGroup'], description: 'closed successful ÷ closed changes that reached implement' },
  { name: 'changeFailureRate', label: 'Change failure rate', unit: 'ratio', aggregate: 'mean', breakdown: ['type', 'risk', 'assignmentGroup'], description: 'closed unsuccessful, or closed and followed within 7 days by a P1/P2 incident that names it in links.causedByChange, ÷ implemented changes' },
  { name: 'successfulWithIssues', label: 'Successful with issues', unit: 'ratio', aggregate: 'mean', breakdown: ['type', 'risk'] },
  { name: 'leadTime', label: 'Lead time (submit to close)', unit: 'ms', aggregate: 'mean', breakdown: ['type', 'risk'] },
  { name: 'leadTimeToImplement', label: 'Lead time (submit to implement)', unit: 'ms', aggregate: 'mean', breakdown: ['type', 'risk'] },
  { name: 'approvalCycleTime', label: 'Approval cycle time', unit: 'ms', aggregate: 'mean', breakdown: ['type', 'risk'], description: 'time in assess + authorize' },
  { name: 'rejectionRate', label: 'Rejection rate', unit: 'ratio', aggregate: 'mean', breakdown: ['type', 'risk'], description: 'rejected authorization rounds ÷ decided rounds' },
  { name: 'approvalExpired', label: 'Approval expired', unit: 'count', aggregate: 'count', breakdown: ['type'] },
  { name: 'emergencyChangeRatio', label: 'Emergency change ratio', unit: 'ratio', aggregate: 'mean', breakdown: ['assignmentGroup'] },
  { name: 'unauthorizedChanges', label: 'Unauthorized changes', unit: 'count', aggregate: 'count', breakdown: ['assignmentGroup'] },
  { name: 'backoutRate', label: 'Backout rate', unit: 'ratio', aggregate: 'mean', breakdown: ['type', 'risk'] },
  { name: 'overrunRate', label: 'Overrun rate', unit: 'ratio', aggregate: 'mean', breakdown: ['type', 'risk'] },
  { name: 'changesInFreezeOrOutsideWindow', label: 'Changes in freeze or outside window', unit: 'count', aggregate: 'count', breakdown: ['type'] },
  { name: 'pirOnTime', label: 'PIR on time', unit: 'ratio', aggregate: 'mean', breakdown: ['type'] },
  { name: 'scheduleAdherence', label: 'Schedule adherence (|actual − planned start|, median)', unit: 'ms', aggregate: 'median', breakdown: ['type'] },
  { name: 'changeSuccessScore', label: 'Change success score per group', unit: 'count', aggregate: 'mean', breakdown: ['assignmentGroup'], description: '+3 successful, −2 with issues, −5 unsuccessful per change, and −10/−5/−2 per P1/P2/P3 incident it caused (links.causedByChange) once it had closed' },
];

export const change = defineWorkflow({
  name: 'change',
  version: 1,
  description: 'Change enablement: standard, normal, emergency and unauthorized changes with risk, approvals, windows and review (PROCESSES.md §2).',
  machine,
  builtIn: true,
  inputSchema: changeInputSchema,
  eventSchemas: changeEventSchemas,
  kpis: changeKpis,
});
