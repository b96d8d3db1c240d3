// The guards of the incident machine, by name.
import type { Args } from './types.ts';
import { CANCEL_REASONS, type HoldReason } from './reasons.ts';
import { str } from './fields.ts';
import { members } from './derived.ts';
import { resolution, response } from './sla-clocks.ts';
import { paging } from './paging.ts';
import { notices } from './notices.ts';

/** The guards, for `setup({ guards })`. */
export const guards = {
  ...response.guards,
  ...resolution.guards,
  ...paging.guards,
  ...notices.guards,
  intakeDone: ({ context }: Args) => context.intakeDone,
  // An incident a delivery raised about itself is already that delivery's outcome: telling it would loop.
  changeFailureToReport: ({ context }: Args) => context.links.causedByChange !== null && context.priority <= 3,
  deliveriesToNotify: ({ context }: Args) => context.service !== null && typeof context.runId === 'string' && context.links.causedByDelivery === null,
  priorityRouted: ({ context }: Args) => context.routedPriority !== null && context.routedPriority !== context.priority,
  sourceIsTicket: ({ context }: Args) => ['jira', 'servicenow', 'github'].includes(context.source.tool),
  groupExists: ({ context, event }: Args) => {
    const g = str(event.group);
    return g !== null && (context.config.groups === null || context.config.groups.includes(g) || g === context.config.majorIncidentGroup);
  },
  holdTo: ({ context, event }: Args, params: { reason: HoldReason }) => {
    if (event.reason !== params.reason) return false;
    // ServiceNow makes Additional comments mandatory for Awaiting Caller.
    if (params.reason === 'awaiting_caller' && !str(event.comment)) return false;
    return context.onHoldReason === null;
  },
  hasResolutionInfo: ({ event }: Args) => !!(str(event.code) || str(event.comment) || str(event.source)),
  validCancel: ({ event }: Args) => (CANCEL_REASONS as readonly string[]).includes(event.reason) && (event.reason !== 'duplicate' || !!str(event.duplicateOf)),
  fingerprintMatches: ({ context, event }: Args) => {
    const f = str(event.fingerprint);
    return f === null ? context.source.fingerprint === null : f === context.source.fingerprint;
  },
  autoResolveOnAlertClear: ({ context }: Args) => context.config.autoResolveOnAlertClear && !context.major,
  isMajor: ({ context }: Args) => context.major,
  isEligibleApprover: ({ context, event }: Args, params: { group: string }) => {
    const by = str(event.by);
    return by !== null && members(context, params.group).includes(by);
  },
  isOwnChange: ({ context, event }: Args) => typeof event.childRunId === 'string' && context.links.change.includes(event.childRunId),
  changeRequested: ({ context }: Args) => context.pendingChange !== null,
  // ServiceNow: the caller, the opener or a resolver may reopen; the tool of record may too.
  canReopen: ({ context, event }: Args) => {
    const by = str(event.by);
    if (str(event.source) && event.source === context.source.tool) return true;
    const allowed = [context.caller, context.openedBy, context.assignee, ...members(context, 'resolver')].filter((x): x is string => !!x);
    return by !== null && (allowed.length === 0 || allowed.includes(by));
  },
  canConfirm: ({ context, event }: Args) => {
    const by = str(event.by);
    const allowed = [context.caller, ...members(context, 'serviceDesk')].filter((x): x is string => !!x);
    return by !== null && (allowed.length === 0 || allowed.includes(by));
  },
  canConfirmMajor: ({ context, event }: Args) => {
    const by = str(event.by);
    const allowed = [context.caller, ...members(context, 'serviceDesk')].filter((x): x is string => !!x);
    return context.major && by !== null && (allowed.length === 0 || allowed.includes(by));
  },
  majorDeclared: ({ context }: Args) => context.major,
  majorCandidateDue: ({ context }: Args) => context.priority === 1 && !context.major && !context.majorRejected,
  bridgeOpen: ({ context }: Args) => context.bridge !== null,
  problemLinked: ({ context }: Args) => context.links.problem !== null,
  hasProblemRef: ({ event }: Args) => !!str(event.problemRef),
  // Choice (§1.7): the second reopen files a problem record.
  problemRecordDue: ({ context }: Args) => context.reopenCount >= 2 && context.links.problem === null && !context.problemRequested,
  problemRecordOnResolve: ({ context }: Args) => context.major && context.links.problem === null && !context.problemRequested,
  surveyDue: ({ context }: Args) => context.priority >= 3 && context.caller !== null,
};
