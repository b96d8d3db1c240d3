// The `notify_parent` and `send_event` tasks: deliver an event to another run, durably and once.
import { defineTask, type TaskDefinition } from '../../engine/index.ts';

interface SendInput {
  runId?: string;
  event: { type: string; [k: string]: unknown };
}

const input = {
  type: 'object',
  required: ['event'],
  properties: {
    runId: { type: 'string' },
    event: { type: 'object', required: ['type'], properties: { type: { type: 'string' } }, additionalProperties: true },
  },
  additionalProperties: false,
} as const;
const output = {
  type: 'object',
  required: ['applied'],
  properties: { applied: { type: 'boolean' }, reason: { type: 'string' } },
  additionalProperties: false,
} as const;

function make(name: string, description: string, target: (i: SendInput, parent: string | null) => string | null): TaskDefinition<SendInput, { applied: boolean; reason?: string }> {
  return defineTask({
    name, description, input, output,
    retry: { attempts: 10, backoffMs: 500 },
    handler: async (i, ctx) => {
      const parent = await ctx.services.parentOf(ctx.runId);
      const runId = target(i, parent);
      if (!runId) return { applied: false, reason: 'NO_TARGET' };
      // Keyed by the task invocation: a retried delivery is applied once.
      // The receiving run can tell which child spoke (`event.childRunId`).
      return ctx.services.sendEvent(runId, { ...i.event, childRunId: ctx.runId }, `event:${ctx.idempotencyKey}`);
    },
  });
}

export const notifyParent = make('notify_parent', "Send an event to this run's parent run (no-op without a parent).", (_i, parent) => parent);
export const sendEvent = make('send_event', 'Send an event to the run named in the input.', (i) => i.runId ?? null);
