// The guards of the planning machine, by name.
import { eligibleApprovers, type ApprovalsContext } from '../lib/approvals.ts';
import type { Area } from './parallel-regions.ts';
import type { Args, PlanningContext, ReleaseStatus } from './types.ts';
import { ms } from './time.ts';
import { overlapsFreeze, plannedAt, statusAt } from './plan.ts';

/** The guards, for `setup({ guards })`. */
export const guards = {
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
};
