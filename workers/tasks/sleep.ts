// The built-in `sleep` task: waits `ms` milliseconds, and stops early when the task is withdrawn.
import { defineTask } from '../../engine/index.ts';

export const sleep = defineTask({
  name: 'sleep',
  description: 'Waits the given number of milliseconds (0 to 60000); honours cancellation.',
  input: {
    type: 'object',
    properties: { ms: { type: 'integer', minimum: 0, maximum: 60_000 } },
    required: ['ms'],
    additionalProperties: false,
  },
  output: {
    type: 'object',
    properties: { sleptMs: { type: 'integer' } },
    required: ['sleptMs'],
    additionalProperties: false,
  },
  timeoutMs: 70_000,
  handler: async (input, ctx) => {
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, input.ms);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(ctx.signal.reason);
      }, { once: true });
    });
    return { sleptMs: Date.now() - started };
  },
});
