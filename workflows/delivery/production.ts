// The production rollout of a release (docs/models/delivery.md §3): canary, phased or big bang, pausable through a
// deep history node, rolled back on failed checks, an abort or the change window closing.
import { and, assign, emit } from 'xstate';
import type { Args } from './types.ts';
import { nowOf } from './time.ts';
import { isEmergency } from './freezes.ts';
import { windowClosingPaused, windowClosingRunning } from './delays.ts';
import { measure } from './kpis.ts';
import { changeEvent, deployInput, deploymentRecord, healthInput } from './task-inputs.ts';
import { smokeAfterPromotion } from './shared-states.ts';
import { deliverySetup } from './setup.ts';

export const production = deliverySetup.createStateConfig({
  entry: [
    assign({ productionStartedAt: ({ event }: Args) => nowOf(event), weight: 0, failedChecks: 0 }),
    emit(({ context }: Args) => measure(context, 'deploymentFrequency', 1)),
    emit(({ context }: Args) => measure(context, 'deploymentReworkRate', isEmergency(context) ? 1 : 0, { reason: context.reason })),
  ],
  invoke: [
    { id: 'recordStart', src: 'record_deployment', input: ({ context, event }: Args) => deploymentRecord(context, 'started', nowOf(event)) },
    { id: 'changeEventStart', src: 'send_change_event', input: ({ context }: Args) => changeEvent(context, 'started') },
  ],
  initial: 'running',
  on: {
    ABORT: { target: 'rollingBack', actions: [{ type: 'markFailure', params: { reason: 'aborted' } }, emit(({ event }: Args) => ({ type: 'delivery.aborted', by: event.by ?? null, comment: event.comment ?? null }))] },
    ROLLBACK: { target: 'rollingBack', actions: [{ type: 'markFailure', params: { reason: 'manual_rollback' } }, emit(({ event }: Args) => ({ type: 'delivery.rollback_requested', by: event.by ?? null }))] },
  },
  states: {
    running: {
      initial: 'choosing',
      // Stop advancing and roll back before the change window closes (unless promoted by then).
      entry: windowClosingRunning.arm,
      exit: windowClosingRunning.disarm,
      on: {
        [windowClosingRunning.type]: { target: '#delivery.rollingBack', actions: [{ type: 'markFailure', params: { reason: 'window_closing' } }, emit({ type: 'delivery.window_closing' })] },
        PAUSE: { target: 'paused', actions: ['recordPause', emit(({ context, event }: Args) => ({ type: 'delivery.paused', by: event.by ?? null, weight: context.weight }))] },
        // Re-entering through history re-arms the window timer from the new end, at the same step.
        EXTEND_WINDOW: { target: '.hist', reenter: true, actions: 'extendWindow' },
      },
      states: {
        choosing: {
          always: [
            { guard: { type: 'strategyIs', params: { strategy: 'phased' } }, target: 'phased' },
            { guard: { type: 'strategyIs', params: { strategy: 'bigBang' } }, target: 'bigBang' },
            { target: 'canary', actions: assign({ weight: ({ context }: Args) => Math.min(context.canary.stepWeight, context.canary.maxWeight) }) },
          ],
        },
        canary: {
          initial: 'setWeight',
          states: {
            setWeight: {
              initial: 'deploying',
              after: { stepProgressDeadlineDelay: { target: '#delivery.rollingBack', actions: { type: 'markFailure', params: { reason: 'progress_deadline' } } } },
              states: {
                deploying: {
                  invoke: {
                    id: 'deployCanary', src: 'deploy_step',
                    input: ({ context }: Args) => deployInput(context, context.productionEnv, { weight: context.weight }),
                    onDone: { target: 'shifting', actions: 'recordDeployed' },
                    onError: { target: '#delivery.rollingBack', actions: { type: 'markFailure', params: { reason: 'deploy_failed' } } },
                  },
                },
                shifting: {
                  invoke: {
                    id: 'shiftTraffic', src: 'set_traffic_weight',
                    input: ({ context }: Args) => ({ env: context.productionEnv, version: context.version, weight: context.weight }),
                    onDone: { target: '#delivery.production.running.canary.analyzing', actions: emit(({ context }: Args) => ({ type: 'delivery.weight_set', weight: context.weight })) },
                    onError: { target: '#delivery.rollingBack', actions: { type: 'markFailure', params: { reason: 'traffic_shift_failed' } } },
                  },
                },
              },
            },
            analyzing: {
              initial: 'waiting',
              states: {
                waiting: { after: { canaryIntervalDelay: 'checking' } },
                checking: {
                  invoke: {
                    id: 'analyzeCanary', src: 'health_check',
                    input: ({ context }: Args) => healthInput(context, context.productionEnv, 'canary', { weight: context.weight }),
                    onDone: [
                      { guard: 'healthNotEvaluated', target: '#delivery.production.paused', actions: 'autoPause' },
                      { guard: and(['metricsHealthy', 'weightAtMax']), target: '#delivery.production.running.canary.promoting', actions: 'keepHealth' },
                      {
                        guard: 'metricsHealthy', target: '#delivery.production.running.canary.setWeight',
                        actions: ['keepHealth', assign({ weight: ({ context }: Args) => Math.min(context.weight + context.canary.stepWeight, context.canary.maxWeight) })],
                      },
                      { guard: 'failedChecksReached', target: '#delivery.rollingBack', actions: ['keepHealth', 'countFailedCheck', { type: 'markFailure', params: { reason: 'canary_analysis_failed' } }] },
                      { target: 'waiting', actions: ['keepHealth', 'countFailedCheck', { type: 'markFailure', params: { reason: 'canary_check_failed' } }] },
                    ],
                    onError: { target: '#delivery.production.paused', actions: 'autoPause' },
                  },
                },
              },
            },
            promoting: {
              initial: 'fullRollout',
              states: {
                fullRollout: {
                  invoke: {
                    id: 'promoteCanary', src: 'set_traffic_weight',
                    input: ({ context }: Args) => ({ env: context.productionEnv, version: context.version, weight: 100, promote: true }),
                    onDone: { target: 'smokeTesting', actions: ['promoted'] },
                    onError: { target: '#delivery.rollingBack', actions: { type: 'markFailure', params: { reason: 'promotion_failed' } } },
                  },
                },
                smokeTesting: smokeAfterPromotion(),
              },
            },
          },
        },
        phased: {
          initial: 'wave',
          states: {
            wave: {
              initial: 'deploying',
              states: {
                deploying: {
                  after: { stepProgressDeadlineDelay: { target: '#delivery.rollingBack', actions: { type: 'markFailure', params: { reason: 'progress_deadline' } } } },
                  invoke: {
                    id: 'deployWave', src: 'deploy_step',
                    input: ({ context }: Args) => deployInput(context, context.productionEnv, { wave: context.waveIndex + 1 }),
                    onDone: { target: 'verifying', actions: 'recordDeployed' },
                    onError: { target: '#delivery.rollingBack', actions: { type: 'markFailure', params: { reason: 'deploy_failed' } } },
                  },
                },
                verifying: {
                  invoke: {
                    id: 'verifyWave', src: 'health_check',
                    input: ({ context }: Args) => healthInput(context, context.productionEnv, 'wave', { wave: context.waveIndex + 1 }),
                    onDone: [
                      { guard: 'healthNotEvaluated', target: '#delivery.production.paused', actions: 'autoPause' },
                      { guard: and(['metricsHealthy', 'hasMoreWaves']), target: '#delivery.production.running.phased.gate', actions: 'keepHealth' },
                      { guard: 'metricsHealthy', target: '#delivery.production.running.phased.promoting', actions: ['keepHealth', 'promoted'] },
                      { target: '#delivery.rollingBack', actions: ['keepHealth', 'countFailedCheck', { type: 'markFailure', params: { reason: 'wave_unhealthy' } }] },
                    ],
                    onError: { target: '#delivery.production.paused', actions: 'autoPause' },
                  },
                },
              },
            },
            gate: {
              meta: { humanTask: { role: 'service_owner', title: 'Promote {version} to wave {nextWave}?', outcomes: { PROMOTE: 'PROMOTE', ROLL_BACK: 'ROLLBACK' } } },
              on: {
                PROMOTE: {
                  guard: { type: 'isEligibleApprover', params: { group: 'serviceOwner' } }, target: 'wave',
                  actions: [assign({ waveIndex: ({ context }: Args) => context.waveIndex + 1, nextWave: ({ context }: Args) => context.waveIndex + 3 }), emit(({ context, event }: Args) => ({ type: 'delivery.wave_promoted', wave: context.waveIndex + 2, by: event.by ?? null }))],
                },
              },
            },
            promoting: { initial: 'smokeTesting', states: { smokeTesting: smokeAfterPromotion() } },
          },
        },
        bigBang: {
          initial: 'deploying',
          states: {
            deploying: {
              after: { stepProgressDeadlineDelay: { target: '#delivery.rollingBack', actions: { type: 'markFailure', params: { reason: 'progress_deadline' } } } },
              invoke: {
                id: 'deployAll', src: 'deploy_step',
                input: ({ context }: Args) => deployInput(context, context.productionEnv, { weight: 100 }),
                onDone: { target: 'verifying', actions: 'recordDeployed' },
                onError: { target: '#delivery.rollingBack', actions: { type: 'markFailure', params: { reason: 'deploy_failed' } } },
              },
            },
            verifying: {
              invoke: {
                id: 'verifyAll', src: 'health_check',
                input: ({ context }: Args) => healthInput(context, context.productionEnv, 'bigBang', { weight: 100 }),
                onDone: [
                  { guard: 'healthNotEvaluated', target: '#delivery.production.paused', actions: 'autoPause' },
                  { guard: 'metricsHealthy', target: 'promoting', actions: ['keepHealth', 'promoted'] },
                  { target: '#delivery.rollingBack', actions: ['keepHealth', 'countFailedCheck', { type: 'markFailure', params: { reason: 'unhealthy' } }] },
                ],
                onError: { target: '#delivery.production.paused', actions: 'autoPause' },
              },
            },
            promoting: { initial: 'smokeTesting', states: { smokeTesting: smokeAfterPromotion() } },
          },
        },
        // RESUME comes back here: same strategy, same step, whose timer re-arms on entry (§0.1).
        hist: { type: 'history', history: 'deep' },
      },
    },
    paused: {
      meta: { humanTask: { role: 'on_call', title: 'Rollout of {version} is paused', outcomes: { CONTINUE: 'RESUME', ROLL_BACK: 'ROLLBACK' } } },
      entry: windowClosingPaused.arm,
      exit: windowClosingPaused.disarm,
      on: {
        [windowClosingPaused.type]: { target: '#delivery.rollingBack', actions: [{ type: 'markFailure', params: { reason: 'window_closing' } }, emit({ type: 'delivery.window_closing' })] },
        RESUME: { target: 'running.hist', actions: [assign({ pausedBy: null }), emit(({ event }: Args) => ({ type: 'delivery.resumed', by: event.by ?? null }))] },
        EXTEND_WINDOW: { target: 'paused', reenter: true, actions: 'extendWindow' },
      },
    },
  },
});
