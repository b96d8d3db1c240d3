// Owns the change calendar as the model reads it: maintenance and blackout windows, other scheduled changes,
// the conflicts `detect_conflicts` reports, and the window check the implementation gate makes. No clock:
// the caller passes every time in. The task side of these rules is workers/tasks/change-rules.ts.

import { allWindows, overlaps, timeOf, windowCovers, windowsFor, type TimeWindow, type WindowSchedule } from '../../engine/definition/index.ts';

export type { TimeWindow, WindowSchedule };

export interface ChangeSchedules {
  maintenance?: WindowSchedule;
  blackout?: WindowSchedule;
}

/** Another change already on the calendar, as a change schedule or a lookup of running changes lists it. */
export interface ScheduledChange {
  ref: string;
  /** The run of that change, when it is one: a lookup that returns the asking run itself is ignored. */
  runId?: string;
  ci: string[];
  plannedStart: string;
  plannedEnd: string;
  implementer?: string | null;
}

export type ConflictKind = 'blackout' | 'outside_maintenance_window' | 'ci_overlap' | 'dependent_ci_overlap' | 'assignee_double_booked';

/** One conflict in the output of the `detect_conflicts` task. */
export interface ChangeConflict {
  kind: ConflictKind;
  ci: string | null;
  /** The blackout window, or the other change's window. */
  window: TimeWindow | null;
  /** The other change (its business key or run id) for overlaps. */
  otherChange: string | null;
}

/** Epoch ms of an ISO time; null for anything else. */
function ms(iso: string | null | undefined): number | null {
  return typeof iso === 'string' ? timeOf(iso) : null;
}

/** The blackout windows that overlap [start, end), for the given CIs (global ones when there is no CI). */
export function blackoutsOverlapping(schedules: ChangeSchedules | undefined, ci: string[], start: number, end: number): TimeWindow[] {
  const candidates = ci.length ? ci.flatMap((c) => windowsFor(schedules?.blackout, c)) : allWindows(schedules?.blackout);
  const seen = new Set<TimeWindow>();
  return candidates.filter((w) => {
    const ws = ms(w.start);
    const we = ms(w.end);
    if (ws === null || we === null || seen.has(w) || !overlaps(start, end, ws, we)) return false;
    seen.add(w);
    return true;
  });
}

/** True when [start, end) lies inside a maintenance window of every CI (a CI with none is outside). */
export function inMaintenanceWindows(schedules: ChangeSchedules | undefined, ci: string[], start: number, end: number): boolean {
  return ci.length > 0 && ci.every((c) => windowsFor(schedules?.maintenance, c).some((w) => windowCovers(w, start, end)));
}
