// The reasons an incident is put on hold or canceled, and the `onHold` sub-state of each hold reason.
export const HOLD_REASONS = ['awaiting_caller', 'awaiting_change', 'awaiting_problem', 'awaiting_vendor'] as const;
export type HoldReason = (typeof HOLD_REASONS)[number];
export const CANCEL_REASONS = ['duplicate', 'not_an_incident', 'raised_in_error'] as const;

export const HOLD_STATE: Record<HoldReason, string> = {
  awaiting_caller: 'awaitingCaller', awaiting_change: 'awaitingChange', awaiting_problem: 'awaitingProblem', awaiting_vendor: 'awaitingVendor',
};
