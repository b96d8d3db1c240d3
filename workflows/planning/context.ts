// The initial context of a planning run, built from its input.
import { AREAS, AREA_NAMES, type Area } from './parallel-regions.ts';
import type { PlanningContext, PlanningInput, ReleaseSpec, ReleaseStatus } from './types.ts';
import { ms } from './time.ts';
import { releaseApprovers } from '../lib/cmdb-read.ts';

/** The context a run starts with: the demand as given, the defaults, and nothing decided yet. */
export function initialContext({ input }: { input: PlanningInput }): PlanningContext {
  const d = input.demand ?? {};
  const services: string[] = Array.isArray(d.services) ? d.services.map(String) : [];
  const specs: ReleaseSpec[] = Array.isArray(input.releases) && input.releases.length
    ? input.releases.map((r: ReleaseSpec) => ({ ...r, service: r.service ?? services[0] ?? 'unknown' }))
    : [{ id: 'R1', service: services[0] ?? 'unknown' }];
  // Service owners and release managers from the demand's services in the registry; input groups win.
  const fromRegistry = releaseApprovers(input.$registry, services, input.approvers ?? {});
  const areas: Area[] = Array.isArray(input.assessments) ? input.assessments.filter((a: string): a is Area => a in AREAS) : AREA_NAMES;
  return {
    businessKey: typeof input.$businessKey === 'string' ? input.$businessKey : null,
    runId: typeof input.$runId === 'string' ? input.$runId : null,
    demand: {
      id: d.id ?? null, title: String(d.title ?? ''), businessCase: d.businessCase ?? null, requestedBy: d.requestedBy ?? input.requestedBy ?? null,
      services, targetDate: d.targetDate ?? null, size: d.size ?? null, costEstimate: d.costEstimate ?? null, strategicGoal: d.strategicGoal ?? null,
    },
    title: String(d.title ?? ''),
    requestedBy: d.requestedBy ?? input.requestedBy ?? null,
    approvers: fromRegistry.approvers,
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
    registry: fromRegistry.registry,
  } satisfies PlanningContext;
}
