// The delivery machine's setup: its types, and the tasks, delays, guards and actions its states name.
import { setup, type AnyEventObject } from 'xstate';
import { taskActors } from '../../engine/definition/index.ts';
import type { DeliveryContext, DeliveryInput, Ev } from './types.ts';
import { delays } from './delays.ts';
import { guards } from './guards.ts';
import { actions } from './actions.ts';

export const deliverySetup = setup({
  types: {} as { context: DeliveryContext; events: Ev; input: DeliveryInput; emitted: AnyEventObject },
  actors: taskActors(
    'verify_artifacts', 'deploy_step', 'set_traffic_weight', 'health_check', 'run_smoke_tests', 'record_deployment',
    'rollback', 'send_change_event', 'start_run', 'notify_parent', 'send_event', 'notify',
  ),
  delays,
  guards,
  actions,
});
