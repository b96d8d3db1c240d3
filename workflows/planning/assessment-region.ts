// One assessment area of `screening` as a parallel region: an optional automated pre-step, then the assessor's human task.
import { assign, emit, enqueueActions } from 'xstate';
import { eligibleApprovers, type ApprovalsContext } from '../lib/approvals.ts';
import { AREAS, type Area } from './parallel-regions.ts';
import type { Args, Enqueue } from './types.ts';
import { measure } from './kpis.ts';

/** One assessment area of `screening`: optional automated pre-step, then the assessor's human task. */
export function assessmentRegion(area: Area, pre?: { id: string; src: string; input: (a: Args) => unknown }): any {
  const a = AREAS[area];
  const first = pre ? 'preparing' : 'pending';
  const pending = {
    meta: { humanTask: { role: a.role, title: a.title, outcomes: { [a.outcome]: a.event } } },
    invoke: {
      id: `${area}Collect`, src: 'collect_assessment',
      input: ({ context }: Args) => ({ area, demand: context.title, assessors: eligibleApprovers(context as unknown as ApprovalsContext, a.group), forecast: area === 'capacity' ? context.forecast : undefined }),
    },
    initial: 'waiting',
    after: {
      assessmentReminderDelay: '.reminding',
      assessmentDueDelay: { target: '.escalating', actions: emit({ type: 'planning.assessment_overdue', area }) },
    },
    on: {
      [a.event]: { guard: { type: 'isEligibleApprover', params: { group: a.group } }, target: 'done', actions: { type: 'recordAssessment', params: { area } } },
    },
    states: {
      waiting: {},
      reminding: {
        invoke: {
          id: `${area}Reminder`, src: 'notify',
          input: ({ context }: Args) => ({ to: eligibleApprovers(context as unknown as ApprovalsContext, a.group), subject: `Reminder: ${area} assessment of "${context.title}" is pending`, area }),
          onDone: 'waiting', onError: 'waiting',
        },
      },
      escalating: {
        invoke: {
          id: `${area}Overdue`, src: 'notify',
          input: ({ context }: Args) => ({ to: context.approvers.demandManager ?? ['demand_manager'], subject: `Overdue: ${area} assessment of "${context.title}"; you may qualify the demand without it`, area }),
          onDone: 'waiting', onError: 'waiting',
        },
      },
    },
  };
  const states: Record<string, unknown> = {
    init: { always: [{ guard: { type: 'areaApplies', params: { area } }, target: first }, { target: 'skipped' }] },
    [area === 'capacity' ? 'review' : 'pending']: pending,
    done: { type: 'final' },
    skipped: { type: 'final' },
  };
  if (pre) {
    const next = area === 'capacity' ? 'review' : 'pending';
    const keep = area === 'capacity'
      ? enqueueActions(({ context, event, enqueue }: Args & { enqueue: Enqueue }) => {
        const o = event.output as { capacityRisk: boolean; peakUtilisation: number | null };
        enqueue.assign({ forecast: o, capacityRisk: o.capacityRisk });
        enqueue.emit(measure(context, 'capacityRiskRate', o.capacityRisk ? 1 : 0, { peakUtilisation: o.peakUtilisation }));
      })
      : assign({ costEstimate: ({ event }: Args) => event.output });
    states.preparing = {
      invoke: { id: pre.id, src: pre.src, input: pre.input, onDone: { target: next, actions: keep }, onError: next },
    };
  }
  return { initial: 'init', states };
}
