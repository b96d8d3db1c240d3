// The KPIs the change process reports, and the measure events that feed them.
import type { KpiDefinition } from '../../engine/definition/index.ts';
import type { ChangeContext } from './types.ts';

/** §2.11, fed by `measure.recorded` entries as each moment happens. */
export const changeKpis: KpiDefinition[] = [
  { name: 'changeSuccessRate', label: 'Change success rate', unit: 'ratio', aggregate: 'mean', breakdown: ['type', 'risk', 'assignmentGroup'], description: 'closed successful ÷ closed changes that reached implement' },
  { name: 'changeFailureRate', label: 'Change failure rate', unit: 'ratio', aggregate: 'mean', breakdown: ['type', 'risk', 'assignmentGroup'], description: 'closed unsuccessful, or closed and followed within 7 days by a P1/P2 incident that names it in links.causedByChange, ÷ implemented changes' },
  { name: 'successfulWithIssues', label: 'Successful with issues', unit: 'ratio', aggregate: 'mean', breakdown: ['type', 'risk'] },
  { name: 'leadTime', label: 'Lead time (submit to close)', unit: 'ms', aggregate: 'mean', breakdown: ['type', 'risk'] },
  { name: 'leadTimeToImplement', label: 'Lead time (submit to implement)', unit: 'ms', aggregate: 'mean', breakdown: ['type', 'risk'] },
  { name: 'approvalCycleTime', label: 'Approval cycle time', unit: 'ms', aggregate: 'mean', breakdown: ['type', 'risk'], description: 'time in assess + authorize' },
  { name: 'rejectionRate', label: 'Rejection rate', unit: 'ratio', aggregate: 'mean', breakdown: ['type', 'risk'], description: 'rejected authorization rounds ÷ decided rounds' },
  { name: 'approvalExpired', label: 'Approval expired', unit: 'count', aggregate: 'count', breakdown: ['type'] },
  { name: 'emergencyChangeRatio', label: 'Emergency change ratio', unit: 'ratio', aggregate: 'mean', breakdown: ['assignmentGroup'] },
  { name: 'unauthorizedChanges', label: 'Unauthorized changes', unit: 'count', aggregate: 'count', breakdown: ['assignmentGroup'] },
  { name: 'backoutRate', label: 'Backout rate', unit: 'ratio', aggregate: 'mean', breakdown: ['type', 'risk'] },
  { name: 'overrunRate', label: 'Overrun rate', unit: 'ratio', aggregate: 'mean', breakdown: ['type', 'risk'] },
  { name: 'changesInFreezeOrOutsideWindow', label: 'Changes in freeze or outside window', unit: 'count', aggregate: 'count', breakdown: ['type'] },
  { name: 'pirOnTime', label: 'PIR on time', unit: 'ratio', aggregate: 'mean', breakdown: ['type'] },
  { name: 'scheduleAdherence', label: 'Schedule adherence (|actual − planned start|, median)', unit: 'ms', aggregate: 'median', breakdown: ['type'] },
  { name: 'changeSuccessScore', label: 'Change success score per group', unit: 'count', aggregate: 'mean', breakdown: ['assignmentGroup'], description: '+3 successful, −2 with issues, −5 unsuccessful per change, and −10/−5/−2 per P1/P2/P3 incident it caused (links.causedByChange) once it had closed' },
];

/** A `measure.recorded` event for `emit`, dimensioned by type, risk, assignment group and environment. */
export function measure(c: ChangeContext, name: string, value: number, dims: Record<string, unknown> = {}) {
  return {
    type: 'measure.recorded', measure: name, value, openedAt: new Date(c.openedAt).toISOString(),
    dims: { type: c.changeType, risk: c.risk, assignmentGroup: c.assignmentGroup, environment: c.environment, ...dims },
  };
}
