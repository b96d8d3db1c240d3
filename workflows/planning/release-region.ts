// One release slot of `scheduled` as a parallel region: wait for the handoff, start the delivery, follow it.
import { emit, not } from 'xstate';
import type { Args } from './types.ts';
import { delayMs, timer } from './delays.ts';
import { plannedAt } from './plan.ts';
import { deliveryInputFor, parentKey } from './task-inputs.ts';

/** One release of the plan: wait for its handoff, start its delivery, follow it to done or failed. */
export function releaseRegion(i: number): any {
  const idx = { index: i };
  const handoff = timer('handoffDelay', `scheduled.release${i}`, (c) => {
    const r = plannedAt(c, i);
    return r ? Date.parse(r.window.start) - delayMs(c, 'handoffDelay') : null;
  });
  const recheck = timer('planRecheckDelay', `scheduled.release${i}.recheck`, (c, now) => {
    const r = plannedAt(c, i);
    if (!r) return null;
    const at = Date.parse(r.window.start) - delayMs(c, 'planRecheckDelay');
    // Only a recheck that comes before the handoff has anything to check.
    return at > now && at < Date.parse(r.window.start) - delayMs(c, 'handoffDelay') ? at : null;
  });
  return {
    initial: 'init',
    states: {
      init: {
        always: [
          { guard: { type: 'releaseNotPlanned', params: idx }, target: 'notPlanned' },
          { guard: { type: 'releaseIs', params: { ...idx, status: 'done' } }, target: 'done' },
          { guard: { type: 'releaseIs', params: { ...idx, status: 'inDelivery' } }, target: 'inDelivery.running' },
          { target: 'waiting' },
        ],
      },
      waiting: {
        entry: [handoff.arm, recheck.arm],
        exit: [handoff.disarm, recheck.disarm],
        on: {
          [handoff.type]: [
            { guard: { type: 'windowInFreeze', params: idx }, target: '#planning.replanning', actions: { type: 'replanFor', params: { reason: 'freeze' } } },
            { guard: not('capacityReady'), target: 'held', actions: emit({ type: 'planning.handoff_held', release: i, reason: 'capacity_action_open' }) },
            { target: 'inDelivery' },
          ],
          [recheck.type]: { guard: { type: 'windowInFreeze', params: idx }, target: '#planning.replanning', actions: { type: 'replanFor', params: { reason: 'freeze' } } },
        },
      },
      // Handoff time came while the capacity change is still open: the release starts when it closes.
      held: { always: { guard: 'capacityReady', target: 'inDelivery' } },
      inDelivery: {
        initial: 'starting',
        states: {
          starting: {
            entry: { type: 'countAttempt', params: idx },
            invoke: {
              id: `deliver${i}`, src: 'start_run',
              input: ({ context }: Args) => {
                const r = plannedAt(context, i)!;
                const attempt = context.releases[r.id].attempts;
                return { workflow: 'delivery', businessKey: `delivery:${parentKey(context)}:${r.id}${attempt > 1 ? `:${attempt}` : ''}`, input: deliveryInputFor(context, i) };
              },
              onDone: { target: 'running', actions: [{ type: 'handedOff', params: idx }, emit(({ context, event }: Args) => ({ type: 'planning.handed_off', releaseId: plannedAt(context, i)?.id, runId: event.output.runId }))] },
              onError: { target: `#planning.scheduled.release${i}.failed`, actions: [{ type: 'startFailed', params: idx }, emit(({ event }: Args) => ({ type: 'planning.handoff_failed', release: i, error: (event as { error?: unknown }).error ?? null }))] },
            },
          },
          running: {
            always: [
              { guard: { type: 'releaseIs', params: { ...idx, status: 'done' } }, target: `#planning.scheduled.release${i}.done` },
              { guard: { type: 'releaseIs', params: { ...idx, status: 'failed' } }, target: `#planning.scheduled.release${i}.failed` },
            ],
          },
        },
      },
      done: { type: 'final' },
      failed: { type: 'final' },
      notPlanned: { type: 'final' },
    },
  };
}
