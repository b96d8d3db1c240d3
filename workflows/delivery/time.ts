// Time as the delivery machine sees it: the engine time an event carries, and timestamps parsed and printed.
import type { Ev } from './types.ts';

export function nowOf(event: Ev): number {
  if (typeof event.$at === 'number') return event.$at;
  const input = (event as { input?: { $at?: number } }).input;
  return typeof input?.$at === 'number' ? input.$at : 0;
}

export function toMs(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    const t = Date.parse(v);
    return Number.isNaN(t) ? null : t;
  }
  return null;
}

export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
