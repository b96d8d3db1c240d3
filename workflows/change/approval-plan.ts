// Who must approve a change (the change authority of §2.5), and the shared approval guards and actions for it.
import { approvalImplementations, type ApprovalPolicy } from '../lib/approvals.ts';
import type { ChangeContext } from './types.ts';
import { inBlackout } from './rules.ts';

/** The change authority of §2.5 (type × risk), then the input's `approvalPolicy` per group. */
export function approvalPlanFor(c: ChangeContext): Record<string, ApprovalPolicy> {
  const first: ApprovalPolicy = { waitFor: 'first_response' };
  let plan: Record<string, ApprovalPolicy> = {};
  if (c.unauthorized) plan = { changeManager: first };
  else if (c.changeType === 'emergency') {
    plan = { ecab: first };
    if (inBlackout(c) && c.freezeOverride) plan.changeManager = first;
  } else if (c.changeType === 'normal') {
    plan = { technical: first, changeManager: first };
    if (c.risk === 'moderate') plan.cab = { waitFor: 'percentage', percent: 50 };
    if (c.risk === 'high') {
      plan.cab = { waitFor: 'percentage', percent: 67 };
      plan.serviceOwner = first;
    }
  }
  for (const g of Object.keys(plan)) if (c.approvalPolicy[g]) plan[g] = c.approvalPolicy[g];
  return plan;
}

export const approvals = approvalImplementations<ChangeContext>();
