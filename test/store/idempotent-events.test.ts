// A repeated event (same idempotency key) answers what the first one got, through the engine's API,
// whatever became of the run since: the key is checked by the commit itself, and read on its own
// only when the step cannot be taken.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Redis } from 'ioredis';
import { createEngine, type Engine } from '../../engine/index.ts';
import { connect, dropPrefix, newPrefix } from '../helpers.ts';
import { testTasks, testWorkflows } from '../fixtures/workflows.ts';
import { builtInTasks } from '../../workers/tasks/index.ts';

interface Ctx {
  redis: Redis;
  engine: Engine;
  prefix: string;
}

const tasksOf = (ctx: Ctx) => [...builtInTasks, ...testTasks(ctx.redis, ctx.prefix)];

const test = suite<Ctx>('idempotent-events', {} as Ctx);

test.before(async (ctx) => {
  ctx.redis = await connect();
  ctx.prefix = newPrefix();
  ctx.engine = createEngine({ redis: ctx.redis, prefix: ctx.prefix, workflows: testWorkflows, tasks: tasksOf(ctx) });
});

test.after(async (ctx) => {
  await ctx.engine.close();
  await dropPrefix(ctx.redis, ctx.prefix);
  await ctx.redis.quit();
});

test('a repeat while the run still takes the event answers the first result and steps nothing', async (ctx) => {
  const { run } = await ctx.engine.startRun({ workflow: 'counter' });
  const first = await ctx.engine.sendEvent(run.id, { type: 'INC' }, { idempotencyKey: 'inc-1' });
  const again = await ctx.engine.sendEvent(run.id, { type: 'INC' }, { idempotencyKey: 'inc-1' });
  assert.is(first.duplicate, false);
  assert.is(again.duplicate, true);
  assert.equal(again.run, first.run);
  assert.is(((await ctx.engine.getRun(run.id)).context as { count: number }).count, 1);
  const received = (await ctx.engine.getHistory(run.id)).items.filter((h) => h.type === 'event.received');
  assert.is(received.length, 1);
});

test('a repeat after the first request ended the run answers the first result, not RUN_ENDED', async (ctx) => {
  const { run } = await ctx.engine.startRun({ workflow: 'counter' });
  const first = await ctx.engine.sendEvent(run.id, { type: 'DONE' }, { idempotencyKey: 'done-1' });
  assert.is(first.run.status, 'done');
  const again = await ctx.engine.sendEvent(run.id, { type: 'DONE' }, { idempotencyKey: 'done-1' });
  assert.is(again.duplicate, true);
  assert.equal(again.run, first.run);
  // A new key on the ended run is refused as before.
  try {
    await ctx.engine.sendEvent(run.id, { type: 'DONE' }, { idempotencyKey: 'done-2' });
    assert.unreachable('an ended run takes no event');
  } catch (err) {
    assert.is((err as { code?: string }).code, 'RUN_ENDED');
  }
});

test('a repeat of an event the run no longer accepts answers the first result, not EVENT_NOT_ACCEPTED', async (ctx) => {
  const { run } = await ctx.engine.startRun({ workflow: 'counter' });
  const first = await ctx.engine.sendEvent(run.id, { type: 'PAUSE' }, { idempotencyKey: 'pause-1' });
  assert.is(first.run.state, 'paused');
  const again = await ctx.engine.sendEvent(run.id, { type: 'PAUSE' }, { idempotencyKey: 'pause-1' });
  assert.is(again.duplicate, true);
  assert.equal(again.run, first.run);
  try {
    await ctx.engine.sendEvent(run.id, { type: 'PAUSE' }, { idempotencyKey: 'pause-2' });
    assert.unreachable('paused takes no PAUSE');
  } catch (err) {
    assert.is((err as { code?: string }).code, 'EVENT_NOT_ACCEPTED');
  }
});

test('a repeat from another process (no cached record) answers the first result', async (ctx) => {
  const { run } = await ctx.engine.startRun({ workflow: 'counter' });
  const first = await ctx.engine.sendEvent(run.id, { type: 'INC' }, { idempotencyKey: 'inc-x' });
  const other = createEngine({ redis: ctx.redis, prefix: ctx.prefix, workflows: testWorkflows, tasks: tasksOf(ctx) });
  try {
    const again = await other.sendEvent(run.id, { type: 'INC' }, { idempotencyKey: 'inc-x' });
    assert.is(again.duplicate, true);
    assert.equal(again.run, first.run);
  } finally {
    await other.close();
  }
  assert.is(((await ctx.engine.getRun(run.id)).context as { count: number }).count, 1);
});

test('a repeated start (same idempotency key) answers the run the first one made, and starts nothing', async (ctx) => {
  const first = await ctx.engine.startRun({ workflow: 'counter', input: { start: 3 }, idempotencyKey: 'start-1' });
  await ctx.engine.sendEvent(first.run.id, { type: 'INC' });
  const again = await ctx.engine.startRun({ workflow: 'counter', input: { start: 3 }, idempotencyKey: 'start-1' });
  assert.is(first.duplicate, false);
  assert.is(again.duplicate, true);
  assert.is(again.run.id, first.run.id);
  assert.is((again.run.context as { count: number }).count, 4, 'the run as it is now');
  const started = (await ctx.engine.getHistory(first.run.id)).items.filter((h) => h.type === 'run.started');
  assert.is(started.length, 1);
});

test.run();
