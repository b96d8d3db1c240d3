// Through HTTP: JSON workflows send events between runs and arm and cancel delayed events; a send the
// engine cannot resolve is refused at registration with its path; a workflow that throws answers the
// event's sender 422 WORKFLOW_ERROR with nothing changed, and a timer step that throws ends the run failed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { assign, setup } from 'xstate';
import { defineWorkflow } from '../../engine/index.ts';
import { startHarness, type Harness } from './harness.ts';
import { waitFor } from '../helpers.ts';

const fragile = defineWorkflow({
  name: 'fragile', version: 1, description: 'a guard that throws on a field the payload lacks',
  machine: setup({ types: {} as { context: { seen: number }; events: { type: 'SEE'; item?: { n: number } } } }).createMachine({
    id: 'fragile', context: { seen: 0 }, initial: 'open',
    states: { open: { on: { SEE: { guard: ({ event }) => event.item!.n > 0, actions: assign({ seen: ({ context }) => context.seen + 1 }) } } } },
  }),
});

const test = suite<{ h: Harness }>('actions over HTTP', {} as { h: Harness });

test.before(async (ctx) => {
  ctx.h = await startHarness({ workflows: [fragile] });
});

test.after(async (ctx) => {
  await ctx.h.close();
});

const register = (h: Harness, name: string, definition: unknown) => h.call('POST', '/v1/workflows', { body: { name, definition } });

test('a sendTo the engine cannot resolve, or an unknown delay, is refused at registration with its path', async ({ h }) => {
  const res = await register(h, 'bad_send', {
    initial: 'a',
    states: {
      a: {
        invoke: { id: 'kid', src: 'noop' },
        on: {
          GO: { actions: { type: 'sendTo', params: { to: 'kid', event: { type: 'HI' } } } },
          LATER: { actions: { type: 'raise', params: { event: { type: 'TICK' }, delay: 'nope' } } },
        },
      },
    },
  });
  assert.is(res.status, 422);
  assert.is(res.body.error.code, 'VALIDATION_FAILED');
  const paths = res.body.error.details.map((d: { path: string }) => d.path).sort();
  assert.equal(paths, ['/definition/states/a/on/GO/actions/params/to', '/definition/states/a/on/LATER/actions/params/delay']);
  assert.is((await h.call('GET', '/v1/workflows/bad_send')).status, 404, 'nothing stored');
});

test('JSON workflows send to a child run and back to the parent, once each', async ({ h }) => {
  const parentDef = {
    initial: 'idle',
    context: { childRunId: null },
    states: {
      // The built-in start_run task starts the child run (its parentRunId is this run) and returns its id.
      idle: {
        invoke: {
          id: 'spawn', src: 'start_run', input: { workflow: 'listener' },
          onDone: { target: 'linked', actions: { type: 'assign', params: { set: { childRunId: { $event: 'output.runId' } } } } },
        },
      },
      linked: { on: { PING: { actions: { type: 'sendTo', params: { to: { $context: 'childRunId' }, event: { type: 'HELLO', from: 'parent' } } } }, ACK: 'acked' } },
      acked: { type: 'final' },
    },
  };
  const childDef = {
    initial: 'waiting',
    states: { waiting: { on: { HELLO: { target: 'greeted', actions: { type: 'sendTo', params: { to: 'parent', event: { type: 'ACK', said: { $event: 'from' } } } } } } }, greeted: { type: 'final' } },
  };
  assert.is((await register(h, 'pinger', parentDef)).status, 201);
  assert.is((await register(h, 'listener', childDef)).status, 201);
  const parent = (await h.call('POST', '/v1/runs', { body: { workflow: 'pinger' } })).body;
  const linked = await waitFor(async () => {
    const r = (await h.call('GET', `/v1/runs/${parent.id}`)).body;
    return r.state === 'linked' ? r : null;
  }, 10_000, 'the child run to start');
  const child = (await h.call('GET', `/v1/runs/${linked.context.childRunId}`)).body;
  assert.is(child.parentRunId, parent.id);
  assert.is((await h.call('POST', `/v1/runs/${parent.id}/events`, { body: { type: 'PING' } })).status, 200);
  const done = await waitFor(async () => {
    const r = (await h.call('GET', `/v1/runs/${parent.id}`)).body;
    return r.status === 'done' ? r : null;
  }, 10_000, 'the parent to get ACK');
  assert.is(done.state, 'acked');
  assert.is((await h.call('GET', `/v1/runs/${child.id}`)).body.status, 'done');
  const history = (await h.call('GET', `/v1/runs/${parent.id}/history?limit=200`)).body.items as { type: string; event?: string; actor: string; payload?: { said?: string } }[];
  const acks = history.filter((e) => e.type === 'event.received' && e.event === 'ACK');
  assert.is(acks.length, 1);
  assert.is(acks[0].actor, `run:${child.id}`);
  assert.is(acks[0].payload?.said, 'parent');
});

test('a JSON delayed raise with an id is a pending timer that cancel withdraws', async ({ h }) => {
  const def = {
    initial: 'on',
    states: {
      on: {
        on: {
          ARM: { actions: { type: 'raise', params: { event: { type: 'RING' }, delay: 600000, id: 'bell' } } },
          DISARM: { actions: { type: 'cancel', params: { id: 'bell' } } },
          RING: 'rung',
        },
      },
      rung: { type: 'final' },
    },
  };
  assert.is((await register(h, 'bell', def)).status, 201);
  const run = (await h.call('POST', '/v1/runs', { body: { workflow: 'bell' } })).body;
  const armed = (await h.call('POST', `/v1/runs/${run.id}/events`, { body: { type: 'ARM' } })).body.run;
  assert.equal(armed.timers.map((t: { event: string }) => t.event), ['RING']);
  const disarmed = (await h.call('POST', `/v1/runs/${run.id}/events`, { body: { type: 'DISARM' } })).body.run;
  assert.equal(disarmed.timers, []);
});

test('a guard that throws answers 422 WORKFLOW_ERROR and changes nothing', async ({ h }) => {
  const run = (await h.call('POST', '/v1/runs', { body: { workflow: 'fragile' } })).body;
  const before = (await h.call('GET', `/v1/runs/${run.id}/history`)).body.items.length;
  const res = await h.call('POST', `/v1/runs/${run.id}/events`, { body: { type: 'SEE' } });
  assert.is(res.status, 422);
  assert.is(res.body.error.code, 'WORKFLOW_ERROR');
  assert.match(res.body.error.message, /SEE/);
  const after = (await h.call('GET', `/v1/runs/${run.id}`)).body;
  assert.is(after.status, 'running');
  assert.is(after.context.seen, 0);
  assert.is((await h.call('GET', `/v1/runs/${run.id}/history`)).body.items.length, before);
  const ok = await h.call('POST', `/v1/runs/${run.id}/events`, { body: { type: 'SEE', item: { n: 1 } } });
  assert.is(ok.status, 200);
  assert.is(ok.body.run.context.seen, 1);
});

test('a timer step that throws ends the run failed with the reason in its history, no timer left', async ({ h }) => {
  const def = {
    initial: 'wait',
    states: {
      wait: {
        entry: { type: 'raise', params: { event: { type: 'LATE' }, delay: 600000, id: 'late' } },
        // The child run id was never set: the send names no run when the timer fires.
        after: { 50: { actions: { type: 'sendTo', params: { to: { $context: 'childRunId' }, event: { type: 'HI' } } } } },
      },
    },
  };
  assert.is((await register(h, 'broken_timer', def)).status, 201);
  const run = (await h.call('POST', '/v1/runs', { body: { workflow: 'broken_timer' } })).body;
  assert.is(run.timers.length, 2);
  const failed = await waitFor(async () => {
    const r = (await h.call('GET', `/v1/runs/${run.id}`)).body;
    return r.status === 'failed' ? r : null;
  }, 10_000, 'the run to fail');
  assert.is(failed.error.code, 'WORKFLOW_ERROR');
  assert.equal(failed.timers, []);
  const items = (await h.call('GET', `/v1/runs/${run.id}/history?limit=200`)).body.items as { type: string; reason?: string; event?: string }[];
  assert.ok(items.some((e) => e.type === 'timer.cancelled' && e.event === 'LATE'), 'the pending timer is withdrawn');
  const end = items.find((e) => e.type === 'run.failed');
  assert.match(end?.reason ?? '', /names no run id/);
});

test('a task-result step that throws ends the run failed with the reason, its other task withdrawn', async ({ h }) => {
  const def = {
    type: 'parallel',
    states: {
      quick: { initial: 'w', states: { w: { invoke: { src: 'noop', onDone: { actions: { type: 'sendTo', params: { to: { $context: 'nobody' }, event: { type: 'HI' } } } } } } } },
      slow: { initial: 'w', states: { w: { invoke: { src: 'sleep', input: { ms: 60000 } } } } },
    },
  };
  assert.is((await register(h, 'broken_result', def)).status, 201);
  const run = (await h.call('POST', '/v1/runs', { body: { workflow: 'broken_result' } })).body;
  const failed = await waitFor(async () => {
    const r = (await h.call('GET', `/v1/runs/${run.id}`)).body;
    return r.status === 'failed' ? r : null;
  }, 15_000, 'the run to fail');
  assert.is(failed.error.code, 'WORKFLOW_ERROR');
  assert.equal(failed.tasks, []);
  const items = (await h.call('GET', `/v1/runs/${run.id}/history?limit=200`)).body.items as { type: string; reason?: string; task?: string }[];
  assert.ok(items.some((e) => e.type === 'task.withdrawn' && e.task === 'sleep'), 'the sleeping task is withdrawn');
  assert.match(items.find((e) => e.type === 'run.failed')?.reason ?? '', /result of task .*names no run id/s);
});

test.run();
