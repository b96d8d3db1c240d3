// Time windows as process models and their tasks read them (maintenance, blackout): which windows apply
// to a configuration item, and how a planned interval sits against them. No clock: callers pass times in.
import type { TimeWindow } from './cmdb-types.ts';
import { timeOf } from './time.ts';

/**
 * A schedule is a list of windows that applies to every configuration item, or windows per CI
 * (`{ "db-01": [...] }`; the key `"*"` applies to every CI).
 */
export type WindowSchedule = TimeWindow[] | Record<string, TimeWindow[]>;

/** The windows of a schedule that apply to one CI. */
export function windowsFor(schedule: WindowSchedule | undefined, ci: string): TimeWindow[] {
  if (!schedule) return [];
  if (Array.isArray(schedule)) return schedule;
  return [...(schedule['*'] ?? []), ...(schedule[ci] ?? [])];
}

/** Every window of a schedule, whichever CI it names. */
export function allWindows(schedule: WindowSchedule | undefined): TimeWindow[] {
  if (!schedule) return [];
  return Array.isArray(schedule) ? schedule : Object.values(schedule).flat();
}

/** Half-open overlap of [a1, a2) and [b1, b2). */
export function overlaps(a1: number, a2: number, b1: number, b2: number): boolean {
  return a1 < b2 && b1 < a2;
}

/** True when [start, end] lies inside the window (a window with an unreadable bound covers nothing). */
export function windowCovers(w: TimeWindow, start: number, end: number): boolean {
  const ws = timeOf(w.start);
  const we = timeOf(w.end);
  return ws !== null && we !== null && ws <= start && end <= we;
}
