// The KPIs the planning process reports, and the measure events that feed them.
import type { KpiDefinition } from '../../engine/definition/index.ts';
import type { PlanningContext } from './types.ts';

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

/** A `measure.recorded` event for `emit`, dimensioned by the demand's services. */
export function measure(c: PlanningContext, name: string, value: number, dims: Record<string, unknown> = {}) {
  return { type: 'measure.recorded', measure: name, value, openedAt: new Date(c.openedAt).toISOString(), dims: { services: c.demand.services.join(','), ...dims } };
}
