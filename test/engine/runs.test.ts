// The durable run through the engine's exported API, against a real redis-server.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type RunId } from '../../engine/index.ts';
import { createEngineInstance as createEngine } from '../../engine/testing.ts';
import { builtInTasks } from '../../workers/tasks/index.ts';
import { closeEngine, openEngine, type EngineFixture } from './engine-fixture.ts';
import { connect, waitFor } from '../helpers.ts';
import { testTasks, testWorkflows } from '../fixtures/workflows.ts';

type Ctx = EngineFixture;

const test = suite<Ctx>('runs', {} as Ctx);

test.before((ctx) => openEngine(ctx, (redis, prefix) => ({ workflows: testWorkflows, tasks: [...builtInTasks, ...testTasks(redis, prefix)] })));

test.after(closeEngine);

async function storedSeq(ctx: Ctx, runId: string): Promise<number> {
  return Number(await ctx.redis.hget(ctx.engine.keys.run(runId as RunId), 'seq'));
}

test('a started run is stored in Redis with its state, accepted events and history', async (ctx) => {
  const { run } = await ctx.engine.startRun({ workflow: 'counter', input: { start: 2 }, businessKey: 'CNT-1' });
  assert.is(run.status, 'running');
  assert.is(run.state, 'counting');
  assert.equal(run.nextEvents, ['ADD', 'DONE', 'INC', 'PAUSE']);
  const doc = JSON.parse((await ctx.redis.hget(ctx.engine.keys.run(run.id as RunId), 'doc'))!);
  assert.is(doc.snapshot.context.count, 2);
  assert.is(doc.businessKey, 'CNT-1');
  const history = await ctx.engine.getHistory(run.id);
  assert.equal(history.items.map((h) => h.type), ['run.started', 'state.entered']);
  assert.equal(history.items.map((h) => h.seq), [1, 2]);
});

test('an input that breaks the workflow input schema is refused and stores nothing', async (ctx) => {
  const before = await ctx.redis.zcard(ctx.engine.keys.runsAll(0));
  try {
    await ctx.engine.startRun({ workflow: 'counter', input: { start: 'many' } as never });
    assert.unreachable();
  } catch (err) {
    assert.is((err as { code: string }).code, 'VALIDATION_FAILED');
  }
  assert.is(await ctx.redis.zcard(ctx.engine.keys.runsAll(0)), before);
});

test('an unknown workflow answers NOT_FOUND', async (ctx) => {
  try {
    await ctx.engine.startRun({ workflow: 'nope' });
    assert.unreachable();
  } catch (err) {
    assert.is((err as { code: string }).code, 'NOT_FOUND');
  }
});

test('an event the state does not accept is refused with its code and changes nothing', async (ctx) => {
  const { run } = await ctx.engine.startRun({ workflow: 'counter' });
  await ctx.engine.sendEvent(run.id, { type: 'PAUSE' });
  const seq = await storedSeq(ctx, run.id);
  const hist = (await ctx.engine.getHistory(run.id, { limit: 500 })).items.length;
  try {
    await ctx.engine.sendEvent(run.id, { type: 'INC' });
    assert.unreachable();
  } catch (err) {
    assert.is((err as { code: string }).code, 'EVENT_NOT_ACCEPTED');
    assert.equal((err as { details: { nextEvents: string[] } }).details.nextEvents, ['DONE', 'RESUME']);
  }
  // A guard that refuses counts as not accepted too.
  await ctx.engine.sendEvent(run.id, { type: 'RESUME' });
  try {
    await ctx.engine.sendEvent(run.id, { type: 'ADD' });
    assert.unreachable();
  } catch (err) {
    assert.is((err as { code: string }).code, 'EVENT_NOT_ACCEPTED');
  }
  assert.is(await storedSeq(ctx, run.id), seq + 1);
  const after = (await ctx.engine.getHistory(run.id, { limit: 500 })).items;
  assert.is(after.filter((h) => h.type === 'event.received').length, 2);
  assert.is(after.length, hist + 2);
});

test('a repeated idempotency key applies the event once and answers the same run', async (ctx) => {
  const { run } = await ctx.engine.startRun({ workflow: 'counter' });
  const first = await ctx.engine.sendEvent(run.id, { type: 'ADD', amount: 5 }, { idempotencyKey: 'k1' });
  const again = await Promise.all([1, 2, 3].map(() => ctx.engine.sendEvent(run.id, { type: 'ADD', amount: 5 }, { idempotencyKey: 'k1' })));
  assert.is(first.duplicate, false);
  for (const r of again) {
    assert.is(r.duplicate, true);
    assert.equal(r.run.context, first.run.context);
  }
  const now = await ctx.engine.getRun(run.id);
  assert.is((now.context as { count: number }).count, 5);
  const ttl = await ctx.redis.ttl(ctx.engine.keys.eventIdem(run.id as RunId, 'events', 'k1'));
  assert.ok(ttl > 23 * 3600);
});

test('a repeated start idempotency key starts one run', async (ctx) => {
  const results = await Promise.all([1, 2, 3, 4].map(() => ctx.engine.startRun({ workflow: 'counter', idempotencyKey: 'start-1' })));
  const ids = new Set(results.map((r) => r.run.id));
  assert.is(ids.size, 1);
  assert.is(results.filter((r) => !r.duplicate).length, 1);
});

test('concurrent events from two engines on separate connections are each applied exactly once', async (ctx) => {
  const other = await connect();
  const engine2 = createEngine({ redis: other, prefix: ctx.prefix, workflows: testWorkflows, tasks: [...builtInTasks, ...testTasks(ctx.redis, ctx.prefix)] });
  const { run } = await ctx.engine.startRun({ workflow: 'counter' });
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < 40; i++) sends.push((i % 2 ? ctx.engine : engine2).sendEvent(run.id, { type: 'INC' }));
  await Promise.all(sends);
  const now = await ctx.engine.getRun(run.id);
  assert.is((now.context as { count: number }).count, 40);
  const hist = (await ctx.engine.getHistory(run.id, { limit: 500 })).items;
  assert.is(hist.filter((h) => h.type === 'event.received').length, 40);
  assert.equal(hist.map((h) => h.seq), hist.map((_, i) => i + 1));
  await engine2.close();
  await other.quit();
});

test('reaching a top-level final state ends the run with its output, and later events answer RUN_ENDED', async (ctx) => {
  const { run } = await ctx.engine.startRun({ workflow: 'counter', input: { start: 3 } });
  const { run: done } = await ctx.engine.sendEvent(run.id, { type: 'DONE' });
  assert.is(done.status, 'done');
  assert.equal(done.output, { count: 3 });
  assert.ok(done.endedAt);
  assert.equal(done.nextEvents, []);
  try {
    await ctx.engine.sendEvent(run.id, { type: 'INC' });
    assert.unreachable();
  } catch (err) {
    assert.is((err as { code: string }).code, 'RUN_ENDED');
  }
  const hist = (await ctx.engine.getHistory(run.id)).items;
  assert.is(hist[hist.length - 1].type, 'run.done');
});

test('an after delay fires once as a durable timer and moves the run', async (ctx) => {
  const { run } = await ctx.engine.startRun({ workflow: 'timed', input: { delayMs: 200 } });
  assert.is(run.timers.length, 1);
  const dueAt = Date.parse(run.timers[0].dueAt);
  const job = await ctx.redis.keys(`${ctx.engine.keys.queuePrefix(0)}:timers:*`);
  assert.ok(job.length > 0, 'the timer is a BullMQ job');
  const done = await waitFor(async () => {
    const r = await ctx.engine.getRun(run.id);
    return r.status === 'done' ? r : null;
  }, 5000, 'the timer to fire');
  assert.is(done.state, 'expired');
  const firedAt = (done.output as { firedAt: number }).firedAt;
  assert.ok(firedAt >= dueAt, 'never early');
  const hist = (await ctx.engine.getHistory(run.id)).items;
  assert.is(hist.filter((h) => h.type === 'timer.fired').length, 1);
});

test('leaving the state withdraws its timer: it never fires', async (ctx) => {
  const { run } = await ctx.engine.startRun({ workflow: 'timed', input: { delayMs: 150 } });
  const jobId = `${run.id}.${run.timers[0].id}`;
  const { run: moved } = await ctx.engine.sendEvent(run.id, { type: 'LEAVE' });
  assert.equal(moved.timers, []);
  await new Promise((r) => setTimeout(r, 400));
  const now = await ctx.engine.getRun(run.id);
  assert.is(now.state, 'elsewhere');
  const hist = (await ctx.engine.getHistory(run.id)).items;
  assert.is(hist.filter((h) => h.type === 'timer.cancelled').length, 1);
  assert.is(hist.filter((h) => h.type === 'timer.fired').length, 0);
  assert.is(await ctx.redis.exists(`${ctx.engine.keys.queuePrefix(0)}:timers:${jobId.replace(/[^A-Za-z0-9_.@#-]/g, '_')}`), 0);
});

test('re-entering a state arms a fresh timer; the old one is stale and ignored', async (ctx) => {
  const { run } = await ctx.engine.startRun({ workflow: 'timed', input: { delayMs: 300 } });
  const first = run.timers[0].id;
  await ctx.engine.sendEvent(run.id, { type: 'LEAVE' });
  const { run: back } = await ctx.engine.sendEvent(run.id, { type: 'BACK' });
  assert.is.not(back.timers[0].id, first);
  // A stale copy of the first timer's job is dropped, not applied.
  const res = await ctx.engine.runs.fireTimer(run.id as never, first);
  assert.is(res.applied, false);
  assert.is((await ctx.engine.getRun(run.id)).state, 'waiting');
  await waitFor(async () => (await ctx.engine.getRun(run.id)).status === 'done', 5000, 'the new timer');
});

test('cancelling a run withdraws its timers and tasks', async (ctx) => {
  const { run } = await ctx.engine.startRun({ workflow: 'timed', input: { delayMs: 200 } });
  const cancelled = await ctx.engine.cancelRun(run.id, { reason: 'test' });
  assert.is(cancelled.status, 'cancelled');
  assert.equal(cancelled.timers, []);
  await new Promise((r) => setTimeout(r, 400));
  const hist = (await ctx.engine.getHistory(run.id)).items;
  assert.is(hist.filter((h) => h.type === 'timer.fired').length, 0);
  assert.ok(hist.some((h) => h.type === 'run.cancelled' && h.reason === 'test'));
  try {
    await ctx.engine.cancelRun(run.id);
    assert.unreachable();
  } catch (err) {
    assert.is((err as { code: string }).code, 'RUN_ENDED');
  }
});

test('an invoked task runs in a worker and its result comes back as the done event', async (ctx) => {
  const { run } = await ctx.engine.startRun({ workflow: 'tasky', input: { task: 'echo', payload: { hello: 'world' } } });
  assert.is(run.tasks.length, 1);
  assert.is(run.tasks[0].name, 'echo');
  const done = await waitFor(async () => {
    const r = await ctx.engine.getRun(run.id);
    return r.status === 'done' ? r : null;
  }, 5000, 'the task');
  assert.equal(done.output, { result: { echoed: { hello: 'world' } }, error: null });
  const types = (await ctx.engine.getHistory(run.id, { limit: 100 })).items.map((h) => h.type);
  for (const t of ['task.scheduled', 'task.started', 'task.completed', 'run.done']) assert.ok(types.includes(t), t);
});

test('a failing task is retried with backoff and then succeeds', async (ctx) => {
  const { run } = await ctx.engine.startRun({ workflow: 'tasky', input: { task: 'flaky', payload: { failTimes: 2 } } });
  const done = await waitFor(async () => {
    const r = await ctx.engine.getRun(run.id);
    return r.status === 'done' ? r : null;
  }, 8000, 'the retried task');
  assert.equal(done.output, { result: { attempts: 3 }, error: null });
  const hist = (await ctx.engine.getHistory(run.id, { limit: 100 })).items;
  assert.is(hist.filter((h) => h.type === 'task.retrying').length, 2);
  assert.is(hist.filter((h) => h.type === 'task.started').length, 3);
});

test('a task that exhausts its retries delivers the error event to the run', async (ctx) => {
  const { run } = await ctx.engine.startRun({ workflow: 'tasky', input: { task: 'flaky', payload: { failTimes: 10 } } });
  const done = await waitFor(async () => {
    const r = await ctx.engine.getRun(run.id);
    return r.status === 'done' ? r : null;
  }, 8000, 'the failed task');
  assert.is(done.state, 'broken');
  assert.is((done.output as { error: { message: string } }).error.message, 'flaky failure 3');
});

test('a task error the workflow does not handle fails the run with the reason in history', async (ctx) => {
  const { run } = await ctx.engine.startRun({ workflow: 'tasky', input: { task: 'fail' } });
  const failed = await waitFor(async () => {
    const r = await ctx.engine.getRun(run.id);
    return r.status === 'failed' ? r : null;
  }, 5000, 'the run to fail');
  assert.is(failed.error?.message, 'this task always fails');
  const hist = (await ctx.engine.getHistory(run.id, { limit: 100 })).items;
  const entry = hist.find((h) => h.type === 'run.failed');
  assert.ok(entry);
  assert.match(String(entry!.reason), 'this task always fails');
  // A non-retryable error is not retried.
  assert.is(hist.filter((h) => h.type === 'task.started').length, 1);
});

test('a task result that arrives after the run moved on is recorded and ignored', async (ctx) => {
  const { run } = await ctx.engine.startRun({ workflow: 'tasky', input: { task: 'slow', payload: { ms: 400 } } });
  await waitFor(async () => (await ctx.engine.getRun(run.id)).tasks[0]?.status === 'running', 5000, 'the task to start');
  const { run: moved } = await ctx.engine.sendEvent(run.id, { type: 'LEAVE' });
  assert.equal(moved.tasks, []);
  await waitFor(async () => {
    const hist = (await ctx.engine.getHistory(run.id, { limit: 100 })).items;
    return hist.some((h) => (h.type === 'task.completed' || h.type === 'task.failed') && h.ignored === true);
  }, 5000, 'the late result to be recorded');
  const now = await ctx.engine.getRun(run.id);
  assert.is(now.state, 'elsewhere');
  assert.is(now.status, 'running');
});

test('listing runs filters by workflow, status, state and business key, newest first, paged', async (ctx) => {
  const made: string[] = [];
  for (let i = 0; i < 5; i++) {
    const { run } = await ctx.engine.startRun({ workflow: 'counter', businessKey: i % 2 ? 'ODD' : 'EVEN' });
    made.push(run.id);
  }
  await ctx.engine.sendEvent(made[0], { type: 'PAUSE' });
  await ctx.engine.sendEvent(made[1], { type: 'DONE' });
  const odd = await ctx.engine.listRuns({ businessKey: 'ODD' });
  assert.equal(odd.items.map((r) => r.id), [made[3], made[1]]);
  const paused = await ctx.engine.listRuns({ workflow: 'counter', state: 'paused' });
  assert.ok(paused.items.some((r) => r.id === made[0]));
  assert.ok(paused.items.every((r) => r.state === 'paused'));
  const done = await ctx.engine.listRuns({ workflow: 'counter', status: 'done' });
  assert.ok(done.items.some((r) => r.id === made[1]));
  assert.ok(done.items.every((r) => r.status === 'done'));
  // Paging walks every run once, newest first.
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await ctx.engine.listRuns({ workflow: 'counter', limit: 2, cursor });
    seen.push(...page.items.map((r) => r.id));
    cursor = page.nextCursor;
  } while (cursor);
  assert.is(new Set(seen).size, seen.length);
  for (const id of made) assert.ok(seen.includes(id));
  const order = seen.filter((id) => made.includes(id));
  assert.equal(order, [...made].reverse());
});

test('history pages oldest first with a cursor', async (ctx) => {
  const { run } = await ctx.engine.startRun({ workflow: 'counter' });
  for (let i = 0; i < 5; i++) await ctx.engine.sendEvent(run.id, { type: 'INC' });
  const p1 = await ctx.engine.getHistory(run.id, { limit: 3 });
  const p2 = await ctx.engine.getHistory(run.id, { limit: 3, cursor: p1.nextCursor });
  const p3 = await ctx.engine.getHistory(run.id, { limit: 3, cursor: p2.nextCursor });
  assert.equal([...p1.items, ...p2.items, ...p3.items].map((h) => h.seq), [1, 2, 3, 4, 5, 6, 7]);
  assert.is(p3.nextCursor, null);
});

test.run();
