// Owns the notion of "now": production reads the system clock, tests inject their own.
import { validationError } from './errors.ts';

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * The ISO form of an epoch-ms time. A time no Date can hold (a timer due after a delay of 1e300 ms
 * from an input) is refused as invalid input, so the step that computed it commits nothing.
 */
export function iso(ms: number): string {
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) throw validationError('a time is out of range', [{ path: '', message: `${ms} ms since 1970 is no date: is a duration in the input or event too large?` }]);
  return date.toISOString();
}
