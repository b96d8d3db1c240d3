// The incident statechart (docs/models/incident.md §1, with §0), read top to bottom as the process: `open` with its
// regions (`work`, `intake` and `major` in their own files), then resolved, the post-incident review,
// closing and the ends. The guards, actions and delays it names are in `setup.ts`.
//
// `open` is a parallel state. `work` is the lifecycle people move; the other regions (intake, both SLA
// clocks, paging, major, problem, notices) follow context through guarded `always` transitions, so
// each starts in an `init` pseudo-state and a REOPEN re-enters them in the right sub-state.
import type { Args } from './types.ts';
import { initialContext } from './context.ts';
import { label, responder } from './derived.ts';
import { notices } from './notices.ts';
import { resolution, response } from './sla-clocks.ts';
import { paging } from './paging.ts';
import { problemInput } from './task-inputs.ts';
import { work } from './work-region.ts';
import { intake } from './intake-region.ts';
import { major } from './major-region.ts';
import { incidentSetup } from './setup.ts';

export const incidentMachine = incidentSetup.createMachine({
  id: 'incident',
  context: ({ input }) => initialContext(input),
  initial: 'open',
  entry: 'startedEntry',
  states: {
    open: {
      type: 'parallel',
      on: {
        ASSIGN: { guard: 'groupExists', actions: 'assignGroup' },
        UPDATE_PRIORITY: { actions: 'updatePriority' },
        RESOLVE: { guard: 'hasResolutionInfo', target: 'resolved', actions: 'resolve' },
        CANCEL: { guard: 'validCancel', target: 'canceled', actions: 'cancel' },
        ALERT_FIRING: { guard: 'fingerprintMatches', actions: 'alertRepeated' },
        ALERT_RESOLVED: [
          { guard: 'autoResolveOnAlertClear', target: 'resolved', actions: 'resolve' },
          { actions: 'alertCleared' },
        ],
      },
      states: {
        work,

        intake,

        [response.name]: response.region,
        [resolution.name]: resolution.region,
        [paging.name]: paging.region,

        major,

        problem: {
          initial: 'init',
          states: {
            init: { always: [{ guard: 'problemLinked', target: 'linked' }, { guard: 'problemRecordDue', target: 'creating' }, { target: 'none' }] },
            none: {
              on: { LINK_PROBLEM: [{ guard: 'hasProblemRef', target: 'linked', actions: 'linkProblem' }, { target: 'creating' }] },
              always: { guard: 'problemRecordDue', target: 'creating' },
            },
            creating: {
              entry: 'problemRequested',
              invoke: {
                id: 'problemRecord', src: 'create_problem_record',
                input: ({ context }: Args) => problemInput(context, context.reopenCount >= 2 ? 'recurring_incident' : 'linked_by_resolver'),
                onDone: { target: 'linked', actions: 'problemCreated' },
                onError: 'none',
              },
            },
            linked: { on: { LINK_PROBLEM: { guard: 'hasProblemRef', actions: 'linkProblem' } } },
          },
        },

        [notices.name]: notices.region,
      },
    },

    resolved: {
      meta: { humanTask: { role: 'caller', title: 'Is {number} fixed?', outcomes: { CONFIRM: 'CONFIRM_CLOSURE', NOT_FIXED: 'REOPEN' } } },
      entry: [response.stopAction, resolution.stopAction, 'resolvedEntry', 'resolvedSlaTime'],
      invoke: [
        {
          id: 'resolveAlert', src: 'resolve_external_alert',
          input: ({ context }: Args) => ({
            eventAction: 'resolve', ...(context.businessKey ? { dedupKey: context.businessKey } : {}),
            tool: context.source.tool, key: context.source.key, url: context.source.url, fingerprint: context.source.fingerprint,
            resolutionCode: context.resolutionCode, comment: context.resolutionNotes, summary: `Resolved: ${context.title}`.slice(0, 1024),
          }),
        },
        {
          id: 'notifyResolved', src: 'notify',
          input: ({ context }: Args) => ({
            template: 'resolved', to: context.caller ?? responder(context), subject: `${label(context)} is resolved`,
            message: `${context.resolutionNotes ?? context.resolutionCode ?? ''} Not fixed? Reopen it.`.trim(), reopen: true,
          }),
        },
      ],
      after: {
        autoCloseDelay: [
          // A major incident is never auto-closed: it goes to its review (ServiceNow).
          { guard: 'isMajor', target: 'postIncidentReview', actions: 'autoClosed' },
          { target: 'closing', actions: 'autoClosed' },
        ],
      },
      on: {
        CONFIRM_CLOSURE: [{ guard: 'canConfirmMajor', target: 'postIncidentReview' }, { guard: 'canConfirm', target: 'closing' }],
        REOPEN: { guard: 'canReopen', target: '#incident.open.work.inProgress', actions: 'reopen' },
        ALERT_FIRING: { guard: 'fingerprintMatches', target: '#incident.open.work.inProgress', actions: ['alertRepeated', 'reopen'] },
        LINK_PROBLEM: { guard: 'hasProblemRef', actions: 'linkProblem' },
      },
      initial: 'init',
      states: {
        init: { always: [{ guard: 'problemRecordOnResolve', target: 'filingProblem' }, { target: 'awaitingConfirmation' }] },
        filingProblem: {
          entry: 'problemRequested',
          invoke: {
            id: 'problemRecord', src: 'create_problem_record',
            input: ({ context }: Args) => problemInput(context, 'major_incident'),
            onDone: { target: 'awaitingConfirmation', actions: 'problemCreated' },
            onError: 'awaitingConfirmation',
          },
        },
        awaitingConfirmation: {},
      },
    },

    postIncidentReview: {
      meta: { humanTask: { role: 'incident_manager', title: 'Post-incident review for {number}', outcomes: { DONE: 'PIR_COMPLETED' } } },
      entry: 'pirOpened',
      on: {
        PIR_COMPLETED: { guard: { type: 'isEligibleApprover', params: { group: 'incidentManager' } }, target: 'closing', actions: 'pirCompleted' },
      },
      initial: 'due',
      states: {
        due: { after: { pirDueDelay: 'reminding' } },
        reminding: {
          invoke: {
            id: 'pirReminder', src: 'notify',
            input: ({ context }: Args) => ({ template: 'pir.reminder', to: 'incident_manager', subject: `Post-incident review for ${label(context)} is due` }),
          },
          after: { pirEscalationDelay: { target: 'escalating', actions: 'pirEscalated' } },
        },
        escalating: {
          invoke: {
            id: 'pirEscalation', src: 'notify',
            input: ({ context }: Args) => ({ template: 'pir.escalation', to: ['incident_manager', 'manager:incident_manager'], subject: `Post-incident review for ${label(context)} is overdue` }),
          },
        },
      },
    },

    /** Closure effects run here: a final state would withdraw its tasks as the run ends. */
    closing: {
      initial: 'init',
      states: {
        init: { always: [{ guard: 'surveyDue', target: 'survey' }, { target: 'ticket' }] },
        survey: {
          invoke: {
            id: 'survey', src: 'send_survey',
            input: ({ context }: Args) => ({ to: context.caller, number: context.number, businessKey: context.businessKey, title: context.title, priority: context.priority }),
            onDone: 'ticket',
            onError: 'ticket',
          },
        },
        ticket: {
          invoke: {
            id: 'closeTicket', src: 'update_external_ticket',
            input: ({ context }: Args) => ({
              ticketRef: context.ticketRef ?? context.source.key, tool: context.source.tool, state: 'closed',
              resolutionCode: context.resolutionCode, comment: context.resolutionNotes, priority: context.priority,
            }),
            onDone: '#incident.closed',
            onError: '#incident.closed',
          },
        },
      },
    },

    reclassifying: {
      invoke: {
        id: 'requestTicket', src: 'create_external_ticket',
        input: ({ context }: Args) => ({ kind: 'request', title: context.title, description: context.description, caller: context.caller, number: context.number, businessKey: context.businessKey }),
        onDone: 'canceled',
        onError: 'canceled',
      },
    },

    closed: { type: 'final', entry: 'closedEntry' },
    canceled: { type: 'final', entry: 'canceledEntry' },
  },
  output: ({ context }) => ({
    outcome: context.outcome,
    reason: context.cancelReason,
    priority: context.priority,
    resolutionCode: context.resolutionCode,
    openedAt: context.openedAt,
    respondedAt: context.respondedAt,
    resolvedAt: context.resolvedAt,
    closedAt: context.closedAt,
    reopenCount: context.reopenCount,
    escalationLevel: context.escalationLevel,
    major: context.major,
    sla: {
      response: { met: context.sla.response.met, breached: context.sla.response.breached },
      resolution: { met: context.sla.resolution.met, breached: context.sla.resolution.breached },
    },
    links: context.links,
  }),
});
