// Owns the notion of "now": production reads the system clock, tests inject their own.
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

// Printing a time is the definition API's time module's job; the runtime prints with the same function.
export { iso } from './definition/time.ts';
