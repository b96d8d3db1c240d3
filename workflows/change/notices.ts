// Who hears of a change and how it is named: the requester, the change managers, and notify inputs.
import { eligibleApprovers } from '../lib/approvals.ts';
import type { ChangeContext } from './types.ts';

export const requester = (c: ChangeContext) => c.requestedBy ?? 'change_requester';
export const ref = (c: ChangeContext) => c.number ?? c.title ?? 'change';

export const notice = (subject: (c: ChangeContext) => string, to: (c: ChangeContext) => string | string[] = requester) =>
  ({ context }: { context: ChangeContext }) => ({ to: to(context), subject: subject(context), template: 'change' });
export const managers = (c: ChangeContext) => {
  const list = eligibleApprovers(c, 'changeManager');
  return list.length ? list : 'change_manager';
};
