// The `implement` state of a change: announce it, start its delivery or wait for the implementer, and
// handle an overrun past the planned end and a backout.
import { and, emit, not } from 'xstate';
import type { ChangeContext } from './types.ts';
import { notice, managers, ref } from './notices.ts';
import { deliveryInput, deliveryKey } from './task-inputs.ts';
import { cancel, implemented, sequence } from './builders.ts';
import { changeSetup } from './setup.ts';

export const implement = changeSetup.createStateConfig({
  initial: 'announcing',
  entry: 'markImplementEntry',
  on: {
    IMPLEMENTED_SUCCESSFULLY: implemented('successful'),
    IMPLEMENTED_WITH_ISSUES: implemented('successful_issues'),
    IMPLEMENTATION_FAILED: implemented('unsuccessful'),
    DEPLOYMENT_RESULT: { guard: and(['fromLinkedDelivery', not('isBackingOut')]), target: 'review', actions: 'deploymentResult' },
    DELIVERY_COMPLETED: { guard: and(['fromLinkedDelivery', not('isBackingOut')]), target: 'review', actions: { type: 'setCloseCode', params: { code: 'successful' } } },
    DELIVERY_FAILED: { guard: and(['fromLinkedDelivery', not('isBackingOut')]), target: 'review', actions: { type: 'setCloseCode', params: { code: 'unsuccessful' } } },
    WORK_STARTED: { guard: 'isImplementerOrManager', actions: 'markWorkStarted' },
    // Not while the delivery is being started: its run id is not known yet, so it could not be canceled.
    CANCEL: { guard: and(['workNotStarted', not('deliveryStarting')]), ...cancel },
  },
  states: {
    announcing: sequence([
      { name: 'notifying', src: 'notify', input: notice((c) => `${ref(c)} is being implemented`) },
      { name: 'sendingChangeEvent', src: 'send_change_event', input: ({ context }) => ({ summary: `${ref(context)}: ${context.title ?? 'change'} started`, source: 'servicechart-change', custom_details: { ci: context.ci, risk: context.risk, changeType: context.changeType } }) },
      { name: 'notifyingParent', src: 'notify_parent', input: () => ({ event: { type: 'CHANGE_IMPLEMENT_STARTED' } }) },
    ], '#change.implement.starting'),
    starting: {
      always: [{ guard: 'startsDelivery', target: 'startingDelivery' }, { target: 'inProgress' }],
    },
    // A change that carries a release starts its own production delivery (§2.9).
    startingDelivery: {
      invoke: {
        id: 'startDelivery', src: 'start_run',
        input: ({ context }: { context: ChangeContext }) => ({ workflow: 'delivery', ...(deliveryKey(context) ? { businessKey: deliveryKey(context) } : {}), input: deliveryInput(context) }),
        onDone: { target: 'inProgress', actions: 'setDeliveryRun' },
        onError: { target: 'inProgress', actions: emit({ type: 'change.delivery_start_failed' }) },
      },
    },
    inProgress: {
      initial: 'route',
      after: { plannedEndDelay: { guard: 'hasPlannedEnd', target: 'overrun' } },
      on: { BACKOUT: { target: 'backingOut', actions: 'markBackout' } },
      states: {
        route: { always: [{ guard: 'deliveryLinked', target: 'delivering' }, { target: 'manual' }] },
        manual: {
          meta: {
            humanTask: {
              role: 'implementer', title: 'Implement {number}',
              outcomes: { SUCCESS: 'IMPLEMENTED_SUCCESSFULLY', ISSUES: 'IMPLEMENTED_WITH_ISSUES', FAILED: 'IMPLEMENTATION_FAILED', BACK_OUT: 'BACKOUT' },
            },
          },
        },
        delivering: {},
      },
    },
    overrun: {
      initial: 'grace',
      entry: ['markOverrun', emit({ type: 'change.overrun' })],
      on: {
        EXTEND_WINDOW: { guard: { type: 'isEligibleApprover', params: { group: 'changeManager' } }, target: 'inProgress', actions: 'extendWindow' },
        BACKOUT: { target: 'backingOut', actions: 'markBackout' },
      },
      states: {
        grace: {
          invoke: { id: 'overrunNotice', src: 'notify', input: notice((c) => `${ref(c)} is past its planned end`, managers) },
          after: { overrunGraceDelay: 'deciding' },
        },
        deciding: {
          meta: { humanTask: { role: 'change_manager', title: '{number} is past its window', outcomes: { EXTEND: 'EXTEND_WINDOW', BACK_OUT: 'BACKOUT' } } },
        },
      },
    },
    backingOut: {
      initial: 'running',
      states: {
        running: {
          invoke: {
            id: 'rollback', src: 'rollback', input: ({ context }: { context: ChangeContext }) => ({ backoutPlan: context.backoutPlan, ci: context.ci, deliveryRunId: context.deliveryRunId }),
            onDone: { target: '#change.review', actions: { type: 'setCloseCode', params: { code: 'unsuccessful' } } },
            onError: 'manual',
          },
        },
        // The automated backout failed: a person runs the backout plan.
        manual: {
          meta: { humanTask: { role: 'implementer', title: 'Back out {number} by hand', outcomes: { DONE: 'BACKOUT_COMPLETED' } } },
          on: { BACKOUT_COMPLETED: { target: '#change.review', actions: { type: 'setCloseCode', params: { code: 'unsuccessful' } } } },
        },
      },
    },
  },
});
