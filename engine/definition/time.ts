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

/**
 * The last two times `iso` formatted and their forms: a step stamps its entries with its own time and
 * now and then another one (a task's start), and formatting is most of what a stamp costs.
 */
const isoCache: [number, string, number, string] = [NaN, '', NaN, ''];

/** The ISO 8601 form of epoch ms (`2026-03-01T09:30:00.000Z`); null stays null. */
export function iso(t: number): string;
export function iso(t: number | null): string | null;
export function iso(t: number | null): string | null {
  if (t === null) return null;
  if (t === isoCache[0]) return isoCache[1];
  if (t === isoCache[2]) return isoCache[3];
  // Throws for a time Date cannot hold, as before; the cache keeps its good pairs then.
  const s = new Date(t).toISOString();
  isoCache[2] = isoCache[0];
  isoCache[3] = isoCache[1];
  isoCache[0] = t;
  isoCache[1] = s;
  return s;
}
