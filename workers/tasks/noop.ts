// The built-in `noop` task: does nothing, successfully.
import { defineTask } from '../../engine/index.ts';

export const noop = defineTask({
  name: 'noop',
  description: 'Does nothing and succeeds.',
  input: { type: 'object', additionalProperties: true },
  output: { type: 'object', additionalProperties: false },
  retry: { attempts: 1 },
  handler: async () => ({}),
});
