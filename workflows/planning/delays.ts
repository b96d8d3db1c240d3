// The named delays of the planning machine: their defaults, their durations for a run, and the timers armed only when they apply.
import { cancel, enqueueActions } from 'xstate';
import type { Args, Enqueue, PlanningContext } from './types.ts';
import { nowOf } from './time.ts';

const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
/** Defaults of every named delay (§4.5), each overridable with `delaysMs.<name>`. */
export const PLANNING_DELAYS = {
  draftReminderDelay: 23 * DAY,
  draftStaleDelay: 30 * DAY,
  assessmentReminderDelay: 5 * DAY,
  assessmentDueDelay: 10 * DAY,
  boardMeetingDelay: 0, // offset before the next board.meetingsAt
  revisitDelay: 90 * DAY, // when DEFER names no date
  handoffDelay: 14 * DAY, // offset before the release window's start
  planRecheckDelay: 2 * DAY, // offset before the release window's start
} as const;
export type DelayName = keyof typeof PLANNING_DELAYS;

export const delayMs = (c: PlanningContext, name: DelayName): number => Math.max(0, c.delaysMs[name] ?? PLANNING_DELAYS[name]);

/** Durations of the `after` delays, for `setup({ delays })`. */
export const delays = {
  draftReminderDelay: ({ context }: Args) => delayMs(context, 'draftReminderDelay'),
  draftStaleDelay: ({ context }: Args) => delayMs(context, 'draftStaleDelay'),
  assessmentReminderDelay: ({ context }: Args) => delayMs(context, 'assessmentReminderDelay'),
  assessmentDueDelay: ({ context }: Args) => delayMs(context, 'assessmentDueDelay'),
};

/**
 * A timer armed only when it applies (a next board meeting, a planned release), under the event type XState
 * gives `after` timers: the engine records it by the delay's name and refuses it from outside (`xstate.*`).
 */
export function timer(delay: DelayName, scope: string, dueAt: (c: PlanningContext, now: number) => number | null): { type: string; arm: any; disarm: any } {
  const type = `xstate.after.${delay}.planning.${scope}`;
  return {
    type,
    arm: enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }) => {
      const now = nowOf(event);
      const due = dueAt(context, now);
      if (due !== null) enqueue.raise({ type }, { id: type, delay: Math.max(0, due - now) });
    }),
    disarm: cancel(type),
  };
}

export const boardTimer = timer('boardMeetingDelay', 'qualified', (c, now) => {
  const next = c.boardMeetings.filter((t) => t - delayMs(c, 'boardMeetingDelay') > now).sort((a, b) => a - b)[0];
  return next === undefined ? null : next - delayMs(c, 'boardMeetingDelay');
});
export const revisitTimer = timer('revisitDelay', 'deferred', (c, now) => c.deferredUntil ?? now + delayMs(c, 'revisitDelay'));
