// The `change` process model (change enablement, docs/models/change.md §2): New → Assess → Authorize → Scheduled →
// Implement → Review → Closed, with standard, normal, emergency and unauthorized paths, group approvals,
// maintenance windows and freezes, on-hold, overrun and backout, and the links to incident and delivery.
// The machine and its parts live in `change/`; this module declares the workflow.
import { defineWorkflow, namesIn } from '../engine/definition/index.ts';
import { changeEventSchemas, changeInputSchema } from './change/schemas.ts';
import { changeMachine } from './change/machine.ts';
import { changeKpis } from './change/kpis.ts';

export type { ChangeType, CloseCode, ChangeTemplate, ChangeContext } from './change/types.ts';
export { changeDelayDefaults, changeOffsetDefaults } from './change/delays.ts';
export { approvalPlanFor } from './change/approval-plan.ts';
export { contextFromInput } from './change/context.ts';
export { changeKpis };

export const change = defineWorkflow({
  name: 'change',
  version: 1,
  description: 'Change enablement: standard, normal, emergency and unauthorized changes with risk, approvals, windows and review (docs/models/change.md §2).',
  machine: changeMachine,
  builtIn: true,
  inputSchema: changeInputSchema,
  eventSchemas: changeEventSchemas,
  kpis: changeKpis,
  // The CIs and services named in the input: windows, blackouts, approvers, criticality (risk), environment.
  registry: { refs: (input) => ({ services: namesIn(input.services, input.service), cis: namesIn(input.ci) }), events: ['RESCHEDULE'] },
});
