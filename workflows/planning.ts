// The `planning` process model (docs/models/planning.md §4): a demand from draft through screening (four
// assessments in parallel), the portfolio board, a freeze-aware schedule and its confirmation, to one
// child `delivery` run per release, with deferral, replanning and a cascading cancel.
// The machine and its parts live in `planning/`; this module declares the workflow.
import { defineWorkflow, namesIn } from '../engine/definition/index.ts';
import { planningMachine } from './planning/machine.ts';
import { PLANNING_KPIS } from './planning/kpis.ts';
import { eventSchemas, inputSchema } from './planning/schemas.ts';

export { AREAS, MAX_RELEASES } from './planning/parallel-regions.ts';
export type { PlanningContext } from './planning/types.ts';
export { PLANNING_DELAYS } from './planning/delays.ts';
export { PLANNING_KPIS };

export const planning = defineWorkflow({
  name: 'planning',
  version: 1,
  description: 'Demand, service and capacity planning: screening with four assessments, portfolio board, freeze-aware scheduling, hand-off to one delivery run per release (docs/models/planning.md §4).',
  machine: planningMachine,
  builtIn: true,
  kpis: PLANNING_KPIS,
  inputSchema,
  eventSchemas,
  // Service owners and release managers of the services named in the input.
  registry: { refs: (input) => ({ services: namesIn((input.demand as { services?: unknown } | undefined)?.services), cis: [] }) },
});
