// The defaults of the incident model: SLA targets, paging escalation timeouts and every named delay.
import type { Priority } from './priority.ts';

export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;

/** §1.5 targets by priority (§7 C1). P5 has no resolution SLA. */
export const DEFAULT_SLA_TARGETS_MS: Record<Priority, { responseMs: number | null; resolutionMs: number | null }> = {
  1: { responseMs: 15 * MIN, resolutionMs: 4 * HOUR },
  2: { responseMs: 1 * HOUR, resolutionMs: 8 * HOUR },
  3: { responseMs: 4 * HOUR, resolutionMs: 24 * HOUR },
  4: { responseMs: 8 * HOUR, resolutionMs: 72 * HOUR },
  5: { responseMs: 24 * HOUR, resolutionMs: null },
};

/** §1.5 escalation timeout per paging level (choice), by priority; only P1/P2 page. */
export const DEFAULT_PAGE_ESCALATION_MS: Record<number, number> = { 1: 10 * MIN, 2: 30 * MIN };

/** Every named delay of the model and its default; `delaysMs.<name>` replaces any of them. */
export const INCIDENT_DELAYS_MS = {
  autoCloseDelay: 72 * HOUR,
  callerReminderDelay: 5 * DAY,
  callerAutoResolveDelay: 15 * DAY,
  majorCandidateDelay: 15 * MIN,
  /** P1 every 30 min, P2 every 60 min (choice); others as P2. */
  commsUpdateDelay: null as number | null,
  pirDueDelay: 3 * DAY,
  /** After the PIR reminder: escalation at day 5. */
  pirEscalationDelay: 2 * DAY,
} as const;
