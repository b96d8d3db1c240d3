// The named delays of the incident machine: their durations for a run, and the names process owners may override.
import type { IncidentContext } from './types.ts';
import { INCIDENT_DELAYS_MS, MIN } from './defaults.ts';
import { delayOf } from './derived.ts';
import { resolution, response } from './sla-clocks.ts';
import { paging } from './paging.ts';

/** Durations of the named delays, for `setup({ delays })`. */
export const delays = {
  ...response.delays,
  ...resolution.delays,
  ...paging.delays,
  autoCloseDelay: ({ context }: { context: IncidentContext }) => delayOf(context, 'autoCloseDelay') ?? context.config.autoCloseAfterMs,
  callerReminderDelay: ({ context }: { context: IncidentContext }) => delayOf(context, 'callerReminderDelay') ?? INCIDENT_DELAYS_MS.callerReminderDelay,
  callerAutoResolveDelay: ({ context }: { context: IncidentContext }) => delayOf(context, 'callerAutoResolveDelay') ?? INCIDENT_DELAYS_MS.callerAutoResolveDelay,
  majorCandidateDelay: ({ context }: { context: IncidentContext }) => delayOf(context, 'majorCandidateDelay') ?? INCIDENT_DELAYS_MS.majorCandidateDelay,
  // Anchored to the declaration: update n is due at declaredAt + n × interval, however long a publish took.
  commsUpdateDelay: ({ context }: { context: IncidentContext }) => {
    const every = delayOf(context, 'commsUpdateDelay') ?? (context.priority === 1 ? 30 * MIN : 60 * MIN);
    const since = context.commsWaitSince ?? 0;
    const anchor = context.majorAcceptedAt ?? since;
    // The next update's slot, or the next slot still ahead after a long gap (a reopen): never a burst.
    const next = Math.max(anchor + (context.commsUpdates + 1) * every, anchor + (Math.floor((since - anchor) / every) + 1) * every);
    return Math.max(0, next - since);
  },
  pirDueDelay: ({ context }: { context: IncidentContext }) => delayOf(context, 'pirDueDelay') ?? INCIDENT_DELAYS_MS.pirDueDelay,
  pirEscalationDelay: ({ context }: { context: IncidentContext }) => delayOf(context, 'pirEscalationDelay') ?? INCIDENT_DELAYS_MS.pirEscalationDelay,
};

/** Every named delay a process owner may override through `delaysMs`. */
export const incidentDelayNames: string[] = [
  ...response.delayNames, ...resolution.delayNames, 'pageEscalationDelay', ...Object.keys(INCIDENT_DELAYS_MS),
];
