// The named actions of the planning machine: context updates and the events and measures they emit.
import { assign, enqueueActions } from 'xstate';
import type { Area } from './parallel-regions.ts';
import type { Args, Enqueue, Assessment, PlannedRelease, ReleaseStatus } from './types.ts';
import { ms, nowOf } from './time.ts';
import { plannedAt } from './plan.ts';
import { scoreOf } from './scoring.ts';
import { measure } from './kpis.ts';

/**
 * The actions, for `setup({ actions })`. Typed loosely: parameterized actions do not fit setup()'s
 * inference, and the engine checks every action name when the workflow is registered.
 */
export const actions = {
  updateDemand: assign(({ context, event }: Args) => {
    const d = { ...context.demand };
    for (const k of ['title', 'businessCase', 'targetDate', 'size', 'strategicGoal'] as const) if (typeof event[k] === 'string') d[k] = event[k];
    if (Array.isArray(event.services)) d.services = event.services.map(String);
    if (typeof event.costEstimate === 'number') d.costEstimate = event.costEstimate;
    return { demand: d, title: d.title };
  }),
  recordAssessment: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }, params: { area: Area }) => {
    const extra: Record<string, unknown> = {};
    for (const k of ['alignment', 'capacityRisk', 'peakUtilisation', 'slaImpact', 'cost']) if (event[k] !== undefined) extra[k] = event[k];
    const a: Assessment = { score: scoreOf(event), comment: typeof event.comment === 'string' ? event.comment : null, by: event.by ?? null, at: nowOf(event), extra };
    enqueue.assign({ assessments: { ...context.assessments, [params.area]: a } });
    // The capacity manager may override the forecast, with a comment (§4.6).
    if (params.area === 'capacity' && typeof event.capacityRisk === 'boolean') enqueue.assign({ capacityRisk: event.capacityRisk });
    enqueue.emit({ type: 'planning.assessed', area: params.area, score: a.score, by: a.by });
  }),
  recordDecision: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }, params: { decision: string }) => {
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
  markMissing: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }) => {
    const missing = context.areas.filter((a) => !context.assessments[a]);
    enqueue.assign({ missingAssessments: missing, qualifiedManually: true });
    enqueue.emit({ type: 'planning.qualified_manually', by: event.by ?? null, missing });
  }),
  enterQualified: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }) => {
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
  deliveryEnded: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }) => {
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
  enterReplanning: enqueueActions(({ context, enqueue }: Args & { enqueue: Enqueue }) => {
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
  finalMeasures: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }) => {
    enqueue.emit(measure(context, 'replansPerDemand', context.replanCount, { outcome: context.outcome }));
    if (context.outcome !== 'completed') return;
    const at = nowOf(event);
    enqueue.emit(measure(context, 'timeToMarket', at - (context.submittedAt ?? at)));
    const target = ms(context.demand.targetDate);
    if (target !== null) enqueue.emit(measure(context, 'onTimeAgainstTargetDate', at <= target ? 1 : 0));
    if (context.totalScore !== null) enqueue.emit(measure(context, 'valueDelivered', context.totalScore));
  }),
} as Record<string, any>;
