// The `planning` process model (PROCESSES.md §4): a demand from draft through screening (four
// assessments in parallel), the portfolio board, a freeze-aware schedule and its confirmation, to one
// child `delivery` run per release, with deferral, replanning and a cascading cancel.
import { and, assign, cancel, emit, enqueueActions, not, setup, type AnyEventObject } from 'xstate';
import { defineWorkflow, taskActors, type KpiDefinition } from './lib/define.ts';
import { eligibleApprovers, type ApprovalsContext } from './lib/approvals.ts';

/** The assessment regions of `screening`, and who answers each (approver group, human-task role, event). */
export const AREAS = {
  businessValue: { group: 'businessOwner', role: 'business_owner', event: 'VALUE_ASSESSED', outcome: 'SUBMITTED', title: 'Score value of {title}' },
  capacity: { group: 'capacityManager', role: 'capacity_manager', event: 'CAPACITY_ASSESSED', outcome: 'CONFIRM', title: 'Confirm capacity forecast' },
  serviceLevel: { group: 'serviceOwner', role: 'service_owner', event: 'SLA_ASSESSED', outcome: 'SUBMITTED', title: 'SLA/OLA impact of {title}' },
  financial: { group: 'finance', role: 'finance', event: 'COST_ASSESSED', outcome: 'SUBMITTED', title: 'Cost and budget check' },
} as const;
type Area = keyof typeof AREAS;
const AREA_NAMES = Object.keys(AREAS) as Area[];

/** Parallel regions of `scheduled`: a plan holds at most this many releases (one region each). */
export const MAX_RELEASES = 6;

type ReleaseStatus = 'waiting' | 'inDelivery' | 'done' | 'failed' | 'descoped';
interface Span { start: string; end: string }
interface PlannedRelease { id: string; service: string; window: Span; handoffAt: string }
interface ReleaseSpec { id: string; service: string; version?: string; deliveryInput?: Record<string, unknown> }
interface Assessment { score: number | null; comment: string | null; by: string | null; at: number; extra?: Record<string, unknown> }

export interface PlanningContext {
  demand: { id: string | null; title: string; businessCase: string | null; requestedBy: string | null; services: string[]; targetDate: string | null; size: string | null; costEstimate: number | null; strategicGoal: string | null };
  /** For human-task titles (`{title}`). */
  title: string;
  requestedBy: string | null;
  approvers: Record<string, string[]>;
  areas: Area[];
  boardMeetings: number[];
  capacity: Record<string, unknown>;
  blackouts: Span[];
  releaseWindows: Span[];
  busy: unknown[];
  scoring: Record<string, number>;
  budget: number | null;
  releaseSpecs: ReleaseSpec[];
  deliveryBase: Record<string, any>;
  delaysMs: Record<string, number>;
  openedAt: number;
  submittedAt: number | null;
  screeningEnteredAt: number | null;
  qualifiedAt: number | null;
  approvedAt: number | null;
  assessments: Partial<Record<Area, Assessment>>;
  missingAssessments: Area[];
  qualifiedManually: boolean;
  forecast: Record<string, any> | null;
  capacityRisk: boolean;
  costEstimate: Record<string, any> | null;
  totalScore: number | null;
  scoreBreakdown: unknown;
  decision: { decision: string; by: string; comment: string | null; at: number } | null;
  planIncludesCapacityChange: boolean;
  deferredUntil: number | null;
  revision: { notBefore: number | null; exclude: string[] };
  plan: { releases: PlannedRelease[]; targetDateMissed: boolean; skipped: unknown[]; proposedAt: number } | null;
  releases: Record<string, { status: ReleaseStatus; runIds: string[]; attempts: number; outcome: string | null }>;
  freezes: { from: number; to: number }[];
  capacityChangeRunId: string | null;
  capacityChange: 'none' | 'open' | 'closed' | 'canceled';
  replanCount: number;
  replanReason: string | null;
  ticketRef: string | null;
  cancelQueue: string[];
  outcome: string | null;
  cancelReason: string | null;
}

type Ev = AnyEventObject & { $at?: number; by?: string; comment?: string; output?: any; childRunId?: string };
type Args = { context: PlanningContext; event: Ev };

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Defaults of every named delay (§4.5), each overridable with `delaysMs.<name>`. */
export const PLANNING_DELAYS = {
  draftReminderDelay: 23 * DAY,
  draftStaleDelay: 30 * DAY,
  assessmentReminderDelay: 5 * DAY,
  assessmentDueDelay: 10 * DAY,
  boardMeetingDelay: 0, // offset before the next board.meetingsAt
  revisitDelay: 90 * DAY, // when DEFER names no date
  handoffDelay: 14 * DAY, // offset before the release window's start
  planRecheckDelay: 2 * DAY, // offset before the release window's start
} as const;
type DelayName = keyof typeof PLANNING_DELAYS;

function nowOf(event: Ev): number {
  if (typeof event.$at === 'number') return event.$at;
  const input = (event as { input?: { $at?: number } }).input;
  return typeof input?.$at === 'number' ? input.$at : 0;
}
const ms = (s: string | null | undefined): number | null => {
  if (typeof s !== 'string') return null;
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : t;
};
const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());
const delayMs = (c: PlanningContext, name: DelayName): number => Math.max(0, c.delaysMs[name] ?? PLANNING_DELAYS[name]);

function measure(c: PlanningContext, name: string, value: number, dims: Record<string, unknown> = {}) {
  return { type: 'measure.recorded', measure: name, value, openedAt: new Date(c.openedAt).toISOString(), dims: { services: c.demand.services.join(','), ...dims } };
}

/** The score an assessor gave: `score` in the event, else the first number 0–10 in the comment. */
function scoreOf(event: Ev): number | null {
  if (typeof event.score === 'number') return event.score;
  const m = typeof event.comment === 'string' ? /(?:^|[^\d.])(10|\d(?:\.\d+)?)(?:\s*\/\s*10)?(?![\d.])/.exec(event.comment) : null;
  return m ? Number(m[1]) : null;
}

const spans = (c: PlanningContext) => [...c.blackouts.map((b) => ({ from: ms(b.start) ?? 0, to: ms(b.end) ?? 0 })), ...c.freezes];
const overlapsFreeze = (c: PlanningContext, w: Span) => spans(c).some((f) => (ms(w.start) ?? 0) < f.to && f.from < (ms(w.end) ?? 0));
const plannedAt = (c: PlanningContext, i: number): PlannedRelease | null => c.plan?.releases[i] ?? null;
const statusAt = (c: PlanningContext, i: number): ReleaseStatus | null => {
  const r = plannedAt(c, i);
  return r ? c.releases[r.id]?.status ?? 'waiting' : null;
};
/** Releases still to be placed in a window (not delivered, not descoped, not being delivered). */
const toPlace = (c: PlanningContext): ReleaseSpec[] =>
  c.releaseSpecs.filter((r) => ['waiting', 'failed'].includes(c.releases[r.id]?.status ?? 'waiting'));

/** The criteria compute_score weighs, from the assessments (0..10, 10 best). */
function criteria(c: PlanningContext): Record<string, number | null> {
  const a = c.assessments;
  const cost = a.financial?.score ?? (c.costEstimate?.withinBudget === true ? 7 : c.costEstimate?.withinBudget === false ? 3 : null);
  const capacity = a.capacity?.score ?? (c.forecast && c.forecast.peakUtilisation !== null ? (c.capacityRisk ? 2 : 8) : null);
  const alignment = a.businessValue?.extra?.alignment;
  return {
    value: a.businessValue?.score ?? null,
    strategicAlignment: typeof alignment === 'number' ? alignment : null,
    risk: a.serviceLevel?.score ?? null,
    cost,
    capacity,
  };
}

/**
 * A timer armed only when it applies (a next board meeting, a planned release), under the event type XState
 * gives `after` timers: the engine records it by the delay's name and refuses it from outside (`xstate.*`).
 */
function timer(delay: DelayName, scope: string, dueAt: (c: PlanningContext, now: number) => number | null): { type: string; arm: any; disarm: any } {
  const type = `xstate.after.${delay}.planning.${scope}`;
  return {
    type,
    arm: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }) => {
      const now = nowOf(event);
      const due = dueAt(context, now);
      if (due !== null) enqueue.raise({ type }, { id: type, delay: Math.max(0, due - now) });
    }),
    disarm: cancel(type),
  };
}

const boardTimer = timer('boardMeetingDelay', 'qualified', (c, now) => {
  const next = c.boardMeetings.filter((t) => t - delayMs(c, 'boardMeetingDelay') > now).sort((a, b) => a - b)[0];
  return next === undefined ? null : next - delayMs(c, 'boardMeetingDelay');
});
const revisitTimer = timer('revisitDelay', 'deferred', (c, now) => c.deferredUntil ?? now + delayMs(c, 'revisitDelay'));

const machine = setup({
  types: {} as { context: PlanningContext; events: Ev; input: Record<string, any> & { $at: number }; emitted: AnyEventObject },
  actors: taskActors(
    'collect_assessment', 'forecast_capacity', 'estimate_cost', 'compute_score', 'propose_schedule', 'update_roadmap',
    'start_run', 'send_event', 'cancel_child', 'notify', 'create_external_ticket',
  ),
  delays: {
    draftReminderDelay: ({ context }: Args) => delayMs(context, 'draftReminderDelay'),
    draftStaleDelay: ({ context }: Args) => delayMs(context, 'draftStaleDelay'),
    assessmentReminderDelay: ({ context }: Args) => delayMs(context, 'assessmentReminderDelay'),
    assessmentDueDelay: ({ context }: Args) => delayMs(context, 'assessmentDueDelay'),
  },
  guards: {
    isComplete: ({ context }: Args) =>
      !!context.demand.title && !!context.demand.businessCase && context.demand.services.length > 0 && ms(context.demand.targetDate) !== null,
    isEligibleApprover: ({ context, event }: Args, params: { group: string }) =>
      typeof event.by === 'string' && eligibleApprovers(context as unknown as ApprovalsContext, params.group).includes(event.by),
    areaApplies: ({ context }: Args, params: { area: Area }) => context.areas.includes(params.area),
    capacityRisk: ({ context }: Args) => context.capacityRisk,
    planFound: ({ event }: Args) => (event.output as { found?: boolean } | undefined)?.found === true,
    planAvoidsFreeze: ({ context }: Args) => !!context.plan && !context.plan.releases.some((r) => overlapsFreeze(context, r.window)),
    freezeHitsPlan: ({ context, event }: Args) => {
      const f = { from: ms(event.from as string) ?? 0, to: ms(event.to as string) ?? 0 };
      return (context.plan?.releases ?? []).some((r) => context.releases[r.id]?.status === 'waiting' && (ms(r.window.start) ?? 0) < f.to && f.from < (ms(r.window.end) ?? 0));
    },
    releaseIs: ({ context }: Args, params: { index: number; status: ReleaseStatus }) => statusAt(context, params.index) === params.status,
    releaseNotPlanned: ({ context }: Args, params: { index: number }) => {
      const s = statusAt(context, params.index);
      return s === null || s === 'descoped';
    },
    windowInFreeze: ({ context }: Args, params: { index: number }) => {
      const r = plannedAt(context, params.index);
      return !!r && overlapsFreeze(context, r.window);
    },
    capacityReady: ({ context }: Args) => !context.planIncludesCapacityChange || context.capacityChange === 'closed',
    capacityChangeNeeded: ({ context }: Args) => context.planIncludesCapacityChange && context.capacityChange === 'none',
    capacityChangeIs: ({ context }: Args, params: { status: PlanningContext['capacityChange'] }) => context.capacityChange === params.status,
    allAssessmentsDone: ({ context }: Args) => context.areas.every((a) => context.assessments[a] !== undefined),
    allReleasesSettled: ({ context }: Args) =>
      (!context.planIncludesCapacityChange || context.capacityChange === 'closed') &&
      (context.plan?.releases ?? []).every((r) => ['done', 'failed', 'descoped'].includes(context.releases[r.id]?.status ?? 'waiting')),
    anyReleaseFailed: ({ context }: Args) => Object.values(context.releases).some((r) => r.status === 'failed'),
    fromOurDelivery: ({ context, event }: Args) => Object.values(context.releases).some((r) => r.status === 'inDelivery' && r.runIds.at(-1) === event.childRunId),
    fromCapacityChange: ({ context, event }: Args) => event.childRunId !== undefined && event.childRunId === context.capacityChangeRunId,
    cancelQueueEmpty: ({ context }: Args) => context.cancelQueue.length === 0,
    nextCancelIsCapacityChange: ({ context }: Args) => context.cancelQueue[0] === context.capacityChangeRunId,
  },
  // Typed loosely: parameterized actions do not fit setup()'s inference, and the engine checks every
  // action name when the workflow is registered.
  actions: {
    updateDemand: assign(({ context, event }: Args) => {
      const d = { ...context.demand };
      for (const k of ['title', 'businessCase', 'targetDate', 'size', 'strategicGoal'] as const) if (typeof event[k] === 'string') d[k] = event[k];
      if (Array.isArray(event.services)) d.services = event.services.map(String);
      if (typeof event.costEstimate === 'number') d.costEstimate = event.costEstimate;
      return { demand: d, title: d.title };
    }),
    recordAssessment: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }, params: { area: Area }) => {
      const extra: Record<string, unknown> = {};
      for (const k of ['alignment', 'capacityRisk', 'peakUtilisation', 'slaImpact', 'cost']) if (event[k] !== undefined) extra[k] = event[k];
      const a: Assessment = { score: scoreOf(event), comment: typeof event.comment === 'string' ? event.comment : null, by: event.by ?? null, at: nowOf(event), extra };
      enqueue.assign({ assessments: { ...context.assessments, [params.area]: a } });
      // The capacity manager may override the forecast, with a comment (§4.6).
      if (params.area === 'capacity' && typeof event.capacityRisk === 'boolean') enqueue.assign({ capacityRisk: event.capacityRisk });
      enqueue.emit({ type: 'planning.assessed', area: params.area, score: a.score, by: a.by });
    }),
    recordDecision: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }, params: { decision: string }) => {
      const at = nowOf(event);
      enqueue.assign({ decision: { decision: params.decision, by: String(event.by), comment: typeof event.comment === 'string' ? event.comment : null, at } });
      const approved = params.decision.startsWith('APPROVE');
      enqueue.emit(measure(context, 'approvalRate', approved ? 1 : 0, { decision: params.decision }));
      enqueue.emit(measure(context, 'deferralRate', params.decision === 'DEFER' ? 1 : 0));
      enqueue.emit(measure(context, 'rejectionRate', params.decision === 'REJECT' ? 1 : 0));
      if (approved) {
        enqueue.assign({ approvedAt: at });
        enqueue.emit(measure(context, 'demandLeadTime', at - (context.submittedAt ?? at)));
      }
    }),
    markMissing: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }) => {
      const missing = context.areas.filter((a) => !context.assessments[a]);
      enqueue.assign({ missingAssessments: missing, qualifiedManually: true });
      enqueue.emit({ type: 'planning.qualified_manually', by: event.by ?? null, missing });
    }),
    enterQualified: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }) => {
      const at = nowOf(event);
      enqueue.assign({ qualifiedAt: at });
      // Deferred demands come back here: only the first qualification measures the screening.
      if (context.qualifiedAt === null) {
        enqueue.emit(measure(context, 'assessmentCycleTime', at - (context.screeningEnteredAt ?? at), { manual: context.qualifiedManually }));
        enqueue.emit(measure(context, 'qualifiedManuallyRate', context.qualifiedManually ? 1 : 0));
      }
    }),
    defer: assign(({ event }: Args) => {
      const until = ms(event.until as string | undefined);
      return { deferredUntil: until };
    }),
    keepPlan: assign(({ context, event }: Args) => {
      const o = event.output as { releases: PlannedRelease[]; targetDateMissed: boolean; skipped: unknown[] };
      // Releases already delivered or being delivered keep their windows; the new proposal places the rest.
      const kept = (context.plan?.releases ?? []).filter((r) => ['done', 'inDelivery'].includes(context.releases[r.id]?.status ?? ''));
      const byOrder = context.releaseSpecs.map((s) => kept.find((k) => k.id === s.id) ?? o.releases.find((r) => r.id === s.id)).filter((r): r is PlannedRelease => !!r);
      return { plan: { releases: byOrder, targetDateMissed: o.targetDateMissed, skipped: o.skipped, proposedAt: nowOf(event) } };
    }),
    revise: assign(({ context, event }: Args) => {
      const constraints = (event.constraints ?? {}) as { notBefore?: string; excludeWindows?: string[] };
      // A revision from the task (no constraints) asks for other windows than the ones proposed.
      const exclude = constraints.excludeWindows ?? (context.plan?.releases ?? []).filter((r) => context.releases[r.id]?.status === 'waiting').map((r) => r.window.start);
      return { revision: { notBefore: ms(constraints.notBefore) ?? context.revision.notBefore, exclude: [...context.revision.exclude, ...exclude] } };
    }),
    baseline: assign(({ context }: Args) => {
      const releases = { ...context.releases };
      for (const r of context.plan?.releases ?? []) releases[r.id] = { ...(releases[r.id] ?? { runIds: [], attempts: 0, outcome: null }), status: releases[r.id]?.status === 'done' ? 'done' : releases[r.id]?.status === 'inDelivery' ? 'inDelivery' : 'waiting' };
      return { releases };
    }),
    handedOff: assign(({ context, event }: Args, params: { index: number }) => {
      const r = plannedAt(context, params.index)!;
      const prev = context.releases[r.id];
      return { releases: { ...context.releases, [r.id]: { ...prev, status: 'inDelivery' as ReleaseStatus, runIds: [...prev.runIds, (event.output as { runId: string }).runId] } } };
    }),
    startFailed: assign(({ context }: Args, params: { index: number }) => {
      const r = plannedAt(context, params.index)!;
      return { releases: { ...context.releases, [r.id]: { ...context.releases[r.id], status: 'failed' as ReleaseStatus, outcome: 'handoff_failed' } } };
    }),
    countAttempt: assign(({ context }: Args, params: { index: number }) => {
      const r = plannedAt(context, params.index)!;
      return { releases: { ...context.releases, [r.id]: { ...context.releases[r.id], attempts: context.releases[r.id].attempts + 1 } } };
    }),
    deliveryEnded: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }) => {
      const entry = Object.entries(context.releases).find(([, r]) => r.runIds.at(-1) === event.childRunId);
      if (!entry) return;
      const [id, r] = entry;
      const ok = event.type === 'DELIVERY_COMPLETED';
      enqueue.assign({ releases: { ...context.releases, [id]: { ...r, status: ok ? 'done' : 'failed', outcome: (event.outcome as string) ?? null } } });
      enqueue.emit({ type: 'planning.release_ended', releaseId: id, runId: event.childRunId, outcome: event.outcome ?? null, delivered: ok });
      if (ok) {
        const w = context.plan?.releases.find((p) => p.id === id)?.window;
        const deployed = ms(event.deployedAt as string | undefined) ?? nowOf(event);
        const inWindow = !!w && deployed >= (ms(w.start) ?? 0) && deployed <= (ms(w.end) ?? 0);
        enqueue.emit(measure(context, 'scheduleAdherence', inWindow ? 1 : 0, { releaseId: id }));
      }
    }),
    addFreeze: assign(({ context, event }: Args) => ({ freezes: [...context.freezes, { from: ms(event.from as string) ?? 0, to: ms(event.to as string) ?? 0 }] })),
    replanFor: assign((_: Args, params: { reason: string }) => ({ replanReason: params.reason })),
    enterReplanning: enqueueActions(({ context, enqueue }: Args & { enqueue: any }) => {
      enqueue.assign({ replanCount: context.replanCount + 1 });
      enqueue.emit({ type: 'planning.replanning', reason: context.replanReason, count: context.replanCount + 1 });
    }),
    reschedule: assign(({ context, event }: Args) => {
      const releases = { ...context.releases };
      for (const [id, r] of Object.entries(releases)) if (r.status === 'failed') releases[id] = { ...r, status: 'waiting' };
      // Failed windows are not offered again, and nothing is placed before now.
      const failedWindows = (context.plan?.releases ?? []).filter((p) => context.releases[p.id]?.status === 'failed').map((p) => p.window.start);
      return { releases, revision: { notBefore: nowOf(event), exclude: [...context.revision.exclude, ...failedWindows] }, replanReason: null };
    }),
    descope: assign(({ context, event }: Args) => {
      const ids = Array.isArray(event.releaseIds) ? event.releaseIds.map(String) : Object.entries(context.releases).filter(([, r]) => r.status === 'failed' || r.status === 'waiting').map(([id]) => id);
      const releases = { ...context.releases };
      for (const id of ids) if (releases[id] && releases[id].status !== 'done' && releases[id].status !== 'inDelivery') releases[id] = { ...releases[id], status: 'descoped' };
      return { releases, replanReason: null };
    }),
    setCancel: assign(({ context, event }: Args, params: { outcome: string }) => ({
      outcome: params.outcome,
      cancelReason: typeof event.reason === 'string' ? event.reason : typeof event.comment === 'string' ? event.comment : params.outcome,
      // Cascade (§4.3, §5): every open child delivery is cancelled, and an open capacity change is told to cancel.
      cancelQueue: [
        ...Object.values(context.releases).filter((r) => r.status === 'inDelivery').map((r) => r.runIds.at(-1)!).filter(Boolean),
        ...(context.capacityChange === 'open' && context.capacityChangeRunId ? [context.capacityChangeRunId] : []),
      ],
    })),
    finalMeasures: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }) => {
      enqueue.emit(measure(context, 'replansPerDemand', context.replanCount, { outcome: context.outcome }));
      if (context.outcome !== 'completed') return;
      const at = nowOf(event);
      enqueue.emit(measure(context, 'timeToMarket', at - (context.submittedAt ?? at)));
      const target = ms(context.demand.targetDate);
      if (target !== null) enqueue.emit(measure(context, 'onTimeAgainstTargetDate', at <= target ? 1 : 0));
      if (context.totalScore !== null) enqueue.emit(measure(context, 'valueDelivered', context.totalScore));
    }),
  } as Record<string, any>,
}).createMachine({
  id: 'planning',
  context: ({ input }) => {
    const d = input.demand ?? {};
    const services: string[] = Array.isArray(d.services) ? d.services.map(String) : [];
    const specs: ReleaseSpec[] = Array.isArray(input.releases) && input.releases.length
      ? input.releases.map((r: ReleaseSpec) => ({ ...r, service: r.service ?? services[0] ?? 'unknown' }))
      : [{ id: 'R1', service: services[0] ?? 'unknown' }];
    const areas: Area[] = Array.isArray(input.assessments) ? input.assessments.filter((a: string): a is Area => a in AREAS) : AREA_NAMES;
    return {
      demand: {
        id: d.id ?? null, title: String(d.title ?? ''), businessCase: d.businessCase ?? null, requestedBy: d.requestedBy ?? input.requestedBy ?? null,
        services, targetDate: d.targetDate ?? null, size: d.size ?? null, costEstimate: d.costEstimate ?? null, strategicGoal: d.strategicGoal ?? null,
      },
      title: String(d.title ?? ''),
      requestedBy: d.requestedBy ?? input.requestedBy ?? null,
      approvers: input.approvers ?? {},
      areas,
      boardMeetings: (input.board?.meetingsAt ?? []).map((t: string) => ms(t)).filter((t: number | null): t is number => t !== null),
      capacity: { headroomThreshold: 0.8, ...(input.capacity ?? {}) },
      blackouts: input.schedules?.blackout ?? [],
      releaseWindows: input.schedules?.releaseWindows ?? [],
      busy: input.schedules?.busy ?? [],
      scoring: input.scoring ?? {},
      budget: input.budget ?? null,
      releaseSpecs: specs,
      deliveryBase: input.delivery ?? {},
      delaysMs: input.delaysMs ?? {},
      openedAt: input.$at,
      submittedAt: null, screeningEnteredAt: null, qualifiedAt: null, approvedAt: null,
      assessments: {}, missingAssessments: [], qualifiedManually: false,
      forecast: null, capacityRisk: false, costEstimate: null, totalScore: null, scoreBreakdown: null,
      decision: null, planIncludesCapacityChange: false, deferredUntil: null,
      revision: { notBefore: null, exclude: [] },
      plan: null,
      releases: Object.fromEntries(specs.map((s) => [s.id, { status: 'waiting' as ReleaseStatus, runIds: [], attempts: 0, outcome: null }])),
      freezes: [],
      capacityChangeRunId: null, capacityChange: 'none',
      replanCount: 0, replanReason: null, ticketRef: null, cancelQueue: [], outcome: null, cancelReason: null,
    } satisfies PlanningContext;
  },
  // Children report at any time; each region reads the outcome from context (its `always` moves it).
  on: {
    DELIVERY_COMPLETED: { guard: 'fromOurDelivery', actions: 'deliveryEnded' },
    DELIVERY_FAILED: { guard: 'fromOurDelivery', actions: 'deliveryEnded' },
    DELIVERY_CANCELED: { guard: 'fromOurDelivery', actions: 'deliveryEnded' },
    CHANGE_CLOSED: { guard: 'fromCapacityChange', actions: [assign({ capacityChange: 'closed' as const }), emit(({ event }: Args) => ({ type: 'planning.capacity_change_closed', closeCode: event.closeCode ?? null }))] },
    CHANGE_CANCELED: { guard: 'fromCapacityChange', actions: [assign({ capacityChange: 'canceled' as const }), emit({ type: 'planning.capacity_change_canceled' })] },
  },
  initial: 'draft',
  states: {
    draft: {
      meta: { humanTask: { role: 'change_requester', title: 'Complete demand brief', outcomes: { SUBMIT: 'SUBMIT' } } },
      initial: 'editing',
      after: {
        draftReminderDelay: '.reminding',
        draftStaleDelay: { target: 'canceled', actions: [assign({ outcome: 'canceled', cancelReason: 'stale' }), emit({ type: 'planning.stale' })] },
      },
      on: {
        // An update restarts the staleness clock.
        UPDATE_DEMAND: { target: 'draft', reenter: true, actions: 'updateDemand' },
        SUBMIT: { guard: 'isComplete', target: 'submitted', actions: [assign({ submittedAt: ({ event }: Args) => nowOf(event) }), emit(({ event }: Args) => ({ type: 'planning.submitted', by: event.by ?? null }))] },
        CANCEL: { target: 'canceling', actions: { type: 'setCancel', params: { outcome: 'canceled' } } },
      },
      states: {
        editing: {},
        reminding: {
          invoke: {
            id: 'draftReminder', src: 'notify',
            input: ({ context }: Args) => ({ to: context.requestedBy ?? 'demand_requester', subject: `Reminder: demand "${context.title}" is still a draft and will be canceled after ${Math.round(delayMs(context, 'draftStaleDelay') / DAY)} days without an update` }),
            onDone: 'editing', onError: 'editing',
          },
        },
      },
    },

    submitted: {
      meta: { humanTask: { role: 'demand_manager', title: 'Refine and send to screening', outcomes: { SCREEN: 'MOVE_TO_SCREENING' } } },
      invoke: {
        id: 'demandTicket', src: 'create_external_ticket',
        input: ({ context }: Args) => ({ kind: 'demand', title: context.title, description: context.demand.businessCase, services: context.demand.services, targetDate: context.demand.targetDate }),
        onDone: { actions: assign({ ticketRef: ({ event }: Args) => (event.output as { ticketRef?: string }).ticketRef ?? null }) },
        onError: { actions: emit({ type: 'planning.ticket_failed' }) },
      },
      on: {
        UPDATE_DEMAND: { actions: 'updateDemand' },
        MOVE_TO_SCREENING: { guard: { type: 'isEligibleApprover', params: { group: 'demandManager' } }, target: 'screening' },
        CANCEL: { target: 'canceling', actions: { type: 'setCancel', params: { outcome: 'canceled' } } },
      },
    },

    screening: {
      type: 'parallel',
      entry: assign({ screeningEnteredAt: ({ event }: Args) => nowOf(event) }),
      always: { guard: 'allAssessmentsDone', target: 'qualified' },
      on: {
        // ServiceNow lets the demand manager qualify "when assessments are delayed or not required" [S28].
        QUALIFY: { guard: { type: 'isEligibleApprover', params: { group: 'demandManager' } }, target: 'qualified', actions: 'markMissing' },
        CANCEL: { target: 'canceling', actions: { type: 'setCancel', params: { outcome: 'canceled' } } },
      },
      states: {
        businessValue: assessmentRegion('businessValue'),
        capacity: assessmentRegion('capacity', {
          id: 'forecast', src: 'forecast_capacity',
          input: ({ context }: Args) => ({ ...context.capacity, services: context.demand.services, size: context.demand.size ?? undefined }),
        }),
        serviceLevel: assessmentRegion('serviceLevel'),
        financial: assessmentRegion('financial', {
          id: 'estimate', src: 'estimate_cost',
          input: ({ context }: Args) => ({ size: context.demand.size ?? undefined, costEstimate: context.demand.costEstimate ?? undefined, budget: context.budget ?? undefined }),
        }),
      },
    },

    qualified: {
      meta: {
        humanTask: {
          role: 'portfolio_board', title: 'Portfolio decision on {title}',
          outcomes: { APPROVE: 'APPROVE', APPROVE_WITH_CAPACITY_ACTION: 'APPROVE_WITH_CAPACITY_ACTION', DEFER: 'DEFER', REJECT: 'REJECT' },
        },
      },
      entry: ['enterQualified', boardTimer.arm],
      exit: boardTimer.disarm,
      initial: 'scoring',
      on: {
        [boardTimer.type]: '.notifyingBoard',
        APPROVE: {
          // Plain approval needs capacity headroom; otherwise the board must approve a capacity action.
          guard: and([{ type: 'isEligibleApprover', params: { group: 'portfolioBoard' } }, not('capacityRisk')]),
          target: 'approved', actions: { type: 'recordDecision', params: { decision: 'APPROVE' } },
        },
        APPROVE_WITH_CAPACITY_ACTION: {
          guard: { type: 'isEligibleApprover', params: { group: 'portfolioBoard' } }, target: 'approved',
          actions: [{ type: 'recordDecision', params: { decision: 'APPROVE_WITH_CAPACITY_ACTION' } }, assign({ planIncludesCapacityChange: true })],
        },
        DEFER: {
          guard: { type: 'isEligibleApprover', params: { group: 'portfolioBoard' } }, target: 'deferred',
          actions: [{ type: 'recordDecision', params: { decision: 'DEFER' } }, 'defer'],
        },
        REJECT: {
          guard: { type: 'isEligibleApprover', params: { group: 'portfolioBoard' } }, target: 'rejected',
          actions: [{ type: 'recordDecision', params: { decision: 'REJECT' } }, assign({ outcome: 'rejected', cancelReason: ({ event }: Args) => (typeof event.comment === 'string' ? event.comment : null) })],
        },
        CANCEL: { target: 'canceling', actions: { type: 'setCancel', params: { outcome: 'canceled' } } },
      },
      states: {
        scoring: {
          invoke: {
            id: 'score', src: 'compute_score',
            input: ({ context }: Args) => ({ scores: criteria(context), weights: context.scoring }),
            onDone: { target: 'waiting', actions: assign(({ event }: Args) => ({ totalScore: event.output.totalScore, scoreBreakdown: event.output })) },
            onError: 'waiting',
          },
        },
        waiting: {},
        notifyingBoard: {
          invoke: {
            id: 'boardAgenda', src: 'notify',
            input: ({ context }: Args) => ({ to: context.approvers.portfolioBoard ?? ['portfolio_board'], subject: `Board agenda: demand "${context.title}" (score ${context.totalScore ?? 'n/a'})` }),
            onDone: 'waiting', onError: 'waiting',
          },
        },
      },
    },

    deferred: {
      entry: revisitTimer.arm,
      exit: revisitTimer.disarm,
      on: {
        [revisitTimer.type]: { target: 'qualified', actions: emit({ type: 'planning.revisited' }) },
        CANCEL: { target: 'canceling', actions: { type: 'setCancel', params: { outcome: 'canceled' } } },
      },
    },

    approved: {
      initial: 'proposing',
      on: { CANCEL: { target: 'canceling', actions: { type: 'setCancel', params: { outcome: 'canceled' } } } },
      states: {
        proposing: {
          invoke: {
            id: 'schedule', src: 'propose_schedule',
            input: ({ context, event }: Args) => ({
              releases: toPlace(context).map((r) => ({ id: r.id, service: r.service })),
              releaseWindows: context.releaseWindows,
              blackout: [...context.blackouts, ...context.freezes.map((f) => ({ start: iso(f.from), end: iso(f.to) }))],
              busy: context.busy,
              notBefore: iso(Math.max(nowOf(event), context.revision.notBefore ?? 0)),
              handoffLeadMs: delayMs(context, 'handoffDelay'),
              targetDate: context.demand.targetDate ?? undefined,
              exclude: context.revision.exclude,
            }),
            onDone: [
              { guard: 'planFound', target: 'confirming', actions: ['keepPlan', emit(({ event }: Args) => ({ type: 'planning.plan_proposed', releases: event.output.releases, targetDateMissed: event.output.targetDateMissed }))] },
              { target: '#planning.replanning', actions: { type: 'replanFor', params: { reason: 'no_window' } } },
            ],
            onError: { target: '#planning.replanning', actions: { type: 'replanFor', params: { reason: 'schedule_failed' } } },
          },
        },
        confirming: {
          meta: { humanTask: { role: 'release_manager', title: 'Confirm release plan', outcomes: { CONFIRM: 'CONFIRM_PLAN', REVISE: 'REVISE_PLAN' } } },
          on: {
            CONFIRM_PLAN: {
              guard: and([{ type: 'isEligibleApprover', params: { group: 'releaseManager' } }, 'planAvoidsFreeze']),
              target: '#planning.scheduled', actions: ['baseline', emit(({ event }: Args) => ({ type: 'planning.plan_confirmed', by: event.by ?? null }))],
            },
            REVISE_PLAN: { guard: { type: 'isEligibleApprover', params: { group: 'releaseManager' } }, target: 'proposing', actions: 'revise' },
          },
        },
      },
    },

    scheduled: {
      type: 'parallel',
      invoke: {
        id: 'roadmap', src: 'update_roadmap',
        input: ({ context }: Args) => ({ demand: context.title, ticketRef: context.ticketRef, releases: context.plan?.releases ?? [], targetDateMissed: context.plan?.targetDateMissed ?? false }),
      },
      // Read from context rather than `onDone` (whose event carries no engine time): every planned
      // release settled and the capacity action, if any, closed.
      always: [
        { guard: and(['allReleasesSettled', 'anyReleaseFailed']), target: 'replanning', actions: { type: 'replanFor', params: { reason: 'delivery_failed' } } },
        { guard: 'allReleasesSettled', target: 'completed', actions: assign({ outcome: 'completed' }) },
      ],
      on: {
        FREEZE_DECLARED: [
          { guard: 'freezeHitsPlan', target: 'replanning', actions: ['addFreeze', { type: 'replanFor', params: { reason: 'freeze' } }] },
          { actions: 'addFreeze' },
        ],
        CANCEL: { target: 'canceling', actions: { type: 'setCancel', params: { outcome: 'canceled' } } },
      },
      states: {
        capacityAction: {
          initial: 'init',
          states: {
            init: {
              always: [
                { guard: 'capacityChangeNeeded', target: 'raising' },
                { guard: { type: 'capacityChangeIs', params: { status: 'open' } }, target: 'open' },
                { guard: { type: 'capacityChangeIs', params: { status: 'closed' } }, target: 'closed' },
                { target: 'notRequired' },
              ],
            },
            raising: {
              invoke: {
                id: 'capacityChange', src: 'start_run',
                input: ({ context }: Args) => ({ workflow: 'change', businessKey: `change:${demandKey(context)}:capacity`, input: capacityChangeInput(context) }),
                onDone: {
                  target: 'open',
                  actions: [assign({ capacityChangeRunId: ({ event }: Args) => event.output.runId, capacityChange: 'open' as const }), emit(({ context }: Args) => measure(context, 'capacityActionsRaised', 1))],
                },
                onError: { target: '#planning.replanning', actions: { type: 'replanFor', params: { reason: 'capacity_action_failed' } } },
              },
            },
            open: {
              always: [
                { guard: { type: 'capacityChangeIs', params: { status: 'closed' } }, target: 'closed' },
                { guard: { type: 'capacityChangeIs', params: { status: 'canceled' } }, target: '#planning.replanning', actions: { type: 'replanFor', params: { reason: 'capacity_action_canceled' } } },
              ],
            },
            closed: { type: 'final' },
            notRequired: { type: 'final' },
          },
        },
        ...Object.fromEntries(Array.from({ length: MAX_RELEASES }, (_, i) => [`release${i}`, releaseRegion(i)])),
      },
    },

    replanning: {
      meta: { humanTask: { role: 'demand_manager', title: 'Delivery failed or was blocked: decide', outcomes: { RESCHEDULE: 'RESCHEDULE', DESCOPE: 'DESCOPE', CANCEL: 'CANCEL' } } },
      entry: 'enterReplanning',
      on: {
        RESCHEDULE: { guard: { type: 'isEligibleApprover', params: { group: 'demandManager' } }, target: 'approved.proposing', actions: 'reschedule' },
        DESCOPE: { guard: { type: 'isEligibleApprover', params: { group: 'demandManager' } }, target: 'scheduled', actions: ['descope', emit(({ event }: Args) => ({ type: 'planning.descoped', releaseIds: event.releaseIds ?? null, by: event.by ?? null }))] },
        CANCEL: { guard: { type: 'isEligibleApprover', params: { group: 'demandManager' } }, target: 'canceling', actions: { type: 'setCancel', params: { outcome: 'canceled' } } },
      },
    },

    // Cascade the cancel to open children one by one, then end. A delivery is cancelled as
    // `POST /v1/runs/:id/cancel` would (§4.10 scenario 9); the capacity change gets `CANCEL`, so it runs
    // its own cancel steps.
    canceling: {
      initial: 'next',
      states: {
        next: {
          always: [
            { guard: 'cancelQueueEmpty', target: '#planning.canceled' },
            { guard: 'nextCancelIsCapacityChange', target: 'sending' },
            { target: 'cancelingDelivery' },
          ],
        },
        cancelingDelivery: {
          invoke: {
            id: 'cancelDelivery', src: 'cancel_child',
            input: ({ context }: Args) => ({ runId: context.cancelQueue[0], reason: 'planning_canceled' }),
            onDone: { target: 'next', actions: [emit(({ context, event }: Args) => ({ type: 'planning.child_cancelled', runId: context.cancelQueue[0], cancelled: event.output?.cancelled ?? null, reason: event.output?.reason ?? null })), assign({ cancelQueue: ({ context }: Args) => context.cancelQueue.slice(1) })] },
            onError: { target: 'next', actions: assign({ cancelQueue: ({ context }: Args) => context.cancelQueue.slice(1) }) },
          },
        },
        sending: {
          invoke: {
            id: 'cancelChild', src: 'send_event',
            input: ({ context }: Args) => ({ runId: context.cancelQueue[0], event: { type: 'CANCEL', by: context.requestedBy ?? 'planning', reason: 'planning_canceled' } }),
            onDone: { target: 'next', actions: [emit(({ context, event }: Args) => ({ type: 'planning.child_cancel_sent', runId: context.cancelQueue[0], applied: event.output?.applied ?? null, reason: event.output?.reason ?? null })), assign({ cancelQueue: ({ context }: Args) => context.cancelQueue.slice(1) })] },
            onError: { target: 'next', actions: assign({ cancelQueue: ({ context }: Args) => context.cancelQueue.slice(1) }) },
          },
        },
      },
    },

    completed: { type: 'final', entry: 'finalMeasures' },
    rejected: { type: 'final', entry: 'finalMeasures' },
    canceled: { type: 'final', entry: 'finalMeasures' },
  },
  output: ({ context }) => ({
    outcome: context.outcome,
    reason: context.cancelReason ?? undefined,
    totalScore: context.totalScore,
    capacityRisk: context.capacityRisk,
    plan: context.plan?.releases ?? [],
    targetDateMissed: context.plan?.targetDateMissed ?? false,
    releases: context.releases,
    replanCount: context.replanCount,
  }),
});

function demandKey(c: PlanningContext): string {
  return c.demand.id ?? (c.title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'demand');
}

/** The capacity action: a normal change that must close before the first release window (§4.6). */
function capacityChangeInput(c: PlanningContext): Record<string, unknown> {
  const first = c.plan?.releases[0]?.window;
  const peak = c.forecast?.peakUtilisation;
  return {
    changeType: 'normal',
    title: `Capacity for demand "${c.title}"`,
    description: `Forecast peak utilisation ${peak ?? 'unknown'} exceeds the ${(c.capacity.headroomThreshold as number) ?? 0.8} headroom threshold; add capacity for ${c.demand.services.join(', ')}.`,
    services: c.demand.services,
    ci: c.demand.services,
    requestedBy: c.requestedBy ?? 'planning',
    approvers: c.approvers,
    plannedEnd: first?.start,
    links: { demand: demandKey(c) },
  };
}

/** Input of release i's child delivery: the shared `delivery` input, the release's own, and the plan. */
function deliveryInputFor(c: PlanningContext, i: number): Record<string, unknown> {
  const planned = plannedAt(c, i)!;
  const spec = c.releaseSpecs.find((s) => s.id === planned.id) ?? { id: planned.id, service: planned.service };
  const base = c.deliveryBase;
  return {
    approvers: c.approvers,
    requestedBy: c.requestedBy ?? undefined,
    ...base,
    ...(spec.deliveryInput ?? {}),
    release: {
      ...(base.release ?? {}),
      ...((spec.deliveryInput?.release as Record<string, unknown> | undefined) ?? {}),
      id: planned.id, service: planned.service, version: spec.version ?? base.release?.version ?? '1.0.0',
    },
    scheduledStart: planned.window.start,
    window: planned.window,
  };
}

/** One assessment area of `screening`: optional automated pre-step, then the assessor's human task. */
function assessmentRegion(area: Area, pre?: { id: string; src: string; input: (a: Args) => unknown }): any {
  const a = AREAS[area];
  const first = pre ? 'preparing' : 'pending';
  const pending = {
    meta: { humanTask: { role: a.role, title: a.title, outcomes: { [a.outcome]: a.event } } },
    invoke: {
      id: `${area}Collect`, src: 'collect_assessment',
      input: ({ context }: Args) => ({ area, demand: context.title, assessors: eligibleApprovers(context as unknown as ApprovalsContext, a.group), forecast: area === 'capacity' ? context.forecast : undefined }),
    },
    initial: 'waiting',
    after: {
      assessmentReminderDelay: '.reminding',
      assessmentDueDelay: { target: '.escalating', actions: emit({ type: 'planning.assessment_overdue', area }) },
    },
    on: {
      [a.event]: { guard: { type: 'isEligibleApprover', params: { group: a.group } }, target: 'done', actions: { type: 'recordAssessment', params: { area } } },
    },
    states: {
      waiting: {},
      reminding: {
        invoke: {
          id: `${area}Reminder`, src: 'notify',
          input: ({ context }: Args) => ({ to: eligibleApprovers(context as unknown as ApprovalsContext, a.group), subject: `Reminder: ${area} assessment of "${context.title}" is pending`, area }),
          onDone: 'waiting', onError: 'waiting',
        },
      },
      escalating: {
        invoke: {
          id: `${area}Overdue`, src: 'notify',
          input: ({ context }: Args) => ({ to: context.approvers.demandManager ?? ['demand_manager'], subject: `Overdue: ${area} assessment of "${context.title}"; you may qualify the demand without it`, area }),
          onDone: 'waiting', onError: 'waiting',
        },
      },
    },
  };
  const states: Record<string, unknown> = {
    init: { always: [{ guard: { type: 'areaApplies', params: { area } }, target: first }, { target: 'skipped' }] },
    [area === 'capacity' ? 'review' : 'pending']: pending,
    done: { type: 'final' },
    skipped: { type: 'final' },
  };
  if (pre) {
    const next = area === 'capacity' ? 'review' : 'pending';
    const keep = area === 'capacity'
      ? enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }) => {
        const o = event.output as { capacityRisk: boolean; peakUtilisation: number | null };
        enqueue.assign({ forecast: o, capacityRisk: o.capacityRisk });
        enqueue.emit(measure(context, 'capacityRiskRate', o.capacityRisk ? 1 : 0, { peakUtilisation: o.peakUtilisation }));
      })
      : assign({ costEstimate: ({ event }: Args) => event.output });
    states.preparing = {
      invoke: { id: pre.id, src: pre.src, input: pre.input, onDone: { target: next, actions: keep }, onError: next },
    };
  }
  return { initial: 'init', states };
}

/** One release of the plan: wait for its handoff, start its delivery, follow it to done or failed. */
function releaseRegion(i: number): any {
  const idx = { index: i };
  const handoff = timer('handoffDelay', `scheduled.release${i}`, (c) => {
    const r = plannedAt(c, i);
    return r ? Date.parse(r.window.start) - delayMs(c, 'handoffDelay') : null;
  });
  const recheck = timer('planRecheckDelay', `scheduled.release${i}.recheck`, (c, now) => {
    const r = plannedAt(c, i);
    if (!r) return null;
    const at = Date.parse(r.window.start) - delayMs(c, 'planRecheckDelay');
    // Only a recheck that comes before the handoff has anything to check.
    return at > now && at < Date.parse(r.window.start) - delayMs(c, 'handoffDelay') ? at : null;
  });
  return {
    initial: 'init',
    states: {
      init: {
        always: [
          { guard: { type: 'releaseNotPlanned', params: idx }, target: 'notPlanned' },
          { guard: { type: 'releaseIs', params: { ...idx, status: 'done' } }, target: 'done' },
          { guard: { type: 'releaseIs', params: { ...idx, status: 'inDelivery' } }, target: 'inDelivery.running' },
          { target: 'waiting' },
        ],
      },
      waiting: {
        entry: [handoff.arm, recheck.arm],
        exit: [handoff.disarm, recheck.disarm],
        on: {
          [handoff.type]: [
            { guard: { type: 'windowInFreeze', params: idx }, target: '#planning.replanning', actions: { type: 'replanFor', params: { reason: 'freeze' } } },
            { guard: not('capacityReady'), target: 'held', actions: emit({ type: 'planning.handoff_held', release: i, reason: 'capacity_action_open' }) },
            { target: 'inDelivery' },
          ],
          [recheck.type]: { guard: { type: 'windowInFreeze', params: idx }, target: '#planning.replanning', actions: { type: 'replanFor', params: { reason: 'freeze' } } },
        },
      },
      // Handoff time came while the capacity change is still open: the release starts when it closes.
      held: { always: { guard: 'capacityReady', target: 'inDelivery' } },
      inDelivery: {
        initial: 'starting',
        states: {
          starting: {
            entry: { type: 'countAttempt', params: idx },
            invoke: {
              id: `deliver${i}`, src: 'start_run',
              input: ({ context }: Args) => {
                const r = plannedAt(context, i)!;
                const attempt = context.releases[r.id].attempts;
                return { workflow: 'delivery', businessKey: `delivery:${demandKey(context)}:${r.id}${attempt > 1 ? `:${attempt}` : ''}`, input: deliveryInputFor(context, i) };
              },
              onDone: { target: 'running', actions: [{ type: 'handedOff', params: idx }, emit(({ context, event }: Args) => ({ type: 'planning.handed_off', releaseId: plannedAt(context, i)?.id, runId: event.output.runId }))] },
              onError: { target: `#planning.scheduled.release${i}.failed`, actions: [{ type: 'startFailed', params: idx }, emit(({ event }: Args) => ({ type: 'planning.handoff_failed', release: i, error: (event as { error?: unknown }).error ?? null }))] },
            },
          },
          running: {
            always: [
              { guard: { type: 'releaseIs', params: { ...idx, status: 'done' } }, target: `#planning.scheduled.release${i}.done` },
              { guard: { type: 'releaseIs', params: { ...idx, status: 'failed' } }, target: `#planning.scheduled.release${i}.failed` },
            ],
          },
        },
      },
      done: { type: 'final' },
      failed: { type: 'final' },
      notPlanned: { type: 'final' },
    },
  };
}

export const PLANNING_KPIS: KpiDefinition[] = [
  { name: 'demandLeadTime', label: 'Demand lead time (submit → approve)', unit: 'ms', aggregate: 'median', description: 'SUBMIT → APPROVE.' },
  { name: 'timeToMarket', label: 'Time to market (submit → completed)', unit: 'ms', aggregate: 'median', description: 'SUBMIT → completed (last release delivered).' },
  { name: 'approvalRate', label: 'Approval rate', unit: 'ratio', aggregate: 'mean', description: 'Board approvals ÷ board decisions.' },
  { name: 'deferralRate', label: 'Deferral rate', unit: 'ratio', aggregate: 'mean', description: 'Board deferrals ÷ board decisions.' },
  { name: 'rejectionRate', label: 'Rejection rate', unit: 'ratio', aggregate: 'mean', description: 'Board rejections ÷ board decisions.' },
  { name: 'assessmentCycleTime', label: 'Assessment cycle time', unit: 'ms', aggregate: 'mean', breakdown: ['manual'], description: 'screening entry → qualified.' },
  { name: 'qualifiedManuallyRate', label: 'Share qualified manually', unit: 'ratio', aggregate: 'mean' },
  { name: 'scheduleAdherence', label: 'Schedule adherence', unit: 'ratio', aggregate: 'mean', description: 'Releases delivered inside their planned window ÷ releases delivered.' },
  { name: 'replansPerDemand', label: 'Replans per demand', unit: 'count', aggregate: 'mean' },
  { name: 'onTimeAgainstTargetDate', label: 'On time against target date', unit: 'ratio', aggregate: 'mean', description: 'Completed by demand.targetDate ÷ completed.' },
  { name: 'capacityRiskRate', label: 'Capacity risk rate', unit: 'ratio', aggregate: 'mean', description: 'Demands flagged capacityRisk ÷ demands forecast.' },
  { name: 'capacityActionsRaised', label: 'Capacity actions raised', unit: 'count', aggregate: 'count' },
  { name: 'valueDelivered', label: 'Value delivered (sum of total scores of completed demands)', unit: 'count', aggregate: 'count', description: 'Sum of totalScore of the demands completed in the window; the count is the number of demands delivered.' },
  { name: 'backlog', label: 'Demand backlog (qualified or deferred now)', unit: 'count', aggregate: 'open', states: ['qualified', 'deferred'], breakdown: ['state', 'age'] },
  { name: 'backlogAge', label: 'Mean age of the demand backlog', unit: 'ms', aggregate: 'openAge', states: ['qualified', 'deferred'], breakdown: ['state'] },
];

const by = { type: 'string', minLength: 1, maxLength: 200 };
const comment = { type: 'string', maxLength: 10_000 };
const dateTime = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:\\d{2}))?$' };
const span = { type: 'object', required: ['start', 'end'], properties: { start: dateTime, end: dateTime } };
const decision = { type: 'object', required: ['by'], properties: { by, comment } };
const assessed = (extra: Record<string, unknown> = {}) => ({
  type: 'object', required: ['by'], properties: { by, comment, score: { type: 'number', minimum: 0, maximum: 10 }, ...extra },
});
const people = { type: 'array', items: { type: 'string' } };

export const planning = defineWorkflow({
  name: 'planning',
  version: 1,
  description: 'Demand, service and capacity planning: screening with four assessments, portfolio board, freeze-aware scheduling, hand-off to one delivery run per release (PROCESSES.md §4).',
  machine,
  builtIn: true,
  kpis: PLANNING_KPIS,
  inputSchema: {
    type: 'object',
    required: ['demand'],
    properties: {
      demand: {
        type: 'object',
        properties: {
          id: { type: 'string' }, title: { type: 'string' }, businessCase: { type: 'string' }, requestedBy: { type: 'string' },
          services: { type: 'array', items: { type: 'string' } }, targetDate: dateTime, size: { enum: ['XS', 'S', 'M', 'L', 'XL'] },
          costEstimate: { type: 'number', minimum: 0 }, strategicGoal: { type: 'string' },
        },
      },
      assessments: { type: 'array', items: { enum: AREA_NAMES } },
      approvers: {
        type: 'object',
        properties: { demandManager: people, portfolioBoard: people, releaseManager: people, capacityManager: people, serviceOwner: people, finance: people, businessOwner: people },
        additionalProperties: people,
      },
      board: { type: 'object', properties: { meetingsAt: { type: 'array', items: dateTime } } },
      capacity: {
        type: 'object',
        properties: {
          headroomThreshold: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
          current: { type: 'object', additionalProperties: { type: 'number', minimum: 0 } },
          expectedLoad: { anyOf: [{ type: 'number', minimum: 0 }, { type: 'object', additionalProperties: { type: 'number', minimum: 0 } }] },
          metricQueries: { type: 'array', items: { type: 'object', required: ['service', 'query'] } },
          prometheusUrl: { type: 'string' },
        },
      },
      schedules: { type: 'object', properties: { blackout: { type: 'array', items: span }, releaseWindows: { type: 'array', items: span }, busy: { type: 'array' } } },
      scoring: { type: 'object', additionalProperties: { type: 'number', minimum: 0 } },
      budget: { type: 'number', minimum: 0 },
      releases: {
        type: 'array', minItems: 1, maxItems: MAX_RELEASES,
        items: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1 }, service: { type: 'string' }, version: { type: 'string' }, deliveryInput: { type: 'object' } } },
      },
      delivery: { type: 'object', description: 'Input shared by every child delivery run (strategy, environments, delaysMs, ...).' },
      requestedBy: { type: 'string' },
      delaysMs: {
        type: 'object',
        properties: Object.fromEntries(Object.keys(PLANNING_DELAYS).map((k) => [k, { type: 'integer', minimum: 0 }])),
        additionalProperties: { type: 'integer', minimum: 0 },
      },
    },
    additionalProperties: true,
  },
  eventSchemas: {
    UPDATE_DEMAND: {
      type: 'object',
      properties: { by, title: { type: 'string' }, businessCase: { type: 'string' }, services: { type: 'array', items: { type: 'string' } }, targetDate: dateTime, size: { enum: ['XS', 'S', 'M', 'L', 'XL'] }, costEstimate: { type: 'number', minimum: 0 }, strategicGoal: { type: 'string' } },
    },
    SUBMIT: decision,
    MOVE_TO_SCREENING: decision,
    VALUE_ASSESSED: assessed({ alignment: { type: 'number', minimum: 0, maximum: 10 } }),
    CAPACITY_ASSESSED: assessed({ capacityRisk: { type: 'boolean' }, peakUtilisation: { type: 'number', minimum: 0 } }),
    SLA_ASSESSED: assessed(),
    COST_ASSESSED: assessed({ cost: { type: 'number', minimum: 0 } }),
    QUALIFY: decision,
    APPROVE: decision,
    APPROVE_WITH_CAPACITY_ACTION: decision,
    DEFER: { type: 'object', required: ['by'], properties: { by, comment, until: dateTime } },
    REJECT: decision,
    CONFIRM_PLAN: decision,
    REVISE_PLAN: { type: 'object', required: ['by'], properties: { by, comment, constraints: { type: 'object', properties: { notBefore: dateTime, excludeWindows: { type: 'array', items: { type: 'string' } } } } } },
    DELIVERY_COMPLETED: { type: 'object', properties: { childRunId: { type: 'string' }, outcome: { type: ['string', 'null'] }, deployedAt: { type: ['string', 'null'] } } },
    DELIVERY_FAILED: { type: 'object', properties: { childRunId: { type: 'string' }, outcome: { type: ['string', 'null'] } } },
    DELIVERY_CANCELED: { type: 'object', properties: { childRunId: { type: 'string' }, outcome: { type: ['string', 'null'] } } },
    FREEZE_DECLARED: { type: 'object', required: ['from', 'to'], properties: { from: dateTime, to: dateTime } },
    RESCHEDULE: decision,
    DESCOPE: { type: 'object', required: ['by'], properties: { by, comment, releaseIds: { type: 'array', minItems: 1, items: { type: 'string' } } } },
    CANCEL: { type: 'object', required: ['by'], properties: { by, comment, reason: { type: 'string', maxLength: 500 } } },
  },
});
