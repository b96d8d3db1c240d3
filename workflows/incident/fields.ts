// Tolerant readers of input and event fields, and the time an event happened.
import { timeOf } from '../../engine/definition/index.ts';
import { nowOf } from './sla.ts';
import type { Ev } from './types.ts';

export const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
export const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** The tool's own time for an event when it carries one (never later than the engine's), else `$at`. */
export function eventTime(event: Ev): number {
  const now = nowOf(event);
  const at = timeOf(event.at);
  return at !== null && at <= now ? at : now;
}
