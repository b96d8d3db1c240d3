// Owns the rules the change tasks run: conflict detection over maintenance and blackout windows, and risk
// classification (docs/models/change.md §2.5, §0.7). No I/O and no clock: the caller passes every time in.
// The `detect_conflicts` and `assess_risk` tasks run these; the model reads their output
// (workflows/change/windows.ts, risk.ts).

import { allWindows, overlaps, timeOf, windowCovers, windowsFor, type TimeWindow, type WindowSchedule } from '../../engine/index.ts';

export type Risk = 'high' | 'moderate' | 'low';
export const riskRank: Record<Risk, number> = { low: 0, moderate: 1, high: 2 };

export type { TimeWindow, WindowSchedule };

export interface ChangeSchedules {
  maintenance?: WindowSchedule;
  blackout?: WindowSchedule;
}

export type ConflictKind = 'blackout' | 'outside_maintenance_window' | 'ci_overlap' | 'dependent_ci_overlap' | 'assignee_double_booked';

export type ChangeConflict = {
  kind: ConflictKind;
  ci: string | null;
  /** The blackout window, or the other change's window. */
  window: TimeWindow | null;
  /** The other change (its business key or run id) for overlaps. */
  otherChange: string | null;
};

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

export interface ConflictInput {
  ci: string[];
  plannedStart?: string | null;
  plannedEnd?: string | null;
  schedules?: ChangeSchedules;
  changeSchedule?: ScheduledChange[];
  implementer?: string | null;
  /** This change's own reference, so that a lookup that returns it is not an overlap with itself. */
  self?: string | null;
  /**
   * Per CI of this change, the CIs related to it through dependsOn (either way, from the registry): another
   * change on one of them in an overlapping window is a `dependent_ci_overlap` on this change's CI.
   */
  related?: Record<string, string[]>;
}

/** Epoch ms of an ISO time; null for anything else. */
function ms(iso: string | null | undefined): number | null {
  return typeof iso === 'string' ? timeOf(iso) : null;
}

/**
 * ServiceNow-style conflict detection [S14]: blackout windows, maintenance windows, the same CI already
 * scheduled at an overlapping time, and the implementer double-booked. A change without planned dates
 * has no time conflicts.
 */
export function detectChangeConflicts(input: ConflictInput): ChangeConflict[] {
  const start = ms(input.plannedStart);
  const end = ms(input.plannedEnd) ?? start;
  if (start === null || end === null) return [];
  const out: ChangeConflict[] = [];
  const cis = input.ci.length ? input.ci : [null];
  for (const ci of cis) {
    const blackouts = ci === null ? allWindows(input.schedules?.blackout) : windowsFor(input.schedules?.blackout, ci);
    for (const w of blackouts) {
      const ws = ms(w.start);
      const we = ms(w.end);
      if (ws !== null && we !== null && overlaps(start, Math.max(end, start + 1), ws, we)) out.push({ kind: 'blackout', ci, window: w, otherChange: null });
    }
    if (ci !== null && !windowsFor(input.schedules?.maintenance, ci).some((w) => windowCovers(w, start, end))) {
      out.push({ kind: 'outside_maintenance_window', ci, window: null, otherChange: null });
    }
  }
  for (const other of input.changeSchedule ?? []) {
    if (input.self && other.ref === input.self) continue;
    const os = ms(other.plannedStart);
    const oe = ms(other.plannedEnd) ?? os;
    if (os === null || oe === null || !overlaps(start, Math.max(end, start + 1), os, Math.max(oe, os + 1))) continue;
    const window = { start: other.plannedStart, end: other.plannedEnd };
    for (const ci of other.ci.filter((c) => input.ci.includes(c))) out.push({ kind: 'ci_overlap', ci, window, otherChange: other.ref });
    for (const ci of input.ci) {
      const near = input.related?.[ci] ?? [];
      if (other.ci.some((c) => c !== ci && !input.ci.includes(c) && near.includes(c))) out.push({ kind: 'dependent_ci_overlap', ci, window, otherChange: other.ref });
    }
    if (input.implementer && other.implementer === input.implementer) {
      out.push({ kind: 'assignee_double_booked', ci: null, window, otherChange: other.ref });
    }
  }
  return out;
}

export interface RiskInput {
  environment?: string | null;
  impact?: number | null;
  /** Criticality (1 most critical … 3) of the most critical affected service, and per service. */
  criticality?: number | null;
  serviceCriticality?: Record<string, number>;
  services?: string[];
  backoutPlan?: string | null;
  backoutTested?: boolean | null;
  conflicts?: ChangeConflict[];
  /** The assignment group's change failure rate over the last 90 days (0..1). */
  groupFailureRate?: number | null;
  /** A risk given by a questionnaire or the source tool; the higher of it and the rules wins [S13]. */
  questionnaireRisk?: Risk | null;
}

export interface RiskResult {
  risk: Risk;
  riskReasons: string[];
}

const GROUP_FAILURE_THRESHOLD = 0.15;

/**
 * The default risk conditions of §2.5, first match wins; then a poor team record raises one level, and a
 * questionnaire's risk wins when it is higher. `riskReasons` names the matched condition and each raise.
 */
export function assessChangeRisk(input: RiskInput): RiskResult {
  const critOf = (s: string) => input.serviceCriticality?.[s];
  const crits = [input.criticality ?? undefined, ...(input.services ?? []).map(critOf)].filter((c): c is number => typeof c === 'number');
  const production = (input.environment ?? '').toLowerCase() === 'production';
  const rules: [boolean, Risk, string][] = [
    [crits.includes(1), 'high', 'service_criticality_1'],
    [!input.backoutPlan || input.backoutTested === false, 'high', 'no_tested_backout_plan'],
    [(input.conflicts ?? []).some((c) => c.kind === 'outside_maintenance_window'), 'high', 'outside_maintenance_window'],
    [production && input.impact === 1, 'high', 'production_impact_1'],
    [production && (input.impact === 2 || crits.includes(2)), 'moderate', 'production_impact_or_criticality_2'],
    [true, 'low', 'default'],
  ];
  const [, ruleRisk, reason] = rules.find(([hit]) => hit)!;
  let risk = ruleRisk;
  const riskReasons = [reason];
  if ((input.groupFailureRate ?? 0) > GROUP_FAILURE_THRESHOLD && risk !== 'high') {
    risk = risk === 'low' ? 'moderate' : 'high';
    riskReasons.push('group_failure_rate_above_15_percent');
  }
  if (input.questionnaireRisk && riskRank[input.questionnaireRisk] > riskRank[risk]) {
    risk = input.questionnaireRisk;
    riskReasons.push('questionnaire');
  }
  return { risk, riskReasons };
}
