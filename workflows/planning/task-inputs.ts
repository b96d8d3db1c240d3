// What the planning machine hands its child runs: the business key, the capacity change and each release's delivery.
import type { PlanningContext } from './types.ts';
import { plannedAt } from './plan.ts';

/** What child business keys derive from: the run's business key, else its run id (docs/models/conventions.md). */
export function parentKey(c: PlanningContext): string {
  return c.businessKey ?? c.runId ?? demandKey(c);
}

/** The demand as other runs' `links.demand` name it: its id, else a slug of its title. */
export function demandKey(c: PlanningContext): string {
  return c.demand.id ?? (c.title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'demand');
}

/** The capacity action: a normal change that must close before the first release window (§4.6). */
export function capacityChangeInput(c: PlanningContext): Record<string, unknown> {
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
export function deliveryInputFor(c: PlanningContext, i: number): Record<string, unknown> {
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
