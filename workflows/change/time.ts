// Time as the change machine sees it: the engine time of an event, and ISO times as epoch ms.
import type { AnyEventObject } from 'xstate';
import type { ChangeContext } from './types.ts';
import { nowOf as eventTime } from '../../engine/definition/index.ts';

/**
 * The engine's time of the event being handled: `$at` (every event the engine delivers has it, done
 * events of states included), or the input's for the start; the fallback only keeps a slip from being absurd.
 */
export function nowOf(event: AnyEventObject, context?: ChangeContext): number {
  return eventTime(event, context?.openedAt ?? 0);
}

export function ms(iso: string | null | undefined): number | null {
  if (typeof iso !== 'string') return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : null;
}
