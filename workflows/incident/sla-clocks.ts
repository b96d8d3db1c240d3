// The incident's two SLA clocks (docs/models/conventions.md §0.3, §1.5): response, and resolution, which pauses on hold.
import { slaClock } from './sla.ts';
import type { IncidentContext } from './types.ts';
import { delayOf, dims, targets } from './derived.ts';

export const response = slaClock<IncidentContext, 'response'>({
  clock: 'response',
  targetMs: (c) => targets(c).responseMs,
  startedAt: (c) => c.openedAt,
  warnAtFrom: (c) => c.config.slaWarnAt ?? undefined,
  stoppedWhen: (c) => c.respondedAt !== null,
  delayOverride: delayOf,
  measure: 'slaComplianceResponse',
  dims,
  openedAt: (c) => c.openedAt,
  hooks: { warning: 'slaNotify', breached: 'slaBreachEscalate', reescalated: 'slaNotify' },
});

export const resolution = slaClock<IncidentContext, 'resolution'>({
  clock: 'resolution',
  targetMs: (c) => targets(c).resolutionMs,
  startedAt: (c) => c.openedAt,
  warnAtFrom: (c) => c.config.slaWarnAt ?? undefined,
  pausedWhen: (c) => c.onHoldReason !== null && c.config.slaPauseReasons.includes(c.onHoldReason),
  resumable: true,
  delayOverride: delayOf,
  measure: 'slaComplianceResolution',
  dims,
  openedAt: (c) => c.openedAt,
  hooks: { warning: 'slaNotify', breached: 'slaBreachEscalate', reescalated: 'slaNotify' },
});
