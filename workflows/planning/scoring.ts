// How a demand is scored: the score an assessor gave, and the criteria compute_score weighs.
import type { Ev, PlanningContext } from './types.ts';

/** The score an assessor gave: `score` in the event, else the first number 0–10 in the comment. */
export function scoreOf(event: Ev): number | null {
  if (typeof event.score === 'number') return event.score;
  const m = typeof event.comment === 'string' ? /(?:^|[^\d.])(10|\d(?:\.\d+)?)(?:\s*\/\s*10)?(?![\d.])/.exec(event.comment) : null;
  return m ? Number(m[1]) : null;
}

/** The criteria compute_score weighs, from the assessments (0..10, 10 best). */
export function criteria(c: PlanningContext): Record<string, number | null> {
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
