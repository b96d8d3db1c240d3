// State nodes the delivery machine uses in more than one place: smoke tests after promotion, and the close-out after a rollback.
import { assign, emit } from 'xstate';
import type { Args } from './types.ts';
import { iso } from './time.ts';
import { incidentInput } from './task-inputs.ts';

export /** Smoke tests once the new version takes all traffic; a failure rolls back. */
function smokeAfterPromotion(): any {
  return {
    invoke: {
      id: 'smokeProduction', src: 'run_smoke_tests',
      input: ({ context }: Args) => ({ env: context.productionEnv, version: context.version, tests: context.smokeTests, simulate: context.simulate ?? undefined }),
      onDone: [
        { guard: 'smokePassed', target: '#delivery.bake' },
        { target: '#delivery.rollingBack', actions: { type: 'markFailure', params: { reason: 'smoke_tests_failed' } } },
      ],
      onError: { target: '#delivery.rollingBack', actions: { type: 'markFailure', params: { reason: 'smoke_tests_failed' } } },
    },
  };
}

/**
 * After a rollback (verified or not): tell the change, raise an incident (P2 after a verified rollback,
 * P1 when it failed; none if an incident triggered it), tell the parent, then `failed`.
 */
export function closeOutFailure(priority: 1 | 2): any {
  return {
    initial: 'reportingResult',
    states: {
      reportingResult: {
        invoke: {
          id: `reportRollback${priority}`, src: 'send_event',
          input: ({ context }: Args) => ({ runId: context.changeRunId ?? undefined, event: { type: 'DEPLOYMENT_RESULT', result: 'rolled_back', rolledBack: priority === 2 } }),
          // An incident that triggered the rollback exists already; a failed rollback always pages (P1).
          onDone: priority === 2 ? [{ guard: 'incidentAlreadyRaised', target: 'notifyingParent' }, { target: 'raisingIncident' }] : 'raisingIncident',
          onError: priority === 2 ? [{ guard: 'incidentAlreadyRaised', target: 'notifyingParent' }, { target: 'raisingIncident' }] : 'raisingIncident',
        },
      },
      raisingIncident: {
        invoke: {
          id: `raiseIncident${priority}`, src: 'start_run',
          input: ({ context }: Args) => ({ workflow: 'incident', businessKey: `delivery:${context.runId ?? context.release.id}`, input: incidentInput(context, priority) }),
          onDone: { target: 'notifyingParent', actions: assign({ raisedIncidentRunId: ({ event }: Args) => (event.output as { runId: string }).runId }) },
          // The release still ends; the missing incident is on record for a person to raise.
          onError: { target: 'notifyingParent', actions: emit(({ event }: Args) => ({ type: 'delivery.incident_not_raised', priority, error: (event as { error?: unknown }).error ?? null })) },
        },
      },
      notifyingParent: {
        invoke: {
          id: `notifyFailed${priority}`, src: 'notify_parent',
          input: ({ context }: Args) => ({
            event: { type: 'DELIVERY_FAILED', outcome: context.outcome, rolledBack: context.outcome === 'rolled_back', restoredAt: iso(context.restoredAt) },
          }),
          onDone: '#delivery.failed', onError: '#delivery.failed',
        },
      },
    },
  };
}
