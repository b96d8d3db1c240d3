// The CAB's approval region: the common approval region plus the CAB agenda and the meeting timer.
import { approvalRegion, eligibleApprovers } from '../lib/approvals.ts';
import type { ChangeContext } from './types.ts';
import { notice, ref } from './notices.ts';

/** The CAB region: the common approval region plus the CAB agenda and the meeting timer (§2.6). */
export function cabRegion() {
  const region = approvalRegion({
    group: 'cab', role: 'cab', title: 'CAB decision on {number}{conflictNote}', approveEvent: 'APPROVE_CAB', rejectEvent: 'REJECT_CAB',
    reminderDelay: 'approvalReminderDelay', escalationDelay: 'approvalEscalationDelay', escalateTo: 'changeManager',
  });
  const pending = region.states.pending;
  pending.invoke = [
    pending.invoke,
    { id: 'cabAgenda', src: 'add_to_cab_agenda', input: ({ context }: { context: ChangeContext }) => ({ meetingsAt: context.cab.meetingsAt, risk: context.risk, conflicts: context.conflicts }) },
  ];
  pending.states.nudges.after.cabMeetingDelay = { guard: 'hasCabMeeting', target: '.meeting' };
  pending.states.nudges.states.meeting = {
    invoke: { id: 'cabMeetingNotice', src: 'notify', input: notice((c) => `CAB meeting: ${ref(c)} is on the agenda`, (c) => eligibleApprovers(c, 'cab')), onDone: 'idle', onError: 'idle' },
  };
  return region;
}
