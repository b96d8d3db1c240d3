// The change statechart (docs/models/change.md §2), read top to bottom as the process: new, assess, authorize,
// scheduled, implement (in `implement.ts`), review, on hold, canceling and the ends. The guards, actions
// and delays it names are in `setup.ts`.
import { and, emit, not } from 'xstate';
import { approvalRegion } from '../lib/approvals.ts';
import type { Args, ChangeContext } from './types.ts';
import { contextFromInput } from './context.ts';
import { managers, notice, ref } from './notices.ts';
import { conflictInput, parentReturnEvent, riskInput } from './task-inputs.ts';
import { backToNew, cancel, hold, sequence } from './builders.ts';
import { cabRegion } from './cab-region.ts';
import { implement } from './implement.ts';
import { changeSetup } from './setup.ts';

export const changeMachine = changeSetup.createMachine({
  id: 'change',
  context: ({ input }) => contextFromInput(input),
  initial: 'new',
  states: {
    new: {
      initial: 'init',
      on: { PUT_ON_HOLD: hold('new'), CANCEL: cancel },
      states: {
        init: {
          always: [
            { guard: 'isUnauthorized', target: '#change.authorize', actions: ['computeApprovalPlan', 'emitUnauthorized', 'emitPlan'] },
            { guard: 'autoSubmits', target: 'submitting', actions: 'markSubmitted' },
            { target: 'draft' },
          ],
        },
        draft: {
          meta: { humanTask: { role: 'change_requester', title: 'Complete and submit {number}', outcomes: { SUBMIT: 'SUBMIT' } } },
          on: {
            UPDATE_DETAILS: { guard: 'typeChangeAllowed', actions: 'updateDetails' },
            SUBMIT: { guard: 'isComplete', target: 'submitting', actions: 'markSubmitted' },
            RISK_ASSESSED: { actions: 'setQuestionnaireRisk' },
          },
        },
        // Conflicts first: the risk rules read them (rule 30, "not in maintenance window").
        submitting: {
          initial: 'detectingConflicts',
          states: {
            detectingConflicts: {
              invoke: {
                id: 'detectConflicts', src: 'detect_conflicts', input: ({ context }: { context: ChangeContext }) => conflictInput(context),
                onDone: { target: 'assessingRisk', actions: 'setConflicts' },
                onError: { target: '#change.new.returning', actions: { type: 'setReturn', params: { reason: 'conflict_detection_failed' } } },
              },
            },
            assessingRisk: {
              invoke: {
                id: 'assessRisk', src: 'assess_risk', input: ({ context }: { context: ChangeContext }) => riskInput(context),
                onDone: { target: 'routing', actions: 'setRisk' },
                onError: { target: '#change.new.returning', actions: { type: 'setReturn', params: { reason: 'risk_assessment_failed' } } },
              },
            },
            routing: {
              always: [
                { guard: 'standardReady', target: '#change.scheduled', actions: ['computeApprovalPlan', 'emitPlan', 'markAuthorized'] },
                { guard: 'normalReady', target: '#change.assess', actions: ['computeApprovalPlan', 'emitPlan'] },
                { guard: 'emergencyReady', target: '#change.authorize', actions: ['computeApprovalPlan', 'emitPlan'] },
                { target: '#change.new.returning', actions: 'routingFailed' },
              ],
            },
          },
        },
        // Back to New: withdraw what was pending, tell the requester why, and tell a waiting parent.
        returning: sequence([
          { name: 'withdrawing', src: 'withdraw_approvals', when: 'hasWithdrawnGroups', input: ({ context }) => ({ groups: context.withdrawnGroups, reason: context.returnReason }) },
          { name: 'informing', src: 'notify', input: notice((c) => `${ref(c)} is back in New: ${c.returnReason ?? 'returned'}`) },
          { name: 'notifyingParent', src: 'notify_parent', when: 'parentWaits', input: ({ context }) => ({ event: parentReturnEvent(context) ?? { type: 'CHANGE_REJECTED' } }) },
        ], '#change.new.draft'),
      },
    },

    assess: {
      ...approvalRegion({
        group: 'technical', role: 'technical_approver', title: 'Technical review of {number}', approveEvent: 'APPROVE_TECHNICAL',
        rejectEvent: 'REJECT_TECHNICAL', reminderDelay: 'approvalReminderDelay', escalationDelay: 'approvalEscalationDelay', escalateTo: 'changeManager',
      }),
      entry: 'markApprovalPhase',
      // `always` rather than `onDone`: a rejection must leave before the region is done.
      always: [
        { guard: 'anyApprovalRejected', target: '#change.new.returning', actions: ['recordRejection', 'withdrawApprovals', { type: 'setReturn', params: { reason: 'rejected' } }] },
        { guard: { type: 'groupsApproved', params: { groups: ['technical'] } }, target: 'authorize' },
      ],
      after: { authorizationCutoffDelay: { guard: 'cutoffApplies', ...backToNew('approval_expired'), actions: ['withdrawApprovals', { type: 'setReturn', params: { reason: 'approval_expired' } }, 'approvalExpired'] } },
      on: {
        REVERT_TO_NEW: { guard: 'mayRevert', ...backToNew('reverted') },
        PUT_ON_HOLD: hold('assess'),
        CANCEL: cancel,
      },
    },

    authorize: {
      type: 'parallel',
      entry: 'markApprovalPhase',
      states: {
        changeManager: approvalRegion({
          group: 'changeManager', role: 'change_manager', title: 'Authorize {number} ({risk}){conflictNote}', approveEvent: 'APPROVE_CM', rejectEvent: 'REJECT_CM',
          reminderDelay: 'approvalReminderDelay', escalationDelay: 'approvalEscalationDelay', escalateTo: 'changeManager',
        }),
        cab: cabRegion(),
        ecab: approvalRegion({
          group: 'ecab', role: 'ecab', title: 'Emergency authorization for {number}', approveEvent: 'APPROVE_ECAB', rejectEvent: 'REJECT_ECAB',
          reminderDelay: 'ecabReminderDelay', escalationDelay: 'ecabEscalationDelay', escalateTo: 'changeManager',
        }),
        serviceOwner: approvalRegion({
          group: 'serviceOwner', role: 'service_owner', title: 'Accept risk for {service}', approveEvent: 'APPROVE_OWNER', rejectEvent: 'REJECT_OWNER',
          reminderDelay: 'approvalReminderDelay', escalationDelay: 'approvalEscalationDelay', escalateTo: 'changeManager',
        }),
        // A change re-authorized after a move of its dates tells a waiting parent it is no longer authorized.
        parentNotice: {
          initial: 'route',
          states: {
            route: { always: [{ guard: 'hasParentNotice', target: 'notifying' }, { target: 'done' }] },
            notifying: {
              invoke: {
                id: 'deauthorizedNotice', src: 'notify_parent', input: ({ context }: { context: ChangeContext }) => ({ event: { type: 'CHANGE_DEAUTHORIZED', reason: context.parentNotice } }),
                onDone: { target: 'done', actions: 'clearParentNotice' }, onError: { target: 'done', actions: 'clearParentNotice' },
              },
            },
            done: { type: 'final' },
          },
        },
      },
      // A rejection ends the round at once: the groups still pending are withdrawn (§2.10 scenario 3).
      // Hence `always` rather than `onDone`, as in assess.
      always: [
        { guard: 'anyApprovalRejected', target: '#change.new.returning', actions: ['recordRejection', 'withdrawApprovals', { type: 'setReturn', params: { reason: 'rejected' } }] },
        { guard: and(['approvalsGranted', not('hasParentNotice'), 'isUnauthorized']), target: 'review', actions: 'markAuthorized' },
        { guard: and(['approvalsGranted', not('hasParentNotice')]), target: 'scheduled', actions: 'markAuthorized' },
      ],
      after: { authorizationCutoffDelay: { guard: 'cutoffApplies', ...backToNew('approval_expired'), actions: ['withdrawApprovals', { type: 'setReturn', params: { reason: 'approval_expired' } }, 'approvalExpired'] } },
      on: {
        REVERT_TO_NEW: { guard: 'mayRevert', ...backToNew('reverted') },
        FREEZE_DECLARED: [
          { guard: 'freezeHitsWindow', target: '#change.new.returning', actions: ['addFreeze', 'withdrawApprovals', { type: 'setReturn', params: { reason: 'blackout_conflict' } }] },
          { actions: 'addFreeze' },
        ],
        PUT_ON_HOLD: hold('authorize'),
        CANCEL: cancel,
      },
    },

    scheduled: {
      initial: 'announcing',
      on: {
        START_IMPLEMENTATION: { guard: 'earlyStartOk', target: 'implement', actions: emit(({ event }: Args) => ({ type: 'change.manual_start', by: event.by ?? null })) },
        RESCHEDULE: [
          { guard: 'rescheduleStandardOk', target: 'scheduled', reenter: true, actions: 'setPlannedDates' },
          { guard: 'rescheduleOthersOk', target: 'authorize', actions: ['setPlannedDates', 'reauthorize'] },
        ],
        FREEZE_DECLARED: [
          { guard: 'freezeHitsWindow', target: '#change.new.returning', actions: ['addFreeze', 'withdrawApprovals', { type: 'setReturn', params: { reason: 'blackout_conflict' } }] },
          { actions: 'addFreeze' },
        ],
        PUT_ON_HOLD: hold('scheduled'),
        CANCEL: cancel,
      },
      states: {
        announcing: sequence([
          { name: 'notifying', src: 'notify', input: notice((c) => `${ref(c)} is scheduled`) },
          { name: 'notifyingParent', src: 'notify_parent', input: ({ context }) => ({ event: { type: 'CHANGE_AUTHORIZED', plannedStart: context.plannedStart, plannedEnd: context.plannedEnd } }) },
        ], '#change.scheduled.checking'),
        checking: {
          invoke: {
            id: 'recheckConflicts', src: 'detect_conflicts', input: ({ context }: { context: ChangeContext }) => conflictInput(context),
            onDone: { target: 'waiting', actions: 'setConflicts' }, onError: 'waiting',
          },
        },
        waiting: {
          after: {
            untilPlannedStartDelay: [
              { guard: 'mayImplement', target: '#change.implement' },
              { target: '#change.new.returning', actions: ['withdrawApprovals', { type: 'setReturn', params: { reason: 'blackout_conflict' } }] },
            ],
          },
        },
      },
    },

    implement,

    review: {
      initial: 'notifying',
      entry: 'markReview',
      states: {
        notifying: {
          invoke: { id: 'reviewNotice', src: 'notify', input: notice((c) => `${ref(c)} is in review (${c.closeCode ?? 'no close code'})`), onDone: 'deciding', onError: 'deciding' },
        },
        deciding: { always: [{ guard: 'pirRequired', target: 'pir' }, { target: 'closing' }] },
        pir: {
          meta: { humanTask: { role: 'change_manager', title: 'Post-implementation review of {number}', outcomes: { ACCEPT: 'PIR_ACCEPTED' } } },
          entry: 'markPirOpened',
          invoke: {
            id: 'pirTask', src: 'create_pir_task', input: ({ context }: { context: ChangeContext }) => ({ closeCode: context.closeCode, unauthorized: context.unauthorized, changeType: context.changeType }),
            onDone: { actions: 'setPirTask' },
          },
          initial: 'open',
          after: { pirDueDelay: '.reminding', pirEscalationDelay: '.escalating' },
          on: { PIR_ACCEPTED: { guard: { type: 'isEligibleApprover', params: { group: 'changeManager' } }, target: 'closing', actions: 'acceptPir' } },
          states: {
            open: {},
            reminding: { invoke: { id: 'pirReminder', src: 'notify', input: notice((c) => `PIR of ${ref(c)} is due`, managers), onDone: 'open', onError: 'open' } },
            escalating: { invoke: { id: 'pirEscalation', src: 'notify', input: notice((c) => `PIR of ${ref(c)} is overdue`, managers), onDone: 'open', onError: 'open' } },
          },
        },
        closing: sequence([
          { name: 'notifyingParent', src: 'notify_parent', input: ({ context }) => ({ event: { type: 'CHANGE_CLOSED', closeCode: context.closeCode } }) },
        ], '#change.closed'),
      },
    },

    onHold: {
      initial: 'entering',
      on: { RELEASE_HOLD: { target: '.releasing', actions: 'releaseHold' }, CANCEL: cancel },
      states: {
        entering: { always: [{ guard: 'hasWithdrawnGroups', target: 'withdrawing' }, { target: 'held' }] },
        withdrawing: {
          invoke: {
            id: 'holdWithdraw', src: 'withdraw_approvals', input: ({ context }: { context: ChangeContext }) => ({ groups: context.withdrawnGroups, reason: 'on_hold' }),
            onDone: 'held', onError: 'held',
          },
        },
        held: {},
        // Back where the hold began; `authorize` regions re-enter through `init`, keeping approved groups.
        releasing: {
          always: [
            { guard: { type: 'heldFrom', params: { state: 'assess' } }, target: '#change.assess' },
            { guard: { type: 'heldFrom', params: { state: 'authorize' } }, target: '#change.authorize' },
            { guard: { type: 'heldFrom', params: { state: 'scheduled' } }, target: '#change.scheduled' },
            { target: '#change.new.draft' },
          ],
        },
      },
    },

    canceling: sequence([
      { name: 'withdrawing', src: 'withdraw_approvals', when: 'hasWithdrawnGroups', input: ({ context }) => ({ groups: context.withdrawnGroups, reason: 'canceled' }) },
      { name: 'notifying', src: 'notify', input: notice((c) => `${ref(c)} is canceled: ${c.cancelReason ?? ''}`) },
      // The change's only child run is the delivery it started (§2.9); it is cancelled as
      // `POST /v1/runs/:id/cancel` would, so that no deployment starts for a canceled change.
      { name: 'cancelingDelivery', src: 'cancel_child', when: 'hasDeliveryRun', input: ({ context }) => ({ runId: context.deliveryRunId ?? '', reason: 'change_canceled' }), actions: 'recordChildCancel' },
      { name: 'notifyingParent', src: 'notify_parent', input: ({ context }) => ({ event: { type: 'CHANGE_CANCELED', closeCode: null, reason: context.cancelReason } }) },
    ], '#change.canceled'),

    closed: { type: 'final', entry: 'closeMeasures' },
    canceled: { type: 'final', entry: 'markCanceled' },
  },
  output: ({ context }) => ({
    outcome: context.outcome ?? 'closed', closeCode: context.closeCode, reason: context.cancelReason, changeType: context.changeType, risk: context.risk,
  }),
});
