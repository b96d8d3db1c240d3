// Owns group approvals for any process model: who may vote, how a group's votes become a decision
// (ServiceNow approval definitions: first_response, all, percentage), and the statechart region that
// waits for one group with its human task, reminder and escalation timers.
//
// A model spreads the implementations into `setup()` and places one region per approver group:
//
//   const approvals = approvalImplementations<MyContext>();
//   const machine = setup({
//     types: {} as { context: MyContext },
//     actors: taskActors('notify', 'request_approvals', ...),
//     guards: { ...approvals.guards, ... },
//     actions: { ...approvals.actions, ... },
//     delays: { ...approvalDelays({ approvalReminderDelay: 86_400_000, approvalEscalationDelay: 172_800_000 }), ... },
//   }).createMachine({
//     ...
//     authorize: {
//       type: 'parallel',
//       states: {
//         cab: approvalRegion({ group: 'cab', role: 'cab', title: 'CAB decision on {number}',
//           approveEvent: 'APPROVE_CAB', rejectEvent: 'REJECT_CAB',
//           reminderDelay: 'approvalReminderDelay', escalationDelay: 'approvalEscalationDelay', escalateTo: 'changeManager' }),
//       },
//       // Decide with `always`, not `onDone`: a rejection ends the round before every region is done.
//       always: [{ guard: 'anyApprovalRejected', target: 'new' }, { guard: 'approvalsGranted', target: 'scheduled' }],
//     },
//   });
//
// The context must carry `requestedBy`, `approvers` (group → member ids), `approvalPlan` (group → policy;
// a group not in the plan is not required) and `approvals` (group → record), plus `delaysMs` for overrides.
// A timer never approves anything: the timers here only remind and escalate.
import { and, assign, emit, type AnyEventObject } from 'xstate';

export type ApprovalPolicy =
  | { waitFor: 'first_response' }
  | { waitFor: 'all' }
  | { waitFor: 'percentage'; percent: number };

export type VoteDecision = 'approved' | 'rejected';

export interface ApprovalVote {
  by: string;
  decision: VoteDecision;
  comment: string | null;
  at: number | null;
}

export type GroupApprovalStatus = 'pending' | 'approved' | 'rejected' | 'withdrawn';

/** One group's approval record, as it stands in `context.approvals[group]`. */
export interface GroupApproval {
  status: GroupApprovalStatus;
  policy: ApprovalPolicy;
  votes: ApprovalVote[];
  /** How many times the group was asked (a hold withdraws, a release asks again). */
  requests: number;
  requestedAt: number | null;
  decidedAt: number | null;
}

export interface ApprovalsContext {
  requestedBy: string | null;
  approvers: Record<string, string[]>;
  approvalPlan: Record<string, ApprovalPolicy>;
  approvals: Record<string, GroupApproval>;
  delaysMs: Record<string, number>;
}

export interface GroupParams {
  group: string;
}

type Args<TContext> = { context: TContext; event: AnyEventObject };

function at(event: AnyEventObject): number | null {
  const v = (event as { $at?: unknown }).$at;
  return typeof v === 'number' ? v : null;
}

/** The members of a group who may vote: listed in `approvers[group]`, never the requester. */
export function eligibleApprovers(context: ApprovalsContext, group: string): string[] {
  const members = context.approvers[group] ?? [];
  return [...new Set(members)].filter((m) => m !== context.requestedBy);
}

/** The approvals a group needs under its policy, counted over its eligible members. */
export function approvalsRequired(policy: ApprovalPolicy, eligible: number): number {
  if (policy.waitFor === 'first_response') return 1;
  if (policy.waitFor === 'all') return Math.max(1, eligible);
  return Math.max(1, Math.ceil((eligible * policy.percent) / 100));
}

/** Where a group stands: `approved`, `rejected` (the quorum can no longer be reached) or `open`. */
export function tally(context: ApprovalsContext, group: string): 'approved' | 'rejected' | 'open' {
  const policy = context.approvalPlan[group] ?? context.approvals[group]?.policy ?? { waitFor: 'first_response' };
  const eligible = eligibleApprovers(context, group);
  const votes = (context.approvals[group]?.votes ?? []).filter((v) => eligible.includes(v.by));
  const approvals = votes.filter((v) => v.decision === 'approved').length;
  const required = approvalsRequired(policy, eligible.length);
  if (policy.waitFor === 'first_response') {
    // The first response decides, whichever way it goes.
    if (votes.length > 0) return votes[0].decision === 'approved' ? 'approved' : 'rejected';
    return eligible.length === 0 ? 'rejected' : 'open';
  }
  if (eligible.length > 0 && approvals >= required) return 'approved';
  const stillPossible = approvals + (eligible.length - votes.length);
  return stillPossible < required ? 'rejected' : 'open';
}

/** True when `by` may vote for `group` now: eligible, and has not voted in this group yet. */
function mayVote(context: ApprovalsContext, group: string, by: unknown): boolean {
  if (typeof by !== 'string') return false;
  if (!eligibleApprovers(context, group).includes(by)) return false;
  return !(context.approvals[group]?.votes ?? []).some((v) => v.by === by);
}

/** The guards a model spreads into `setup({ guards })`. Each takes `params: { group }` where it needs one. */
export function approvalGuards() {
  return {
    /** §0.5: `event.by` is in `approvers[group]` and is not the requester (segregation of duties). */
    isEligibleApprover: ({ context, event }: Args<ApprovalsContext>, params: GroupParams): boolean =>
      typeof event.by === 'string' && eligibleApprovers(context, params.group).includes(event.by),
    /** A member votes once per request round; a second vote is refused, not counted twice. */
    hasNotVoted: ({ context, event }: Args<ApprovalsContext>, params: GroupParams): boolean =>
      !(context.approvals[params.group]?.votes ?? []).some((v) => v.by === event.by),
    quorumReached: ({ context }: Args<ApprovalsContext>, params: GroupParams): boolean => tally(context, params.group) === 'approved',
    quorumImpossible: ({ context }: Args<ApprovalsContext>, params: GroupParams): boolean => tally(context, params.group) === 'rejected',
    /** The group is in the approval plan. */
    approvalRequired: ({ context }: Args<ApprovalsContext>, params: GroupParams): boolean => params.group in context.approvalPlan,
    /** The group approved in this plan already (a region re-entered after a hold keeps it). */
    alreadyApproved: ({ context }: Args<ApprovalsContext>, params: GroupParams): boolean =>
      params.group in context.approvalPlan && context.approvals[params.group]?.status === 'approved',
    /** Every group of the plan approved. */
    approvalsGranted: ({ context }: Args<ApprovalsContext>): boolean =>
      Object.keys(context.approvalPlan).every((g) => context.approvals[g]?.status === 'approved'),
    anyApprovalRejected: ({ context }: Args<ApprovalsContext>): boolean =>
      Object.values(context.approvals).some((a) => a.status === 'rejected'),
  };
}

// Any actor set: these actions spawn nothing, so they fit whatever tasks the model's setup() lists.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyActors = any;

/** The actions a model spreads into `setup({ actions })`. */
export function approvalActions<TContext extends ApprovalsContext>() {
  const setGroup = (context: TContext, group: string, patch: Partial<GroupApproval>): Record<string, GroupApproval> => {
    const prev: GroupApproval = context.approvals[group] ?? {
      status: 'pending', policy: context.approvalPlan[group] ?? { waitFor: 'first_response' }, votes: [], requests: 0, requestedAt: null, decidedAt: null,
    };
    return { ...context.approvals, [group]: { ...prev, ...patch } };
  };
  return {
    /** Entry of a group's `pending`: the group is asked (again); a withdrawn ask left no votes behind. */
    openApproval: assign<TContext, AnyEventObject, GroupParams, AnyEventObject, AnyActors>(({ context, event }: Args<TContext>, params: GroupParams) => {
      const prev = context.approvals[params.group];
      return {
        approvals: setGroup(context, params.group, {
          status: 'pending', policy: context.approvalPlan[params.group] ?? { waitFor: 'first_response' },
          requests: (prev?.requests ?? 0) + 1, requestedAt: at(event), decidedAt: null,
        }),
      } as Partial<TContext>;
    }),
    recordVote: assign<TContext, AnyEventObject, GroupParams & { decision: VoteDecision }, AnyEventObject, AnyActors>(({ context, event }: Args<TContext>, params: GroupParams & { decision: VoteDecision }) => {
      const vote: ApprovalVote = {
        by: String(event.by), decision: params.decision, comment: typeof event.comment === 'string' ? event.comment : null, at: at(event),
      };
      const prev = context.approvals[params.group];
      return { approvals: setGroup(context, params.group, { votes: [...(prev?.votes ?? []), vote] }) } as Partial<TContext>;
    }),
    settleApproval: assign<TContext, AnyEventObject, GroupParams & { status: 'approved' | 'rejected' }, AnyEventObject, AnyActors>(({ context, event }: Args<TContext>, params: GroupParams & { status: 'approved' | 'rejected' }) => ({
      approvals: setGroup(context, params.group, { status: params.status, decidedAt: at(event) }),
    }) as Partial<TContext>),
    /** ServiceNow's "Disregard change approvals": every pending group becomes withdrawn with its partial votes (a vote before a hold does not count after it). */
    withdrawPendingApprovals: assign<TContext, AnyEventObject, undefined, AnyEventObject, AnyActors>(({ context }: Args<TContext>) => {
      const approvals: Record<string, GroupApproval> = {};
      for (const [g, a] of Object.entries(context.approvals)) approvals[g] = a.status === 'pending' ? { ...a, status: 'withdrawn', votes: [] } : a;
      return { approvals } as Partial<TContext>;
    }),
    /** A new round (a resubmission): no earlier vote is reused. */
    resetApprovals: assign<TContext, AnyEventObject, undefined, AnyEventObject, AnyActors>(() => ({ approvals: {} }) as Partial<TContext>),
    emitApprovalRequested: emit(({ context }: Args<TContext>, params: GroupParams) => ({
      type: 'approval.requested', group: params.group, policy: context.approvalPlan[params.group] ?? null, approvers: eligibleApprovers(context, params.group),
    })),
    emitVote: emit(({ event }: Args<TContext>, params: GroupParams & { decision: VoteDecision }) => ({
      type: 'approval.vote', group: params.group, by: event.by ?? null, decision: params.decision, comment: event.comment ?? null,
    })),
    emitDecision: emit(({ context }: Args<TContext>, params: GroupParams & { status: 'approved' | 'rejected' }) => ({
      type: `approval.${params.status}`, group: params.group, votes: context.approvals[params.group]?.votes ?? [],
    })),
    emitWithdrawn: emit(({ context }: Args<TContext>) => ({
      type: 'approval.withdrawn', groups: Object.entries(context.approvals).filter(([, a]) => a.status === 'pending').map(([g]) => g),
    })),
  };
}

/** Guards and actions together, for `setup({ guards: { ...a.guards }, actions: { ...a.actions } })`. */
export function approvalImplementations<TContext extends ApprovalsContext>() {
  return { guards: approvalGuards(), actions: approvalActions<TContext>() };
}

/**
 * Named delays that read `context.delaysMs[name]` and fall back to the given defaults (ms).
 * @example approvalDelays({ approvalReminderDelay: 86_400_000 })
 */
export function approvalDelays<const TNames extends string>(defaults: Record<TNames, number>): Record<TNames, (args: { context: ApprovalsContext }) => number> {
  const out = {} as Record<TNames, (args: { context: ApprovalsContext }) => number>;
  for (const [name, ms] of Object.entries(defaults) as [TNames, number][]) {
    out[name] = ({ context }) => Math.max(0, context.delaysMs?.[name] ?? ms);
  }
  return out;
}

export interface ApprovalRegionSpec {
  /** camelCase group name, the key in `approvers`, `approvalPlan` and `approvals`. */
  group: string;
  /** Human-task role (snake_case, docs/models/conventions.md §0.6) and title (`{field}` filled from context). */
  role: string;
  title: string;
  /** One event type per authority, so a task outcome (which carries only `by` and `comment`) reaches this region. */
  approveEvent: string;
  rejectEvent: string;
  reminderDelay?: string;
  escalationDelay?: string;
  /** The group notified when the escalation timer fires (default: the group itself). */
  escalateTo?: string;
  /** Ask through the `request_approvals` task at entry (default true). */
  requestTask?: boolean;
}

/**
 * A statechart state node for one group's approval, to place as a region of a parallel state (or as the
 * whole content of a compound one). States: `init` (routes by the plan and earlier approvals),
 * `notRequired`, `pending` (a human task per ballot, a reminder and an escalation), `approved`, `rejected`;
 * the last three that end the region are final, so the parent's `onDone` fires when every group is decided.
 * Each vote that does not decide reopens the human task for the members still to vote.
 */
// Typed loosely on purpose: the engine checks every task, guard, action and delay name at registration.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function approvalRegion(spec: ApprovalRegionSpec): any {
  const g = { group: spec.group };
  const humanTask = { role: spec.role, title: spec.title, outcomes: { APPROVE: spec.approveEvent, REJECT: spec.rejectEvent } };
  const canVote = and([{ type: 'isEligibleApprover', params: g }, { type: 'hasNotVoted', params: g }]);
  const vote = (decision: VoteDecision, target: string) => ({
    guard: canVote,
    target,
    actions: [{ type: 'recordVote', params: { ...g, decision } }, { type: 'emitVote', params: { ...g, decision } }],
  });
  const ballot = (next: string) => ({
    meta: { humanTask },
    on: { [spec.approveEvent]: vote('approved', next), [spec.rejectEvent]: vote('rejected', next) },
  });
  const after: Record<string, string> = {};
  if (spec.reminderDelay) after[spec.reminderDelay] = '.reminding';
  if (spec.escalationDelay) after[spec.escalationDelay] = '.escalating';
  const nudge = (kind: 'Reminder' | 'Escalation', subject: string, to: (ctx: ApprovalsContext) => string[]) => ({
    invoke: {
      id: `${spec.group}${kind}`,
      src: 'notify',
      input: ({ context }: { context: ApprovalsContext }) => ({ to: to(context), subject, group: spec.group }),
      onDone: 'idle',
      onError: 'idle',
    },
  });
  const notVoted = (ctx: ApprovalsContext) => {
    const voted = new Set((ctx.approvals[spec.group]?.votes ?? []).map((v) => v.by));
    return eligibleApprovers(ctx, spec.group).filter((m) => !voted.has(m));
  };
  const decide = (status: 'approved' | 'rejected') => [
    { type: 'settleApproval', params: { ...g, status } },
    { type: 'emitDecision', params: { ...g, status } },
  ];
  return {
    initial: 'init',
    states: {
      init: {
        always: [
          { guard: { type: 'alreadyApproved', params: g }, target: 'approved' },
          { guard: { type: 'approvalRequired', params: g }, target: 'pending' },
          { target: 'notRequired' },
        ],
      },
      notRequired: { type: 'final' },
      pending: {
        type: 'parallel',
        entry: [{ type: 'openApproval', params: g }, { type: 'emitApprovalRequested', params: g }],
        ...(spec.requestTask === false ? {} : {
          invoke: {
            id: `${spec.group}Request`,
            src: 'request_approvals',
            input: ({ context }: { context: ApprovalsContext }) => ({
              group: spec.group, approvers: eligibleApprovers(context, spec.group), policy: context.approvalPlan[spec.group] ?? null,
              round: context.approvals[spec.group]?.requests ?? 1,
            }),
            onError: { actions: emit({ type: 'approval.request_failed', group: spec.group }) },
          },
        }),
        // Checked after every vote (and at once on entry, for a group nobody eligible can approve).
        always: [
          { guard: { type: 'quorumReached', params: g }, target: 'approved', actions: decide('approved') },
          { guard: { type: 'quorumImpossible', params: g }, target: 'rejected', actions: decide('rejected') },
        ],
        states: {
          // Two ballots, so that each vote that does not decide opens a fresh task for the others.
          ballot: { initial: 'open', states: { open: ballot('reopened'), reopened: ballot('open') } },
          nudges: {
            initial: 'idle',
            // On the region, so that moving between its children keeps both timers running.
            after,
            states: {
              idle: {},
              reminding: nudge('Reminder', `Reminder: approval pending (${spec.group})`, notVoted),
              escalating: nudge('Escalation', `Escalation: approval overdue (${spec.group})`, (ctx) => {
                const to = spec.escalateTo ? eligibleApprovers(ctx, spec.escalateTo) : notVoted(ctx);
                return to.length ? to : [spec.escalateTo ?? spec.group];
              }),
            },
          },
        },
      },
      approved: { type: 'final' },
      rejected: { type: 'final' },
    },
  };
}
