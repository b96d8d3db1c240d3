// What the delivery machine hands its tasks and child runs: deploy, health and record inputs, the gate's change, the incident.
import type { DeliveryContext } from './types.ts';
import { iso } from './time.ts';
import { isEmergency } from './freezes.ts';

/** What child business keys derive from: the run's business key, else its run id (docs/models/conventions.md). */
export function parentKey(context: DeliveryContext): string {
  return context.businessKey ?? context.runId ?? context.release.id;
}

export function healthInput(context: DeliveryContext, env: string, phase: string, extra: Record<string, unknown> = {}) {
  return { env, phase, version: context.version, checks: context.healthChecks, observed: context.observed, simulate: context.simulate ?? undefined, ...extra };
}

export function deployInput(context: DeliveryContext, env: string, extra: Record<string, unknown> = {}): any {
  return { env, version: context.version, current: context.deployed[env] ?? null, simulate: context.simulate ?? undefined, ...extra };
}

/** The child change of the gate (§2.9, §0.7): standard changes start already scheduled. */
export function changeInput(context: DeliveryContext): Record<string, unknown> {
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

export function deploymentRecord(context: DeliveryContext, phase: 'started' | 'deployed' | 'completed', at: number) {
  return {
    phase, at: iso(at), releaseId: context.release.id, service: context.service, version: context.version, reason: context.reason,
    changeRunId: context.changeRunId, commits: context.release.commits, deployedAt: iso(context.deployedAt), outcome: context.outcome,
  };
}

export function changeEvent(context: DeliveryContext, phase: string) {
  return {
    summary: `${context.service} ${context.version} deployment ${phase}`, source: 'servicechart-delivery',
    custom_details: { releaseId: context.release.id, strategy: context.strategy, phase },
  };
}

export function incidentInput(context: DeliveryContext, priority: 1 | 2): Record<string, unknown> {
  return {
    title: `${context.service} ${context.version}: ${priority === 1 ? 'rollback failed' : 'deployment rolled back'}`,
    description: `Release ${context.release.id} (${context.service} ${context.version}) ${priority === 1 ? 'could not be rolled back' : 'was rolled back'}: ${context.failureReason ?? 'unknown cause'}.`,
    service: context.service,
    ci: context.service,
    impact: priority === 1 ? 1 : 2,
    urgency: 1,
    category: 'deployment',
    source: { tool: 'api', key: `delivery:${context.runId ?? context.release.id}` },
    // The incident model reads its links here (docs/models/incident.md §1.9, §3.9).
    links: {
      ...(context.runId ? { causedByDelivery: context.runId } : {}),
      ...(context.changeRunId ? { causedByChange: context.changeRunId } : {}),
    },
    approvers: context.approvers,
  };
}
