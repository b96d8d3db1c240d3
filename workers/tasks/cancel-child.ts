// The `cancel_child` task: cancels a child run of this run, as `POST /v1/runs/:id/cancel` does.
import { defineTask, NonRetryableTaskError } from '../../engine/index.ts';

export interface CancelChildInput {
  runId: string;
  reason?: string;
}

export const cancelChild = defineTask({
  name: 'cancel_child',
  description: "Cancel a child run of this run (run status `cancelled`, its tasks and timers withdrawn). A child that has ended already answers `cancelled: false`.",
  input: {
    type: 'object',
    required: ['runId'],
    properties: { runId: { type: 'string' }, reason: { type: 'string' } },
    additionalProperties: false,
  },
  output: {
    type: 'object',
    required: ['cancelled'],
    properties: { cancelled: { type: 'boolean' }, reason: { type: 'string' } },
    additionalProperties: false,
  },
  retry: { attempts: 10, backoffMs: 500 },
  handler: async (input, ctx) => {
    // Only a run's own children: a workflow must not end runs it did not start.
    if ((await ctx.services.parentOf(input.runId)) !== ctx.runId) {
      throw new NonRetryableTaskError(`run ${input.runId} is not a child of run ${ctx.runId}`);
    }
    return ctx.services.cancelRun(input.runId, input.reason ?? null);
  },
});
