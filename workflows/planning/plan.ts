// Reading the plan: where each planned release stands, what is left to place, and whether a window meets a freeze.
import type { PlannedRelease, PlanningContext, ReleaseSpec, ReleaseStatus, Span } from './types.ts';
import { ms } from './time.ts';

const spans = (c: PlanningContext) => [...c.blackouts.map((b) => ({ from: ms(b.start) ?? 0, to: ms(b.end) ?? 0 })), ...c.freezes];
export const overlapsFreeze = (c: PlanningContext, w: Span) => spans(c).some((f) => (ms(w.start) ?? 0) < f.to && f.from < (ms(w.end) ?? 0));
export const plannedAt = (c: PlanningContext, i: number): PlannedRelease | null => c.plan?.releases[i] ?? null;
export const statusAt = (c: PlanningContext, i: number): ReleaseStatus | null => {
  const r = plannedAt(c, i);
  return r ? c.releases[r.id]?.status ?? 'waiting' : null;
};
/** Releases still to be placed in a window (not delivered, not descoped, not being delivered). */
export const toPlace = (c: PlanningContext): ReleaseSpec[] =>
  c.releaseSpecs.filter((r) => ['waiting', 'failed'].includes(c.releases[r.id]?.status ?? 'waiting'));
