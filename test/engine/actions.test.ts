// Every XState action a workflow uses is durable or refused at registration, and a workflow that throws
// inside a step answers the sender (outside event) or ends the run failed (timer, task result).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Redis } from 'ioredis';
import { assign, cancel, emit, enqueueActions, forwardTo, raise, sendParent, sendTo, setup, spawnChild } from 'xstate';
import { defineWorkflow, runRef, taskActors, type HistoryEntry, type RunId, type WorkflowDefinition } from '../../engine/index.ts';
import { createEngineInstance as createEngine, type EngineInstance as Engine } from '../../engine/testing.ts';
import { builtInTasks } from '../../workers/tasks/index.ts';
import { closeEngine, openEngine, type EngineFixture } from './engine-fixture.ts';
import { dropPrefix, manualClock, newPrefix, waitFor } from '../helpers.ts';

type Ev = { type: string; [k: string]: unknown };
type Ctx = { log: string[]; parentRunId: string | null; childRunId: string | null; boom: boolean };

/** Takes any event and keeps its type: the other end of run-to-run sends. */
const sink = defineWorkflow({
  name: 'sink', version: 1, description: 'records every event',
  machine: setup({ types: {} as { context: { got: string[] }; events: Ev } }).createMachine({
    id: 'sink', context: { got: [] }, initial: 'on',
    states: { on: { on: { '*': { actions: assign({ got: ({ context, event }) => [...context.got, event.type] }) } } } },
  }),
});

const m = setup({
  types: {} as { context: Ctx; events: Ev; input: { childRunId?: string; boom?: boolean } },
  actors: taskActors('noop', 'sleep'),
  guards: { explode: ({ context }) => { if (context.boom) throw new Error('guard exploded'); return true; } },
  delays: { later: ({ context }) => { if (context.boom) throw new Error('delay exploded'); return 60_000; } },
}).createMachine({
  id: 'acts',
  context: ({ input }) => ({ log: [], parentRunId: null, childRunId: input.childRunId ?? null, boom: input.boom ?? false }),
  initial: 'idle',
  states: {
    idle: {
      on: {
        // Self-sends: NEXT is taken after GO's macrostep, then AGAIN after NEXT's.
        GO: { actions: [sendTo(({ self }) => self, { type: 'NEXT' }), assign({ log: ({ context }) => [...context.log, 'go'] })] },
        NEXT: { target: 'second', actions: [assign({ log: ({ context }) => [...context.log, 'next'] }), sendTo(({ self }) => self, { type: 'AGAIN' })] },
        TELL_PARENT: { actions: sendParent({ type: 'FROM_CHILD' }) },
        TELL_CHILD: { actions: sendTo(({ context }) => runRef(context.childRunId!), { type: 'FROM_PARENT' }) },
        FORWARD: { actions: forwardTo(({ context }) => runRef(context.childRunId!)) },
        LATER_PARENT: { actions: sendParent({ type: 'LATE' }, { delay: 60_000, id: 'late' }) },
        DROP_LATER: { actions: cancel('late') },
        ARM: { actions: [raise({ type: 'TICK' }, { delay: 60_000 }), raise({ type: 'TOCK' }, { delay: 70_000, id: 'tock' }), raise({ type: 'TOCK' }, { delay: 80_000, id: 'tock' })] },
        DISARM_TICK: { actions: cancel('TICK') },
        DISARM_TOCK: { actions: cancel('tock') },
        RISKY: { guard: 'explode', actions: assign({ log: ({ context }) => [...context.log, 'risky'] }) },
        RISKY_DELAY: { actions: raise({ type: 'TICK' }, { delay: 'later' }) },
        ARM_BOOM: { actions: [assign({ boom: true }), raise({ type: 'BOOM_TICK' }, { delay: 60_000, id: 'b' }), raise({ type: 'TICK' }, { delay: 90_000 })] },
        BOOM_TICK: { guard: 'explode', target: 'second' },
        CUSTOM: { actions: enqueueActions(({ enqueue }) => enqueue(() => undefined)) },
        WORK: 'working',
        EMIT: { actions: [emit({ type: 'acts.noted', n: 1 } as { type: string }), emit({ type: 'plain' })] },
      },
    },
    second: { on: { AGAIN: { actions: assign({ log: ({ context }) => [...context.log, 'again'] }) } } },
    working: {
      entry: assign({ boom: true }),
      invoke: [
        { id: 'fast', src: 'noop', onDone: { guard: 'explode', target: 'second' } },
        { id: 'slow', src: 'sleep', input: { ms: 60_000 } },
      ],
    },
  },
});
const acts = defineWorkflow({ name: 'acts', version: 1, description: 'actions under test', machine: m });

interface TCtx extends EngineFixture {
  clock: ReturnType<typeof manualClock>;
}

const test = suite<TCtx>('actions', {} as TCtx);

test.before(async (ctx) => {
  // Engine time is set by hand; BullMQ delays are measured from it, so 60 s timers never fire on their own.
  ctx.clock = manualClock(Date.now());
  await openEngine(ctx, () => ({ clock: ctx.clock, workflows: [sink, acts], tasks: builtInTasks }));
});

test.after(closeEngine);

async function historyOf(engine: Engine, runId: string): Promise<HistoryEntry[]> {
  return (await engine.getHistory(runId, { limit: 500 })).items;
}

function refusedWith(def: WorkflowDefinition): { path: string; message: string }[] {
  try {
    // The registry refuses before the engine opens a connection: this Redis is never touched.
    void createEngine({ redis: {} as Redis, workflows: [def], tasks: builtInTasks });
  } catch (err) {
    const e = err as { code?: string; message?: string; details?: { path: string; message: string }[] };
    assert.is(e.code, 'VALIDATION_FAILED');
    // The message alone names the workflow and each path: at engine start it is what gets printed.
    assert.match(e.message ?? '', new RegExp(`workflow ${def.name}@1 .*${(e.details ?? [])[0]?.path}: `));
    return e.details ?? [];
  }
  throw new Error(`${def.name} was accepted`);
}

test('actions the engine cannot make durable are refused when the engine starts, naming the path', () => {
  const inline = setup({}).createMachine({ id: 'x', initial: 'a', states: { a: { entry: () => console.log('side effect') } } });
  assert.equal(refusedWith(defineWorkflow({ name: 'x', version: 1, description: '', machine: inline })).map((p) => p.path), ['/a/entry']);

  const named = setup({ actions: { ping: () => undefined } }).createMachine({ id: 'y', initial: 'a', states: { a: { on: { GO: { actions: 'ping' } } } } });
  const p = refusedWith(defineWorkflow({ name: 'y', version: 1, description: '', machine: named }));
  assert.equal(p.map((x) => x.path), ['/a/on/GO']);
  assert.match(p[0].message, /function/);

  const toChild = setup({ actors: taskActors('noop') }).createMachine({
    id: 'z', initial: 'a', states: { a: { invoke: { id: 'kid', src: 'noop' }, on: { GO: { actions: sendTo('kid', { type: 'HI' }) } } } },
  });
  assert.equal(refusedWith(defineWorkflow({ name: 'z', version: 1, description: '', machine: toChild })).map((x) => x.path), ['/a/on/GO']);

  const spawn = setup({ actors: taskActors('nope') }).createMachine({ id: 'w', initial: 'a', states: { a: { entry: spawnChild('nope') } } });
  const sp = refusedWith(defineWorkflow({ name: 'w', version: 1, description: '', machine: spawn }));
  assert.equal(sp.map((x) => x.path), ['/a/entry']);
  assert.match(sp[0].message, /not a registered task/);
});

test('sendTo self is taken right after the macrostep that sent it, in the same step', async ({ engine }) => {
  const { run } = await engine.startRun({ workflow: 'acts' });
  const res = await engine.sendEvent(run.id, { type: 'GO' });
  assert.equal(res.run.state, 'second');
  assert.equal((res.run.context as Ctx).log, ['go', 'next', 'again']);
  const received = (await historyOf(engine, run.id)).filter((h) => h.type === 'event.received').map((h) => [h.event, h.self ?? false]);
  assert.equal(received, [['GO', false], ['NEXT', true], ['AGAIN', true]]);
});

test('sendParent, sendTo(runRef) and forwardTo deliver the event to the other run once', async ({ engine }) => {
  const parent = (await engine.startRun({ workflow: 'sink' })).run;
  const child = (await engine.startRun({ workflow: 'sink' })).run;
  const { run } = await engine.startRun({ workflow: 'acts', parentRunId: parent.id, input: { childRunId: child.id } });
  await engine.sendEvent(run.id, { type: 'TELL_PARENT' });
  await engine.sendEvent(run.id, { type: 'TELL_CHILD' });
  await engine.sendEvent(run.id, { type: 'FORWARD', note: 'x' });
  await waitFor(async () => ((await engine.getRun(parent.id)).context as { got: string[] }).got.length === 1, 10_000, 'the parent event');
  await waitFor(async () => ((await engine.getRun(child.id)).context as { got: string[] }).got.length === 2, 10_000, 'the child events');
  // The outbox may be flushed again (a sweep): the idempotency key keeps each delivery single.
  await engine.sweepOutbox(0);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(((await engine.getRun(parent.id)).context as { got: string[] }).got, ['FROM_CHILD']);
  assert.equal(((await engine.getRun(child.id)).context as { got: string[] }).got, ['FROM_PARENT', 'FORWARD']);
  const got = (await historyOf(engine, child.id)).filter((h) => h.type === 'event.received');
  assert.equal(got.map((h) => [h.event, h.actor]), [['FROM_PARENT', `run:${run.id}`], ['FORWARD', `run:${run.id}`]]);
  assert.is((got[1].payload as { note?: string }).note, 'x');
  const sent = (await historyOf(engine, run.id)).filter((h) => h.type === 'event.sent').map((h) => [h.event, h.to]);
  assert.equal(sent, [['FROM_CHILD', parent.id], ['FROM_PARENT', child.id], ['FORWARD', child.id]]);
});

test('an event for another run left in the outbox by a crash after its commit is delivered by the sweeper, once', async ({ redis, clock }) => {
  let crashOn: string | null = null;
  // A prefix of its own: the suite engine's sweeper must not finish this outbox first.
  const prefix = newPrefix();
  // Throwing here stands for a process dying after the commit, before the outbox is flushed.
  const engine = createEngine({
    redis, prefix, clock, workflows: [sink, acts], tasks: builtInTasks,
    hooks: { afterCommit: (runId) => { if (runId === crashOn) { crashOn = null; throw new Error('crash before the flush'); } } },
  });
  try {
    const child = (await engine.startRun({ workflow: 'sink' })).run;
    const { run } = await engine.startRun({ workflow: 'acts', input: { childRunId: child.id } });
    crashOn = run.id;
    await engine.sendEvent(run.id, { type: 'TELL_CHILD' }).then(() => assert.unreachable('no crash'), (err) => assert.match(String(err), /crash/));
    assert.equal(((await engine.getRun(child.id)).context as { got: string[] }).got, [], 'nothing delivered yet');
    assert.ok((await engine.sweepOutbox(0)) >= 1);
    assert.equal(((await engine.getRun(child.id)).context as { got: string[] }).got, ['FROM_PARENT']);
    // The same entry applied again (a second sweeper, a flush that raced it) meets the idempotency key:
    // run id, the step's seq (the start was 1) and the send's index in the step.
    await engine.runs.deliverSend({ to: child.id, from: run.id, event: { type: 'FROM_PARENT' }, key: `${run.id}:2:s0` });
    assert.equal(((await engine.getRun(child.id)).context as { got: string[] }).got, ['FROM_PARENT']);
  } finally {
    await engine.close();
    await dropPrefix(redis, prefix);
  }
});

test('a sendParent from a run without a parent fails the event with WORKFLOW_ERROR', async ({ engine }) => {
  const { run } = await engine.startRun({ workflow: 'acts' });
  try {
    await engine.sendEvent(run.id, { type: 'TELL_PARENT' });
    assert.unreachable('accepted');
  } catch (err) {
    assert.is((err as { code?: string }).code, 'WORKFLOW_ERROR');
  }
});

test('a delayed sendParent is a timer of the sender that cancel withdraws, and that delivers when due', async ({ engine, clock }) => {
  const parent = (await engine.startRun({ workflow: 'sink' })).run;
  const { run } = await engine.startRun({ workflow: 'acts', parentRunId: parent.id });
  let r = (await engine.sendEvent(run.id, { type: 'LATER_PARENT' })).run;
  assert.equal(r.timers.map((t) => t.event), ['LATE']);
  r = (await engine.sendEvent(run.id, { type: 'DROP_LATER' })).run;
  assert.equal(r.timers, []);
  r = (await engine.sendEvent(run.id, { type: 'LATER_PARENT' })).run;
  clock.advance(60_000);
  assert.ok((await engine.runs.fireTimer(r.id, r.timers[0].id)).applied);
  await waitFor(async () => ((await engine.getRun(parent.id)).context as { got: string[] }).got.length === 1, 10_000, 'the late event');
  assert.equal(((await engine.getRun(parent.id)).context as { got: string[] }).got, ['LATE']);
  assert.equal((await engine.getRun(run.id)).state, 'idle');
});

test('cancel withdraws what XState cancel withdraws: not a raise without id by its type, one event per id', async ({ engine }) => {
  const { run } = await engine.startRun({ workflow: 'acts' });
  let r = (await engine.sendEvent(run.id, { type: 'ARM' })).run;
  assert.equal(r.timers.map((t) => t.event), ['TICK', 'TOCK', 'TOCK']);
  r = (await engine.sendEvent(run.id, { type: 'DISARM_TICK' })).run;
  assert.equal(r.timers.map((t) => t.event), ['TICK', 'TOCK', 'TOCK'], 'a raise without id is not cancelled by its event type');
  r = (await engine.sendEvent(run.id, { type: 'DISARM_TOCK' })).run;
  assert.equal(r.timers.map((t) => [t.event, Date.parse(t.dueAt) - Date.parse(r.updatedAt)]), [['TICK', 60_000], ['TOCK', 70_000]], 'only the later TOCK holds the id');
  r = (await engine.sendEvent(run.id, { type: 'DISARM_TOCK' })).run;
  assert.is(r.timers.length, 2, 'the earlier TOCK lost its handle when the later one took the id');
});

test('a guard or delay that throws on an outside event answers WORKFLOW_ERROR and commits nothing', async ({ engine, redis, prefix }) => {
  const { run } = await engine.startRun({ workflow: 'acts', input: { boom: true } });
  const seq = await redis.hget(engine.keys.run(run.id as RunId), 'seq');
  assert.ok(seq, 'the run record is where the engine keeps it');
  const before = await historyOf(engine, run.id);
  for (const type of ['RISKY', 'RISKY_DELAY', 'CUSTOM']) {
    try {
      await engine.sendEvent(run.id, { type });
      assert.unreachable(`${type} accepted`);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      assert.is(e.code, 'WORKFLOW_ERROR', type);
      assert.match(e.message ?? '', type === 'CUSTOM' ? /cannot make durable/ : /exploded/);
    }
  }
  assert.is(await redis.hget(engine.keys.run(run.id as RunId), 'seq'), seq);
  assert.equal(await historyOf(engine, run.id), before);
  const after = await engine.getRun(run.id);
  assert.is(after.status, 'running');
  assert.equal((after.context as Ctx).log, []);
});

test('a guard that throws on a timer ends the run failed with the reason, its other timers withdrawn', async ({ engine, clock }) => {
  const { run } = await engine.startRun({ workflow: 'acts' });
  const armed = (await engine.sendEvent(run.id, { type: 'ARM_BOOM' })).run;
  assert.is(armed.timers.length, 2);
  clock.advance(60_000);
  assert.ok((await engine.runs.fireTimer(run.id, armed.timers[0].id)).applied);
  const failed = await engine.getRun(run.id);
  assert.is(failed.status, 'failed');
  assert.is(failed.error?.code, 'WORKFLOW_ERROR');
  assert.match(failed.error?.message ?? '', /guard exploded/);
  assert.equal(failed.timers, []);
  const h = await historyOf(engine, run.id);
  const tail = h.slice(-3).map((e) => e.type);
  assert.equal(tail, ['timer.fired', 'timer.cancelled', 'run.failed']);
  assert.match(String(h[h.length - 1].reason), /guard exploded/);
  // The withdrawn timer's job is gone from the queue, and a stale copy would be dropped.
  assert.not.ok((await engine.runs.fireTimer(run.id, armed.timers[1].id)).applied);
});

test('a guard that throws on a task result ends the run failed and withdraws its other tasks', async ({ engine }) => {
  const { run } = await engine.startRun({ workflow: 'acts' });
  await engine.sendEvent(run.id, { type: 'WORK' });
  const failed = await waitFor(async () => {
    const r = await engine.getRun(run.id);
    return r.status === 'failed' ? r : null;
  }, 15_000, 'the run to fail');
  assert.is(failed.error?.code, 'WORKFLOW_ERROR');
  assert.equal(failed.tasks, []);
  const h = await historyOf(engine, run.id);
  assert.ok(h.some((e) => e.type === 'task.withdrawn' && e.task === 'sleep'), 'the sleeping task is withdrawn');
  const end = h.find((e) => e.type === 'run.failed');
  assert.match(String(end?.reason), /result of task [^:]+\.fast: .*guard exploded/s);
});

test('emit records the workflow\'s dotted types as they are and any other as workflow.emitted', async ({ engine }) => {
  const { run } = await engine.startRun({ workflow: 'acts' });
  await engine.sendEvent(run.id, { type: 'EMIT' });
  const h = (await historyOf(engine, run.id)).filter((e) => e.type === 'acts.noted' || e.type === 'workflow.emitted');
  assert.equal(h.map((e) => [e.type, e.n ?? (e.emitted as { type: string }).type]), [['acts.noted', 1], ['workflow.emitted', 'plain']]);
});

test.run();
