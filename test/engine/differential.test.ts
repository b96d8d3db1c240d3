// Differential test: random sequences of events and timer firings through the durable engine (stopped
// and restarted between some of them) against a live XState actor of the same machine: after every
// event and every timer, the same configuration, context, accepted events, emitted events, pending
// timers, and events sent to the parent run and to a child run. The machine sends itself events,
// sends to its parent and a child, raises and sends with and without delay and id, cancels, and has
// guards, actions and delays that throw.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { assign, cancel, createActor, emit, enqueueActions, forwardTo, fromTransition, raise, sendParent, sendTo, setup, type AnyActorRef } from 'xstate';
import type { Redis } from 'ioredis';
import { defineWorkflow, runRef, type RunView } from '../../engine/index.ts';
import { createEngineInstance as createEngine, type EngineInstance as Engine } from '../../engine/testing.ts';
import { connect, dropPrefix, manualClock, newPrefix, waitFor } from '../helpers.ts';

type Ev = { type: string; n?: number; delay?: number; id?: string; tick?: string; to?: 'self' | 'parent' };
type Context = { total: number; toggles: number; trail: string[]; boom: boolean; childRunId: string };

function explodes(context: Context): void {
  if (context.boom) throw new Error('boom');
}

const machine = setup({
  types: {} as { context: Context; events: Ev; input: { start?: number; childRunId: string } },
  guards: {
    big: ({ context }) => context.total > 5,
    hasN: ({ event }) => typeof event.n === 'number',
    // Throws while `boom` is set.
    careful: ({ context }) => (explodes(context), true),
  },
  delays: { risky: ({ context }) => (explodes(context), 61_000) },
}).createMachine({
  id: 'diff',
  context: ({ input }) => ({ total: input.start ?? 0, toggles: 0, trail: [], boom: false, childRunId: input.childRunId }),
  initial: 'idle',
  on: {
    SELF: { actions: sendTo(({ self }) => self, { type: 'PING' }) },
    TELL_PARENT: { actions: sendParent(({ context }) => ({ type: 'UP', n: context.total })) },
    TELL_CHILD: { actions: sendTo(({ context }) => runRef(context.childRunId), { type: 'DOWN' }) },
    FORWARD: { actions: forwardTo(({ context }) => runRef(context.childRunId)) },
    RAISE: { actions: enqueueActions(({ event, enqueue }) => enqueue.raise({ type: event.tick ?? 'TICK' }, { delay: event.delay, id: event.id })) },
    SEND_LATER: {
      actions: enqueueActions(({ event, enqueue }) => {
        if (event.to === 'parent') enqueue.sendParent({ type: 'LATE' }, { delay: event.delay, id: event.id });
        else enqueue.sendTo(({ self }: { self: AnyActorRef }) => self, { type: event.tick ?? 'TICK' }, { delay: event.delay, id: event.id });
      }),
    },
    CANCEL: { actions: cancel(({ event }) => event.id ?? 'TICK') },
    BOOM: { actions: assign({ boom: true }) },
    CALM: { actions: assign({ boom: false }) },
    THROW: { actions: assign(() => { throw new Error('thrown'); }) },
    RISKY_DELAY: { actions: raise({ type: 'TOCK' }, { delay: 'risky' }) },
    TICK: { guard: 'careful', actions: assign({ trail: ({ context }) => [...context.trail, 'tick'] }) },
    PING: { guard: 'careful', actions: assign({ trail: ({ context }) => [...context.trail, 'ping'] }) },
    EMIT: { actions: [emit(({ context }) => ({ type: 'diff.noted', total: context.total })), emit({ type: 'plain' })] },
  },
  states: {
    idle: {
      on: {
        A: 'active',
        ADD: { guard: 'hasN', actions: assign({ total: ({ context, event }) => context.total + (event.n ?? 0) }) },
        TOCK: { actions: [assign({ trail: ({ context }) => [...context.trail, 'tock'] }), sendTo(({ self }) => self, { type: 'A' })] },
      },
    },
    active: {
      type: 'parallel',
      states: {
        left: {
          initial: 'one',
          states: {
            one: { on: { B: 'two', PING: 'two' } },
            two: { on: { B: 'one', C: 'three' } },
            three: { always: { guard: 'big', target: 'one' }, on: { B: 'one' } },
          },
        },
        right: {
          initial: 'off',
          states: {
            off: { on: { TOGGLE: { target: 'on', actions: assign({ toggles: ({ context }) => context.toggles + 1 }) } } },
            on: { on: { TOGGLE: 'off', TICK: { guard: 'careful', target: 'off' } } },
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

/** Keeps the type of every event it gets: the parent and the child of the run under test. */
const sinkMachine = setup({ types: {} as { context: { got: string[] }; events: { type: string } } }).createMachine({
  id: 'sink', context: { got: [] }, initial: 'on',
  states: { on: { on: { '*': { actions: assign({ got: ({ context, event }) => [...context.got, event.type] }) } } } },
});
const sink = defineWorkflow({ name: 'sink', version: 1, description: 'records every event', machine: sinkMachine });

type Input = { kind: 'event'; event: Ev } | { kind: 'fire' };

/** A clock for the live actor that fires one timeout at a time, earliest first (ties: scheduled first). */
class StepClock {
  private seq = 0;
  readonly timeouts = new Map<number, { due: number; fn: () => void; type: string }>();
  /** The event the scheduler is about to set a timeout for (the clock itself is not told). */
  scheduling = '';
  constructor(public now: number) {}
  setTimeout(fn: () => void, ms: number): number {
    this.timeouts.set(++this.seq, { due: this.now + ms, fn, type: this.scheduling });
    return this.seq;
  }
  clearTimeout(id: number): void {
    this.timeouts.delete(id);
  }
  pending(): [string, number][] {
    return [...this.timeouts.entries()].sort(([a, x], [b, y]) => x.due - y.due || a - b).map(([, t]) => [t.type, t.due]);
  }
  fireEarliest(): void {
    const [id, t] = [...this.timeouts.entries()].sort(([a, x], [b, y]) => x.due - y.due || a - b)[0];
    this.timeouts.delete(id);
    this.now = t.due;
    t.fn();
  }
}

/**
 * The live reference: an actor with a parent actor, rebuilt from the inputs it accepted. An outside
 * event that makes it throw is dropped from those inputs, since the engine refuses such an event whole.
 */
class Live {
  clock!: StepClock;
  actor!: ReturnType<typeof createActor<typeof machine>>;
  /** The live actor's parent: the root of its actor system. */
  root!: AnyActorRef;
  toParent: string[] = [];
  toChild: string[] = [];
  emitted: string[] = [];
  private readonly accepted: Input[] = [];
  constructor(private readonly t0: number, private readonly start: number, private readonly childRunId: string) {
    this.build();
  }
  private build(): void {
    this.clock = new StepClock(this.t0);
    this.toParent = [];
    this.toChild = [];
    this.emitted = [];
    const parent = createActor(fromTransition((s: null, e: { type: string }) => {
      if (!e.type.startsWith('xstate.')) this.toParent.push(e.type);
      return s;
    }, null), { clock: this.clock }).start();
    this.root?.stop();
    this.root = parent;
    parent.system.inspect((ev) => {
      if (ev.type === '@xstate.event' && (ev.actorRef as { id?: string } | undefined)?.id === `run:${this.childRunId}`) this.toChild.push(ev.event.type);
    });
    const scheduler = parent.system.scheduler as { schedule: (...a: [AnyActorRef, AnyActorRef, { type: string }, number, string?]) => void };
    const schedule = scheduler.schedule;
    scheduler.schedule = (...a) => {
      this.clock.scheduling = a[2].type;
      schedule(...a);
    };
    this.actor = createActor(machine, { parent, clock: this.clock, input: { start: this.start, childRunId: this.childRunId } });
    this.actor.on('*', (e) => void this.emitted.push(e.type));
    this.actor.start();
    for (const input of this.accepted) this.apply(input);
  }
  private apply(input: Input): void {
    if (input.kind === 'event') this.actor.send(input.event as never);
    else this.clock.fireEarliest();
  }
  /** Apply an input; false when it was an outside event that threw (and the reference rolled back). */
  take(input: Input): boolean {
    this.apply(input);
    if (input.kind === 'event' && this.actor.getSnapshot().status === 'error') {
      this.build();
      return false;
    }
    this.accepted.push(input);
    return true;
  }
  get snapshot() {
    return this.actor.getSnapshot();
  }
}

function liveNextEvents(snapshot: Live['snapshot']): string[] {
  if (snapshot.status !== 'active') return [];
  return [...new Set(snapshot._nodes.flatMap((n) => n.ownEvents))].filter((e) => !e.startsWith('xstate.') && e !== '*').sort();
}

/** A run's timers, earliest first; ties in the order they were scheduled (`<send id>@<seq>.<index>`). */
function byFiringOrder(run: RunView): RunView['timers'] {
  const order = (id: string) => id.slice(id.lastIndexOf('@') + 1).split('.').map(Number);
  return [...run.timers].sort((a, b) => Date.parse(a.dueAt) - Date.parse(b.dueAt) || order(a.id)[0] - order(b.id)[0] || order(a.id)[1] - order(b.id)[1]);
}

function enginePending(run: RunView): [string, number][] {
  return byFiringOrder(run).map((t) => [t.event, Date.parse(t.dueAt)]);
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

const delayArb = fc.constantFrom(60_000, 61_000, 62_000);
const idArb = fc.constantFrom<string | undefined>(undefined, undefined, 'a', 'b', 'TICK');
const eventArb: fc.Arbitrary<Ev> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom<Ev>({ type: 'A' }, { type: 'B' }, { type: 'C' }, { type: 'TOGGLE' }, { type: 'RESET' }, { type: 'FINISH' }, { type: 'ADD' }) },
  { weight: 3, arbitrary: fc.integer({ min: -3, max: 5 }).map((n): Ev => ({ type: 'ADD', n })) },
  { weight: 4, arbitrary: fc.constantFrom<Ev>({ type: 'SELF' }, { type: 'TELL_PARENT' }, { type: 'TELL_CHILD' }, { type: 'FORWARD', n: 7 }, { type: 'EMIT' }) },
  { weight: 5, arbitrary: fc.record({ delay: delayArb, id: idArb, tick: fc.constantFrom('TICK', 'TOCK', 'PING') }).map(({ delay, id, tick }): Ev => ({ type: 'RAISE', delay, tick, ...(id ? { id } : {}) })) },
  { weight: 3, arbitrary: fc.record({ delay: delayArb, id: idArb, to: fc.constantFrom<'self' | 'parent'>('self', 'parent') }).map(({ delay, id, to }): Ev => ({ type: 'SEND_LATER', delay, to, ...(id ? { id } : {}) })) },
  { weight: 3, arbitrary: idArb.map((id): Ev => ({ type: 'CANCEL', ...(id ? { id } : {}) })) },
  { weight: 2, arbitrary: fc.constantFrom<Ev>({ type: 'BOOM' }, { type: 'CALM' }, { type: 'CALM' }, { type: 'THROW' }, { type: 'RISKY_DELAY' }) },
);
const stepArb = fc.oneof(
  { weight: 3, arbitrary: fc.record({ input: eventArb.map((event): Input => ({ kind: 'event', event })), restart: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ input: fc.constant<Input>({ kind: 'fire' }), restart: fc.boolean() }) },
);

const gotOf = async (engine: Engine, runId: string) => ((await engine.getRun(runId)).context as { got: string[] }).got;

test('random events, self/parent/child sends, delayed raises and sends, cancels and throwing expressions match a live actor after every step', async (ctx) => {
  const clock = manualClock(Date.now());
  const make = (redis: Redis) => createEngine({ redis, prefix: ctx.prefix, clock, workflows: [workflow, sink] });
  let engine: Engine = make(ctx.redis);
  const extra: Redis[] = [];
  try {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 4 }), fc.array(stepArb, { minLength: 8, maxLength: 30 }), async (start, steps) => {
        const parent = (await engine.startRun({ workflow: 'sink' })).run;
        const child = (await engine.startRun({ workflow: 'sink' })).run;
        const { run } = await engine.startRun({ workflow: 'diff', parentRunId: parent.id, input: { start, childRunId: child.id } });
        const live = new Live(clock.now(), start, child.id);
        for (const { input, restart } of steps) {
          if (restart) {
            // A new engine on a new connection: nothing survives in memory.
            await engine.close();
            const redis = await connect();
            extra.push(redis);
            engine = make(redis);
          }
          if (input.kind === 'fire') {
            const before = await engine.getRun(run.id);
            if (!before.timers.length) continue;
            const timer = byFiringOrder(before)[0];
            clock.set(Date.parse(timer.dueAt));
            const res = await engine.runs.fireTimer(run.id, timer.id);
            assert.ok(res.applied, 'the timer fires');
            live.take(input);
          } else {
            const ok = live.take(input);
            let code: string | undefined;
            try {
              await engine.sendEvent(run.id, { ...input.event });
            } catch (err) {
              code = (err as { code?: string }).code;
            }
            if (!ok) assert.is(code, 'WORKFLOW_ERROR', `${input.event.type} throws in the live actor`);
            else assert.ok(code === undefined || code === 'EVENT_NOT_ACCEPTED' || code === 'RUN_ENDED', `${input.event.type}: ${code}`);
          }
          const snap = live.snapshot;
          const stored = await engine.getRun(run.id);
          const status = { active: 'running', done: 'done', error: 'failed', stopped: 'stopped' }[snap.status];
          assert.is(stored.status, status, 'status');
          if (snap.status !== 'error') {
            assert.equal(stored.state, snap.value, 'configuration');
            assert.equal(stored.context, snap.context, 'context');
          }
          assert.equal(stored.nextEvents, liveNextEvents(snap), 'accepted events');
          if (snap.status === 'active') assert.equal(enginePending(stored), live.clock.pending(), 'pending timers');
          else assert.equal(stored.timers, [], 'no timer outlives the run');
          const history = (await engine.getHistory(run.id, { limit: 1000 })).items;
          const emitted = history.filter((h) => h.type === 'diff.noted' || h.type === 'workflow.emitted').map((h) => (h.type === 'workflow.emitted' ? (h.emitted as { type: string }).type : h.type));
          assert.equal(emitted, live.emitted, 'emitted events');
          await waitFor(async () => JSON.stringify(await gotOf(engine, parent.id)) === JSON.stringify(live.toParent), 5000, 'the parent run to get what the live parent got').catch(async () => {
            assert.equal(await gotOf(engine, parent.id), live.toParent, 'events sent to the parent');
          });
          await waitFor(async () => JSON.stringify(await gotOf(engine, child.id)) === JSON.stringify(live.toChild), 5000, 'the child run to get what the live child got').catch(async () => {
            assert.equal(await gotOf(engine, child.id), live.toChild, 'events sent to the child');
          });
          if (snap.status !== 'active') break;
        }
        if (live.snapshot.status === 'done') assert.equal((await engine.getRun(run.id)).output, live.snapshot.output);
        live.root.stop();
      }),
      { numRuns: 80 },
    );
  } catch (err) {
    // uvu shows fast-check's message (the counterexample); the assertion that failed is its cause.
    console.error((err as { cause?: unknown }).cause);
    throw err;
  } finally {
    await engine.close();
    for (const r of extra) await r.quit();
  }
});

test.run();
