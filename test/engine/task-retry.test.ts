// A task whose handler fails with a network error of its own (its endpoint refuses connections) spends its
// attempts and fails: the text of its error never passes for an outage of the engine's Redis, which would
// put the job back without spending an attempt, every second, for ever.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { setup, type AnyStateMachine } from 'xstate';
import { defineTask, defineWorkflow, taskActors } from '../../engine/index.ts';
import { closeEngine, openEngine, type EngineFixture } from './engine-fixture.ts';
import { waitFor } from '../helpers.ts';

let calls = 0;
const refused = defineTask({
  name: 'refused_endpoint', input: { type: 'object' }, output: { type: 'object' }, retry: { attempts: 3, backoffMs: 50 },
  handler: async () => {
    calls++;
    throw new Error('connect ECONNREFUSED 127.0.0.1:9');
  },
});

const calling = defineWorkflow({
  name: 'calling', version: 1, description: 'one call to an endpoint that is down',
  machine: setup({ actors: taskActors('refused_endpoint') }).createMachine({
    id: 'calling', initial: 'calling',
    states: { calling: { invoke: { id: 'call', src: 'refused_endpoint', onDone: 'done', onError: 'gaveUp' } }, done: { type: 'final' }, gaveUp: { type: 'final' } },
  }) as unknown as AnyStateMachine,
});

const test = suite<EngineFixture>('task retry', {} as EngineFixture);
test.before((ctx) => openEngine(ctx, () => ({ workflows: [calling], tasks: [refused] })));
test.after(closeEngine);

test('a handler refused by its own endpoint spends its three attempts and the run takes the error', async ({ engine }) => {
  const { run } = await engine.startRun({ workflow: 'calling' });
  const ended = await waitFor(async () => {
    const r = await engine.getRun(run.id);
    return r.status === 'running' ? null : r;
  }, 10_000, 'the run to take the task error');
  assert.is(ended.state, 'gaveUp');
  assert.is(calls, 3, 'one call per attempt');
  const types = (await engine.getHistory(run.id, { limit: 100 })).items.map((e) => e.type);
  assert.is(types.filter((t) => t === 'task.retrying').length, 2);
  assert.is(types.filter((t) => t === 'task.failed').length, 1);
});

test.run();
