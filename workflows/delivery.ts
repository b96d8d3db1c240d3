// The `delivery` process model (PROCESSES.md §3): one release from build through pre-production,
// the go/no-go, the change gate, a canary / phased / big-bang production rollout (pausable through a
// deep history node), bake, rollback and early life support, feeding DORA's delivery metrics.
import { and, assign, cancel, emit, enqueueActions, not, setup, type AnyEventObject } from 'xstate';
import { defineWorkflow, taskActors, type KpiDefinition } from './lib/define.ts';
import { eligibleApprovers, type ApprovalsContext } from './lib/approvals.ts';

type Strategy = 'canary' | 'phased' | 'bigBang';
type Outcome = 'completed' | 'rolled_back' | 'rollback_failed' | 'pre_production_failed' | 'artifact_invalid' | 'no_go' | 'change_rejected' | 'change_canceled' | 'change_gate_failed' | 'aborted';

interface TimeSpan { from: number; to: number }
interface Incident { incidentRunId: string; priority: number; at: number; phase: 'bake' | 'els' }

export interface DeliveryContext {
  release: { id: string; version: string; service: string; artifacts: unknown[]; commits: { sha: string; committedAt: string }[]; scope: unknown[] };
  /** Copies of release fields for human-task titles (`{service}`, `{version}`). */
  version: string;
  service: string;
  runId: string | null;
  nonProdEnvs: string[];
  productionEnv: string;
  strategy: Strategy;
  canary: { stepWeight: number; maxWeight: number; intervalMs: number; threshold: number };
  waves: string[];
  healthChecks: unknown[];
  observed: Record<string, number>;
  smokeTests: unknown[];
  bakeMs: number;
  elsMs: number;
  changePolicy: string;
  scheduledStart: number | null;
  window: { start: number; end: number } | null;
  reason: string;
  requestedBy: string | null;
  approvers: Record<string, string[]>;
  previousVersion: string | null;
  autoRollbackOnIncident: boolean;
  delaysMs: Record<string, number>;
  simulate: Record<string, unknown> | null;
  change: Record<string, unknown>;
  /** Freezes: the input's blackout schedule plus each FREEZE_DECLARED. */
  freezes: TimeSpan[];
  openedAt: number;
  // Derived as the run goes.
  envIndex: number;
  weight: number;
  waveIndex: number;
  nextWave: number;
  failedChecks: number;
  deployed: Record<string, { version: string; wave?: number | null }>;
  lastHealth: unknown;
  buildStartedAt: number | null;
  readinessEnteredAt: number | null;
  readinessChecklist: Record<string, boolean> | null;
  goDecision: { decision: 'GO' | 'NO_GO'; by: string; comment: string | null; at: number } | null;
  changeRequests: number;
  changeRunId: string | null;
  changeWindow: { plannedStart: string | null; plannedEnd: string | null } | null;
  changeCloseCode: string | null;
  productionStartedAt: number | null;
  deployedAt: number | null;
  failureDetectedAt: number | null;
  failureReason: string | null;
  rollbackDueAt: number | null;
  restoredAt: number | null;
  incidents: Incident[];
  elsIncidents: number;
  incidentTriggered: boolean;
  changeFailed: boolean;
  raisedIncidentRunId: string | null;
  pausedBy: string | null;
  outcome: Outcome | null;
  cancelReason: string | null;
}

type Ev = AnyEventObject & { $at?: number; by?: string; comment?: string; output?: any; childRunId?: string };
type Args = { context: DeliveryContext; event: Ev };

const MIN = 60_000;
const HOUR = 60 * MIN;
/** Defaults of every named delay (§3.5), each overridable with `delaysMs.<name>`. */
export const DELIVERY_DELAYS = {
  untilScheduledStartDelay: 0, // offset before scheduledStart
  stepProgressDeadlineDelay: 10 * MIN,
  canaryIntervalDelay: 60_000,
  goNoGoDeadlineDelay: 2 * HOUR, // offset before window.start
  windowClosingDelay: 15 * MIN, // offset before window.end
  bakeDelay: 15 * MIN,
  elsDelay: 48 * HOUR,
  rollbackDeadlineDelay: 10 * MIN,
} as const;
type DelayName = keyof typeof DELIVERY_DELAYS;

const ISO = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:\\d{2})$';

function isEmergency(context: DeliveryContext): boolean {
  return context.reason.startsWith('incident:');
}

function nowOf(event: Ev): number {
  if (typeof event.$at === 'number') return event.$at;
  const input = (event as { input?: { $at?: number } }).input;
  return typeof input?.$at === 'number' ? input.$at : 0;
}

function toMs(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    const t = Date.parse(v);
    return Number.isNaN(t) ? null : t;
  }
  return null;
}

function delayMs(context: DeliveryContext, name: DelayName, fallback?: number): number {
  return Math.max(0, context.delaysMs[name] ?? fallback ?? DELIVERY_DELAYS[name]);
}

/** Inside a freeze at `t`; emergency releases (`reason: incident:*`) are exempt (§3.3). */
function inFreezeAt(context: DeliveryContext, t: number): boolean {
  return !isEmergency(context) && context.freezes.some((f) => t >= f.from && t < f.to);
}

/** The first moment at or after `t` outside every freeze. */
function pastFreezes(context: DeliveryContext, t: number): number {
  if (isEmergency(context)) return t;
  let at = t;
  for (let moved = true; moved;) {
    moved = false;
    for (const f of context.freezes) {
      if (at >= f.from && at < f.to) {
        at = f.to;
        moved = true;
      }
    }
  }
  return at;
}


function measure(context: DeliveryContext, name: string, value: number, dims: Record<string, unknown> = {}) {
  return {
    type: 'measure.recorded', measure: name, value, openedAt: new Date(context.openedAt).toISOString(),
    dims: { service: context.service, strategy: context.strategy, ...dims },
  };
}

function healthInput(context: DeliveryContext, env: string, phase: string, extra: Record<string, unknown> = {}) {
  return { env, phase, version: context.version, checks: context.healthChecks, observed: context.observed, simulate: context.simulate ?? undefined, ...extra };
}

function deployInput(context: DeliveryContext, env: string, extra: Record<string, unknown> = {}): any {
  return { env, version: context.version, current: context.deployed[env] ?? null, simulate: context.simulate ?? undefined, ...extra };
}

/**
 * A named timer armed only when the release has a window: `after` would arm it always (and, without a
 * window, fire at once for nothing). The event type is the one XState gives `after` timers, so the engine
 * records it under the delay's name and the events API refuses it from outside (`xstate.*`).
 */
function windowTimer(delay: 'goNoGoDeadlineDelay' | 'windowClosingDelay', scope: string): { type: string; arm: any; disarm: any } {
  const type = `xstate.after.${delay}.delivery.${scope}`;
  return {
    type,
    arm: enqueueActions(({ context, enqueue }: { context: DeliveryContext; enqueue: any }) => {
      if (context.window) enqueue.raise({ type }, { id: type, delay });
    }),
    disarm: cancel(type),
  };
}
const goNoGoTimer = windowTimer('goNoGoDeadlineDelay', 'readiness');
const windowClosingRunning = windowTimer('windowClosingDelay', 'production.running');
const windowClosingPaused = windowTimer('windowClosingDelay', 'production.paused');

const health = (event: Ev) => (event.output ?? {}) as { healthy?: boolean; evaluated?: boolean };

const machine = setup({
  types: {} as { context: DeliveryContext; events: Ev; input: Record<string, any> & { $at: number }; emitted: AnyEventObject },
  actors: taskActors(
    'verify_artifacts', 'deploy_step', 'set_traffic_weight', 'health_check', 'run_smoke_tests', 'record_deployment',
    'rollback', 'send_change_event', 'start_run', 'notify_parent', 'send_event', 'notify',
  ),
  delays: {
    untilScheduledStartDelay: ({ context, event }: Args) =>
      Math.max(0, pastFreezes(context, context.scheduledStart ?? nowOf(event)) - delayMs(context, 'untilScheduledStartDelay') - nowOf(event)),
    stepProgressDeadlineDelay: ({ context }: Args) => delayMs(context, 'stepProgressDeadlineDelay'),
    canaryIntervalDelay: ({ context }: Args) => delayMs(context, 'canaryIntervalDelay', context.canary.intervalMs),
    // Armed only with a window (windowTimer); counted to the absolute time, the offset from delaysMs.
    goNoGoDeadlineDelay: ({ context, event }: Args) => Math.max(0, (context.window?.start ?? 0) - delayMs(context, 'goNoGoDeadlineDelay') - nowOf(event)),
    windowClosingDelay: ({ context, event }: Args) => Math.max(0, (context.window?.end ?? 0) - delayMs(context, 'windowClosingDelay') - nowOf(event)),
    bakeDelay: ({ context }: Args) => delayMs(context, 'bakeDelay', context.bakeMs),
    elsDelay: ({ context }: Args) => delayMs(context, 'elsDelay', context.elsMs),
    rollbackDeadlineDelay: ({ context, event }: Args) => Math.max(0, (context.rollbackDueAt ?? nowOf(event)) - nowOf(event)),
  },
  guards: {
    startsNow: ({ context, event }: Args) => context.scheduledStart === null && !inFreezeAt(context, nowOf(event)),
    inFreeze: ({ context, event }: Args) => inFreezeAt(context, nowOf(event)),
    hasNonProdEnvs: ({ context }: Args) => context.nonProdEnvs.length > 0,
    hasMoreNonProdEnvs: ({ context }: Args) => context.envIndex + 1 < context.nonProdEnvs.length,
    isEligibleApprover: ({ context, event }: Args, params: { group: string }) =>
      typeof event.by === 'string' && eligibleApprovers(context as unknown as ApprovalsContext, params.group).includes(event.by),
    changeRequired: ({ context }: Args) => context.changePolicy !== 'none',
    hasExistingChange: ({ context }: Args) => context.changePolicy.startsWith('existing:'),
    /** Events sent through the API carry no childRunId; events from a run must come from our change. */
    fromOurChange: ({ context, event }: Args) => event.childRunId === undefined || context.changeRunId === null || event.childRunId === context.changeRunId,
    implementationMayStart: ({ context, event }: Args) =>
      (event.childRunId === undefined || context.changeRunId === null || event.childRunId === context.changeRunId) &&
      (event.freezeOverrideApproved === true || !inFreezeAt(context, nowOf(event))),
    strategyIs: ({ context }: Args, params: { strategy: Strategy }) => context.strategy === params.strategy,
    metricsHealthy: ({ event }: Args) => health(event).healthy === true,
    healthNotEvaluated: ({ event }: Args) => health(event).evaluated === false,
    weightAtMax: ({ context }: Args) => context.weight >= context.canary.maxWeight,
    /** This failed check is the one that reaches the threshold (Flagger: rollback after `threshold` failures). */
    failedChecksReached: ({ context }: Args) => context.failedChecks + 1 >= context.canary.threshold,
    hasMoreWaves: ({ context }: Args) => context.waveIndex + 1 < context.waves.length,
    smokePassed: ({ event }: Args) => (event.output as { passed?: boolean } | undefined)?.passed === true,
    rollbackOnIncident: ({ context, event }: Args) => context.autoRollbackOnIncident && Number(event.priority) <= 2,
    incidentAlreadyRaised: ({ context }: Args) => context.incidentTriggered,
  },
  // Typed loosely: parameterized actions do not fit setup()'s inference, and the engine checks every
  // action name when the workflow is registered.
  actions: {
    recordDeployed: assign(({ context, event }: Args) => {
      const o = event.output as { env: string; version: string; wave?: number | null };
      return { deployed: { ...context.deployed, [o.env]: { version: o.version, wave: o.wave ?? null } } };
    }),
    addFreeze: assign(({ context, event }: Args) => ({
      freezes: [...context.freezes, { from: toMs(event.from) ?? 0, to: toMs(event.to) ?? 0 }],
    })),
    emitFreeze: emit(({ event }: Args) => ({ type: 'delivery.freeze_recorded', from: event.from, to: event.to })),
    markFailure: assign(({ context, event }: Args, params: { reason: string }) => ({
      failureDetectedAt: context.failureDetectedAt ?? nowOf(event),
      failureReason: context.failureReason ?? params.reason,
    })),
    setOutcome: assign((_: Args, params: { outcome: Outcome }) => ({ outcome: params.outcome })),
    setCancel: assign(({ event }: Args, params: { outcome: Outcome; reason?: string }) => ({
      outcome: params.outcome, cancelReason: params.reason ?? (typeof event.reason === 'string' ? event.reason : typeof event.comment === 'string' ? event.comment : null),
    })),

  recordDecision: assign(({ event }: Args) => ({
    goDecision: { decision: event.type === 'GO' ? 'GO' : 'NO_GO', by: String(event.by), comment: typeof event.comment === 'string' ? event.comment : null, at: nowOf(event) } as DeliveryContext['goDecision'],
  })),
  adoptChange: assign(({ context, event }: Args) => ({
    changeRunId: context.changeRunId ?? (typeof event.childRunId === 'string' ? event.childRunId : null),
    changeWindow: event.type === 'CHANGE_AUTHORIZED' ? { plannedStart: (event.plannedStart as string) ?? null, plannedEnd: (event.plannedEnd as string) ?? null } : context.changeWindow,
  })),
  recordPause: assign(({ event }: Args) => ({ pausedBy: typeof event.by === 'string' ? event.by : null })),
  autoPause: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }) => {
    enqueue.assign({ pausedBy: 'health_check', lastHealth: event.output ?? (event as { error?: unknown }).error ?? null });
    enqueue.emit({ type: 'delivery.paused', by: 'health_check', reason: 'health_not_evaluated', weight: context.weight });
  }),
  extendWindow: assign(({ context, event }: Args) => ({
    window: context.window ? { ...context.window, end: toMs(event.end) ?? context.window.end } : { start: nowOf(event), end: toMs(event.end) ?? nowOf(event) },
  })),
  keepHealth: assign({ lastHealth: ({ event }: Args) => event.output ?? null }),
  countFailedCheck: enqueueActions(({ context, enqueue }: Args & { enqueue: any }) => {
    enqueue.assign({ failedChecks: context.failedChecks + 1 });
    enqueue.emit({ type: 'delivery.check_failed', failedChecks: context.failedChecks + 1, weight: context.weight });
  }),
  promoted: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }) => {
    const at = nowOf(event);
    enqueue.assign({ deployedAt: at });
    enqueue.emit({ type: 'delivery.promoted', at: iso(at), version: context.version });
    enqueue.emit(measure(context, 'promotedDeploymentFrequency', 1));
    enqueue.emit(measure(context, 'deploymentDuration', at - (context.productionStartedAt ?? at)));
    for (const c of context.release.commits) {
      const committed = toMs(c.committedAt);
      if (committed === null) continue;
      enqueue.emit(measure(context, 'changeLeadTime', at - committed, { sha: c.sha }));
      enqueue.emit(measure(context, 'changeLeadTimeP90', at - committed, { sha: c.sha }));
    }
  }),
  recordIncident: enqueueActions(({ context, event, enqueue }: Args & { enqueue: any }, params: { phase: 'bake' | 'els' }) => {
    const incident: Incident = { incidentRunId: String(event.incidentRunId), priority: Number(event.priority), at: nowOf(event), phase: params.phase };
    // A P1/P2 incident after promotion makes the deployment a failed change, rolled back or not (§3.11).
    enqueue.assign({ incidents: [...context.incidents, incident], changeFailed: context.changeFailed || incident.priority <= 2 });
    enqueue.emit({ type: 'delivery.incident_linked', ...incident });
  }),
  emitPreProdFailed: emit(({ context }: Args) => measure(context, 'preProductionFailureRate', 1)),
  finalMeasures: enqueueActions(({ context, enqueue }: Args & { enqueue: any }) => {
    // Only deployments that reached production count towards DORA's instability metrics.
    if (context.productionStartedAt === null) return;
    const rolledBack = context.outcome === 'rolled_back' || context.outcome === 'rollback_failed';
    enqueue.emit(measure(context, 'changeFailRate', rolledBack || context.changeFailed ? 1 : 0, { outcome: context.outcome }));
    enqueue.emit(measure(context, 'rollbackRate', rolledBack ? 1 : 0));
    if (context.strategy === 'canary') enqueue.emit(measure(context, 'canaryAbortRate', rolledBack && context.deployedAt === null ? 1 : 0));
    if (context.outcome === 'completed') enqueue.emit(measure(context, 'elsIncidents', context.elsIncidents));
  }),
  } as Record<string, any>,
}).createMachine({
  id: 'delivery',
  context: ({ input }) => {
    const release = input.release ?? {};
    const environments: string[] = Array.isArray(input.environments) && input.environments.length ? input.environments : ['staging', 'production'];
    const productionEnv = environments[environments.length - 1];
    const windowStart = toMs(input.window?.start);
    const windowEnd = toMs(input.window?.end);
    const blackout: TimeSpan[] = (input.schedules?.blackout ?? []).map((w: { start: unknown; end: unknown }) => ({ from: toMs(w.start) ?? 0, to: toMs(w.end) ?? 0 }));
    const approvers = input.approvers ?? {};
    const waves = input.phased?.waves;
    return {
      release: {
        id: String(release.id), version: String(release.version), service: String(release.service),
        artifacts: release.artifacts ?? [], commits: release.commits ?? [], scope: release.scope ?? [],
      },
      version: String(release.version),
      service: String(release.service),
      runId: null,
      nonProdEnvs: environments.slice(0, -1),
      productionEnv,
      strategy: input.strategy ?? 'canary',
      canary: { stepWeight: 10, maxWeight: 50, intervalMs: 60_000, threshold: 5, ...(input.canary ?? {}) },
      waves: typeof waves === 'number' ? Array.from({ length: waves }, (_, i) => `wave${i + 1}`) : Array.isArray(waves) && waves.length ? waves.map(String) : ['wave1', 'wave2', 'wave3'],
      healthChecks: input.healthChecks ?? [],
      observed: input.observed ?? {},
      smokeTests: input.smokeTests ?? [],
      bakeMs: input.bakeMs ?? DELIVERY_DELAYS.bakeDelay,
      elsMs: input.elsMs ?? DELIVERY_DELAYS.elsDelay,
      changePolicy: input.changePolicy ?? 'auto-normal',
      scheduledStart: toMs(input.scheduledStart),
      window: windowStart !== null && windowEnd !== null ? { start: windowStart, end: windowEnd } : null,
      reason: input.reason ?? 'planned',
      requestedBy: input.requestedBy ?? null,
      approvers,
      previousVersion: input.previousVersion ?? null,
      autoRollbackOnIncident: input.autoRollbackOnIncident ?? true,
      delaysMs: input.delaysMs ?? {},
      simulate: input.simulate ?? null,
      change: input.change ?? {},
      freezes: blackout,
      openedAt: input.$at,
      envIndex: 0, weight: 0, waveIndex: 0, nextWave: 2, failedChecks: 0, deployed: {}, lastHealth: null,
      buildStartedAt: null, readinessEnteredAt: null, readinessChecklist: null, goDecision: null,
      changeRequests: 0, changeRunId: null, changeWindow: null, changeCloseCode: null,
      productionStartedAt: null, deployedAt: null, failureDetectedAt: null, failureReason: null, rollbackDueAt: null, restoredAt: null,
      incidents: [], elsIncidents: 0, incidentTriggered: false, changeFailed: false, raisedIncidentRunId: null,
      pausedBy: null, outcome: null, cancelReason: null,
    } satisfies DeliveryContext;
  },
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
        onDone: { target: 'preProduction', actions: assign({ runId: ({ event }: Args) => (event.output as { runId?: string }).runId ?? null }) },
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
              businessKey: `change:${context.release.id}:${context.changeRequests}`,
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

    production: {
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
    },

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

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** The child change of the gate (§2.9, §0.7): standard changes start already scheduled. */
function changeInput(context: DeliveryContext): Record<string, unknown> {
  return {
    // An incident-driven hotfix goes through an emergency change that asks for a freeze override (§3.10 #8).
    changeType: isEmergency(context) ? 'emergency' : context.changePolicy === 'auto-standard' ? 'standard' : 'normal',
    title: `Deploy ${context.service} ${context.version}`,
    description: `Release ${context.release.id}: ${context.service} ${context.version} (${context.strategy})`,
    implementationPlan: `Deploy ${context.version} to ${context.productionEnv} by ${context.strategy}, verified by health checks and smoke tests.`,
    backoutPlan: `Automatic rollback to ${context.previousVersion ?? 'the running version'} on failed checks, an incident during bake, or the window closing.`,
    testPlan: `Pre-production verification in ${context.nonProdEnvs.join(', ') || 'no other environment'}; canary analysis; smoke tests after promotion.`,
    service: context.service,
    ci: context.service,
    requestedBy: context.requestedBy ?? 'delivery',
    approvers: context.approvers,
    plannedStart: context.window ? iso(context.window.start) : undefined,
    plannedEnd: context.window ? iso(context.window.end) : undefined,
    links: { release: context.release.id, ...(context.runId ? { delivery: context.runId } : {}) },
    freezeOverrideRequested: isEmergency(context) || undefined,
    ...context.change,
  };
}

function deploymentRecord(context: DeliveryContext, phase: 'started' | 'deployed' | 'completed', at: number) {
  return {
    phase, at: iso(at), releaseId: context.release.id, service: context.service, version: context.version, reason: context.reason,
    changeRunId: context.changeRunId, commits: context.release.commits, deployedAt: iso(context.deployedAt), outcome: context.outcome,
  };
}

function changeEvent(context: DeliveryContext, phase: string) {
  return {
    summary: `${context.service} ${context.version} deployment ${phase}`, source: 'servicechart-delivery',
    custom_details: { releaseId: context.release.id, strategy: context.strategy, phase },
  };
}

/** Smoke tests once the new version takes all traffic; a failure rolls back. */
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
function closeOutFailure(priority: 1 | 2): any {
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

function incidentInput(context: DeliveryContext, priority: 1 | 2): Record<string, unknown> {
  return {
    title: `${context.service} ${context.version}: ${priority === 1 ? 'rollback failed' : 'deployment rolled back'}`,
    description: `Release ${context.release.id} (${context.service} ${context.version}) ${priority === 1 ? 'could not be rolled back' : 'was rolled back'}: ${context.failureReason ?? 'unknown cause'}.`,
    service: context.service,
    ci: context.service,
    impact: priority === 1 ? 1 : 2,
    urgency: 1,
    category: 'deployment',
    source: { tool: 'api', key: `delivery:${context.runId ?? context.release.id}` },
    causedByDelivery: context.runId ?? undefined,
    causedByChange: context.changeRunId ?? undefined,
    approvers: context.approvers,
  };
}

export const DELIVERY_KPIS: KpiDefinition[] = [
  { name: 'deploymentFrequency', label: 'Deployment frequency (production deployments per day)', unit: 'perDay', aggregate: 'perDay', breakdown: ['service'], description: 'Runs that entered production, per day of the window (DORA).' },
  { name: 'promotedDeploymentFrequency', label: 'Promoted deployments per day', unit: 'perDay', aggregate: 'perDay', breakdown: ['service'], description: 'Deployments whose new version took all traffic.' },
  { name: 'changeLeadTime', label: 'Change lead time (median)', unit: 'ms', aggregate: 'median', breakdown: ['service'], description: 'deployedAt − committedAt of each commit a deployment carries (DORA).' },
  { name: 'changeLeadTimeP90', label: 'Change lead time (p90)', unit: 'ms', aggregate: 'p90', breakdown: ['service'] },
  { name: 'changeFailRate', label: 'Change fail rate', unit: 'ratio', aggregate: 'mean', breakdown: ['service', 'strategy'], description: 'Production deployments rolled back, or followed by a P1/P2 incident in bake or ELS, ÷ production deployments (DORA).' },
  { name: 'failedDeploymentRecoveryTime', label: 'Failed deployment recovery time', unit: 'ms', aggregate: 'mean', breakdown: ['service'], description: 'restoredAt − failureDetectedAt of rolled-back deployments (DORA).' },
  { name: 'deploymentReworkRate', label: 'Deployment rework rate', unit: 'ratio', aggregate: 'mean', breakdown: ['service'], description: 'Production deployments with reason incident:* ÷ all production deployments (DORA).' },
  { name: 'rollbackRate', label: 'Rollback rate', unit: 'ratio', aggregate: 'mean', breakdown: ['service', 'strategy'] },
  { name: 'canaryAbortRate', label: 'Canary abort rate', unit: 'ratio', aggregate: 'mean', breakdown: ['service'], description: 'Canary deployments rolled back before promotion ÷ canary deployments.' },
  { name: 'deploymentDuration', label: 'Mean deployment duration', unit: 'ms', aggregate: 'mean', breakdown: ['service', 'strategy'], description: 'production entry → promotion.' },
  { name: 'goNoGoDecisionTime', label: 'Go/no-go decision time', unit: 'ms', aggregate: 'mean', breakdown: ['decision'] },
  { name: 'scheduleDeviation', label: 'Release start deviation from schedule', unit: 'ms', aggregate: 'mean', breakdown: ['service'], description: '|actual start − scheduledStart|.' },
  { name: 'elsIncidents', label: 'ELS incidents per release', unit: 'count', aggregate: 'mean', breakdown: ['service'] },
  { name: 'preProductionFailureRate', label: 'Pre-production failure rate', unit: 'ratio', aggregate: 'mean', breakdown: ['service'], description: 'Not counted as change failures.' },
];

const dateTime = { type: 'string', pattern: ISO };
const by = { type: 'string', minLength: 1, maxLength: 200 };
const comment = { type: 'string', maxLength: 10_000 };
const span = { type: 'object', required: ['start', 'end'], properties: { start: dateTime, end: dateTime } };

export const delivery = defineWorkflow({
  name: 'delivery',
  version: 1,
  description: 'Release and deployment: build, pre-production, go/no-go, change gate, canary/phased/big-bang rollout with pause/resume, bake, rollback, early life support (PROCESSES.md §3).',
  machine,
  builtIn: true,
  kpis: DELIVERY_KPIS,
  inputSchema: {
    type: 'object',
    required: ['release'],
    properties: {
      release: {
        type: 'object',
        required: ['id', 'version', 'service'],
        properties: {
          id: { type: 'string', minLength: 1 }, version: { type: 'string', minLength: 1 }, service: { type: 'string', minLength: 1 },
          artifacts: { type: 'array', items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, digest: { type: 'string' }, signature: { type: 'string' } } } },
          commits: { type: 'array', items: { type: 'object', required: ['sha', 'committedAt'], properties: { sha: { type: 'string' }, committedAt: dateTime } } },
          scope: { type: 'array' },
        },
      },
      environments: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
      strategy: { enum: ['canary', 'phased', 'bigBang'] },
      canary: {
        type: 'object',
        properties: { stepWeight: { type: 'number', exclusiveMinimum: 0, maximum: 100 }, maxWeight: { type: 'number', exclusiveMinimum: 0, maximum: 100 }, intervalMs: { type: 'integer', minimum: 0 }, threshold: { type: 'integer', minimum: 1 } },
        additionalProperties: false,
      },
      phased: { type: 'object', properties: { waves: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'array', minItems: 1, items: { type: 'string' } }] } } },
      healthChecks: { type: 'array', items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, query: { type: 'string' }, url: { type: 'string' }, min: { type: 'number' }, max: { type: 'number' }, observed: { type: 'number' } } } },
      observed: { type: 'object', additionalProperties: { type: 'number' } },
      smokeTests: { type: 'array', items: { type: 'object', required: ['name', 'url'], properties: { name: { type: 'string' }, url: { type: 'string' } } } },
      bakeMs: { type: 'integer', minimum: 0 },
      elsMs: { type: 'integer', minimum: 0 },
      changePolicy: { type: 'string', pattern: '^(auto-standard|auto-normal|none|existing:.+)$' },
      change: { type: 'object', description: 'Extra input for the child change run (ci, plans, templateId, ...).' },
      scheduledStart: dateTime,
      window: span,
      schedules: { type: 'object', properties: { blackout: { type: 'array', items: span } } },
      reason: { type: 'string', pattern: '^(planned|incident:.+)$' },
      requestedBy: { type: 'string' },
      approvers: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
      previousVersion: { type: 'string' },
      autoRollbackOnIncident: { type: 'boolean' },
      delaysMs: {
        type: 'object',
        properties: Object.fromEntries(Object.keys(DELIVERY_DELAYS).map((k) => [k, { type: 'integer', minimum: 0 }])),
        additionalProperties: { type: 'integer', minimum: 0 },
      },
      simulate: { type: 'object', description: 'Test and dry-run hooks read by health_check, run_smoke_tests and deploy_step.' },
    },
    additionalProperties: true,
  },
  eventSchemas: {
    START: { type: 'object', required: ['by'], properties: { by } },
    GO: { type: 'object', required: ['by'], properties: { by, comment } },
    NO_GO: { type: 'object', required: ['by'], properties: { by, comment } },
    CHANGE_AUTHORIZED: { type: 'object', properties: { childRunId: { type: 'string' }, plannedStart: { type: ['string', 'null'] }, plannedEnd: { type: ['string', 'null'] } } },
    CHANGE_REJECTED: { type: 'object', properties: { childRunId: { type: 'string' }, comments: { type: 'array' } } },
    CHANGE_DEAUTHORIZED: { type: 'object', properties: { childRunId: { type: 'string' }, reason: { type: 'string' } } },
    CHANGE_IMPLEMENT_STARTED: { type: 'object', properties: { childRunId: { type: 'string' }, freezeOverrideApproved: { type: 'boolean' } } },
    CHANGE_CLOSED: { type: 'object', properties: { childRunId: { type: 'string' }, closeCode: { type: 'string' } } },
    PAUSE: { type: 'object', required: ['by'], properties: { by, comment } },
    RESUME: { type: 'object', required: ['by'], properties: { by, comment } },
    PROMOTE: { type: 'object', required: ['by'], properties: { by, comment } },
    ABORT: { type: 'object', required: ['by'], properties: { by, comment } },
    ROLLBACK: { type: 'object', required: ['by'], properties: { by, comment } },
    ELS_SIGNED_OFF: { type: 'object', required: ['by'], properties: { by, comment } },
    INCIDENT_OPENED: { type: 'object', required: ['incidentRunId', 'priority'], properties: { incidentRunId: { type: 'string', minLength: 1 }, priority: { type: 'integer', minimum: 1, maximum: 5 }, service: { type: 'string' } } },
    FREEZE_DECLARED: { type: 'object', required: ['from', 'to'], properties: { from: dateTime, to: dateTime } },
    EXTEND_WINDOW: { type: 'object', required: ['end'], properties: { end: dateTime, by } },
    CANCEL: { type: 'object', required: ['by'], properties: { by, reason: { type: 'string', maxLength: 500 }, comment } },
  },
});
