// The guards of the delivery machine, by name.
import { eligibleApprovers, type ApprovalsContext } from '../lib/approvals.ts';
import type { Args, Ev, Strategy } from './types.ts';
import { nowOf } from './time.ts';
import { inFreezeAt } from './freezes.ts';

const health = (event: Ev) => (event.output ?? {}) as { healthy?: boolean; evaluated?: boolean };

/** The guards, for `setup({ guards })`. */
export const guards = {
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
};
