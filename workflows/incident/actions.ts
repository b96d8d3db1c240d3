// The named actions of the incident machine: context updates and the events and measures they emit.
import { assign, emit, enqueueActions } from 'xstate';
import { priorityFromMatrix, type Level } from './priority.ts';
import { nowOf, slaElapsed, type SlaHookParams } from './sla.ts';
import type { Args, Enqueue } from './types.ts';
import type { HoldReason } from './reasons.ts';
import { eventTime, obj, str } from './fields.ts';
import { label, responder } from './derived.ts';
import { measure } from './kpis.ts';
import { notices, slaNotices } from './notices.ts';
import { resolution, response } from './sla-clocks.ts';
import { paging } from './paging.ts';
import { incidentSnapshot, rereadRegistry } from './registry.ts';

/**
 * The actions, for `setup({ actions })`. Each one's `enqueue` is typed (`Enqueue`: assignments checked against
 * the incident context), but the record is typed loosely: actions defined outside setup() do not fit its
 * inference, and the engine checks every action name when the workflow is registered.
 */
export const actions = {
  ...response.actions,
  ...resolution.actions,
  ...paging.actions,
  ...notices.actions,

  slaNotify: assign(({ context }: Args, params: unknown) => ({ notices: [...context.notices, ...slaNotices(context, params as SlaHookParams)] })),
  /** A breach notifies up and raises the hierarchical escalation level (§1.5). */
  slaBreachEscalate: enqueueActions(({ context, enqueue }: Args & { enqueue: Enqueue }, params: unknown) => {
    const p = params as SlaHookParams;
    enqueue.assign({ escalationLevel: context.escalationLevel + 1, notices: [...context.notices, ...slaNotices(context, p)] });
    enqueue.emit({ type: 'incident.escalated', level: context.escalationLevel + 1, reason: `${p.clock}_sla_breached` });
  }),

  /** The first human response: respondedAt, MTTA; the response clock stops through context. */
  respond: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }) => {
    if (context.respondedAt !== null) return;
    const at = eventTime(event);
    enqueue.assign({ respondedAt: at, respondedBy: str(event.by) });
    enqueue.emit(measure(context, 'mtta', Math.max(0, at - context.openedAt)));
  }),
  assignGroup: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }) => {
    const group = String(event.group);
    const assignee = str(event.assignee);
    const changed = context.assignmentGroup !== null && context.assignmentGroup !== group;
    enqueue.assign({
      assignmentGroup: group, assignee, assignedBy: 'manual', reassignmentCount: context.reassignmentCount + (changed ? 1 : 0),
      notices: [...context.notices, { template: 'assigned', to: assignee ? [assignee, `group:${group}`] : `group:${group}`, subject: `${label(context)} is assigned to ${group}` }],
    });
    enqueue.emit({ type: 'incident.assigned', group, assignee, reassigned: changed });
  }),
  updatePriority: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }) => {
    const impact = event.impact as Level;
    const urgency = event.urgency as Level;
    const priority = priorityFromMatrix(impact, urgency, context.config.priorityMatrix ?? undefined);
    // A fresh rise to P1 puts the major track up for review again.
    const majorRejected = context.majorRejected && !(priority === 1 && context.priority !== 1);
    enqueue.assign({ impact, urgency, priority, majorRejected });
    enqueue.emit({ type: 'incident.priority_changed', from: context.priority, to: priority, impact, urgency });
    // The registry is read again with the new priority (engine-resolved `$registry`): on-call, SLA targets, approvers.
    const snapshot = incidentSnapshot(event.$registry);
    const patch = snapshot ? rereadRegistry(context, snapshot) : null;
    if (patch) enqueue.assign(patch);
  }),
  putOnHold: assign(({ context, event }: Args) => {
    const reason = event.reason as HoldReason;
    const notices = reason === 'awaiting_caller' && context.caller
      ? [...context.notices, { template: 'hold.awaiting_caller', to: context.caller, subject: `Information needed for ${label(context)}`, message: String(event.comment ?? '') }]
      : context.notices;
    return { onHoldReason: reason, onHoldComment: str(event.comment), notices };
  }),
  clearHold: assign({ onHoldReason: null, onHoldComment: null }),
  notifyResponder: assign(({ context, event }: Args) => ({
    notices: [...context.notices, { template: `event.${event.type.toLowerCase()}`, to: responder(context), subject: `${label(context)}: ${event.type}`, message: String(event.comment ?? '') }],
  })),
  remindCaller: assign(({ context }: Args) => ({
    notices: context.caller ? [...context.notices, { template: 'hold.caller_reminder', to: context.caller, subject: `Reminder: information needed for ${label(context)}` }] : context.notices,
  })),
  requestChange: assign(({ context, event }: Args) => ({
    pendingChange: {
      changeType: str(event.changeType) ?? (context.priority <= 2 ? 'emergency' : 'normal'),
      summary: str(event.summary) ?? context.title,
      by: str(event.by),
    },
  })),
  changeStarted: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }) => {
    const runId = String((event.output as { runId: string }).runId);
    enqueue.assign({ links: { ...context.links, change: [...context.links.change, runId] }, pendingChange: null });
    enqueue.emit({ type: 'incident.change_requested', childRunId: runId, changeType: context.pendingChange?.changeType });
  }),
  changeStartFailed: enqueueActions(({ event, enqueue }: Args & { enqueue: Enqueue }) => {
    enqueue.assign({ pendingChange: null });
    enqueue.emit({ type: 'incident.change_request_failed', error: event.error });
  }),
  changeClosed: assign(({ context, event }: Args) => ({
    changeOutcome: { childRunId: String(event.childRunId), closeCode: str(event.closeCode), event: event.type },
    notices: [...context.notices, { template: 'change.closed', to: responder(context), subject: `The change for ${label(context)} ended: ${str(event.closeCode) ?? event.type}` }],
  })),
  alertRepeated: assign(({ context }: Args) => ({ alertRepeatCount: context.alertRepeatCount + 1 })),
  alertCleared: assign(({ context, event }: Args) => ({
    alertClearedAt: eventTime(event),
    notices: [...context.notices, { template: 'alert.cleared', to: responder(context), subject: `The alert behind ${label(context)} cleared` }],
  })),

  /** Resolution facts; the clocks stop on entering `resolved`. */
  resolve: assign(({ context, event }: Args) => {
    const at = eventTime(event);
    const tool = str(event.source);
    return {
      resolvedAt: at, resolvedBy: str(event.by),
      resolutionCode: str(event.code) ?? (event.type === 'ALERT_RESOLVED' ? 'monitoring_cleared' : tool ? `resolved_in_${tool}` : null),
      resolutionNotes: str(event.comment),
    };
  }),
  resolveNoCallerResponse: assign(({ event }: Args) => ({ resolvedAt: nowOf(event), resolvedBy: 'system', resolutionCode: 'no_caller_response', resolutionNotes: null })),
  /** On entering `resolved`: no response before it counts as responded at the resolve (§1.3). */
  resolvedEntry: enqueueActions(({ context, enqueue }: Args & { enqueue: Enqueue }) => {
    const at = context.resolvedAt ?? context.openedAt;
    const firstTime = context.firstResolvedAt === null;
    if (context.respondedAt === null) {
      enqueue.assign({ respondedAt: at });
      enqueue.emit(measure(context, 'mtta', Math.max(0, at - context.openedAt)));
    }
    enqueue.assign({ firstResolvedAt: context.firstResolvedAt ?? at, notices: [] });
    enqueue.emit({ type: 'incident.resolved', code: context.resolutionCode, resolvedAt: at, reopenCount: context.reopenCount });
    if (firstTime) {
      const wall = Math.max(0, at - context.openedAt);
      // The median and p90 KPIs read this same measure.
      enqueue.emit(measure(context, 'meanTimeToResolve', wall));
    }
  }),
  /** After both clocks stopped: SLA time to resolve (pauses excluded). */
  resolvedSlaTime: enqueueActions(({ context, enqueue }: Args & { enqueue: Enqueue }) => {
    if (context.firstResolvedAt !== context.resolvedAt || context.reopenCount > 0) return;
    const c = context.sla.resolution;
    const at = context.resolvedAt ?? context.openedAt;
    const value = c.startedAt !== null ? slaElapsed(c, at) : Math.max(0, at - context.openedAt);
    enqueue.emit(measure(context, 'meanTimeToResolveSla', value));
  }),
  reopen: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }) => {
    const at = nowOf(event);
    const reason = event.type === 'ALERT_FIRING' ? 'alert_refired' : str(event.reason) ?? 'caller_reopened';
    enqueue.assign({
      reopenCount: context.reopenCount + 1, lastReopenedAt: at, lastReopenedBy: str(event.by) ?? (event.type === 'ALERT_FIRING' ? context.source.tool : null),
      reopenReason: reason, resolvedAt: null, resolvedBy: null, resolutionCode: null, resolutionNotes: null,
      notices: [{ template: 'reopened', to: responder(context), subject: `${label(context)} was reopened`, message: String(event.comment ?? '') }],
    });
    enqueue.emit({ type: 'incident.reopened', reason, by: str(event.by), reopenCount: context.reopenCount + 1 });
  }),

  majorDeclaredBy: assign(({ event }: Args) => ({ majorDeclaredBy: str(event.by) })),
  majorCandidateEntry: assign(({ context }: Args) => ({
    notices: [...context.notices, { template: 'major.candidate', to: 'incident_manager', subject: `Major incident? ${label(context)}` }],
  })),
  acceptMajor: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }) => {
    const group = context.config.majorIncidentGroup;
    const changed = context.assignmentGroup !== null && context.assignmentGroup !== group;
    enqueue.assign({
      major: true, majorAcceptedAt: nowOf(event), assignmentGroup: group, assignedBy: 'major',
      reassignmentCount: context.reassignmentCount + (changed ? 1 : 0),
    });
    enqueue.emit({ type: 'incident.major_declared', by: str(event.by) });
    enqueue.emit(measure(context, 'majorIncidents', 1));
  }),
  rejectMajor: enqueueActions(({ event, enqueue }: Args & { enqueue: Enqueue }) => {
    enqueue.assign({ majorRejected: true });
    enqueue.emit({ type: 'incident.major_rejected', by: str(event.by) });
  }),
  bridgeOpened: assign(({ event }: Args) => ({ bridge: obj(event.output) })),
  commsWaitStarted: assign(({ event }: Args) => ({ commsWaitSince: nowOf(event) })),
  commsPublished: assign(({ context }: Args) => ({ commsUpdates: context.commsUpdates + 1 })),

  problemRequested: assign({ problemRequested: true }),
  linkProblem: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }) => {
    enqueue.assign({ links: { ...context.links, problem: String(event.problemRef) } });
    enqueue.emit({ type: 'incident.problem_linked', problemRef: String(event.problemRef) });
  }),
  problemCreated: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }) => {
    const ref = str(obj(event.output).problemRef);
    if (ref) enqueue.assign({ links: { ...context.links, problem: ref } });
    enqueue.emit({ type: 'incident.problem_linked', problemRef: ref, created: true });
  }),

  intakeFinished: assign({ intakeDone: true }),
  changeFailureReported: emit(({ context, event }: Args) => ({
    type: 'incident.change_failure_reported', changeRunId: context.links.causedByChange, priority: context.priority,
    failureCounted: obj(event.output).failureCounted === true, penalty: Number(obj(event.output).penalty ?? 0),
    ...(event.error !== undefined ? { failed: true } : {}),
  })),
  deliveriesNotified: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }) => {
    const notified = obj(event.output).notified;
    enqueue.emit({ type: 'incident.deliveries_notified', service: context.service, priority: context.priority, runIds: Array.isArray(notified) ? notified : [] });
  }),
  deliveriesNotifyFailed: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }) => {
    enqueue.emit({ type: 'incident.deliveries_notify_failed', service: context.service, error: event.error });
  }),
  routingFor: assign(({ context }: Args) => ({ routedPriority: context.priority })),
  enriched: assign(({ context, event }: Args) => {
    const out = obj(event.output);
    return {
      enrichment: { owner: str(out.owner), criticality: str(out.criticality), recentChanges: Array.isArray(out.recentChanges) ? out.recentChanges : [] },
      links: { ...context.links, suggestedCausedByChange: str(out.suggestedCausedByChange) },
    };
  }),
  routed: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }) => {
    const group = str(obj(event.output).assignmentGroup);
    // Routing never overrides a group given in the input or set by hand.
    if (!group || group === context.assignmentGroup || (context.assignedBy !== null && context.assignedBy !== 'routing')) return;
    const changed = context.assignmentGroup !== null;
    enqueue.assign({
      assignmentGroup: group, assignedBy: 'routing', reassignmentCount: context.reassignmentCount + (changed ? 1 : 0),
      notices: [...context.notices, { template: 'assigned', to: `group:${group}`, subject: `${label(context)} is assigned to ${group}` }],
    });
    enqueue.emit({ type: 'incident.assigned', group, assignee: context.assignee, reassigned: changed, by: 'route_assignment' });
  }),
  ticketCreated: assign(({ event }: Args) => ({ ticketRef: str(obj(event.output).ticketRef) })),

  pirOpened: assign(({ event }: Args) => ({ pirOpenedAt: nowOf(event) })),
  pirEscalated: assign({ pirEscalated: true }),
  pirCompleted: enqueueActions(({ context, enqueue }: Args & { enqueue: Enqueue }) => {
    enqueue.emit(measure(context, 'pirCompletedWithinDue', context.pirEscalated ? 0 : 1));
  }),
  autoClosed: enqueueActions(({ enqueue }: Args & { enqueue: Enqueue }) => {
    enqueue.emit({ type: 'incident.auto_closed' });
  }),
  closedEntry: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }) => {
    enqueue.assign({ closedAt: nowOf(event), outcome: 'closed' });
    enqueue.emit(measure(context, 'reopenRate', context.reopenCount >= 1 ? 1 : 0));
    enqueue.emit(measure(context, 'firstContactResolution', context.reassignmentCount === 0 && context.escalationLevel === 0 && context.reopenCount === 0 ? 1 : 0));
    enqueue.emit(measure(context, 'escalationRate', context.escalationLevel >= 1 ? 1 : 0));
    enqueue.emit(measure(context, 'autoResolvedShare', context.resolutionCode === 'monitoring_cleared' ? 1 : 0));
  }),
  cancel: assign(({ context, event }: Args) => ({
    cancelReason: String(event.reason),
    links: { ...context.links, duplicateOf: str(event.duplicateOf) ?? context.links.duplicateOf },
  })),
  reclassify: assign({ cancelReason: 'reclassified_request' }),
  canceledEntry: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }) => {
    enqueue.assign({ closedAt: nowOf(event), outcome: 'canceled' });
    const reason = context.cancelReason ?? 'canceled';
    enqueue.emit({ type: 'incident.canceled', reason, duplicateOf: context.links.duplicateOf });
    // Canceled runs stay out of MTTR and SLA figures; they count by reason.
    if (reason === 'duplicate') enqueue.emit(measure(context, 'duplicates', 1));
    if (reason === 'reclassified_request') enqueue.emit(measure(context, 'reclassified', 1));
    enqueue.emit(measure(context, 'canceled', 1, { reason }));
  }),
  startedEntry: enqueueActions(({ context, enqueue }: Args & { enqueue: Enqueue }) => {
    enqueue.emit(measure(context, 'incidents', 1));
    if (context.links.causedByChange || context.links.causedByDelivery) enqueue.emit(measure(context, 'incidentsCausedByChange', 1));
  }),
} as Record<string, any>;
