// The `incident` process model (docs/models/incident.md §1, with §0): restore service fast, with SLA clocks,
// paging, the major-incident track and the links to change and problem.
// The machine and its parts live in `incident/`; this module declares the workflow.
import { defineWorkflow, namesIn } from '../engine/definition/index.ts';
import { incidentMachine } from './incident/machine.ts';
import { incidentKpis } from './incident/kpis.ts';
import { incidentEventSchemas, incidentInputSchema } from './incident/schemas.ts';

export { timeOf } from '../engine/definition/index.ts';
export { DEFAULT_SLA_TARGETS_MS, DEFAULT_PAGE_ESCALATION_MS, INCIDENT_DELAYS_MS } from './incident/defaults.ts';
export { HOLD_REASONS, CANCEL_REASONS, type HoldReason } from './incident/reasons.ts';
export type { IncidentSource, IncidentConfig, IncidentContext, IncidentInput } from './incident/types.ts';
export { incidentDelayNames } from './incident/delays.ts';
export { incidentInputSchema, incidentEventSchemas, incidentKpis };

export const incident = defineWorkflow({
  name: 'incident',
  version: 1,
  description: 'Incident management (ITIL 4, ServiceNow states): SLA clocks, paging, major incidents, change and problem links. '
    + 'Events: ACKNOWLEDGE, ASSIGN, PUT_ON_HOLD, CALLER_UPDATED, RESUME, UPDATE_PRIORITY, DECLARE_MAJOR, ACCEPT_MAJOR, REJECT_MAJOR, '
    + 'REQUEST_CHANGE, CHANGE_CLOSED, LINK_PROBLEM, ALERT_FIRING, ALERT_RESOLVED, RESOLVE, REOPEN, CONFIRM_CLOSURE, PIR_COMPLETED, CANCEL, RECLASSIFY_AS_REQUEST.',
  machine: incidentMachine,
  builtIn: true,
  inputSchema: incidentInputSchema,
  eventSchemas: incidentEventSchemas,
  kpis: incidentKpis,
  // The service and CI named in the input: support group, on-call, SLA targets, approvers, criticality.
  registry: { refs: (input) => ({ services: namesIn(input.service), cis: namesIn(input.ci) }), events: ['UPDATE_PRIORITY'] },
});
