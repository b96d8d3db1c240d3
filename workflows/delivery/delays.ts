// The named delays of the delivery machine: their defaults, their durations for a run, and the window timers.
import { cancel, enqueueActions } from 'xstate';
import type { Args, Enqueue, DeliveryContext } from './types.ts';
import { nowOf } from './time.ts';
import { pastFreezes } from './freezes.ts';

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
export type DelayName = keyof typeof DELIVERY_DELAYS;

export function delayMs(context: DeliveryContext, name: DelayName, fallback?: number): number {
  return Math.max(0, context.delaysMs[name] ?? fallback ?? DELIVERY_DELAYS[name]);
}

/** Durations of the named delays, for `setup({ delays })`. */
export const delays = {
  untilScheduledStartDelay: ({ context, event }: Args) =>
    Math.max(0, pastFreezes(context, context.scheduledStart ?? nowOf(event)) - delayMs(context, 'untilScheduledStartDelay') - nowOf(event)),
  stepProgressDeadlineDelay: ({ context }: Args) => delayMs(context, 'stepProgressDeadlineDelay'),
  canaryIntervalDelay: ({ context }: Args) => delayMs(context, 'canaryIntervalDelay', context.canary.intervalMs),
  // Armed only with a window (windowTimer); counted to the absolute time, the offset from delaysMs.
  // A release asked for after that time (a change-initiated deployment, started at implement) still
  // gives the release manager the offset to decide, within the window.
  goNoGoDeadlineDelay: ({ context, event }: Args) => {
    const now = nowOf(event);
    const offset = delayMs(context, 'goNoGoDeadlineDelay');
    const due = (context.window?.start ?? 0) - offset;
    if (due > now || !context.window) return Math.max(0, due - now);
    return Math.max(0, Math.min(now + offset, context.window.end) - now);
  },
  windowClosingDelay: ({ context, event }: Args) => Math.max(0, (context.window?.end ?? 0) - delayMs(context, 'windowClosingDelay') - nowOf(event)),
  bakeDelay: ({ context }: Args) => delayMs(context, 'bakeDelay', context.bakeMs),
  elsDelay: ({ context }: Args) => delayMs(context, 'elsDelay', context.elsMs),
  rollbackDeadlineDelay: ({ context, event }: Args) => Math.max(0, (context.rollbackDueAt ?? nowOf(event)) - nowOf(event)),
};

/**
 * A named timer armed only when the release has a window: `after` would arm it always (and, without a
 * window, fire at once for nothing). The event type is the one XState gives `after` timers, so the engine
 * records it under the delay's name and the events API refuses it from outside (`xstate.*`).
 */
function windowTimer(delay: 'goNoGoDeadlineDelay' | 'windowClosingDelay', scope: string): { type: string; arm: any; disarm: any } {
  const type = `xstate.after.${delay}.delivery.${scope}`;
  return {
    type,
    arm: enqueueActions(({ context, enqueue }: { context: DeliveryContext; enqueue: Enqueue }) => {
      if (context.window) enqueue.raise({ type }, { id: type, delay });
    }),
    disarm: cancel(type),
  };
}
export const goNoGoTimer = windowTimer('goNoGoDeadlineDelay', 'readiness');
export const windowClosingRunning = windowTimer('windowClosingDelay', 'production.running');
export const windowClosingPaused = windowTimer('windowClosingDelay', 'production.paused');
