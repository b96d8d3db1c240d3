// The KPIs the incident process reports, and the measure events that feed them.
import type { KpiDefinition } from '../../engine/definition/index.ts';
import type { IncidentContext } from './types.ts';
import { dims } from './derived.ts';

const bd = ['priority', 'service', 'source'];
export const incidentKpis: KpiDefinition[] = [
  { name: 'mtta', label: 'Mean time to acknowledge', unit: 'ms', aggregate: 'mean', breakdown: bd, description: 'respondedAt − openedAt; a resolve without acknowledgement counts as the response' },
  { name: 'meanTimeToResolve', label: 'Mean time to resolve', unit: 'ms', aggregate: 'mean', breakdown: bd, description: 'first resolvedAt − openedAt, wall clock' },
  { name: 'meanTimeToResolveSla', label: 'Mean time to resolve (SLA time)', unit: 'ms', aggregate: 'mean', breakdown: bd, description: 'resolution clock time, pauses excluded' },
  { name: 'medianTimeToResolve', label: 'Median time to resolve', unit: 'ms', aggregate: 'median', measure: 'meanTimeToResolve', breakdown: bd },
  { name: 'p90TimeToResolve', label: 'p90 time to resolve', unit: 'ms', aggregate: 'p90', measure: 'meanTimeToResolve', breakdown: bd },
  { name: 'slaComplianceResponse', label: 'Response SLA compliance', unit: 'ratio', aggregate: 'mean', breakdown: bd, description: 'met ÷ (met + breached), once per run' },
  { name: 'slaComplianceResolution', label: 'Resolution SLA compliance', unit: 'ratio', aggregate: 'mean', breakdown: bd, description: 'met ÷ (met + breached), once per run' },
  { name: 'incidents', label: 'Incidents opened', unit: 'count', aggregate: 'count', breakdown: bd },
  { name: 'slaBreaches', label: 'SLA breaches', unit: 'count', aggregate: 'count', breakdown: [...bd, 'clock'] },
  { name: 'slaBreachesPer100', label: 'SLA breaches per 100 incidents', unit: 'count', aggregate: 'count', measure: 'slaBreaches', per: { measure: 'incidents', scale: 100 }, breakdown: bd, description: 'SLA breaches (response and resolution) × 100 ÷ incidents opened' },
  { name: 'reopenRate', label: 'Reopen rate', unit: 'ratio', aggregate: 'mean', breakdown: bd, description: 'closed runs with reopenCount ≥ 1' },
  { name: 'firstContactResolution', label: 'First-contact resolution (approximation)', unit: 'ratio', aggregate: 'mean', breakdown: bd, description: 'closed with no reassignment, no hierarchical escalation and no reopen' },
  { name: 'escalationRate', label: 'Escalation rate', unit: 'ratio', aggregate: 'mean', breakdown: bd, description: 'closed runs with escalationLevel ≥ 1' },
  { name: 'majorIncidents', label: 'Major incidents', unit: 'count', aggregate: 'count', breakdown: bd },
  { name: 'pirCompletedWithinDue', label: 'PIR completed within due', unit: 'ratio', aggregate: 'mean', breakdown: bd },
  { name: 'autoResolvedShare', label: 'Auto-resolved share', unit: 'ratio', aggregate: 'mean', breakdown: bd, description: 'closed runs resolved with monitoring_cleared' },
  { name: 'incidentsCausedByChange', label: 'Incidents caused by change or deployment', unit: 'count', aggregate: 'count', breakdown: bd },
  { name: 'duplicates', label: 'Duplicates', unit: 'count', aggregate: 'count', breakdown: bd },
  { name: 'reclassified', label: 'Reclassified as requests', unit: 'count', aggregate: 'count', breakdown: bd },
  { name: 'canceled', label: 'Canceled', unit: 'count', aggregate: 'count', breakdown: [...bd, 'reason'] },
  { name: 'backlog', label: 'Open incidents now (not yet resolved)', unit: 'count', aggregate: 'open', states: ['open'], breakdown: ['state', 'age', 'priority', 'service'], description: 'runs not ended, by top-level state and age bucket' },
  { name: 'backlogAge', label: 'Mean age of open incidents', unit: 'ms', aggregate: 'openAge', states: ['open'], breakdown: ['priority'], description: 'now − openedAt over runs not ended' },
];

/** A `measure.recorded` event for `emit`, dimensioned by priority, service and source. */
export const measure = (c: IncidentContext, name: string, value: number, extra: Record<string, unknown> = {}) => ({
  type: 'measure.recorded', measure: name, value, openedAt: c.openedAt, dims: { ...dims(c), ...extra },
});
