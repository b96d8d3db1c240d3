// Differential test: random event sequences through the durable engine (stopped and restarted between
// some events) end exactly where a live XState actor of the same machine ends.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { assign, createActor, setup } from 'xstate';
import type { Redis } from 'ioredis';
import { createEngine, defineWorkflow, type Engine } from '../../engine/index.ts';
import { connect, dropPrefix, newPrefix } from '../helpers.ts';

type Ev = { type: 'A' | 'B' | 'C' | 'TOGGLE' | 'ADD' | 'RESET' | 'FINISH'; n?: number };

const machine = setup({
  types: {} as { context: { total: number; toggles: number; trail: string[] }; events: Ev; input: { start?: number } },
  guards: { big: ({ context }) => context.total > 5, hasN: ({ event }) => typeof event.n === 'number' },
}).createMachine({
  id: 'diff',
  context: ({ input }) => ({ total: input.start ?? 0, toggles: 0, trail: [] }),
  initial: 'idle',
  states: {
    idle: { on: { A: 'active', ADD: { guard: 'hasN', actions: assign({ total: ({ context, event }) => context.total + (event.n ?? 0) }) } } },
    active: {
      type: 'parallel',
      states: {
        left: {
          initial: 'one',
          states: {
            one: { on: { B: 'two' } },
            two: { on: { B: 'one', C: 'three' } },
            three: { always: { guard: 'big', target: 'one' }, on: { B: 'one' } },
          },
        },
        right: {
          initial: 'off',
          states: {
            off: { on: { TOGGLE: { target: 'on', actions: assign({ toggles: ({ context }) => context.toggles + 1 }) } } },
            on: { on: { TOGGLE: 'off' } },
          },
        },
      },
      on: {
        ADD: { guard: 'hasN', actions: assign({ total: ({ context, event }) => context.total + (event.n ?? 0), trail: ({ context, event }) => [...context.trail, `+${event.n}`] }) },
        RESET: { target: 'idle', actions: assign({ total: 0 }) },
        FINISH: { guard: 'big', target: 'finished' },
      },
    },
    finished: { type: 'final' },
  },
  output: ({ context }) => ({ total: context.total }),
});

const workflow = defineWorkflow({ name: 'diff', version: 1, description: 'differential test machine', machine });

function liveNextEvents(snapshot: ReturnType<ReturnType<typeof createActor<typeof machine>>['getSnapshot']>): string[] {
  if (snapshot.status !== 'active') return [];
  return [...new Set(snapshot._nodes.flatMap((n) => n.ownEvents))].filter((e) => !e.startsWith('xstate.') && e !== '*').sort();
}

interface Ctx {
  redis: Redis;
  prefix: string;
}

const test = suite<Ctx>('differential', {} as Ctx);

test.before(async (ctx) => {
  ctx.redis = await connect();
  ctx.prefix = newPrefix();
});

test.after(async (ctx) => {
  await dropPrefix(ctx.redis, ctx.prefix);
  await ctx.redis.quit();
});

const eventArb: fc.Arbitrary<Ev> = fc.oneof(
  fc.constantFrom<Ev>({ type: 'A' }, { type: 'B' }, { type: 'C' }, { type: 'TOGGLE' }, { type: 'RESET' }, { type: 'FINISH' }, { type: 'ADD' }),
  fc.integer({ min: -3, max: 5 }).map((n): Ev => ({ type: 'ADD', n })),
);

test('random event sequences with restarts end in the same state, context and accepted events as a live actor', async (ctx) => {
  let engine: Engine = createEngine({ redis: ctx.redis, prefix: ctx.prefix, workflows: [workflow] });
  const extra: Redis[] = [];
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 4 }), fc.array(fc.record({ event: eventArb, restart: fc.boolean() }), { maxLength: 20 }), async (start, steps) => {
      const actor = createActor(machine, { input: { start } }).start();
      const { run } = await engine.startRun({ workflow: 'diff', input: { start } });
      for (const { event, restart } of steps) {
        if (restart) {
          // A new engine on a new connection: nothing survives in memory.
          await engine.close();
          const redis = await connect();
          extra.push(redis);
          engine = createEngine({ redis, prefix: ctx.prefix, workflows: [workflow] });
        }
        actor.send(event);
        try {
          await engine.sendEvent(run.id, { ...event });
        } catch (err) {
          const code = (err as { code?: string }).code;
          if (code !== 'EVENT_NOT_ACCEPTED' && code !== 'RUN_ENDED') throw err;
        }
      }
      const live = actor.getSnapshot();
      const stored = await engine.getRun(run.id);
      assert.equal(stored.state, live.value);
      assert.equal(stored.context, live.context);
      assert.equal(stored.nextEvents, liveNextEvents(live));
      assert.is(stored.status === 'done', live.status === 'done');
      if (live.status === 'done') assert.equal(stored.output, live.output);
      actor.stop();
    }),
    { numRuns: 40 },
  );
  await engine.close();
  for (const r of extra) await r.quit();
});

test.run();
