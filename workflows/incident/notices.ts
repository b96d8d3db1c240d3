// Who hears of what: the notify-up of each SLA clock event, and the queue that sends notices one by one.
import type { SlaHookParams } from './sla.ts';
import { noticeQueue, type Notice } from './escalation.ts';
import type { IncidentContext } from './types.ts';
import { groupManager, label, responder } from './derived.ts';

/** Hierarchical notify-up per clock event (§0.3, §1.5): who hears of a warning, a breach, a re-escalation. */
export function slaNotices(c: IncidentContext, p: SlaHookParams): Notice[] {
  const what = `${p.clock} SLA of ${label(c)}`;
  switch (p.kind) {
    case 'warning':
      return [{
        template: `sla.warning.${p.clock}`, to: p.fraction !== undefined && p.fraction >= 0.75 ? [responder(c), groupManager(c)] : responder(c),
        subject: `${Math.round((p.fraction ?? 0) * 100)}% of the ${what} used`, fraction: p.fraction,
      }];
    case 'breached':
      return [{ template: `sla.breached.${p.clock}`, to: [responder(c), groupManager(c), 'incident_manager'], subject: `The ${what} is breached` }];
    case 'reescalated':
      return [{ template: `sla.reescalated.${p.clock}`, to: ['incident_manager', `manager:incident_manager`], subject: `The ${what} is still breached (re-escalation ${p.level})`, level: p.level }];
    default:
      return [];
  }
}

export const notices = noticeQueue({ task: 'notify' });
