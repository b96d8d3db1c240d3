// The `intake` region of `open`: report a causing change, tell deliveries, enrich, route and open the external ticket, once.
import type { Args } from './types.ts';
import { routeInput } from './task-inputs.ts';
import { incidentSetup } from './setup.ts';

/** Whether the report succeeded or not, it is recorded and the intake goes on. */
const afterChangeReport = [
  { guard: 'deliveriesToNotify', target: 'notifyingDeliveries', actions: 'changeFailureReported' },
  { target: 'enriching', actions: 'changeFailureReported' },
] as const;

export const intake = incidentSetup.createStateConfig({
  initial: 'init',
  states: {
    init: {
      always: [
        { guard: 'intakeDone', target: 'done' },
        { guard: 'changeFailureToReport', target: 'reportingChangeFailure' },
        { guard: 'deliveriesToNotify', target: 'notifyingDeliveries' },
        { target: 'enriching' },
      ],
    },
    // Once: an incident caused by a change feeds the change's failure rate and score (§2.11).
    reportingChangeFailure: {
      invoke: {
        id: 'reportChangeFailure', src: 'report_change_failure',
        input: ({ context }: Args) => ({ changeRunId: context.links.causedByChange, priority: context.priority, openedAt: context.openedAt }),
        onDone: afterChangeReport,
        onError: afterChangeReport,
      },
    },
    // First, and once: a delivery in bake rolls back on a P1/P2, so it should hear at once (§1.9).
    notifyingDeliveries: {
      invoke: {
        id: 'notifyDeliveries', src: 'notify_deliveries',
        input: ({ context }: Args) => ({ service: context.service, priority: context.priority, incidentRunId: context.runId }),
        onDone: { target: 'enriching', actions: 'deliveriesNotified' },
        onError: { target: 'enriching', actions: 'deliveriesNotifyFailed' },
      },
    },
    enriching: {
      invoke: {
        id: 'enrich', src: 'enrich_context',
        input: ({ context }: Args) => ({
          service: context.service, ci: context.ci, openedAt: context.openedAt,
          ...(context.config.serviceCatalog ? { catalog: context.config.serviceCatalog } : {}),
          ...(context.config.knownChanges ? { changes: context.config.knownChanges } : {}),
        }),
        onDone: { target: 'routing', actions: 'enriched' },
        onError: 'routing',
      },
    },
    routing: {
      entry: 'routingFor',
      invoke: {
        id: 'route', src: 'route_assignment',
        input: ({ context }: Args) => routeInput(context),
        onDone: [{ guard: 'sourceIsTicket', target: 'done', actions: 'routed' }, { target: 'ticketing', actions: 'routed' }],
        onError: [{ guard: 'sourceIsTicket', target: 'done' }, { target: 'ticketing' }],
      },
    },
    ticketing: {
      invoke: {
        id: 'ticket', src: 'create_external_ticket',
        input: ({ context }: Args) => ({
          kind: 'incident', title: context.title, description: context.description, priority: context.priority, service: context.service,
          number: context.number, businessKey: context.businessKey, source: context.source.tool,
        }),
        onDone: { target: 'done', actions: 'ticketCreated' },
        onError: 'done',
      },
    },
    // A changed priority re-routes: read from context, since a region that handled UPDATE_PRIORITY
    // itself would pre-empt the `open`-level transition that records the new priority.
    done: {
      entry: 'intakeFinished',
      always: { guard: 'priorityRouted', target: 'rerouting' },
    },
    rerouting: {
      entry: 'routingFor',
      invoke: {
        id: 'reroute', src: 'route_assignment',
        input: ({ context }: Args) => routeInput(context),
        onDone: { target: 'done', actions: 'routed' },
        onError: 'done',
      },
    },
  },
});
