// Time as the planning machine sees it: the engine time an event carries, and timestamps parsed and printed.
import type { Ev } from './types.ts';

export function nowOf(event: Ev): number {
  if (typeof event.$at === 'number') return event.$at;
  const input = (event as { input?: { $at?: number } }).input;
  return typeof input?.$at === 'number' ? input.$at : 0;
}

export const ms = (s: string | null | undefined): number | null => {
  if (typeof s !== 'string') return null;
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : t;
};
export const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());
