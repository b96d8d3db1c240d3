// The initial context of a delivery run, built from its input.
import type { DeliveryContext, DeliveryInput, TimeSpan } from './types.ts';
import { toMs } from './time.ts';
import { DELIVERY_DELAYS } from './delays.ts';
import { releaseApprovers } from '../lib/cmdb-read.ts';

/** The context a run starts with: the input's choices, their defaults, and nothing derived yet. */
export function initialContext({ input }: { input: DeliveryInput }): DeliveryContext {
  const release = input.release ?? {};
  const environments: string[] = Array.isArray(input.environments) && input.environments.length ? input.environments : ['staging', 'production'];
  const productionEnv = environments[environments.length - 1];
  const windowStart = toMs(input.window?.start);
  const windowEnd = toMs(input.window?.end);
  const blackout: TimeSpan[] = (input.schedules?.blackout ?? []).map((w: { start: unknown; end: unknown }) => ({ from: toMs(w.start) ?? 0, to: toMs(w.end) ?? 0 }));
  // Service owners and release managers from the release's service in the registry; input groups win.
  const fromRegistry = releaseApprovers(input.$registry, [String(release.service)], input.approvers ?? {});
  const approvers = fromRegistry.approvers;
  const waves = input.phased?.waves;
  return {
    release: {
      id: String(release.id), version: String(release.version), service: String(release.service),
      artifacts: release.artifacts ?? [], commits: release.commits ?? [], scope: release.scope ?? [],
    },
    version: String(release.version),
    service: String(release.service),
    runId: typeof input.$runId === 'string' ? input.$runId : null,
    businessKey: typeof input.$businessKey === 'string' ? input.$businessKey : null,
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
    registry: fromRegistry.registry,
  } satisfies DeliveryContext;
}
