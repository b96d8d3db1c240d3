// The guards of the change machine, by name.
import { stateIn } from 'xstate';
import { blackoutsOverlapping, inMaintenanceWindows } from './windows.ts';
import type { Args, ChangeType, TopState } from './types.ts';
import { ms, nowOf } from './time.ts';
import { approved, freezeOverrideApproved, inBlackout, inMaintenanceWindow, isComplete, leadTimeOk, stillAuthorized, templateActive } from './rules.ts';
import { approvals } from './approval-plan.ts';
import { parentReturnEvent } from './task-inputs.ts';
import { rereadSchedules } from './registry.ts';

/** The guards, for `setup({ guards })`. */
export const guards = {
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
    const schedules = rereadSchedules(context, event.$registry)?.schedules ?? context.schedules;
    return inMaintenanceWindows(schedules, context.ci, start, end) && blackoutsOverlapping(schedules, context.ci, start, end).length === 0;
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
};
