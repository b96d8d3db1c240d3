// The change machine's setup: its types, and the tasks, guards, actions and delays its states name.
import { setup, type AnyEventObject } from 'xstate';
import { taskActors } from '../../engine/definition/index.ts';
import type { ChangeContext } from './types.ts';
import { guards } from './guards.ts';
import { actions } from './actions.ts';
import { delays } from './delays.ts';

export const changeSetup = setup({
  types: {} as { context: ChangeContext; input: Record<string, unknown> & { $at: number }; events: AnyEventObject },
  actors: taskActors(
    'assess_risk', 'detect_conflicts', 'request_approvals', 'withdraw_approvals', 'add_to_cab_agenda', 'create_pir_task',
    'notify', 'notify_parent', 'start_run', 'cancel_child', 'send_change_event', 'rollback',
  ),
  guards,
  actions,
  delays,
});
