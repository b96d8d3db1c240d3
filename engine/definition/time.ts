// Time as the process models see it: the engine time an event carries, and timestamps parsed and printed.

/**
 * The engine time of an event: `$at` (every event the engine delivers has it, done events of states
 * included), or the input's `$at` for the initial transition; `fallback` (default 0) for anything else.
 */
export function nowOf(event: unknown, fallback = 0): number {
  const e = event as { $at?: unknown; input?: { $at?: unknown } } | undefined;
  if (typeof e?.$at === 'number') return e.$at;
  if (typeof e?.input?.$at === 'number') return e.input.$at;
  return fallback;
}

/** Epoch ms from epoch ms or an ISO time; null for anything else. */
export function timeOf(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    const t = Date.parse(v);
    return Number.isFinite(t) ? t : null;
  }
  return null;
}

/** The last time `iso` formatted and its form: a step stamps every entry with one time. */
let lastIsoAt = NaN;
let lastIso = '';

/** The ISO 8601 form of epoch ms (`2026-03-01T09:30:00.000Z`); null stays null. */
export function iso(t: number): string;
export function iso(t: number | null): string | null;
export function iso(t: number | null): string | null {
  if (t === null) return null;
  if (t !== lastIsoAt) {
    // Throws for a time Date cannot hold, as before; the slot keeps the last good pair then.
    lastIso = new Date(t).toISOString();
    lastIsoAt = t;
  }
  return lastIso;
}
