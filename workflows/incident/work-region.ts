// The `work` region of `open`: the lifecycle people move (new → inProgress ⇄ onHold), and the change an incident asks for.
import { assign } from 'xstate';
import type { Args } from './types.ts';
import type { HoldReason } from './reasons.ts';
import { HOLD_REASONS, HOLD_STATE } from './reasons.ts';
import { incidentSetup } from './setup.ts';
import { parentKey } from './derived.ts';

export const work = incidentSetup.createStateConfig({
  initial: 'new',
  states: {
    new: {
      meta: { humanTask: { role: 'resolver', title: 'Acknowledge {number}: {title}', outcomes: { ACKNOWLEDGE: 'ACKNOWLEDGE' } } },
      on: {
        ACKNOWLEDGE: { target: 'inProgress', actions: 'respond' },
        PUT_ON_HOLD: HOLD_REASONS.map((reason) => ({ guard: { type: 'holdTo', params: { reason } }, target: `onHold.${HOLD_STATE[reason]}`, actions: ['respond', 'putOnHold'] })),
        RECLASSIFY_AS_REQUEST: { target: '#incident.reclassifying', actions: 'reclassify' },
      },
    },
    inProgress: {
      meta: { humanTask: { role: 'resolver', title: 'Resolve {number}', outcomes: { RESOLVED: 'RESOLVE' } } },
      on: {
        PUT_ON_HOLD: HOLD_REASONS.map((reason) => ({ guard: { type: 'holdTo', params: { reason } }, target: `onHold.${HOLD_STATE[reason]}`, actions: 'putOnHold' })),
        REQUEST_CHANGE: { target: 'onHold.awaitingChange', actions: ['requestChange', assign({ onHoldReason: 'awaiting_change' as HoldReason, onHoldComment: null })] },
      },
    },
    onHold: {
      // Always entered through a named hold reason; `initial` only satisfies the statechart.
      initial: 'awaitingVendor',
      exit: 'clearHold',
      on: { RESUME: { target: 'inProgress', actions: 'notifyResponder' } },
      states: {
        awaitingCaller: {
          meta: { humanTask: { role: 'caller', title: 'Information needed for {number}', outcomes: { PROVIDED: 'CALLER_UPDATED' } } },
          on: { CALLER_UPDATED: { target: '#incident.open.work.inProgress', actions: 'notifyResponder' } },
          after: { callerAutoResolveDelay: { target: '#incident.resolved', actions: 'resolveNoCallerResponse' } },
          initial: 'firstReminderDue',
          states: {
            firstReminderDue: { after: { callerReminderDelay: { target: 'secondReminderDue', actions: 'remindCaller' } } },
            secondReminderDue: { after: { callerReminderDelay: { target: 'reminded', actions: 'remindCaller' } } },
            reminded: {},
          },
        },
        awaitingChange: {
          initial: 'init',
          on: {
            CHANGE_CLOSED: { guard: 'isOwnChange', target: '#incident.open.work.inProgress', actions: 'changeClosed' },
            CHANGE_CANCELED: { guard: 'isOwnChange', target: '#incident.open.work.inProgress', actions: 'changeClosed' },
          },
          states: {
            init: { always: [{ guard: 'changeRequested', target: 'starting' }, { target: 'waiting' }] },
            starting: {
              invoke: {
                id: 'startChange', src: 'start_run',
                input: ({ context }: Args) => ({
                  workflow: 'change',
                  input: {
                    changeType: context.pendingChange?.changeType ?? 'emergency',
                    title: context.pendingChange?.summary ?? context.title,
                    description: context.description ?? context.title,
                    ...(context.pendingChange?.by ? { requestedBy: context.pendingChange.by } : {}),
                    approvers: context.approvers,
                    ...(context.service ? { services: [context.service] } : {}),
                    ...(context.ci ? { ci: [context.ci] } : {}),
                    impact: context.impact,
                    links: { incident: context.businessKey ?? context.number ?? 'incident' },
                  },
                  // §0.7: `change:<this run's business key, else its id>:<n>`.
                  ...(parentKey(context) ? { businessKey: `change:${parentKey(context)}:${context.links.change.length + 1}` } : {}),
                }),
                onDone: { target: 'waiting', actions: 'changeStarted' },
                onError: { target: 'waiting', actions: 'changeStartFailed' },
              },
            },
            waiting: {},
          },
        },
        awaitingProblem: {},
        awaitingVendor: {},
      },
    },
  },
});
