// The `start_run` task: starts a child run exactly once (a retry returns the child it started).
import { defineTask } from '../../engine/index.ts';

export interface StartRunInput {
  workflow: string;
  input?: Record<string, unknown>;
  businessKey?: string;
}

export const startRun = defineTask({
  name: 'start_run',
  description: 'Start a child run (parentRunId = this run). Idempotent: the child is keyed by the task invocation.',
  input: {
    type: 'object',
    required: ['workflow'],
    properties: { workflow: { type: 'string' }, input: { type: 'object' }, businessKey: { type: 'string' } },
    additionalProperties: false,
  },
  output: {
    type: 'object',
    required: ['runId', 'duplicate'],
    properties: { runId: { type: 'string' }, duplicate: { type: 'boolean' } },
    additionalProperties: false,
  },
  retry: { attempts: 10, backoffMs: 500 },
  handler: (input, ctx) =>
    ctx.services.startRun({ workflow: input.workflow, input: input.input ?? {}, businessKey: input.businessKey ?? null, idempotencyKey: `child:${ctx.idempotencyKey}` }),
});
