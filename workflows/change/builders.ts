// Builders of the change machine's transitions and state nodes: effect sequences, hold, cancel, back to New, implemented.
import { and, not } from 'xstate';
import type { ChangeContext, CloseCode, TopState } from './types.ts';

interface Step {
  name: string;
  src: string;
  input: (args: { context: ChangeContext }) => Record<string, unknown>;
  /** Skip the step unless this guard holds. */
  when?: string;
  /** Actions on the task's result (done or error), before the next step. */
  actions?: Loose;
}

/**
 * Effects that must happen before the run moves on (a final state withdraws a task that has not run),
 * as states that each wait for one task; a failed effect is in the history and does not stop the change.
 */
export function sequence(steps: Step[], exit: string): Loose {
  const route = (from: number) => {
    const out: { guard?: string; target: string }[] = [];
    for (const s of steps.slice(from)) {
      out.push(s.when ? { guard: s.when, target: s.name } : { target: s.name });
      if (!s.when) return out;
    }
    return [...out, { target: exit }];
  };
  const states: Record<string, unknown> = { start: { always: route(0) } };
  steps.forEach((s, i) => {
    const next = s.actions ? route(i + 1).map((t) => ({ ...t, actions: s.actions })) : route(i + 1);
    states[s.name] = { invoke: { id: s.name, src: s.src, input: s.input, onDone: next, onError: next } };
  });
  return { initial: 'start', states };
}

// Transition and state-node builders are typed loosely: the engine checks every name at registration.
/* eslint-disable @typescript-eslint/no-explicit-any */
export type Loose = any;
export const hold = (from: TopState): Loose => ({ target: '#change.onHold', actions: ['withdrawApprovals', { type: 'putOnHold', params: { from } }] });
export const cancel: Loose = { target: '#change.canceling', actions: ['withdrawApprovals', 'setCancel'] };
export const backToNew = (reason: string): Loose => ({ target: '#change.new.returning', actions: ['withdrawApprovals', { type: 'setReturn', params: { reason } }] });
export const implemented = (code: CloseCode): Loose => ({
  guard: and(['isImplementerOrManager', not('isBackingOut')]), target: '#change.review', actions: { type: 'setCloseCode', params: { code } },
});
