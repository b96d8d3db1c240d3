// What a change's context says about it: its conflicts, window, template, lead time, completeness and approvals.
import type { ChangeConflict } from './windows.ts';
import type { ChangeContext } from './types.ts';
import { ms } from './time.ts';

export const has = (c: ChangeContext, kind: ChangeConflict['kind']) => c.conflicts.some((x) => x.kind === kind);
export const inBlackout = (c: ChangeContext) => has(c, 'blackout');
export const inMaintenanceWindow = (c: ChangeContext) => c.ci.length > 0 && ms(c.plannedStart) !== null && !has(c, 'outside_maintenance_window');
export const templateActive = (c: ChangeContext) => c.templateId !== null && c.templates[c.templateId]?.active !== false && c.templateId in c.templates;
export const leadTimeOk = (c: ChangeContext, now: number) => {
  const start = ms(c.plannedStart);
  return start !== null && start - now >= c.leadTimeMs;
};
export const isComplete = (c: ChangeContext) => {
  const plans = [c.implementationPlan, c.backoutPlan, c.testPlan].every((p) => typeof p === 'string' && p.trim() !== '');
  const start = ms(c.plannedStart);
  const end = ms(c.plannedEnd);
  const window = start !== null && end !== null && end > start;
  return plans && c.ci.length > 0 && (window || c.changeType === 'emergency');
};
export const approved = (c: ChangeContext, group: string) => c.approvals[group]?.status === 'approved';
export const stillAuthorized = (c: ChangeContext) => Object.keys(c.approvalPlan).every((g) => approved(c, g));
export const freezeOverrideApproved = (c: ChangeContext) =>
  c.changeType === 'emergency' && c.freezeOverride && approved(c, 'ecab') && approved(c, 'changeManager');
export const pendingGroups = (c: ChangeContext) => Object.entries(c.approvals).filter(([, a]) => a.status === 'pending').map(([g]) => g);
