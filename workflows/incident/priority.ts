// Priority as data: the impact × urgency lookup of docs/models/conventions.md §0.2, replaceable by a process owner.

/** 1 Critical, 2 High, 3 Moderate, 4 Low, 5 Planning. */
export type Priority = 1 | 2 | 3 | 4 | 5;
/** 1 High, 2 Medium, 3 Low (impact and urgency alike). */
export type Level = 1 | 2 | 3;

/**
 * `matrix[impact - 1][urgency - 1]` is the priority. Rows are impact, columns urgency, as in
 * ServiceNow's priority lookup rules, which a process owner can edit in the same way.
 */
export type PriorityMatrix = readonly (readonly number[])[];

export const DEFAULT_PRIORITY_MATRIX: PriorityMatrix = [
  [1, 2, 3],
  [2, 3, 4],
  [3, 4, 5],
];

export const PRIORITY_LABELS: Record<Priority, string> = { 1: 'Critical', 2: 'High', 3: 'Moderate', 4: 'Low', 5: 'Planning' };

export function isLevel(v: unknown): v is Level {
  return v === 1 || v === 2 || v === 3;
}

export function isPriority(v: unknown): v is Priority {
  return v === 1 || v === 2 || v === 3 || v === 4 || v === 5;
}

/** A 3×3 matrix of priorities 1–5, or false (so input validation can refuse a broken one). */
export function isPriorityMatrix(m: unknown): m is PriorityMatrix {
  return Array.isArray(m) && m.length === 3 && m.every((row) => Array.isArray(row) && row.length === 3 && row.every(isPriority));
}

/**
 * Priority from impact and urgency (both 1–3) through a lookup matrix.
 * @example
 * priorityFromMatrix(2, 2) // 3 (Moderate)
 * priorityFromMatrix(1, 3, [[1, 1, 2], [2, 3, 4], [3, 4, 5]]) // 2
 */
export function priorityFromMatrix(impact: Level, urgency: Level, matrix: PriorityMatrix = DEFAULT_PRIORITY_MATRIX): Priority {
  if (!isLevel(impact) || !isLevel(urgency)) throw new RangeError(`impact and urgency must be 1, 2 or 3 (got ${impact}, ${urgency})`);
  const p = (isPriorityMatrix(matrix) ? matrix : DEFAULT_PRIORITY_MATRIX)[impact - 1][urgency - 1];
  return p as Priority;
}

/** An explicit priority a tool sent: `1`–`5` or `"P1"`–`"P5"`; anything else is null. */
export function parsePriority(v: unknown): Priority | null {
  if (isPriority(v)) return v;
  if (typeof v === 'string') {
    const m = /^\s*[Pp]?([1-5])\s*$/.exec(v);
    if (m) return Number(m[1]) as Priority;
  }
  return null;
}

/**
 * The priority of a new record: an explicit tool priority wins (§0.2's only exception); otherwise the
 * matrix over impact and urgency, each defaulting to 2 (Medium) when absent.
 */
export function derivePriority(fields: { impact?: unknown; urgency?: unknown; priority?: unknown }, matrix?: PriorityMatrix): { priority: Priority; impact: Level; urgency: Level } {
  const impact: Level = isLevel(fields.impact) ? fields.impact : 2;
  const urgency: Level = isLevel(fields.urgency) ? fields.urgency : 2;
  const explicit = parsePriority(fields.priority);
  return { priority: explicit ?? priorityFromMatrix(impact, urgency, matrix), impact, urgency };
}
