// The planning machine's setup: its types, and the tasks, delays, guards and actions its states name.
import { setup, type AnyEventObject } from 'xstate';
import { taskActors } from '../../engine/definition/index.ts';
import type { Ev, PlanningContext, PlanningInput } from './types.ts';
import { delays } from './delays.ts';
import { guards } from './guards.ts';
import { actions } from './actions.ts';

export const planningSetup = setup({
  types: {} as { context: PlanningContext; events: Ev; input: PlanningInput; emitted: AnyEventObject },
  actors: taskActors(
    'collect_assessment', 'forecast_capacity', 'estimate_cost', 'compute_score', 'propose_schedule', 'update_roadmap',
    'start_run', 'send_event', 'cancel_child', 'notify', 'create_external_ticket',
  ),
  delays,
  guards,
  actions,
});
