// The incident machine's setup: its types, and the tasks, delays, guards and actions its states name.
import { setup } from 'xstate';
import { taskActors } from '../../engine/definition/index.ts';
import type { Ev, IncidentContext, IncidentInput } from './types.ts';
import { delays } from './delays.ts';
import { guards } from './guards.ts';
import { actions } from './actions.ts';

export const incidentSetup = setup({
  types: {} as { context: IncidentContext; input: IncidentInput; events: Ev },
  actors: taskActors(
    'notify', 'page_oncall', 'enrich_context', 'route_assignment', 'create_external_ticket', 'update_external_ticket', 'report_change_failure',
    'resolve_external_alert', 'open_bridge', 'publish_status_update', 'create_problem_record', 'send_survey', 'start_run',
    'notify_deliveries',
  ),
  delays,
  guards,
  actions,
});
