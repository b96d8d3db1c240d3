// The `major` region of `open`: a P1 or a declaration makes a candidate; an accepted one opens the bridge and comms.
import type { Args } from './types.ts';
import { incidentSetup } from './setup.ts';

export const major = incidentSetup.createStateConfig({
  initial: 'init',
  states: {
    init: { always: [{ guard: 'majorDeclared', target: 'declared' }, { guard: 'majorCandidateDue', target: 'candidate' }, { target: 'none' }] },
    none: {
      on: { DECLARE_MAJOR: { target: 'candidate', actions: 'majorDeclaredBy' } },
      always: { guard: 'majorCandidateDue', target: 'candidate' },
    },
    candidate: {
      meta: { humanTask: { role: 'incident_manager', title: 'Major incident? {number}', outcomes: { ACCEPT: 'ACCEPT_MAJOR', REJECT: 'REJECT_MAJOR' } } },
      entry: 'majorCandidateEntry',
      on: {
        ACCEPT_MAJOR: { guard: { type: 'isEligibleApprover', params: { group: 'incidentManager' } }, target: 'declared', actions: 'acceptMajor' },
        REJECT_MAJOR: { guard: { type: 'isEligibleApprover', params: { group: 'incidentManager' } }, target: 'none', actions: 'rejectMajor' },
      },
      initial: 'waiting',
      states: {
        waiting: { after: { majorCandidateDelay: 'pagingIncidentManager' } },
        pagingIncidentManager: {
          invoke: {
            id: 'pageIncidentManager', src: 'page_oncall',
            input: ({ context }: Args) => ({
              eventAction: 'trigger', ...(context.businessKey ? { dedupKey: `${context.businessKey}:major` } : {}),
              summary: `Major incident review needed: ${context.title}`.slice(0, 1024), severity: 'critical', source: context.service ?? 'servicechart', target: 'incident_manager',
            }),
          },
        },
      },
    },
    declared: {
      type: 'parallel',
      states: {
        bridge: {
          initial: 'init',
          states: {
            init: { always: [{ guard: 'bridgeOpen', target: 'open' }, { target: 'opening' }] },
            opening: {
              invoke: {
                id: 'openBridge', src: 'open_bridge',
                input: ({ context }: Args) => ({ number: context.number, businessKey: context.businessKey, title: context.title, priority: context.priority, service: context.service }),
                onDone: { target: 'open', actions: 'bridgeOpened' },
                onError: 'failed',
              },
            },
            open: {},
            failed: {},
          },
        },
        comms: {
          initial: 'waiting',
          states: {
            waiting: { entry: 'commsWaitStarted', after: { commsUpdateDelay: 'publishing' } },
            publishing: {
              invoke: {
                id: 'statusUpdate', src: 'publish_status_update',
                input: ({ context }: Args) => ({
                  number: context.number, businessKey: context.businessKey, title: context.title, priority: context.priority, service: context.service,
                  update: context.commsUpdates + 1, status: 'investigating', bridge: context.bridge,
                }),
                onDone: { target: 'waiting', actions: 'commsPublished' },
                onError: { target: 'waiting', actions: 'commsPublished' },
              },
            },
          },
        },
      },
    },
  },
});
