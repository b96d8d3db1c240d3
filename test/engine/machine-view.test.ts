// What a machine sees through the engine: the time of every event it handles, the run's own identity
// in its input, and a fresh human task each time a human-task state is entered.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { assign, setup, type AnyEventObject } from 'xstate';
import { defineWorkflow, taskActors, type RunId } from '../../engine/index.ts';
import { builtInTasks } from '../../workers/tasks/index.ts';
import { closeEngine, openEngine, type EngineFixture } from './engine-fixture.ts';
import { manualClock, waitFor } from '../helpers.ts';

type Times = Record<string, number | null>;
type StampedContext = { runId: unknown; businessKey: unknown; startedAt: number; times: Times };

/** Records the `$at` of the event being handled under `key` (null when it has none). */
const stamp = (key: string) => ({ type: 'stamp', params: { key } }) as const;

const stamped = defineWorkflow({
  name: 'stamped', version: 1, description: 'records the time of each kind of event it handles',
  machine: setup({
    types: {} as { context: StampedContext; input: Record<string, unknown> & { $at: number } },
    actors: taskActors('noop'),
    actions: {
      stamp: assign(({ context, event }: { context: StampedContext; event: AnyEventObject }, params: { key: string }) => ({
        times: { ...context.times, [params.key]: typeof event.$at === 'number' ? event.$at : null },
      })),
    },
  }).createMachine({
    id: 'stamped',
    context: ({ input }) => ({ runId: input.$runId, businessKey: input.$businessKey, startedAt: input.$at, times: {} }),
    initial: 'work',
    states: {
      work: {
        initial: 'a',
        states: { a: { on: { FINISH: 'b' } }, b: { type: 'final' } },
        onDone: { target: 'both', actions: stamp('stateDone') },
      },
      both: {
        type: 'parallel',
        states: {
          x: { initial: 'open', states: { open: { on: { X: 'closed' } }, closed: { type: 'final' } } },
          y: { initial: 'open', states: { open: { on: { Y: 'closed' } }, closed: { type: 'final' } } },
        },
        onDone: { target: 'tasking', actions: stamp('parallelDone') },
      },
      tasking: { invoke: { id: 'noop', src: 'noop', onDone: { target: 'waiting', actions: stamp('taskDone') } } },
      waiting: { after: { 1: { target: 'closed', actions: stamp('timer') } } },
      closed: { type: 'final' },
    },
    output: ({ context }) => context,
  }),
});

const reviewed = defineWorkflow({
  name: 'reviewed', version: 1, description: 'a review that can be restarted in place or bounced back',
  machine: setup({ types: {} as { context: Record<string, never> } }).createMachine({
    id: 'reviewed',
    context: {},
    initial: 'review',
    states: {
      review: {
        meta: { humanTask: { role: 'reviewer', title: 'Review {number}', outcomes: { OK: 'APPROVE', AGAIN: 'REDO' } } },
        on: { REDO: { target: 'review', reenter: true }, BOUNCE: 'bounced', APPROVE: 'approved' },
      },
      // Back to review within the same step.
      bounced: { always: 'review' },
      approved: { type: 'final' },
    },
  }),
});

interface Ctx extends EngineFixture {
  clock: ReturnType<typeof manualClock>;
}

const test = suite<Ctx>('machine view', {} as Ctx);

test.before(async (ctx) => {
  ctx.clock = manualClock();
  await openEngine(ctx, () => ({ clock: ctx.clock, workflows: [stamped, reviewed], tasks: builtInTasks }));
});

test.after(closeEngine);

async function storedDoc(ctx: Ctx, runId: string): Promise<{ input: unknown; snapshot: { context: StampedContext } }> {
  return JSON.parse((await ctx.redis.hget(ctx.engine.keys.run(runId as RunId), 'doc'))!);
}

async function openReviewTasks(ctx: Ctx, runId: string): Promise<string[]> {
  return (await ctx.engine.listHumanTasks({ status: 'open', runId })).items.map((t) => t.id);
}

test('the done events of a compound and a parallel state carry the step time as $at, like task results and timers', async (ctx) => {
  const t0 = ctx.clock.now();
  const { run } = await ctx.engine.startRun({ workflow: 'stamped' });
  ctx.clock.set(t0 + 1000);
  await ctx.engine.sendEvent(run.id, { type: 'FINISH' });
  ctx.clock.set(t0 + 2000);
  await ctx.engine.sendEvent(run.id, { type: 'X' });
  ctx.clock.set(t0 + 3000);
  await ctx.engine.sendEvent(run.id, { type: 'Y' });
  const done = await waitFor(async () => {
    const r = await ctx.engine.getRun(run.id);
    return r.status === 'done' ? r : null;
  }, 10_000, 'the run to end');
  const { context } = (await storedDoc(ctx, run.id)).snapshot;
  assert.is(context.startedAt, t0);
  assert.equal(context.times, { stateDone: t0 + 1000, parallelDone: t0 + 3000, taskDone: t0 + 3000, timer: t0 + 3000 });
  assert.equal((done.output as StampedContext).times, context.times);
});

test('the context factory sees the run id and business key; the stored and shown input stay as sent', async (ctx) => {
  const { run } = await ctx.engine.startRun({ workflow: 'stamped', input: { note: 'as sent' }, businessKey: 'STAMP-1' });
  const doc = await storedDoc(ctx, run.id);
  assert.equal([doc.snapshot.context.runId, doc.snapshot.context.businessKey], [run.id, 'STAMP-1']);
  assert.equal(doc.input, { note: 'as sent' });
  assert.equal((await ctx.engine.getRun(run.id)).input, { note: 'as sent' });
  const started = (await ctx.engine.getHistory(run.id)).items.find((h) => h.type === 'run.started') as unknown as { input: unknown };
  assert.equal(started.input, { note: 'as sent' });

  const { run: keyless } = await ctx.engine.startRun({ workflow: 'stamped' });
  const context = (await storedDoc(ctx, keyless.id)).snapshot.context;
  assert.equal([context.runId, context.businessKey], [keyless.id, null]);
});

test('a JSON workflow reads the run id and business key with $input; without a context it gets the input alone', async (ctx) => {
  await ctx.engine.registerJsonWorkflow({ name: 'json-identity', definition: { initial: 'idle', context: { runId: { $input: '$runId' }, key: { $input: '$businessKey' } }, states: { idle: {} } } });
  const { run } = await ctx.engine.startRun({ workflow: 'json-identity', businessKey: 'JSON-1' });
  assert.equal(run.context, { runId: run.id, key: 'JSON-1' });
  await ctx.engine.registerJsonWorkflow({ name: 'json-plain', definition: { initial: 'idle', states: { idle: {} } } });
  const { run: plain } = await ctx.engine.startRun({ workflow: 'json-plain', input: { a: 1 }, businessKey: 'JSON-2' });
  assert.equal(plain.context, { a: 1 });
});

test('re-entering a human-task state withdraws its task and opens a new one', async (ctx) => {
  const { run } = await ctx.engine.startRun({ workflow: 'reviewed', businessKey: 'REV-1' });
  const [first] = await openReviewTasks(ctx, run.id);
  assert.ok(first);

  await ctx.engine.sendEvent(run.id, { type: 'REDO' });
  const [second] = await openReviewTasks(ctx, run.id);
  assert.ok(second && second !== first, 'a self-transition with reenter opens a new task');
  assert.is((await ctx.engine.getHumanTask(first)).status, 'withdrawn');

  await ctx.engine.sendEvent(run.id, { type: 'BOUNCE' });
  const [third] = await openReviewTasks(ctx, run.id);
  assert.ok(third && third !== second, 'a loop back within one step opens a new task');
  assert.is((await ctx.engine.getHumanTask(second)).status, 'withdrawn');

  // Completing a task with an outcome that re-enters its state closes it as done and opens the next.
  await ctx.engine.completeHumanTask(third, { outcome: 'AGAIN', by: 'rita' });
  const open = await openReviewTasks(ctx, run.id);
  assert.is(open.length, 1);
  assert.ok(open[0] !== third);
  assert.equal([(await ctx.engine.getHumanTask(third)).status, (await ctx.engine.getHumanTask(third)).outcome], ['done', 'AGAIN']);
  const view = await ctx.engine.getRun(run.id);
  assert.equal(view.humanTasks.map((h) => h.id), open);

  const history = (await ctx.engine.getHistory(run.id, { limit: 500 })).items as unknown as { type: string; humanTaskId?: string }[];
  assert.is(history.filter((h) => h.type === 'human.opened').length, 4);
  assert.equal(history.filter((h) => h.type === 'human.withdrawn').map((h) => h.humanTaskId), [first, second]);
  assert.equal(history.filter((h) => h.type === 'human.completed').map((h) => h.humanTaskId), [third]);

  await ctx.engine.completeHumanTask(open[0], { outcome: 'OK', by: 'rita' });
  assert.is((await ctx.engine.getRun(run.id)).status, 'done');
  assert.equal(await openReviewTasks(ctx, run.id), []);
});

test.run();
