// Change freezes: whether a moment falls inside one, and the first moment past them; emergencies are exempt.
import type { DeliveryContext } from './types.ts';

export function isEmergency(context: DeliveryContext): boolean {
  return context.reason.startsWith('incident:');
}

/** Inside a freeze at `t`; emergency releases (`reason: incident:*`) are exempt (§3.3). */
export function inFreezeAt(context: DeliveryContext, t: number): boolean {
  return !isEmergency(context) && context.freezes.some((f) => t >= f.from && t < f.to);
}

/** The first moment at or after `t` outside every freeze. */
export function pastFreezes(context: DeliveryContext, t: number): number {
  if (isEmergency(context)) return t;
  let at = t;
  for (let moved = true; moved;) {
    moved = false;
    for (const f of context.freezes) {
      if (at >= f.from && at < f.to) {
        at = f.to;
        moved = true;
      }
    }
  }
  return at;
}
