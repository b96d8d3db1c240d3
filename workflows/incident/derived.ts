// Values derived from an incident's context: delay overrides, SLA targets, measure dimensions, who responds, its label.
import type { IncidentContext } from './types.ts';
import { DEFAULT_SLA_TARGETS_MS } from './defaults.ts';

export const delayOf = (c: IncidentContext, name: string): number | undefined => c.config.delaysMs[name];
export const targets = (c: IncidentContext) => c.config.slaTargetsMs[String(c.priority)] ?? DEFAULT_SLA_TARGETS_MS[c.priority];
export const dims = (c: IncidentContext) => ({ priority: c.priority, service: c.service, source: c.source.tool });
export const responder = (c: IncidentContext): string => c.assignee ?? (c.assignmentGroup ? `group:${c.assignmentGroup}` : 'service_desk');
export const groupManager = (c: IncidentContext): string => `manager:${c.assignmentGroup ?? 'service_desk'}`;
export const label = (c: IncidentContext) => c.number ?? c.businessKey ?? 'incident';
export const pagingEnabled = (c: IncidentContext) => c.priority <= 2 && c.source.tool !== 'pagerduty' && c.config.pagingPolicy.enabled;
export const members = (c: IncidentContext, group: string): string[] => c.approvers[group] ?? [];
/** What child business keys derive from: the run's business key, else its run id (docs/models/conventions.md). */
export const parentKey = (c: IncidentContext): string | null => c.businessKey ?? c.runId;
