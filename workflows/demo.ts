// A small workflow that proves the durable path end to end: a task, then a timer, then done.
import { assign, setup } from 'xstate';
import { defineWorkflow, taskActors } from '../engine/definition/index.ts';

interface DemoInput {
  sleepMs?: number;
  coolDownMs?: number;
  $at: number;
}

const machine = setup({
  types: {} as { context: { sleepMs: number; coolDownMs: number; slept: number | null; startedAt: number; finishedAt: number | null }; input: DemoInput },
  actors: taskActors('sleep'),
  delays: { coolDown: ({ context }) => context.coolDownMs },
}).createMachine({
  id: 'demo',
  context: ({ input }) => ({
    sleepMs: input.sleepMs ?? 100, coolDownMs: input.coolDownMs ?? 1000, slept: null, startedAt: input.$at, finishedAt: null,
  }),
  initial: 'working',
  states: {
    working: {
      invoke: {
        id: 'nap',
        src: 'sleep',
        input: ({ context }: { context: { sleepMs: number } }) => ({ ms: context.sleepMs }),
        onDone: { target: 'coolingDown', actions: assign({ slept: ({ event }) => (event.output as { sleptMs: number }).sleptMs }) },
        onError: 'failed',
      },
      on: { SKIP: 'coolingDown' },
    },
    coolingDown: {
      after: { coolDown: 'finished' },
      on: { FINISH: 'finished' },
    },
    finished: {
      type: 'final',
      entry: assign({ finishedAt: ({ event }) => (event as unknown as { $at: number }).$at }),
    },
    failed: { type: 'final' },
  },
  output: ({ context }) => ({ slept: context.slept, startedAt: context.startedAt, finishedAt: context.finishedAt }),
});

export const demo = defineWorkflow({
  name: 'demo',
  version: 1,
  description: 'Sleeps with a task, cools down on a timer, then finishes. Events: SKIP, FINISH.',
  machine,
  builtIn: true,
  inputSchema: {
    type: 'object',
    properties: { sleepMs: { type: 'integer', minimum: 0, maximum: 60000 }, coolDownMs: { type: 'integer', minimum: 0 } },
    additionalProperties: false,
  },
});
