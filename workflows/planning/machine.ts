// The planning statechart (docs/models/planning.md §4), read top to bottom as the process: draft, submitted,
// screening, the portfolio board, deferral, the schedule and its confirmation, the scheduled releases,
// replanning, the cancel cascade and the ends. The guards, actions and delays it names are in `setup.ts`.
import { and, assign, emit, not } from 'xstate';
import { MAX_RELEASES } from './parallel-regions.ts';
import type { Args } from './types.ts';
import { iso, nowOf } from './time.ts';
import { DAY, boardTimer, delayMs, revisitTimer } from './delays.ts';
import { toPlace } from './plan.ts';
import { criteria } from './scoring.ts';
import { measure } from './kpis.ts';
import { capacityChangeInput, parentKey } from './task-inputs.ts';
import { assessmentRegion } from './assessment-region.ts';
import { releaseRegion } from './release-region.ts';
import { initialContext } from './context.ts';
import { planningSetup } from './setup.ts';

export const planningMachine = planningSetup.createMachine({
  id: 'planning',
  context: initialContext,
  // Children report at any time; each region reads the outcome from context (its `always` moves it).
  on: {
    DELIVERY_COMPLETED: { guard: 'fromOurDelivery', actions: 'deliveryEnded' },
    DELIVERY_FAILED: { guard: 'fromOurDelivery', actions: 'deliveryEnded' },
    DELIVERY_CANCELED: { guard: 'fromOurDelivery', actions: 'deliveryEnded' },
    CHANGE_CLOSED: { guard: 'fromCapacityChange', actions: [assign({ capacityChange: 'closed' as const }), emit(({ event }: Args) => ({ type: 'planning.capacity_change_closed', closeCode: event.closeCode ?? null }))] },
    CHANGE_CANCELED: { guard: 'fromCapacityChange', actions: [assign({ capacityChange: 'canceled' as const }), emit({ type: 'planning.capacity_change_canceled' })] },
  },
  initial: 'draft',
  states: {
    draft: {
      meta: { humanTask: { role: 'change_requester', title: 'Complete demand brief', outcomes: { SUBMIT: 'SUBMIT' } } },
      initial: 'editing',
      after: {
        draftReminderDelay: '.reminding',
        draftStaleDelay: { target: 'canceled', actions: [assign({ outcome: 'canceled', cancelReason: 'stale' }), emit({ type: 'planning.stale' })] },
      },
      on: {
        // An update restarts the staleness clock.
        UPDATE_DEMAND: { target: 'draft', reenter: true, actions: 'updateDemand' },
        SUBMIT: { guard: 'isComplete', target: 'submitted', actions: [assign({ submittedAt: ({ event }: Args) => nowOf(event) }), emit(({ event }: Args) => ({ type: 'planning.submitted', by: event.by ?? null }))] },
        CANCEL: { target: 'canceling', actions: { type: 'setCancel', params: { outcome: 'canceled' } } },
      },
      states: {
        editing: {},
        reminding: {
          invoke: {
            id: 'draftReminder', src: 'notify',
            input: ({ context }: Args) => ({ to: context.requestedBy ?? 'demand_requester', subject: `Reminder: demand "${context.title}" is still a draft and will be canceled after ${Math.round(delayMs(context, 'draftStaleDelay') / DAY)} days without an update` }),
            onDone: 'editing', onError: 'editing',
          },
        },
      },
    },

    submitted: {
      meta: { humanTask: { role: 'demand_manager', title: 'Refine and send to screening', outcomes: { SCREEN: 'MOVE_TO_SCREENING' } } },
      invoke: {
        id: 'demandTicket', src: 'create_external_ticket',
        input: ({ context }: Args) => ({ kind: 'demand', title: context.title, description: context.demand.businessCase, services: context.demand.services, targetDate: context.demand.targetDate }),
        onDone: { actions: assign({ ticketRef: ({ event }: Args) => (event.output as { ticketRef?: string }).ticketRef ?? null }) },
        onError: { actions: emit({ type: 'planning.ticket_failed' }) },
      },
      on: {
        UPDATE_DEMAND: { actions: 'updateDemand' },
        MOVE_TO_SCREENING: { guard: { type: 'isEligibleApprover', params: { group: 'demandManager' } }, target: 'screening' },
        CANCEL: { target: 'canceling', actions: { type: 'setCancel', params: { outcome: 'canceled' } } },
      },
    },

    screening: {
      type: 'parallel',
      entry: assign({ screeningEnteredAt: ({ event }: Args) => nowOf(event) }),
      always: { guard: 'allAssessmentsDone', target: 'qualified' },
      on: {
        // ServiceNow lets the demand manager qualify "when assessments are delayed or not required" [S28].
        QUALIFY: { guard: { type: 'isEligibleApprover', params: { group: 'demandManager' } }, target: 'qualified', actions: 'markMissing' },
        CANCEL: { target: 'canceling', actions: { type: 'setCancel', params: { outcome: 'canceled' } } },
      },
      states: {
        businessValue: assessmentRegion('businessValue'),
        capacity: assessmentRegion('capacity', {
          id: 'forecast', src: 'forecast_capacity',
          input: ({ context }: Args) => ({ ...context.capacity, services: context.demand.services, size: context.demand.size ?? undefined }),
        }),
        serviceLevel: assessmentRegion('serviceLevel'),
        financial: assessmentRegion('financial', {
          id: 'estimate', src: 'estimate_cost',
          input: ({ context }: Args) => ({ size: context.demand.size ?? undefined, costEstimate: context.demand.costEstimate ?? undefined, budget: context.budget ?? undefined }),
        }),
      },
    },

    qualified: {
      meta: {
        humanTask: {
          role: 'portfolio_board', title: 'Portfolio decision on {title}',
          outcomes: { APPROVE: 'APPROVE', APPROVE_WITH_CAPACITY_ACTION: 'APPROVE_WITH_CAPACITY_ACTION', DEFER: 'DEFER', REJECT: 'REJECT' },
        },
      },
      entry: ['enterQualified', boardTimer.arm],
      exit: boardTimer.disarm,
      initial: 'scoring',
      on: {
        [boardTimer.type]: '.notifyingBoard',
        APPROVE: {
          // Plain approval needs capacity headroom; otherwise the board must approve a capacity action.
          guard: and([{ type: 'isEligibleApprover', params: { group: 'portfolioBoard' } }, not('capacityRisk')]),
          target: 'approved', actions: { type: 'recordDecision', params: { decision: 'APPROVE' } },
        },
        APPROVE_WITH_CAPACITY_ACTION: {
          guard: { type: 'isEligibleApprover', params: { group: 'portfolioBoard' } }, target: 'approved',
          actions: [{ type: 'recordDecision', params: { decision: 'APPROVE_WITH_CAPACITY_ACTION' } }, assign({ planIncludesCapacityChange: true })],
        },
        DEFER: {
          guard: { type: 'isEligibleApprover', params: { group: 'portfolioBoard' } }, target: 'deferred',
          actions: [{ type: 'recordDecision', params: { decision: 'DEFER' } }, 'defer'],
        },
        REJECT: {
          guard: { type: 'isEligibleApprover', params: { group: 'portfolioBoard' } }, target: 'rejected',
          actions: [{ type: 'recordDecision', params: { decision: 'REJECT' } }, assign({ outcome: 'rejected', cancelReason: ({ event }: Args) => (typeof event.comment === 'string' ? event.comment : null) })],
        },
        CANCEL: { target: 'canceling', actions: { type: 'setCancel', params: { outcome: 'canceled' } } },
      },
      states: {
        scoring: {
          invoke: {
            id: 'score', src: 'compute_score',
            input: ({ context }: Args) => ({ scores: criteria(context), weights: context.scoring }),
            onDone: { target: 'waiting', actions: assign(({ event }: Args) => ({ totalScore: event.output.totalScore, scoreBreakdown: event.output })) },
            onError: 'waiting',
          },
        },
        waiting: {},
        notifyingBoard: {
          invoke: {
            id: 'boardAgenda', src: 'notify',
            input: ({ context }: Args) => ({ to: context.approvers.portfolioBoard ?? ['portfolio_board'], subject: `Board agenda: demand "${context.title}" (score ${context.totalScore ?? 'n/a'})` }),
            onDone: 'waiting', onError: 'waiting',
          },
        },
      },
    },

    deferred: {
      entry: revisitTimer.arm,
      exit: revisitTimer.disarm,
      on: {
        [revisitTimer.type]: { target: 'qualified', actions: emit({ type: 'planning.revisited' }) },
        CANCEL: { target: 'canceling', actions: { type: 'setCancel', params: { outcome: 'canceled' } } },
      },
    },

    approved: {
      initial: 'proposing',
      on: { CANCEL: { target: 'canceling', actions: { type: 'setCancel', params: { outcome: 'canceled' } } } },
      states: {
        proposing: {
          invoke: {
            id: 'schedule', src: 'propose_schedule',
            input: ({ context, event }: Args) => ({
              releases: toPlace(context).map((r) => ({ id: r.id, service: r.service })),
              releaseWindows: context.releaseWindows,
              blackout: [...context.blackouts, ...context.freezes.map((f) => ({ start: iso(f.from), end: iso(f.to) }))],
              busy: context.busy,
              notBefore: iso(Math.max(nowOf(event), context.revision.notBefore ?? 0)),
              handoffLeadMs: delayMs(context, 'handoffDelay'),
              targetDate: context.demand.targetDate ?? undefined,
              exclude: context.revision.exclude,
            }),
            onDone: [
              { guard: 'planFound', target: 'confirming', actions: ['keepPlan', emit(({ event }: Args) => ({ type: 'planning.plan_proposed', releases: event.output.releases, targetDateMissed: event.output.targetDateMissed }))] },
              { target: '#planning.replanning', actions: { type: 'replanFor', params: { reason: 'no_window' } } },
            ],
            onError: { target: '#planning.replanning', actions: { type: 'replanFor', params: { reason: 'schedule_failed' } } },
          },
        },
        confirming: {
          meta: { humanTask: { role: 'release_manager', title: 'Confirm release plan', outcomes: { CONFIRM: 'CONFIRM_PLAN', REVISE: 'REVISE_PLAN' } } },
          on: {
            CONFIRM_PLAN: {
              guard: and([{ type: 'isEligibleApprover', params: { group: 'releaseManager' } }, 'planAvoidsFreeze']),
              target: '#planning.scheduled', actions: ['baseline', emit(({ event }: Args) => ({ type: 'planning.plan_confirmed', by: event.by ?? null }))],
            },
            REVISE_PLAN: { guard: { type: 'isEligibleApprover', params: { group: 'releaseManager' } }, target: 'proposing', actions: 'revise' },
          },
        },
      },
    },

    scheduled: {
      type: 'parallel',
      invoke: {
        id: 'roadmap', src: 'update_roadmap',
        input: ({ context }: Args) => ({ demand: context.title, ticketRef: context.ticketRef, releases: context.plan?.releases ?? [], targetDateMissed: context.plan?.targetDateMissed ?? false }),
      },
      // Read from context rather than `onDone` (whose event carries no engine time): every planned
      // release settled and the capacity action, if any, closed.
      always: [
        { guard: and(['allReleasesSettled', 'anyReleaseFailed']), target: 'replanning', actions: { type: 'replanFor', params: { reason: 'delivery_failed' } } },
        { guard: 'allReleasesSettled', target: 'completed', actions: assign({ outcome: 'completed' }) },
      ],
      on: {
        FREEZE_DECLARED: [
          { guard: 'freezeHitsPlan', target: 'replanning', actions: ['addFreeze', { type: 'replanFor', params: { reason: 'freeze' } }] },
          { actions: 'addFreeze' },
        ],
        CANCEL: { target: 'canceling', actions: { type: 'setCancel', params: { outcome: 'canceled' } } },
      },
      states: {
        capacityAction: {
          initial: 'init',
          states: {
            init: {
              always: [
                { guard: 'capacityChangeNeeded', target: 'raising' },
                { guard: { type: 'capacityChangeIs', params: { status: 'open' } }, target: 'open' },
                { guard: { type: 'capacityChangeIs', params: { status: 'closed' } }, target: 'closed' },
                { target: 'notRequired' },
              ],
            },
            raising: {
              invoke: {
                id: 'capacityChange', src: 'start_run',
                input: ({ context }: Args) => ({ workflow: 'change', businessKey: `change:${parentKey(context)}:1`, input: capacityChangeInput(context) }),
                onDone: {
                  target: 'open',
                  actions: [assign({ capacityChangeRunId: ({ event }: Args) => event.output.runId, capacityChange: 'open' as const }), emit(({ context }: Args) => measure(context, 'capacityActionsRaised', 1))],
                },
                onError: { target: '#planning.replanning', actions: { type: 'replanFor', params: { reason: 'capacity_action_failed' } } },
              },
            },
            open: {
              always: [
                { guard: { type: 'capacityChangeIs', params: { status: 'closed' } }, target: 'closed' },
                { guard: { type: 'capacityChangeIs', params: { status: 'canceled' } }, target: '#planning.replanning', actions: { type: 'replanFor', params: { reason: 'capacity_action_canceled' } } },
              ],
            },
            closed: { type: 'final' },
            notRequired: { type: 'final' },
          },
        },
        ...Object.fromEntries(Array.from({ length: MAX_RELEASES }, (_, i) => [`release${i}`, releaseRegion(i)])),
      },
    },

    replanning: {
      meta: { humanTask: { role: 'demand_manager', title: 'Delivery failed or was blocked: decide', outcomes: { RESCHEDULE: 'RESCHEDULE', DESCOPE: 'DESCOPE', CANCEL: 'CANCEL' } } },
      entry: 'enterReplanning',
      on: {
        RESCHEDULE: { guard: { type: 'isEligibleApprover', params: { group: 'demandManager' } }, target: 'approved.proposing', actions: 'reschedule' },
        DESCOPE: { guard: { type: 'isEligibleApprover', params: { group: 'demandManager' } }, target: 'scheduled', actions: ['descope', emit(({ event }: Args) => ({ type: 'planning.descoped', releaseIds: event.releaseIds ?? null, by: event.by ?? null }))] },
        CANCEL: { guard: { type: 'isEligibleApprover', params: { group: 'demandManager' } }, target: 'canceling', actions: { type: 'setCancel', params: { outcome: 'canceled' } } },
      },
    },

    // Cascade the cancel to open children one by one, then end. A delivery is cancelled as
    // `POST /v1/runs/:id/cancel` would (§4.10 scenario 9); the capacity change gets `CANCEL`, so it runs
    // its own cancel steps.
    canceling: {
      initial: 'next',
      states: {
        next: {
          always: [
            { guard: 'cancelQueueEmpty', target: '#planning.canceled' },
            { guard: 'nextCancelIsCapacityChange', target: 'sending' },
            { target: 'cancelingDelivery' },
          ],
        },
        cancelingDelivery: {
          invoke: {
            id: 'cancelDelivery', src: 'cancel_child',
            input: ({ context }: Args) => ({ runId: context.cancelQueue[0], reason: 'planning_canceled' }),
            onDone: { target: 'next', actions: [emit(({ context, event }: Args) => ({ type: 'planning.child_cancelled', runId: context.cancelQueue[0], cancelled: event.output?.cancelled ?? null, reason: event.output?.reason ?? null })), assign({ cancelQueue: ({ context }: Args) => context.cancelQueue.slice(1) })] },
            onError: { target: 'next', actions: assign({ cancelQueue: ({ context }: Args) => context.cancelQueue.slice(1) }) },
          },
        },
        sending: {
          invoke: {
            id: 'cancelChild', src: 'send_event',
            input: ({ context }: Args) => ({ runId: context.cancelQueue[0], event: { type: 'CANCEL', by: context.requestedBy ?? 'planning', reason: 'planning_canceled' } }),
            onDone: { target: 'next', actions: [emit(({ context, event }: Args) => ({ type: 'planning.child_cancel_sent', runId: context.cancelQueue[0], applied: event.output?.applied ?? null, reason: event.output?.reason ?? null })), assign({ cancelQueue: ({ context }: Args) => context.cancelQueue.slice(1) })] },
            onError: { target: 'next', actions: assign({ cancelQueue: ({ context }: Args) => context.cancelQueue.slice(1) }) },
          },
        },
      },
    },

    completed: { type: 'final', entry: 'finalMeasures' },
    rejected: { type: 'final', entry: 'finalMeasures' },
    canceled: { type: 'final', entry: 'finalMeasures' },
  },
  output: ({ context }) => ({
    outcome: context.outcome,
    reason: context.cancelReason ?? undefined,
    totalScore: context.totalScore,
    capacityRisk: context.capacityRisk,
    plan: context.plan?.releases ?? [],
    targetDateMissed: context.plan?.targetDateMissed ?? false,
    releases: context.releases,
    replanCount: context.replanCount,
  }),
});
