// The KPIs the delivery process reports, and the measure events that feed them.
import type { KpiDefinition } from '../../engine/definition/index.ts';
import type { DeliveryContext } from './types.ts';

export const DELIVERY_KPIS: KpiDefinition[] = [
  { name: 'deploymentFrequency', label: 'Deployment frequency (production deployments per day)', unit: 'perDay', aggregate: 'perDay', breakdown: ['service'], description: 'Runs that entered production, per day of the window (DORA).' },
  { name: 'promotedDeploymentFrequency', label: 'Promoted deployments per day', unit: 'perDay', aggregate: 'perDay', breakdown: ['service'], description: 'Deployments whose new version took all traffic.' },
  { name: 'changeLeadTime', label: 'Change lead time (median)', unit: 'ms', aggregate: 'median', breakdown: ['service'], description: 'deployedAt − committedAt of each commit a deployment carries (DORA).' },
  { name: 'changeLeadTimeP90', label: 'Change lead time (p90)', unit: 'ms', aggregate: 'p90', measure: 'changeLeadTime', breakdown: ['service'] },
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

/** A `measure.recorded` event for `emit`, dimensioned by service and strategy. */
export function measure(context: DeliveryContext, name: string, value: number, dims: Record<string, unknown> = {}) {
  return {
    type: 'measure.recorded', measure: name, value, openedAt: new Date(context.openedAt).toISOString(),
    dims: { service: context.service, strategy: context.strategy, ...dims },
  };
}
