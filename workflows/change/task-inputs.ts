// What the change machine hands its tasks and child runs: conflict and risk inputs, its delivery, a parent's event.
import type { ChangeContext } from './types.ts';
import { ms } from './time.ts';

/** The event a waiting parent hears when the change goes back to New (§5), or null. */
export function parentReturnEvent(c: ChangeContext): Record<string, unknown> | null {
  if (c.returnReason === 'rejected') return { type: 'CHANGE_REJECTED', comments: c.rejection?.comments ?? [] };
  if (c.wasAuthorized && ['blackout_conflict', 'approval_expired', 'rescheduled'].includes(c.returnReason ?? '')) {
    return { type: 'CHANGE_DEAUTHORIZED', reason: c.returnReason };
  }
  return null;
}

export function conflictInput(c: ChangeContext) {
  return {
    ci: c.ci, plannedStart: c.plannedStart, plannedEnd: c.plannedEnd, schedules: c.schedules, changeSchedule: c.changeSchedule,
    implementer: c.implementer, self: c.number,
  };
}

export function riskInput(c: ChangeContext) {
  return {
    environment: c.environment, impact: c.impact, criticality: c.criticality, serviceCriticality: c.serviceCriticality, services: c.services,
    backoutPlan: c.backoutPlan, backoutTested: c.backoutTested, conflicts: c.conflicts, groupFailureRate: c.groupFailureRate,
    questionnaireRisk: c.questionnaireRisk,
  };
}

/** The business key of the delivery a change starts: `delivery:<this run's business key, else its id>:<release id>`. */
export function deliveryKey(c: ChangeContext): string | undefined {
  const parent = c.businessKey ?? c.runId;
  const release = typeof c.links.release === 'object' && c.links.release !== null ? (c.links.release as { id?: unknown }).id : c.links.release;
  return parent ? `delivery:${parent}:${String(release)}` : undefined;
}

export function deliveryInput(c: ChangeContext): Record<string, unknown> {
  const release = typeof c.links.release === 'object' && c.links.release !== null ? c.links.release : { id: String(c.links.release) };
  const window = ms(c.plannedStart) !== null && ms(c.plannedEnd) !== null ? { start: c.plannedStart, end: c.plannedEnd } : undefined;
  return { release, environments: ['production'], changePolicy: 'none', requestedBy: c.requestedBy, approvers: c.approvers, window, reason: 'planned' };
}
