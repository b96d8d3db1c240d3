// The delivery statechart (docs/models/delivery.md §3), read top to bottom as the process: planned, build,
// pre-production, the go/no-go, the change gate, the production rollout (in `production.ts`), bake,
// early life support, rollback, and the ends. The guards, actions and delays it names are in `setup.ts`.
import { and, assign, emit, enqueueActions, not } from 'xstate';
import type { Args, Outcome } from './types.ts';
import { iso, nowOf } from './time.ts';
import { delayMs, goNoGoTimer } from './delays.ts';
import { initialContext } from './context.ts';
import { measure } from './kpis.ts';
import { changeEvent, changeInput, deployInput, deploymentRecord, healthInput, parentKey } from './task-inputs.ts';
import { closeOutFailure } from './shared-states.ts';
import { deliverySetup } from './setup.ts';
import { production } from './production.ts';

export const deliveryMachine = deliverySetup.createMachine({
  id: 'delivery',
  context: initialContext,
  // Children report back at any time; what they say is recorded, whatever the release is doing.
  on: {
    CHANGE_CLOSED: { actions: assign({ changeCloseCode: ({ event }: Args) => (typeof event.closeCode === 'string' ? event.closeCode : null) }) },
  },
  initial: 'planned',
  states: {
    planned: {
      initial: 'deciding',
      on: {
        START: { guard: not('inFreeze'), target: 'build' },
        FREEZE_DECLARED: { target: 'planned', reenter: true, actions: ['addFreeze', 'emitFreeze'] },
        CANCEL: { target: 'canceling', actions: { type: 'setCancel', params: { outcome: 'aborted' } } },
      },
      states: {
        deciding: { always: [{ guard: 'startsNow', target: '#delivery.build' }, { target: 'waiting' }] },
        waiting: {
          // A freeze over scheduledStart moves the due time to the freeze's end (computed at entry).
          after: { untilScheduledStartDelay: [{ guard: not('inFreeze'), target: '#delivery.build' }, { target: '#delivery.planned', reenter: true }] },
        },
      },
    },

    build: {
      entry: [
        assign({ buildStartedAt: ({ event }: Args) => nowOf(event) }),
        enqueueActions(({ context, event, enqueue }) => {
          // Releases on schedule: how far the actual start is from the planned one.
          if (context.scheduledStart !== null) enqueue.emit(measure(context, 'scheduleDeviation', Math.abs(nowOf(event) - context.scheduledStart)) as never);
        }),
      ],
      invoke: {
        id: 'verifyArtifacts', src: 'verify_artifacts',
        input: ({ context }: Args) => ({ artifacts: context.release.artifacts, releaseId: context.release.id, version: context.version }),
        onDone: { target: 'preProduction', actions: assign({ runId: ({ context, event }: Args) => (event.output as { runId?: string }).runId ?? context.runId }) },
        onError: { target: 'failing', actions: { type: 'setOutcome', params: { outcome: 'artifact_invalid' } } },
      },
      on: { CANCEL: { target: 'canceling', actions: { type: 'setCancel', params: { outcome: 'aborted' } } } },
    },

    preProduction: {
      initial: 'routing',
      on: { CANCEL: { target: 'canceling', actions: { type: 'setCancel', params: { outcome: 'aborted' } } } },
      states: {
        routing: { always: [{ guard: 'hasNonProdEnvs', target: 'deploying' }, { target: '#delivery.readiness' }] },
        deploying: {
          after: { stepProgressDeadlineDelay: { target: '#delivery.failing', actions: [{ type: 'setOutcome', params: { outcome: 'pre_production_failed' } }, 'emitPreProdFailed'] } },
          invoke: {
            id: 'deployNonProd', src: 'deploy_step',
            input: ({ context }: Args) => deployInput(context, context.nonProdEnvs[context.envIndex]),
            onDone: { target: 'verifying', actions: 'recordDeployed' },
            onError: { target: '#delivery.failing', actions: [{ type: 'setOutcome', params: { outcome: 'pre_production_failed' } }, 'emitPreProdFailed'] },
          },
        },
        verifying: {
          initial: 'checkingHealth',
          states: {
            checkingHealth: {
              invoke: {
                id: 'healthNonProd', src: 'health_check',
                input: ({ context }: Args) => healthInput(context, context.nonProdEnvs[context.envIndex], 'verify'),
                onDone: [
                  { guard: 'metricsHealthy', target: 'smokeTesting', actions: assign({ lastHealth: ({ event }: Args) => event.output }) },
                  // Nothing reached production, so this is no change failure (§3.3).
                  { target: '#delivery.failing', actions: [assign({ lastHealth: ({ event }: Args) => event.output }), { type: 'setOutcome', params: { outcome: 'pre_production_failed' } }, 'emitPreProdFailed'] },
                ],
                onError: { target: '#delivery.failing', actions: [{ type: 'setOutcome', params: { outcome: 'pre_production_failed' } }, 'emitPreProdFailed'] },
              },
            },
            smokeTesting: {
              invoke: {
                id: 'smokeNonProd', src: 'run_smoke_tests',
                input: ({ context }: Args) => ({ env: context.nonProdEnvs[context.envIndex], version: context.version, tests: context.smokeTests, simulate: context.simulate ?? undefined }),
                onDone: [
                  { guard: and(['smokePassed', 'hasMoreNonProdEnvs']), target: '#delivery.preProduction.deploying', actions: assign({ envIndex: ({ context }: Args) => context.envIndex + 1 }) },
                  { guard: 'smokePassed', target: '#delivery.readiness' },
                  { target: '#delivery.failing', actions: [{ type: 'setOutcome', params: { outcome: 'pre_production_failed' } }, 'emitPreProdFailed'] },
                ],
                onError: { target: '#delivery.failing', actions: [{ type: 'setOutcome', params: { outcome: 'pre_production_failed' } }, 'emitPreProdFailed'] },
              },
            },
          },
        },
      },
    },

    readiness: {
      meta: { humanTask: { role: 'release_manager', title: 'Go/no-go for {service} {version}', outcomes: { GO: 'GO', NO_GO: 'NO_GO' } } },
      entry: [
        assign(({ context, event }: Args) => ({
          readinessEnteredAt: nowOf(event),
          // The go/no-go checklist of §3.6; the release manager decides, the list informs.
          readinessChecklist: {
            preProductionGreen: true,
            noOpenMajorIncident: !context.incidents.some((i) => i.priority <= 2),
            changeLinked: context.changePolicy !== 'none',
            windowNotInFreeze: !context.window || !context.freezes.some((f) => f.from < context.window!.end && context.window!.start < f.to),
            rollbackVersionAvailable: context.previousVersion !== null || context.strategy === 'canary',
          },
        })),
        emit(({ context }: Args) => measure(context, 'preProductionFailureRate', 0)),
        goNoGoTimer.arm,
      ],
      exit: goNoGoTimer.disarm,
      on: {
        GO: {
          guard: { type: 'isEligibleApprover', params: { group: 'releaseManager' } }, target: 'changeGate',
          actions: ['recordDecision', emit(({ context, event }: Args) => measure(context, 'goNoGoDecisionTime', nowOf(event) - (context.readinessEnteredAt ?? nowOf(event)), { decision: 'GO' }))],
        },
        NO_GO: {
          guard: { type: 'isEligibleApprover', params: { group: 'releaseManager' } }, target: 'canceling',
          actions: ['recordDecision', { type: 'setCancel', params: { outcome: 'no_go' } }, emit(({ context, event }: Args) => measure(context, 'goNoGoDecisionTime', nowOf(event) - (context.readinessEnteredAt ?? nowOf(event)), { decision: 'NO_GO' }))],
        },
        FREEZE_DECLARED: { actions: ['addFreeze', 'emitFreeze'] },
        CANCEL: { target: 'canceling', actions: { type: 'setCancel', params: { outcome: 'aborted' } } },
        // No decision by window.start − 2 h: no-go, the safe default (§3.5).
        [goNoGoTimer.type]: {
          target: 'canceling',
          actions: [{ type: 'setCancel', params: { outcome: 'no_go', reason: 'no_decision' } }, emit({ type: 'delivery.go_no_go_expired' })],
        },
      },
    },

    changeGate: {
      initial: 'routing',
      on: {
        CHANGE_REJECTED: { guard: 'fromOurChange', target: 'canceling', actions: { type: 'setCancel', params: { outcome: 'change_rejected', reason: 'change_rejected' } } },
        CHANGE_CANCELED: { guard: 'fromOurChange', target: 'canceling', actions: { type: 'setCancel', params: { outcome: 'change_canceled', reason: 'change_canceled' } } },
        FREEZE_DECLARED: { actions: ['addFreeze', 'emitFreeze'] },
        CANCEL: { target: 'canceling', actions: { type: 'setCancel', params: { outcome: 'aborted' } } },
        // Starting implementation implies authorization, so it is taken in every gate state (a change's
        // two notifications may arrive in either order).
        CHANGE_IMPLEMENT_STARTED: { guard: 'implementationMayStart', target: 'production', actions: 'adoptChange' },
      },
      states: {
        routing: {
          always: [
            { guard: not('changeRequired'), target: '#delivery.production' },
            { guard: 'hasExistingChange', target: 'awaitingWindow', actions: assign({ changeRunId: ({ context }: Args) => context.changePolicy.slice('existing:'.length) }) },
            { target: 'requesting' },
          ],
        },
        requesting: {
          entry: assign({ changeRequests: ({ context }: Args) => context.changeRequests + 1 }),
          invoke: {
            id: 'requestChange', src: 'start_run',
            input: ({ context }: Args) => ({
              workflow: 'change',
              // §0.7: `change:<this run's business key, else its id>:<n>`.
              businessKey: `change:${parentKey(context)}:${context.changeRequests}`,
              input: changeInput(context),
            }),
            onDone: { target: 'awaitingAuthorization', actions: assign({ changeRunId: ({ event }: Args) => (event.output as { runId: string }).runId }) },
            onError: { target: '#delivery.canceling', actions: [{ type: 'setCancel', params: { outcome: 'change_gate_failed', reason: 'change_gate_failed' } }, emit(({ event }: Args) => ({ type: 'delivery.change_gate_failed', error: (event as { error?: unknown }).error ?? null }))] },
          },
          on: { CHANGE_AUTHORIZED: { target: 'awaitingWindow', actions: 'adoptChange' } },
        },
        awaitingAuthorization: {
          on: { CHANGE_AUTHORIZED: { guard: 'fromOurChange', target: 'awaitingWindow', actions: 'adoptChange' } },
        },
        awaitingWindow: {
          on: {
            CHANGE_DEAUTHORIZED: { guard: 'fromOurChange', target: 'awaitingAuthorization', actions: emit(({ event }: Args) => ({ type: 'delivery.change_deauthorized', reason: event.reason ?? null })) },
          },
        },
      },
    },

    production,

    bake: {
      initial: 'recording',
      on: {
        ABORT: { target: 'rollingBack', actions: { type: 'markFailure', params: { reason: 'aborted' } } },
        ROLLBACK: { target: 'rollingBack', actions: { type: 'markFailure', params: { reason: 'manual_rollback' } } },
        INCIDENT_OPENED: [
          { guard: 'rollbackOnIncident', target: 'rollingBack', actions: [{ type: 'recordIncident', params: { phase: 'bake' } }, assign({ incidentTriggered: true }), { type: 'markFailure', params: { reason: 'incident' } }] },
          { actions: { type: 'recordIncident', params: { phase: 'bake' } } },
        ],
      },
      states: {
        recording: {
          invoke: {
            id: 'recordDeployed', src: 'record_deployment',
            input: ({ context }: Args) => deploymentRecord(context, 'deployed', context.deployedAt ?? 0),
            onDone: 'watching', onError: 'watching',
          },
        },
        watching: { after: { bakeDelay: 'checking' } },
        checking: {
          invoke: {
            id: 'bakeHealth', src: 'health_check',
            input: ({ context }: Args) => healthInput(context, context.productionEnv, 'bake', { weight: 100 }),
            onDone: [
              { guard: 'metricsHealthy', target: '#delivery.earlyLifeSupport', actions: 'keepHealth' },
              { target: '#delivery.rollingBack', actions: ['keepHealth', { type: 'markFailure', params: { reason: 'bake_unhealthy' } }] },
            ],
            onError: { target: '#delivery.rollingBack', actions: { type: 'markFailure', params: { reason: 'bake_unhealthy' } } },
          },
        },
      },
    },

    earlyLifeSupport: {
      initial: 'reportingResult',
      on: { INCIDENT_OPENED: { actions: [{ type: 'recordIncident', params: { phase: 'els' } }, assign({ elsIncidents: ({ context }: Args) => context.elsIncidents + 1 })] } },
      states: {
        reportingResult: {
          invoke: {
            id: 'reportResult', src: 'send_event',
            input: ({ context }: Args) => ({
              runId: context.changeRunId ?? undefined,
              // A check that failed and recovered makes the change `successful_issues` (§3.3).
              event: { type: 'DEPLOYMENT_RESULT', result: context.failedChecks > 0 ? 'completed_with_issues' : 'successful', rolledBack: false },
            }),
            onDone: 'watching', onError: 'watching',
          },
        },
        watching: {
          meta: { humanTask: { role: 'service_owner', title: 'Accept {version} into operation', outcomes: { ACCEPT: 'ELS_SIGNED_OFF' } } },
          after: { elsDelay: { target: 'closing', actions: emit({ type: 'delivery.els_ended', by: 'timer' }) } },
          on: {
            ELS_SIGNED_OFF: { guard: { type: 'isEligibleApprover', params: { group: 'serviceOwner' } }, target: 'closing', actions: emit(({ event }: Args) => ({ type: 'delivery.els_ended', by: event.by ?? null })) },
          },
        },
        closing: {
          entry: { type: 'setOutcome', params: { outcome: 'completed' } },
          initial: 'recordingEnd',
          states: {
            recordingEnd: {
              invoke: { id: 'recordEnd', src: 'record_deployment', input: ({ context, event }: Args) => deploymentRecord(context, 'completed', nowOf(event)), onDone: 'changeEventEnd', onError: 'changeEventEnd' },
            },
            changeEventEnd: {
              invoke: { id: 'changeEventEnd', src: 'send_change_event', input: ({ context }: Args) => changeEvent(context, 'completed'), onDone: 'notifyingParent', onError: 'notifyingParent' },
            },
            notifyingParent: {
              invoke: {
                id: 'notifyCompleted', src: 'notify_parent',
                input: ({ context }: Args) => ({ event: { type: 'DELIVERY_COMPLETED', outcome: 'completed', deployedAt: iso(context.deployedAt) } }),
                onDone: '#delivery.completed', onError: '#delivery.completed',
              },
            },
          },
        },
      },
    },

    rollingBack: {
      entry: assign({ rollbackDueAt: ({ context, event }: Args) => nowOf(event) + delayMs(context, 'rollbackDeadlineDelay') }),
      initial: 'reverting',
      states: {
        reverting: {
          after: { rollbackDeadlineDelay: { target: 'rollbackFailed', actions: emit({ type: 'delivery.rollback_deadline_passed' }) } },
          invoke: {
            id: 'revert', src: 'rollback',
            input: ({ context }: Args) => ({ env: context.productionEnv, fromVersion: context.version, toVersion: context.previousVersion, weight: 0, reason: context.failureReason }),
            onDone: 'verifyingRollback',
            onError: { target: 'rollbackFailed', actions: emit(({ event }: Args) => ({ type: 'delivery.rollback_errored', error: (event as { error?: unknown }).error ?? null })) },
          },
        },
        verifyingRollback: {
          after: { rollbackDeadlineDelay: { target: 'rollbackFailed', actions: emit({ type: 'delivery.rollback_deadline_passed' }) } },
          invoke: {
            id: 'verifyRollback', src: 'health_check',
            input: ({ context }: Args) => healthInput(context, context.productionEnv, 'rollback', { weight: 0, version: context.previousVersion ?? context.version }),
            onDone: [
              {
                guard: 'metricsHealthy', target: 'rolledBack',
                actions: [
                  assign({ restoredAt: ({ event }: Args) => nowOf(event), outcome: 'rolled_back' as Outcome }),
                  emit(({ context, event }: Args) => measure(context, 'failedDeploymentRecoveryTime', nowOf(event) - (context.failureDetectedAt ?? nowOf(event)))),
                ],
              },
              { target: 'rollbackFailed' },
            ],
            onError: 'rollbackFailed',
          },
        },
        rolledBack: closeOutFailure(2),
        rollbackFailed: {
          entry: { type: 'setOutcome', params: { outcome: 'rollback_failed' } },
          ...closeOutFailure(1),
        },
      },
    },

    // Failures before production: nothing to roll back and no change to report to.
    failing: {
      entry: emit(({ context }: Args) => ({ type: 'delivery.failed', outcome: context.outcome })),
      invoke: {
        id: 'notifyFailed', src: 'notify_parent',
        input: ({ context }: Args) => ({ event: { type: 'DELIVERY_FAILED', outcome: context.outcome, rolledBack: false } }),
        onDone: 'failed', onError: 'failed',
      },
    },

    canceling: {
      initial: 'cancelingChange',
      states: {
        cancelingChange: {
          invoke: {
            id: 'cancelChange', src: 'send_event',
            input: ({ context }: Args) => ({ runId: context.changeRunId ?? undefined, event: { type: 'CANCEL', by: context.requestedBy ?? 'delivery', reason: context.cancelReason ?? context.outcome ?? 'canceled' } }),
            onDone: 'notifyingParent', onError: 'notifyingParent',
          },
        },
        notifyingParent: {
          invoke: {
            id: 'notifyCanceled', src: 'notify_parent',
            input: ({ context }: Args) => ({ event: { type: 'DELIVERY_CANCELED', outcome: context.outcome, reason: context.cancelReason } }),
            onDone: '#delivery.canceled', onError: '#delivery.canceled',
          },
        },
      },
    },

    completed: { type: 'final', entry: 'finalMeasures' },
    failed: { type: 'final', entry: 'finalMeasures' },
    canceled: { type: 'final' },
  },
  output: ({ context }) => ({
    outcome: context.outcome,
    reason: context.cancelReason ?? context.failureReason ?? undefined,
    releaseId: context.release.id,
    version: context.version,
    service: context.service,
    deployedAt: iso(context.deployedAt),
    failureDetectedAt: iso(context.failureDetectedAt),
    restoredAt: iso(context.restoredAt),
    changeRunId: context.changeRunId,
    elsIncidents: context.elsIncidents,
  }),
});
