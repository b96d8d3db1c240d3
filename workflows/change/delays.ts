// The named delays of the change machine: their defaults, and their durations for a run.
import { approvalDelays } from '../lib/approvals.ts';
import type { Args, ChangeContext } from './types.ts';
import { ms, nowOf } from './time.ts';

export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;

/** Defaults of every named delay (docs/models/change.md §2.6); `delaysMs.<name>` replaces each. */
export const changeDelayDefaults = {
  approvalReminderDelay: DAY,
  approvalEscalationDelay: 2 * DAY,
  ecabReminderDelay: 15 * MIN,
  ecabEscalationDelay: 30 * MIN,
  overrunGraceDelay: 30 * MIN,
  pirDueDelay: 5 * DAY,
  pirEscalationDelay: 10 * DAY,
} as const;

/** Delays counted to an absolute time: `delaysMs.<name>` is the offset before that time. */
export const changeOffsetDefaults = {
  authorizationCutoffDelay: HOUR,
  untilPlannedStartDelay: 0,
  plannedEndDelay: 0,
  cabMeetingDelay: 0,
} as const;

function offset(context: ChangeContext, name: keyof typeof changeOffsetDefaults): number {
  return context.delaysMs[name] ?? changeOffsetDefaults[name];
}

/** Durations of the named delays, for `setup({ delays })`. */
export const delays = {
  ...approvalDelays(changeDelayDefaults),
  authorizationCutoffDelay: ({ context, event }: Args) => {
    const start = ms(context.plannedStart);
    return start === null ? 0 : Math.max(0, start - offset(context, 'authorizationCutoffDelay') - nowOf(event, context));
  },
  untilPlannedStartDelay: ({ context, event }: Args) => {
    const start = ms(context.plannedStart);
    if (context.changeType === 'emergency' || start === null) return 0;
    return Math.max(0, start - offset(context, 'untilPlannedStartDelay') - nowOf(event, context));
  },
  plannedEndDelay: ({ context, event }: Args) => {
    const end = ms(context.plannedEnd);
    return end === null ? 0 : Math.max(0, end - offset(context, 'plannedEndDelay') - nowOf(event, context));
  },
  cabMeetingDelay: ({ context, event }: Args) => {
    const now = nowOf(event, context);
    const next = context.cab.meetingsAt.map(ms).filter((t): t is number => t !== null && t >= now).sort((a, b) => a - b)[0];
    return next === undefined ? 0 : Math.max(0, next - offset(context, 'cabMeetingDelay') - now);
  },
};
