// The `incident` process model (PROCESSES.md §1, with §0): restore service fast, with SLA clocks,
// paging, the major-incident track and the links to change and problem.
//
// `open` is a parallel state. `work` is the lifecycle people move; the other regions (intake, both SLA
// clocks, paging, major, problem, notices) follow context through guarded `always` transitions, so
// each starts in an `init` pseudo-state and a REOPEN re-enters them in the right sub-state.
import { timeOf } from './lib/time.ts';
import { assign, enqueueActions, setup, emit } from 'xstate';
import { defineWorkflow, taskActors, type KpiDefinition } from './lib/define.ts';
import { derivePriority, isPriorityMatrix, priorityFromMatrix, type Level, type Priority, type PriorityMatrix } from './lib/priority.ts';
import { newSlaClock, nowOf, slaClock, slaElapsed, type SlaClockState, type SlaHookParams } from './lib/sla.ts';
import { newPagingState, noticeQueue, pagingLadder, queueNotice, type Notice, type PagingLevel, type PagingPolicy, type PagingState } from './lib/escalation.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** §1.5 targets by priority (§7 C1). P5 has no resolution SLA. */
export const DEFAULT_SLA_TARGETS_MS: Record<Priority, { responseMs: number | null; resolutionMs: number | null }> = {
  1: { responseMs: 15 * MIN, resolutionMs: 4 * HOUR },
  2: { responseMs: 1 * HOUR, resolutionMs: 8 * HOUR },
  3: { responseMs: 4 * HOUR, resolutionMs: 24 * HOUR },
  4: { responseMs: 8 * HOUR, resolutionMs: 72 * HOUR },
  5: { responseMs: 24 * HOUR, resolutionMs: null },
};

/** §1.5 escalation timeout per paging level (choice), by priority; only P1/P2 page. */
export const DEFAULT_PAGE_ESCALATION_MS: Record<number, number> = { 1: 10 * MIN, 2: 30 * MIN };

/** Every named delay of the model and its default; `delaysMs.<name>` replaces any of them. */
export const INCIDENT_DELAYS_MS = {
  autoCloseDelay: 72 * HOUR,
  callerReminderDelay: 5 * DAY,
  callerAutoResolveDelay: 15 * DAY,
  majorCandidateDelay: 15 * MIN,
  /** P1 every 30 min, P2 every 60 min (choice); others as P2. */
  commsUpdateDelay: null as number | null,
  pirDueDelay: 3 * DAY,
  /** After the PIR reminder: escalation at day 5. */
  pirEscalationDelay: 2 * DAY,
} as const;

export const HOLD_REASONS = ['awaiting_caller', 'awaiting_change', 'awaiting_problem', 'awaiting_vendor'] as const;
export type HoldReason = (typeof HOLD_REASONS)[number];
export const CANCEL_REASONS = ['duplicate', 'not_an_incident', 'raised_in_error'] as const;

const HOLD_STATE: Record<HoldReason, string> = {
  awaiting_caller: 'awaitingCaller', awaiting_change: 'awaitingChange', awaiting_problem: 'awaitingProblem', awaiting_vendor: 'awaitingVendor',
};

export interface IncidentSource {
  tool: string;
  key: string | null;
  url: string | null;
  fingerprint: string | null;
}

export interface IncidentConfig {
  slaTargetsMs: Record<string, { responseMs: number | null; resolutionMs: number | null }>;
  slaWarnAt: number[] | null;
  slaPauseReasons: string[];
  autoCloseAfterMs: number;
  autoResolveOnAlertClear: boolean;
  pagingPolicy: PagingPolicy & { enabled: boolean };
  delaysMs: Record<string, number>;
  priorityMatrix: PriorityMatrix | null;
  routingRules: unknown[] | null;
  serviceCatalog: Record<string, unknown> | null;
  knownChanges: unknown[] | null;
  majorIncidentGroup: string;
  groups: string[] | null;
}

export interface IncidentContext {
  [k: string]: unknown;
  number: string | null;
  businessKey: string | null;
  /** This run's id (`$runId` at start): the `incidentRunId` other runs are told. */
  runId: string | null;
  title: string;
  description: string | null;
  service: string | null;
  ci: string | null;
  category: string | null;
  labels: Record<string, string>;
  impact: Level;
  urgency: Level;
  priority: Priority;
  source: IncidentSource;
  caller: string | null;
  openedBy: string | null;
  assignmentGroup: string | null;
  assignee: string | null;
  assignedBy: 'input' | 'routing' | 'manual' | 'major' | null;
  reassignmentCount: number;
  approvers: Record<string, string[]>;
  oncall: string | null;
  config: IncidentConfig;
  openedAt: number;
  respondedAt: number | null;
  respondedBy: string | null;
  resolvedAt: number | null;
  firstResolvedAt: number | null;
  resolvedBy: string | null;
  resolutionCode: string | null;
  resolutionNotes: string | null;
  closedAt: number | null;
  onHoldReason: HoldReason | null;
  onHoldComment: string | null;
  pendingChange: { changeType: string; summary: string; by: string | null } | null;
  changeOutcome: { childRunId: string; closeCode: string | null; event: string } | null;
  reopenCount: number;
  lastReopenedAt: number | null;
  lastReopenedBy: string | null;
  reopenReason: string | null;
  escalationLevel: number;
  alertRepeatCount: number;
  alertClearedAt: number | null;
  major: boolean;
  majorRejected: boolean;
  majorDeclaredBy: string | null;
  majorAcceptedAt: number | null;
  bridge: Record<string, unknown> | null;
  commsUpdates: number;
  commsWaitSince: number | null;
  pirOpenedAt: number | null;
  pirEscalated: boolean;
  problemRequested: boolean;
  intakeDone: boolean;
  /** The priority the last routing saw: a different one re-routes. */
  routedPriority: number | null;
  enrichment: { owner: string | null; criticality: string | null; recentChanges: unknown[] } | null;
  ticketRef: string | null;
  links: {
    problem: string | null;
    change: string[];
    causedByChange: string | null;
    causedByDelivery: string | null;
    suggestedCausedByChange: string | null;
    duplicateOf: string | null;
    reopenedFrom: string | null;
  };
  sla: { response: SlaClockState; resolution: SlaClockState };
  paging: PagingState;
  notices: Notice[];
  outcome: 'closed' | 'canceled' | null;
  cancelReason: string | null;
}

export type IncidentInput = Record<string, unknown> & { $at: number };
type Ev = { type: string; $at?: number; [k: string]: any };
type Args = { context: IncidentContext; event: Ev };

// ---------------------------------------------------------------------------------------------
// Reading the input (tolerant: hooks add fields; the schema checks the ones that matter)

const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

export { timeOf };

/** The tool's own time for an event when it carries one (never later than the engine's), else `$at`. */
function eventTime(event: Ev): number {
  const now = nowOf(event);
  const at = timeOf(event.at);
  return at !== null && at <= now ? at : now;
}

function pagingPolicyOf(v: unknown, oncall: string | null): PagingPolicy & { enabled: boolean } {
  const p = obj(v);
  const raw = Array.isArray(p.levels) ? p.levels : typeof p.levels === 'number' ? Array.from({ length: p.levels }, (_, i) => `level-${i + 1}`) : null;
  const levels: PagingLevel[] = raw
    ? raw.map((l, i) => (typeof l === 'string' ? { target: l } : { target: str(obj(l).target) ?? `level-${i + 1}`, escalationTimeoutMs: typeof obj(l).escalationTimeoutMs === 'number' ? (obj(l).escalationTimeoutMs as number) : undefined }))
    : [{ target: oncall ?? 'primary' }, { target: 'secondary' }];
  return {
    levels: levels.length ? levels : [{ target: oncall ?? 'primary' }],
    loops: typeof p.loops === 'number' && p.loops >= 1 ? p.loops : 3,
    escalationTimeoutMs: typeof p.escalationTimeoutMs === 'number' ? p.escalationTimeoutMs : undefined,
    enabled: p.enabled !== false,
  };
}

function slaTargetsOf(v: unknown): IncidentConfig['slaTargetsMs'] {
  const given = obj(v);
  const out: IncidentConfig['slaTargetsMs'] = {};
  for (const p of [1, 2, 3, 4, 5] as Priority[]) {
    const g = obj(given[String(p)]);
    out[String(p)] = {
      responseMs: 'responseMs' in g ? (g.responseMs as number | null) : DEFAULT_SLA_TARGETS_MS[p].responseMs,
      resolutionMs: 'resolutionMs' in g ? (g.resolutionMs as number | null) : DEFAULT_SLA_TARGETS_MS[p].resolutionMs,
    };
  }
  return out;
}

function approversOf(v: unknown): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, list] of Object.entries(obj(v))) if (Array.isArray(list)) out[k] = list.filter((x): x is string => typeof x === 'string');
  return out;
}

function initialContext(input: IncidentInput): IncidentContext {
  const now = input.$at;
  const source = obj(input.source);
  const matrix = isPriorityMatrix(input.priorityMatrix) ? input.priorityMatrix : null;
  const { priority, impact, urgency } = derivePriority(input as { impact?: unknown; urgency?: unknown; priority?: unknown }, matrix ?? undefined);
  const opened = timeOf(input.openedAt);
  const links = obj(input.links);
  const oncall = str(input.oncall);
  const number = str(input.number);
  const sourceKey = str(source.key);
  const group = str(input.assignmentGroup);
  return {
    number,
    businessKey: str(input.businessKey) ?? sourceKey ?? number,
    runId: str(input.$runId),
    title: str(input.title) ?? 'Untitled incident',
    description: str(input.description),
    service: str(input.service),
    ci: str(input.ci),
    category: str(input.category),
    labels: Object.fromEntries(Object.entries(obj(input.labels)).filter(([, v]) => typeof v === 'string')) as Record<string, string>,
    impact, urgency, priority,
    source: { tool: str(source.tool) ?? 'api', key: sourceKey, url: str(source.url), fingerprint: str(source.fingerprint) },
    caller: str(input.caller),
    openedBy: str(input.openedBy) ?? str(input.caller),
    assignmentGroup: group,
    assignee: str(input.assignee),
    assignedBy: group ? 'input' : null,
    reassignmentCount: 0,
    approvers: approversOf(input.approvers),
    oncall,
    config: {
      slaTargetsMs: slaTargetsOf(input.slaTargetsMs),
      slaWarnAt: Array.isArray(input.slaWarnAt) ? (input.slaWarnAt as number[]) : null,
      slaPauseReasons: Array.isArray(input.slaPauseReasons) ? (input.slaPauseReasons as string[]) : ['awaiting_caller'],
      autoCloseAfterMs: typeof input.autoCloseAfterMs === 'number' ? input.autoCloseAfterMs : INCIDENT_DELAYS_MS.autoCloseDelay,
      autoResolveOnAlertClear: input.autoResolveOnAlertClear !== false,
      pagingPolicy: pagingPolicyOf(input.pagingPolicy, oncall),
      delaysMs: Object.fromEntries(Object.entries(obj(input.delaysMs)).filter(([, v]) => typeof v === 'number')) as Record<string, number>,
      priorityMatrix: matrix,
      routingRules: Array.isArray(input.routingRules) ? input.routingRules : null,
      serviceCatalog: input.serviceCatalog ? obj(input.serviceCatalog) : null,
      knownChanges: Array.isArray(input.changes) ? input.changes : null,
      majorIncidentGroup: str(input.majorIncidentGroup) ?? 'major-incident',
      groups: Array.isArray(input.groups) ? (input.groups as string[]) : null,
    },
    // The tool's creation time when it sent one: SLA timing starts there (retroactive start).
    openedAt: opened !== null && opened <= now ? opened : now,
    respondedAt: null, respondedBy: null, resolvedAt: null, firstResolvedAt: null, resolvedBy: null, resolutionCode: null, resolutionNotes: null, closedAt: null,
    onHoldReason: null, onHoldComment: null, pendingChange: null, changeOutcome: null,
    reopenCount: 0, lastReopenedAt: null, lastReopenedBy: null, reopenReason: null,
    escalationLevel: 0, alertRepeatCount: 0, alertClearedAt: null,
    major: false, majorRejected: false, majorDeclaredBy: null, majorAcceptedAt: null, bridge: null, commsUpdates: 0, commsWaitSince: null,
    pirOpenedAt: null, pirEscalated: false, problemRequested: false, intakeDone: false, routedPriority: null, enrichment: null, ticketRef: null,
    links: {
      problem: str(links.problem), change: [], causedByChange: str(links.causedByChange), causedByDelivery: str(links.causedByDelivery),
      suggestedCausedByChange: null, duplicateOf: null, reopenedFrom: str(links.reopenedFrom) ?? str(input.reopenedFrom),
    },
    sla: { response: newSlaClock(), resolution: newSlaClock() },
    paging: newPagingState(),
    notices: [],
    outcome: null,
    cancelReason: null,
  };
}

// ---------------------------------------------------------------------------------------------
// Derived values

const delayOf = (c: IncidentContext, name: string): number | undefined => c.config.delaysMs[name];
const targets = (c: IncidentContext) => c.config.slaTargetsMs[String(c.priority)] ?? DEFAULT_SLA_TARGETS_MS[c.priority];
const dims = (c: IncidentContext) => ({ priority: c.priority, service: c.service, source: c.source.tool });
const responder = (c: IncidentContext): string => c.assignee ?? (c.assignmentGroup ? `group:${c.assignmentGroup}` : 'service_desk');
const groupManager = (c: IncidentContext): string => `manager:${c.assignmentGroup ?? 'service_desk'}`;
const label = (c: IncidentContext) => c.number ?? c.businessKey ?? 'incident';
const pagingEnabled = (c: IncidentContext) => c.priority <= 2 && c.source.tool !== 'pagerduty' && c.config.pagingPolicy.enabled;
const measure = (c: IncidentContext, name: string, value: number, extra: Record<string, unknown> = {}) => ({
  type: 'measure.recorded', measure: name, value, openedAt: c.openedAt, dims: { ...dims(c), ...extra },
});
const members = (c: IncidentContext, group: string): string[] => c.approvers[group] ?? [];

/** Hierarchical notify-up per clock event (§0.3, §1.5): who hears of a warning, a breach, a re-escalation. */
function slaNotices(c: IncidentContext, p: SlaHookParams): Notice[] {
  const what = `${p.clock} SLA of ${label(c)}`;
  switch (p.kind) {
    case 'warning':
      return [{
        template: `sla.warning.${p.clock}`, to: p.fraction !== undefined && p.fraction >= 0.75 ? [responder(c), groupManager(c)] : responder(c),
        subject: `${Math.round((p.fraction ?? 0) * 100)}% of the ${what} used`, fraction: p.fraction,
      }];
    case 'breached':
      return [{ template: `sla.breached.${p.clock}`, to: [responder(c), groupManager(c), 'incident_manager'], subject: `The ${what} is breached` }];
    case 'reescalated':
      return [{ template: `sla.reescalated.${p.clock}`, to: ['incident_manager', `manager:incident_manager`], subject: `The ${what} is still breached (re-escalation ${p.level})`, level: p.level }];
    default:
      return [];
  }
}

const response = slaClock<IncidentContext, 'response'>({
  clock: 'response',
  targetMs: (c) => targets(c).responseMs,
  startedAt: (c) => c.openedAt,
  warnAtFrom: (c) => c.config.slaWarnAt ?? undefined,
  stoppedWhen: (c) => c.respondedAt !== null,
  delayOverride: delayOf,
  measure: 'slaComplianceResponse',
  dims,
  openedAt: (c) => c.openedAt,
  hooks: { warning: 'slaNotify', breached: 'slaBreachEscalate', reescalated: 'slaNotify' },
});

const resolution = slaClock<IncidentContext, 'resolution'>({
  clock: 'resolution',
  targetMs: (c) => targets(c).resolutionMs,
  startedAt: (c) => c.openedAt,
  warnAtFrom: (c) => c.config.slaWarnAt ?? undefined,
  pausedWhen: (c) => c.onHoldReason !== null && c.config.slaPauseReasons.includes(c.onHoldReason),
  resumable: true,
  delayOverride: delayOf,
  measure: 'slaComplianceResolution',
  dims,
  openedAt: (c) => c.openedAt,
  hooks: { warning: 'slaNotify', breached: 'slaBreachEscalate', reescalated: 'slaNotify' },
});

const paging = pagingLadder<IncidentContext>({
  task: 'page_oncall',
  enabled: pagingEnabled,
  acknowledged: (c) => c.respondedAt !== null,
  policy: (c) => c.config.pagingPolicy,
  timeoutMs: (c) => DEFAULT_PAGE_ESCALATION_MS[c.priority] ?? 30 * MIN,
  delayOverride: delayOf,
  pageInput: (c, page) => ({
    eventAction: 'trigger',
    // dedup_key = business key: a retried or repeated page lands on the same PagerDuty alert (§0.1).
    ...(c.businessKey ? { dedupKey: c.businessKey } : {}),
    summary: `[P${c.priority}] ${c.title}`.slice(0, 1024),
    severity: c.priority === 1 ? 'critical' : 'error',
    source: c.service ?? 'servicechart',
    escalationPolicy: c.oncall,
    level: page.level, loop: page.loop, page: page.page, target: page.target,
  }),
  exhausted: {
    target: () => 'incident_manager',
    humanTask: { role: 'incident_manager', title: 'Nobody acknowledged {number}', outcomes: { TAKE_OVER: 'ACKNOWLEDGE' } },
  },
});

const notices = noticeQueue({ task: 'notify' });

// ---------------------------------------------------------------------------------------------
// The machine

const machine = setup({
  types: {} as { context: IncidentContext; input: IncidentInput; events: Ev },
  actors: taskActors(
    'notify', 'page_oncall', 'enrich_context', 'route_assignment', 'create_external_ticket', 'update_external_ticket', 'report_change_failure',
    'resolve_external_alert', 'open_bridge', 'publish_status_update', 'create_problem_record', 'send_survey', 'start_run',
    'notify_deliveries',
  ),
  delays: {
    ...response.delays,
    ...resolution.delays,
    ...paging.delays,
    autoCloseDelay: ({ context }: { context: IncidentContext }) => delayOf(context, 'autoCloseDelay') ?? context.config.autoCloseAfterMs,
    callerReminderDelay: ({ context }: { context: IncidentContext }) => delayOf(context, 'callerReminderDelay') ?? INCIDENT_DELAYS_MS.callerReminderDelay,
    callerAutoResolveDelay: ({ context }: { context: IncidentContext }) => delayOf(context, 'callerAutoResolveDelay') ?? INCIDENT_DELAYS_MS.callerAutoResolveDelay,
    majorCandidateDelay: ({ context }: { context: IncidentContext }) => delayOf(context, 'majorCandidateDelay') ?? INCIDENT_DELAYS_MS.majorCandidateDelay,
    // Anchored to the declaration: update n is due at declaredAt + n × interval, however long a publish took.
    commsUpdateDelay: ({ context }: { context: IncidentContext }) => {
      const every = delayOf(context, 'commsUpdateDelay') ?? (context.priority === 1 ? 30 * MIN : 60 * MIN);
      const since = context.commsWaitSince ?? 0;
      const anchor = context.majorAcceptedAt ?? since;
      // The next update's slot, or the next slot still ahead after a long gap (a reopen): never a burst.
      const next = Math.max(anchor + (context.commsUpdates + 1) * every, anchor + (Math.floor((since - anchor) / every) + 1) * every);
      return Math.max(0, next - since);
    },
    pirDueDelay: ({ context }: { context: IncidentContext }) => delayOf(context, 'pirDueDelay') ?? INCIDENT_DELAYS_MS.pirDueDelay,
    pirEscalationDelay: ({ context }: { context: IncidentContext }) => delayOf(context, 'pirEscalationDelay') ?? INCIDENT_DELAYS_MS.pirEscalationDelay,
  },
  guards: {
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
  },
  actions: {
    ...response.actions,
    ...resolution.actions,
    ...paging.actions,
    ...notices.actions,

    slaNotify: assign(({ context }: Args, params: unknown) => ({ notices: [...context.notices, ...slaNotices(context, params as SlaHookParams)] })),
    /** A breach notifies up and raises the hierarchical escalation level (§1.5). */
    slaBreachEscalate: enqueueActions(({ context, enqueue }: Args & { enqueue: any }, params: unknown) => {
      const p = params as SlaHookParams;
      enqueue.assign({ escalationLevel: context.escalationLevel + 1, notices: [...context.notices, ...slaNotices(context, p)] });
      enqueue.emit({ type: 'incident.escalated', level: context.escalationLevel + 1, reason: `${p.clock}_sla_breached` });
    }),

    /** The first human response: respondedAt, MTTA; the response clock stops through context. */
    respond: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }) => {
      if (context.respondedAt !== null) return;
      const at = eventTime(event);
      enqueue.assign({ respondedAt: at, respondedBy: str(event.by) });
      enqueue.emit(measure(context, 'mtta', Math.max(0, at - context.openedAt)));
    }),
    assignGroup: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }) => {
      const group = String(event.group);
      const assignee = str(event.assignee);
      const changed = context.assignmentGroup !== null && context.assignmentGroup !== group;
      enqueue.assign({
        assignmentGroup: group, assignee, assignedBy: 'manual', reassignmentCount: context.reassignmentCount + (changed ? 1 : 0),
        notices: [...context.notices, { template: 'assigned', to: assignee ? [assignee, `group:${group}`] : `group:${group}`, subject: `${label(context)} is assigned to ${group}` }],
      });
      enqueue.emit({ type: 'incident.assigned', group, assignee, reassigned: changed });
    }),
    updatePriority: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }) => {
      const impact = event.impact as Level;
      const urgency = event.urgency as Level;
      const priority = priorityFromMatrix(impact, urgency, context.config.priorityMatrix ?? undefined);
      // A fresh rise to P1 puts the major track up for review again.
      const majorRejected = context.majorRejected && !(priority === 1 && context.priority !== 1);
      enqueue.assign({ impact, urgency, priority, majorRejected });
      enqueue.emit({ type: 'incident.priority_changed', from: context.priority, to: priority, impact, urgency });
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
    changeStarted: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }) => {
      const runId = String((event.output as { runId: string }).runId);
      enqueue.assign({ links: { ...context.links, change: [...context.links.change, runId] }, pendingChange: null });
      enqueue.emit({ type: 'incident.change_requested', childRunId: runId, changeType: context.pendingChange?.changeType });
    }),
    changeStartFailed: enqueueActions(({ event, enqueue }: Args & { enqueue: any }) => {
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
    resolvedEntry: enqueueActions(({ context, enqueue }: Args & { enqueue: any }) => {
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
        enqueue.emit(measure(context, 'meanTimeToResolve', wall));
        enqueue.emit(measure(context, 'medianTimeToResolve', wall));
        enqueue.emit(measure(context, 'p90TimeToResolve', wall));
      }
    }),
    /** After both clocks stopped: SLA time to resolve (pauses excluded). */
    resolvedSlaTime: enqueueActions(({ context, enqueue }: Args & { enqueue: any }) => {
      if (context.firstResolvedAt !== context.resolvedAt || context.reopenCount > 0) return;
      const c = context.sla.resolution;
      const at = context.resolvedAt ?? context.openedAt;
      const value = c.startedAt !== null ? slaElapsed(c, at) : Math.max(0, at - context.openedAt);
      enqueue.emit(measure(context, 'meanTimeToResolveSla', value));
    }),
    reopen: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }) => {
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
    acceptMajor: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }) => {
      const group = context.config.majorIncidentGroup;
      const changed = context.assignmentGroup !== null && context.assignmentGroup !== group;
      enqueue.assign({
        major: true, majorAcceptedAt: nowOf(event), assignmentGroup: group, assignedBy: 'major',
        reassignmentCount: context.reassignmentCount + (changed ? 1 : 0),
      });
      enqueue.emit({ type: 'incident.major_declared', by: str(event.by) });
      enqueue.emit(measure(context, 'majorIncidents', 1));
    }),
    rejectMajor: enqueueActions(({ event, enqueue }: Args & { enqueue: any }) => {
      enqueue.assign({ majorRejected: true });
      enqueue.emit({ type: 'incident.major_rejected', by: str(event.by) });
    }),
    bridgeOpened: assign(({ event }: Args) => ({ bridge: obj(event.output) })),
    commsWaitStarted: assign(({ event }: Args) => ({ commsWaitSince: nowOf(event) })),
    commsPublished: assign(({ context }: Args) => ({ commsUpdates: context.commsUpdates + 1 })),

    problemRequested: assign({ problemRequested: true }),
    linkProblem: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }) => {
      enqueue.assign({ links: { ...context.links, problem: String(event.problemRef) } });
      enqueue.emit({ type: 'incident.problem_linked', problemRef: String(event.problemRef) });
    }),
    problemCreated: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }) => {
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
    deliveriesNotified: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }) => {
      const notified = obj(event.output).notified;
      enqueue.emit({ type: 'incident.deliveries_notified', service: context.service, priority: context.priority, runIds: Array.isArray(notified) ? notified : [] });
    }),
    deliveriesNotifyFailed: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }) => {
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
    routed: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }) => {
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
    pirCompleted: enqueueActions(({ context, enqueue }: Args & { enqueue: any }) => {
      enqueue.emit(measure(context, 'pirCompletedWithinDue', context.pirEscalated ? 0 : 1));
    }),
    autoClosed: enqueueActions(({ enqueue }: Args & { enqueue: any }) => {
      enqueue.emit({ type: 'incident.auto_closed' });
    }),
    closedEntry: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }) => {
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
    canceledEntry: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }) => {
      enqueue.assign({ closedAt: nowOf(event), outcome: 'canceled' });
      const reason = context.cancelReason ?? 'canceled';
      enqueue.emit({ type: 'incident.canceled', reason, duplicateOf: context.links.duplicateOf });
      // Canceled runs stay out of MTTR and SLA figures; they count by reason.
      if (reason === 'duplicate') enqueue.emit(measure(context, 'duplicates', 1));
      if (reason === 'reclassified_request') enqueue.emit(measure(context, 'reclassified', 1));
      enqueue.emit(measure(context, 'canceled', 1, { reason }));
    }),
    startedEntry: enqueueActions(({ context, enqueue }: Args & { enqueue: any }) => {
      enqueue.emit(measure(context, 'incidents', 1));
      if (context.links.causedByChange || context.links.causedByDelivery) enqueue.emit(measure(context, 'incidentsCausedByChange', 1));
    }),
  },
}).createMachine({
  id: 'incident',
  context: ({ input }) => initialContext(input),
  initial: 'open',
  entry: 'startedEntry',
  states: {
    open: {
      type: 'parallel',
      on: {
        ASSIGN: { guard: 'groupExists', actions: 'assignGroup' },
        UPDATE_PRIORITY: { actions: 'updatePriority' },
        RESOLVE: { guard: 'hasResolutionInfo', target: 'resolved', actions: 'resolve' },
        CANCEL: { guard: 'validCancel', target: 'canceled', actions: 'cancel' },
        ALERT_FIRING: { guard: 'fingerprintMatches', actions: 'alertRepeated' },
        ALERT_RESOLVED: [
          { guard: 'autoResolveOnAlertClear', target: 'resolved', actions: 'resolve' },
          { actions: 'alertCleared' },
        ],
      },
      states: {
        work: {
          initial: 'new',
          states: {
            new: {
              meta: { humanTask: { role: 'resolver', title: 'Acknowledge {number}: {title}', outcomes: { ACKNOWLEDGE: 'ACKNOWLEDGE' } } },
              on: {
                ACKNOWLEDGE: { target: 'inProgress', actions: 'respond' },
                PUT_ON_HOLD: HOLD_REASONS.map((reason) => ({ guard: { type: 'holdTo', params: { reason } }, target: `onHold.${HOLD_STATE[reason]}`, actions: ['respond', 'putOnHold'] })),
                RECLASSIFY_AS_REQUEST: { target: '#incident.reclassifying', actions: 'reclassify' },
              },
            },
            inProgress: {
              meta: { humanTask: { role: 'resolver', title: 'Resolve {number}', outcomes: { RESOLVED: 'RESOLVE' } } },
              on: {
                PUT_ON_HOLD: HOLD_REASONS.map((reason) => ({ guard: { type: 'holdTo', params: { reason } }, target: `onHold.${HOLD_STATE[reason]}`, actions: 'putOnHold' })),
                REQUEST_CHANGE: { target: 'onHold.awaitingChange', actions: ['requestChange', assign({ onHoldReason: 'awaiting_change' as HoldReason, onHoldComment: null })] },
              },
            },
            onHold: {
              // Always entered through a named hold reason; `initial` only satisfies the statechart.
              initial: 'awaitingVendor',
              exit: 'clearHold',
              on: { RESUME: { target: 'inProgress', actions: 'notifyResponder' } },
              states: {
                awaitingCaller: {
                  meta: { humanTask: { role: 'caller', title: 'Information needed for {number}', outcomes: { PROVIDED: 'CALLER_UPDATED' } } },
                  on: { CALLER_UPDATED: { target: '#incident.open.work.inProgress', actions: 'notifyResponder' } },
                  after: { callerAutoResolveDelay: { target: '#incident.resolved', actions: 'resolveNoCallerResponse' } },
                  initial: 'firstReminderDue',
                  states: {
                    firstReminderDue: { after: { callerReminderDelay: { target: 'secondReminderDue', actions: 'remindCaller' } } },
                    secondReminderDue: { after: { callerReminderDelay: { target: 'reminded', actions: 'remindCaller' } } },
                    reminded: {},
                  },
                },
                awaitingChange: {
                  initial: 'init',
                  on: {
                    CHANGE_CLOSED: { guard: 'isOwnChange', target: '#incident.open.work.inProgress', actions: 'changeClosed' },
                    CHANGE_CANCELED: { guard: 'isOwnChange', target: '#incident.open.work.inProgress', actions: 'changeClosed' },
                  },
                  states: {
                    init: { always: [{ guard: 'changeRequested', target: 'starting' }, { target: 'waiting' }] },
                    starting: {
                      invoke: {
                        id: 'startChange', src: 'start_run',
                        input: ({ context }: Args) => ({
                          workflow: 'change',
                          input: {
                            changeType: context.pendingChange?.changeType ?? 'emergency',
                            title: context.pendingChange?.summary ?? context.title,
                            description: context.description ?? context.title,
                            ...(context.pendingChange?.by ? { requestedBy: context.pendingChange.by } : {}),
                            approvers: context.approvers,
                            ...(context.service ? { services: [context.service] } : {}),
                            ...(context.ci ? { ci: [context.ci] } : {}),
                            impact: context.impact,
                            links: { incident: context.businessKey ?? context.number ?? 'incident' },
                          },
                          ...(context.businessKey ? { businessKey: `change:${context.businessKey}:${context.links.change.length + 1}` } : {}),
                        }),
                        onDone: { target: 'waiting', actions: 'changeStarted' },
                        onError: { target: 'waiting', actions: 'changeStartFailed' },
                      },
                    },
                    waiting: {},
                  },
                },
                awaitingProblem: {},
                awaitingVendor: {},
              },
            },
          },
        },

        intake: {
          initial: 'init',
          states: {
            init: {
              always: [
                { guard: 'intakeDone', target: 'done' },
                { guard: 'changeFailureToReport', target: 'reportingChangeFailure' },
                { guard: 'deliveriesToNotify', target: 'notifyingDeliveries' },
                { target: 'enriching' },
              ],
            },
            // Once: an incident caused by a change feeds the change's failure rate and score (§2.11).
            reportingChangeFailure: {
              invoke: {
                id: 'reportChangeFailure', src: 'report_change_failure',
                input: ({ context }: Args) => ({ changeRunId: context.links.causedByChange, priority: context.priority, openedAt: context.openedAt }),
                onDone: [{ guard: 'deliveriesToNotify', target: 'notifyingDeliveries', actions: 'changeFailureReported' }, { target: 'enriching', actions: 'changeFailureReported' }],
                onError: [{ guard: 'deliveriesToNotify', target: 'notifyingDeliveries', actions: 'changeFailureReported' }, { target: 'enriching', actions: 'changeFailureReported' }],
              },
            },
            // First, and once: a delivery in bake rolls back on a P1/P2, so it should hear at once (§1.9).
            notifyingDeliveries: {
              invoke: {
                id: 'notifyDeliveries', src: 'notify_deliveries',
                input: ({ context }: Args) => ({ service: context.service, priority: context.priority, incidentRunId: context.runId }),
                onDone: { target: 'enriching', actions: 'deliveriesNotified' },
                onError: { target: 'enriching', actions: 'deliveriesNotifyFailed' },
              },
            },
            enriching: {
              invoke: {
                id: 'enrich', src: 'enrich_context',
                input: ({ context }: Args) => ({
                  service: context.service, ci: context.ci, openedAt: context.openedAt,
                  ...(context.config.serviceCatalog ? { catalog: context.config.serviceCatalog } : {}),
                  ...(context.config.knownChanges ? { changes: context.config.knownChanges } : {}),
                }),
                onDone: { target: 'routing', actions: 'enriched' },
                onError: 'routing',
              },
            },
            routing: {
              entry: 'routingFor',
              invoke: {
                id: 'route', src: 'route_assignment',
                input: ({ context }: Args) => routeInput(context),
                onDone: [{ guard: 'sourceIsTicket', target: 'done', actions: 'routed' }, { target: 'ticketing', actions: 'routed' }],
                onError: [{ guard: 'sourceIsTicket', target: 'done' }, { target: 'ticketing' }],
              },
            },
            ticketing: {
              invoke: {
                id: 'ticket', src: 'create_external_ticket',
                input: ({ context }: Args) => ({
                  kind: 'incident', title: context.title, description: context.description, priority: context.priority, service: context.service,
                  number: context.number, businessKey: context.businessKey, source: context.source.tool,
                }),
                onDone: { target: 'done', actions: 'ticketCreated' },
                onError: 'done',
              },
            },
            // A changed priority re-routes: read from context, since a region that handled UPDATE_PRIORITY
            // itself would pre-empt the `open`-level transition that records the new priority.
            done: {
              entry: 'intakeFinished',
              always: { guard: 'priorityRouted', target: 'rerouting' },
            },
            rerouting: {
              entry: 'routingFor',
              invoke: {
                id: 'reroute', src: 'route_assignment',
                input: ({ context }: Args) => routeInput(context),
                onDone: { target: 'done', actions: 'routed' },
                onError: 'done',
              },
            },
          },
        },

        [response.name]: response.region,
        [resolution.name]: resolution.region,
        [paging.name]: paging.region,

        major: {
          initial: 'init',
          states: {
            init: { always: [{ guard: 'majorDeclared', target: 'declared' }, { guard: 'majorCandidateDue', target: 'candidate' }, { target: 'none' }] },
            none: {
              on: { DECLARE_MAJOR: { target: 'candidate', actions: 'majorDeclaredBy' } },
              always: { guard: 'majorCandidateDue', target: 'candidate' },
            },
            candidate: {
              meta: { humanTask: { role: 'incident_manager', title: 'Major incident? {number}', outcomes: { ACCEPT: 'ACCEPT_MAJOR', REJECT: 'REJECT_MAJOR' } } },
              entry: 'majorCandidateEntry',
              on: {
                ACCEPT_MAJOR: { guard: { type: 'isEligibleApprover', params: { group: 'incidentManager' } }, target: 'declared', actions: 'acceptMajor' },
                REJECT_MAJOR: { guard: { type: 'isEligibleApprover', params: { group: 'incidentManager' } }, target: 'none', actions: 'rejectMajor' },
              },
              initial: 'waiting',
              states: {
                waiting: { after: { majorCandidateDelay: 'pagingIncidentManager' } },
                pagingIncidentManager: {
                  invoke: {
                    id: 'pageIncidentManager', src: 'page_oncall',
                    input: ({ context }: Args) => ({
                      eventAction: 'trigger', ...(context.businessKey ? { dedupKey: `${context.businessKey}:major` } : {}),
                      summary: `Major incident review needed: ${context.title}`.slice(0, 1024), severity: 'critical', source: context.service ?? 'servicechart', target: 'incident_manager',
                    }),
                  },
                },
              },
            },
            declared: {
              type: 'parallel',
              states: {
                bridge: {
                  initial: 'init',
                  states: {
                    init: { always: [{ guard: 'bridgeOpen', target: 'open' }, { target: 'opening' }] },
                    opening: {
                      invoke: {
                        id: 'openBridge', src: 'open_bridge',
                        input: ({ context }: Args) => ({ number: context.number, businessKey: context.businessKey, title: context.title, priority: context.priority, service: context.service }),
                        onDone: { target: 'open', actions: 'bridgeOpened' },
                        onError: 'failed',
                      },
                    },
                    open: {},
                    failed: {},
                  },
                },
                comms: {
                  initial: 'waiting',
                  states: {
                    waiting: { entry: 'commsWaitStarted', after: { commsUpdateDelay: 'publishing' } },
                    publishing: {
                      invoke: {
                        id: 'statusUpdate', src: 'publish_status_update',
                        input: ({ context }: Args) => ({
                          number: context.number, businessKey: context.businessKey, title: context.title, priority: context.priority, service: context.service,
                          update: context.commsUpdates + 1, status: 'investigating', bridge: context.bridge,
                        }),
                        onDone: { target: 'waiting', actions: 'commsPublished' },
                        onError: { target: 'waiting', actions: 'commsPublished' },
                      },
                    },
                  },
                },
              },
            },
          },
        },

        problem: {
          initial: 'init',
          states: {
            init: { always: [{ guard: 'problemLinked', target: 'linked' }, { guard: 'problemRecordDue', target: 'creating' }, { target: 'none' }] },
            none: {
              on: { LINK_PROBLEM: [{ guard: 'hasProblemRef', target: 'linked', actions: 'linkProblem' }, { target: 'creating' }] },
              always: { guard: 'problemRecordDue', target: 'creating' },
            },
            creating: {
              entry: 'problemRequested',
              invoke: {
                id: 'problemRecord', src: 'create_problem_record',
                input: ({ context }: Args) => problemInput(context, context.reopenCount >= 2 ? 'recurring_incident' : 'linked_by_resolver'),
                onDone: { target: 'linked', actions: 'problemCreated' },
                onError: 'none',
              },
            },
            linked: { on: { LINK_PROBLEM: { guard: 'hasProblemRef', actions: 'linkProblem' } } },
          },
        },

        [notices.name]: notices.region,
      },
    },

    resolved: {
      meta: { humanTask: { role: 'caller', title: 'Is {number} fixed?', outcomes: { CONFIRM: 'CONFIRM_CLOSURE', NOT_FIXED: 'REOPEN' } } },
      entry: [response.stopAction, resolution.stopAction, 'resolvedEntry', 'resolvedSlaTime'],
      invoke: [
        {
          id: 'resolveAlert', src: 'resolve_external_alert',
          input: ({ context }: Args) => ({
            eventAction: 'resolve', ...(context.businessKey ? { dedupKey: context.businessKey } : {}),
            tool: context.source.tool, key: context.source.key, url: context.source.url, fingerprint: context.source.fingerprint,
            resolutionCode: context.resolutionCode, comment: context.resolutionNotes, summary: `Resolved: ${context.title}`.slice(0, 1024),
          }),
        },
        {
          id: 'notifyResolved', src: 'notify',
          input: ({ context }: Args) => ({
            template: 'resolved', to: context.caller ?? responder(context), subject: `${label(context)} is resolved`,
            message: `${context.resolutionNotes ?? context.resolutionCode ?? ''} Not fixed? Reopen it.`.trim(), reopen: true,
          }),
        },
      ],
      after: {
        autoCloseDelay: [
          // A major incident is never auto-closed: it goes to its review (ServiceNow).
          { guard: 'isMajor', target: 'postIncidentReview', actions: 'autoClosed' },
          { target: 'closing', actions: 'autoClosed' },
        ],
      },
      on: {
        CONFIRM_CLOSURE: [{ guard: 'canConfirmMajor', target: 'postIncidentReview' }, { guard: 'canConfirm', target: 'closing' }],
        REOPEN: { guard: 'canReopen', target: '#incident.open.work.inProgress', actions: 'reopen' },
        ALERT_FIRING: { guard: 'fingerprintMatches', target: '#incident.open.work.inProgress', actions: ['alertRepeated', 'reopen'] },
        LINK_PROBLEM: { guard: 'hasProblemRef', actions: 'linkProblem' },
      },
      initial: 'init',
      states: {
        init: { always: [{ guard: 'problemRecordOnResolve', target: 'filingProblem' }, { target: 'awaitingConfirmation' }] },
        filingProblem: {
          entry: 'problemRequested',
          invoke: {
            id: 'problemRecord', src: 'create_problem_record',
            input: ({ context }: Args) => problemInput(context, 'major_incident'),
            onDone: { target: 'awaitingConfirmation', actions: 'problemCreated' },
            onError: 'awaitingConfirmation',
          },
        },
        awaitingConfirmation: {},
      },
    },

    postIncidentReview: {
      meta: { humanTask: { role: 'incident_manager', title: 'Post-incident review for {number}', outcomes: { DONE: 'PIR_COMPLETED' } } },
      entry: 'pirOpened',
      on: {
        PIR_COMPLETED: { guard: { type: 'isEligibleApprover', params: { group: 'incidentManager' } }, target: 'closing', actions: 'pirCompleted' },
      },
      initial: 'due',
      states: {
        due: { after: { pirDueDelay: 'reminding' } },
        reminding: {
          invoke: {
            id: 'pirReminder', src: 'notify',
            input: ({ context }: Args) => ({ template: 'pir.reminder', to: 'incident_manager', subject: `Post-incident review for ${label(context)} is due` }),
          },
          after: { pirEscalationDelay: { target: 'escalating', actions: 'pirEscalated' } },
        },
        escalating: {
          invoke: {
            id: 'pirEscalation', src: 'notify',
            input: ({ context }: Args) => ({ template: 'pir.escalation', to: ['incident_manager', 'manager:incident_manager'], subject: `Post-incident review for ${label(context)} is overdue` }),
          },
        },
      },
    },

    /** Closure effects run here: a final state would withdraw its tasks as the run ends. */
    closing: {
      initial: 'init',
      states: {
        init: { always: [{ guard: 'surveyDue', target: 'survey' }, { target: 'ticket' }] },
        survey: {
          invoke: {
            id: 'survey', src: 'send_survey',
            input: ({ context }: Args) => ({ to: context.caller, number: context.number, businessKey: context.businessKey, title: context.title, priority: context.priority }),
            onDone: 'ticket',
            onError: 'ticket',
          },
        },
        ticket: {
          invoke: {
            id: 'closeTicket', src: 'update_external_ticket',
            input: ({ context }: Args) => ({
              ticketRef: context.ticketRef ?? context.source.key, tool: context.source.tool, state: 'closed',
              resolutionCode: context.resolutionCode, comment: context.resolutionNotes, priority: context.priority,
            }),
            onDone: '#incident.closed',
            onError: '#incident.closed',
          },
        },
      },
    },

    reclassifying: {
      invoke: {
        id: 'requestTicket', src: 'create_external_ticket',
        input: ({ context }: Args) => ({ kind: 'request', title: context.title, description: context.description, caller: context.caller, number: context.number, businessKey: context.businessKey }),
        onDone: 'canceled',
        onError: 'canceled',
      },
    },

    closed: { type: 'final', entry: 'closedEntry' },
    canceled: { type: 'final', entry: 'canceledEntry' },
  },
  output: ({ context }) => ({
    outcome: context.outcome,
    reason: context.cancelReason,
    priority: context.priority,
    resolutionCode: context.resolutionCode,
    openedAt: context.openedAt,
    respondedAt: context.respondedAt,
    resolvedAt: context.resolvedAt,
    closedAt: context.closedAt,
    reopenCount: context.reopenCount,
    escalationLevel: context.escalationLevel,
    major: context.major,
    sla: {
      response: { met: context.sla.response.met, breached: context.sla.response.breached },
      resolution: { met: context.sla.resolution.met, breached: context.sla.resolution.breached },
    },
    links: context.links,
  }),
});

function routeInput(c: IncidentContext): Record<string, unknown> {
  return {
    service: c.service, category: c.category, priority: c.priority, labels: c.labels, major: c.major,
    ...(c.config.routingRules ? { rules: c.config.routingRules } : {}),
  };
}

function problemInput(c: IncidentContext, reason: string): Record<string, unknown> {
  return {
    reason, number: c.number, businessKey: c.businessKey, title: c.title, description: c.description, service: c.service, ci: c.ci,
    priority: c.priority, reopenCount: c.reopenCount, resolutionNotes: c.resolutionNotes,
  };
}

// ---------------------------------------------------------------------------------------------
// Schemas and KPIs

const level = { type: 'integer', minimum: 1, maximum: 3 };
const by = { type: 'string', minLength: 1, maxLength: 200 };
const at = { anyOf: [{ type: 'string', maxLength: 64 }, { type: 'integer', minimum: 0 }] };
const ms = { type: 'integer', minimum: 0 };
const nullableMs = { anyOf: [ms, { type: 'null' }] };
const tolerant = (properties: Record<string, unknown>, required: string[] = []) => ({ type: 'object', required, properties, additionalProperties: true });

export const incidentInputSchema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    number: { type: 'string', maxLength: 200 },
    businessKey: { type: 'string', maxLength: 500 },
    title: { type: 'string', maxLength: 1000 },
    description: { type: 'string', maxLength: 60_000 },
    service: { type: 'string', maxLength: 200 },
    ci: { type: 'string', maxLength: 200 },
    category: { type: 'string', maxLength: 200 },
    labels: { type: 'object', additionalProperties: true },
    impact: level,
    urgency: level,
    priority: { anyOf: [{ type: 'integer', minimum: 1, maximum: 5 }, { type: 'string', pattern: '^[Pp]?[1-5]$' }] },
    priorityMatrix: { type: 'array', minItems: 3, maxItems: 3, items: { type: 'array', minItems: 3, maxItems: 3, items: { type: 'integer', minimum: 1, maximum: 5 } } },
    source: tolerant({ tool: { type: 'string', maxLength: 64 }, key: { type: 'string', maxLength: 500 }, url: { type: 'string', maxLength: 2000 }, fingerprint: { type: 'string', maxLength: 500 } }),
    caller: { type: 'string', maxLength: 200 },
    openedBy: { type: 'string', maxLength: 200 },
    assignmentGroup: { type: 'string', maxLength: 200 },
    assignee: { type: 'string', maxLength: 200 },
    groups: { type: 'array', items: { type: 'string' } },
    approvers: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
    oncall: { type: 'string', maxLength: 200 },
    openedAt: at,
    slaTargetsMs: {
      type: 'object', additionalProperties: false,
      patternProperties: { '^[1-5]$': { type: 'object', additionalProperties: false, properties: { responseMs: nullableMs, resolutionMs: nullableMs } } },
    },
    slaWarnAt: { type: 'array', maxItems: 5, items: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 } },
    slaPauseReasons: { type: 'array', items: { enum: [...HOLD_REASONS] } },
    autoCloseAfterMs: ms,
    autoResolveOnAlertClear: { type: 'boolean' },
    pagingPolicy: {
      type: 'object', additionalProperties: true,
      properties: {
        enabled: { type: 'boolean' },
        loops: { type: 'integer', minimum: 1, maximum: 9 },
        escalationTimeoutMs: ms,
        levels: {
          anyOf: [
            { type: 'integer', minimum: 1, maximum: 10 },
            { type: 'array', minItems: 1, maxItems: 10, items: { anyOf: [{ type: 'string' }, tolerant({ target: { type: 'string' }, escalationTimeoutMs: ms }, ['target'])] } },
          ],
        },
      },
    },
    delaysMs: { type: 'object', additionalProperties: ms },
    routingRules: { type: 'array', maxItems: 500, items: { type: 'object' } },
    serviceCatalog: { type: 'object' },
    changes: { type: 'array', maxItems: 1000, items: { type: 'object' } },
    links: tolerant({ causedByChange: { type: 'string' }, causedByDelivery: { type: 'string' }, reopenedFrom: { type: 'string' }, problem: { type: 'string' } }),
    reopenedFrom: { type: 'string' },
    majorIncidentGroup: { type: 'string', maxLength: 200 },
  },
};

export const incidentEventSchemas: Record<string, Record<string, unknown>> = {
  ACKNOWLEDGE: tolerant({ by, at }),
  ASSIGN: tolerant({ group: { type: 'string', minLength: 1, maxLength: 200 }, assignee: { type: 'string', maxLength: 200 }, by }, ['group']),
  PUT_ON_HOLD: tolerant({ reason: { enum: [...HOLD_REASONS] }, comment: { type: 'string', maxLength: 10_000 }, by }, ['reason']),
  CALLER_UPDATED: tolerant({ comment: { type: 'string', maxLength: 10_000 }, by }),
  RESUME: tolerant({ by }),
  UPDATE_PRIORITY: tolerant({ impact: level, urgency: level, by }, ['impact', 'urgency']),
  DECLARE_MAJOR: tolerant({ by }),
  ACCEPT_MAJOR: tolerant({ by, comment: { type: 'string' } }, ['by']),
  REJECT_MAJOR: tolerant({ by, comment: { type: 'string' } }, ['by']),
  REQUEST_CHANGE: tolerant({ changeType: { enum: ['standard', 'normal', 'emergency'] }, summary: { type: 'string', minLength: 1, maxLength: 1000 }, by }, ['summary']),
  CHANGE_CLOSED: tolerant({ childRunId: { type: 'string' }, closeCode: { type: 'string' } }),
  CHANGE_CANCELED: tolerant({ childRunId: { type: 'string' } }),
  LINK_PROBLEM: tolerant({ problemRef: { type: 'string', minLength: 1, maxLength: 200 }, by }),
  ALERT_FIRING: tolerant({ fingerprint: { type: 'string', maxLength: 500 }, at }),
  ALERT_RESOLVED: tolerant({ fingerprint: { type: 'string', maxLength: 500 }, at }),
  RESOLVE: tolerant({ code: { type: 'string', maxLength: 200 }, comment: { type: 'string', maxLength: 10_000 }, by, at, source: { type: 'string', maxLength: 64 } }),
  REOPEN: tolerant({ by, comment: { type: 'string', maxLength: 10_000 }, source: { type: 'string', maxLength: 64 } }, ['by']),
  CONFIRM_CLOSURE: tolerant({ by, comment: { type: 'string' } }, ['by']),
  PIR_COMPLETED: tolerant({ by, comment: { type: 'string', maxLength: 60_000 } }, ['by']),
  CANCEL: tolerant({ reason: { enum: [...CANCEL_REASONS] }, duplicateOf: { type: 'string', minLength: 1, maxLength: 500 }, by }, ['reason']),
  RECLASSIFY_AS_REQUEST: tolerant({ by }),
};

const bd = ['priority', 'service', 'source'];
export const incidentKpis: KpiDefinition[] = [
  { name: 'mtta', label: 'Mean time to acknowledge', unit: 'ms', aggregate: 'mean', breakdown: bd, description: 'respondedAt − openedAt; a resolve without acknowledgement counts as the response' },
  { name: 'meanTimeToResolve', label: 'Mean time to resolve', unit: 'ms', aggregate: 'mean', breakdown: bd, description: 'first resolvedAt − openedAt, wall clock' },
  { name: 'meanTimeToResolveSla', label: 'Mean time to resolve (SLA time)', unit: 'ms', aggregate: 'mean', breakdown: bd, description: 'resolution clock time, pauses excluded' },
  { name: 'medianTimeToResolve', label: 'Median time to resolve', unit: 'ms', aggregate: 'median', breakdown: bd },
  { name: 'p90TimeToResolve', label: 'p90 time to resolve', unit: 'ms', aggregate: 'p90', breakdown: bd },
  { name: 'slaComplianceResponse', label: 'Response SLA compliance', unit: 'ratio', aggregate: 'mean', breakdown: bd, description: 'met ÷ (met + breached), once per run' },
  { name: 'slaComplianceResolution', label: 'Resolution SLA compliance', unit: 'ratio', aggregate: 'mean', breakdown: bd, description: 'met ÷ (met + breached), once per run' },
  { name: 'incidents', label: 'Incidents opened', unit: 'count', aggregate: 'count', breakdown: bd },
  { name: 'slaBreaches', label: 'SLA breaches', unit: 'count', aggregate: 'count', breakdown: [...bd, 'clock'] },
  { name: 'slaBreachesPer100', label: 'SLA breaches per 100 incidents', unit: 'count', aggregate: 'count', measure: 'slaBreaches', per: { measure: 'incidents', scale: 100 }, breakdown: bd, description: 'SLA breaches (response and resolution) × 100 ÷ incidents opened' },
  { name: 'reopenRate', label: 'Reopen rate', unit: 'ratio', aggregate: 'mean', breakdown: bd, description: 'closed runs with reopenCount ≥ 1' },
  { name: 'firstContactResolution', label: 'First-contact resolution (approximation)', unit: 'ratio', aggregate: 'mean', breakdown: bd, description: 'closed with no reassignment, no hierarchical escalation and no reopen' },
  { name: 'escalationRate', label: 'Escalation rate', unit: 'ratio', aggregate: 'mean', breakdown: bd, description: 'closed runs with escalationLevel ≥ 1' },
  { name: 'majorIncidents', label: 'Major incidents', unit: 'count', aggregate: 'count', breakdown: bd },
  { name: 'pirCompletedWithinDue', label: 'PIR completed within due', unit: 'ratio', aggregate: 'mean', breakdown: bd },
  { name: 'autoResolvedShare', label: 'Auto-resolved share', unit: 'ratio', aggregate: 'mean', breakdown: bd, description: 'closed runs resolved with monitoring_cleared' },
  { name: 'incidentsCausedByChange', label: 'Incidents caused by change or deployment', unit: 'count', aggregate: 'count', breakdown: bd },
  { name: 'duplicates', label: 'Duplicates', unit: 'count', aggregate: 'count', breakdown: bd },
  { name: 'reclassified', label: 'Reclassified as requests', unit: 'count', aggregate: 'count', breakdown: bd },
  { name: 'canceled', label: 'Canceled', unit: 'count', aggregate: 'count', breakdown: [...bd, 'reason'] },
  { name: 'backlog', label: 'Open incidents now (not yet resolved)', unit: 'count', aggregate: 'open', states: ['open'], breakdown: ['state', 'age', 'priority', 'service'], description: 'runs not ended, by top-level state and age bucket' },
  { name: 'backlogAge', label: 'Mean age of open incidents', unit: 'ms', aggregate: 'openAge', states: ['open'], breakdown: ['priority'], description: 'now − openedAt over runs not ended' },
];

/** Every named delay a process owner may override through `delaysMs`. */
export const incidentDelayNames: string[] = [
  ...response.delayNames, ...resolution.delayNames, 'pageEscalationDelay', ...Object.keys(INCIDENT_DELAYS_MS),
];

export const incident = defineWorkflow({
  name: 'incident',
  version: 1,
  description: 'Incident management (ITIL 4, ServiceNow states): SLA clocks, paging, major incidents, change and problem links. '
    + 'Events: ACKNOWLEDGE, ASSIGN, PUT_ON_HOLD, CALLER_UPDATED, RESUME, UPDATE_PRIORITY, DECLARE_MAJOR, ACCEPT_MAJOR, REJECT_MAJOR, '
    + 'REQUEST_CHANGE, CHANGE_CLOSED, LINK_PROBLEM, ALERT_FIRING, ALERT_RESOLVED, RESOLVE, REOPEN, CONFIRM_CLOSURE, PIR_COMPLETED, CANCEL, RECLASSIFY_AS_REQUEST.',
  machine,
  builtIn: true,
  inputSchema: incidentInputSchema,
  eventSchemas: incidentEventSchemas,
  kpis: incidentKpis,
});
