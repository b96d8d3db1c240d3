// Time as the process models see it: the engine time an event carries, and timestamps parsed and printed.

/** The engine time of an event: `$at`, or the input's `$at` for the initial transition. */
export function nowOf(event: unknown): number {
  const e = event as { $at?: unknown; input?: { $at?: unknown } } | undefined;
  if (typeof e?.$at === 'number') return e.$at;
  if (typeof e?.input?.$at === 'number') return e.input.$at;
  return 0;
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

export const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());
