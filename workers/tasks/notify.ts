// The `notify` task: tells people something (assignee, manager, stakeholders) through its adapter.
import { defineTask } from '../../engine/index.ts';
import { deliver, type AdapterConfig } from '../adapters/index.ts';

export function notifyTask(adapters: AdapterConfig) {
  return defineTask({
    name: 'notify',
    description: 'Notify people or channels; records the notification by default, or posts a signed webhook.',
    input: {
      type: 'object',
      required: ['to', 'subject'],
      properties: {
        to: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
        subject: { type: 'string', maxLength: 500 },
        message: { type: 'string', maxLength: 10_000 },
        channel: { type: 'string' },
      },
      additionalProperties: true,
    },
    output: deliveryOutput,
    retry: { attempts: 5, backoffMs: 1000 },
    timeoutMs: 15_000,
    handler: (input, ctx) => deliver(adapters.notify, 'notify', input, ctx),
  });
}

export const deliveryOutput = {
  type: 'object',
  required: ['adapter', 'delivered'],
  properties: { adapter: { type: 'string' }, delivered: { type: 'boolean' }, status: { type: 'integer' } },
  additionalProperties: true,
} as const;
