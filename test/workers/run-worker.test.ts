// runWorker (servicechart/worker) in this repo: a remote worker's tasks are published in the catalog, usable by a
// JSON workflow without a declaration, retried when they throw, given up at once on NonRetryableTaskError.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, type Harness } from '../api/harness.ts';
import { redisUrl, waitFor } from '../helpers.ts';
import { assign, setup } from 'xstate';
import { defineTask, NonRetryableTaskError, runWorker, type RunningWorker } from '../../workers/package.ts';
import { defineWorkflow, taskActors } from '../../engine/index.ts';

let h: Harness;
let worker: RunningWorker;
const seen: { key: string; attempt: number }[] = [];

const lookup = defineTask({
  name: 'lookup_service_owner',
  input: { type: 'object', required: ['service'], properties: { service: { type: 'string' }, failTimes: { type: 'integer' }, fatal: { type: 'boolean' } } },
  output: { type: 'object', required: ['owner'], properties: { owner: { type: 'string' } } },
  retry: { attempts: 3, backoffMs: 100 },
  handler: async (input, ctx) => {
    seen.push({ key: ctx.idempotencyKey, attempt: ctx.attempt });
    if (input.fatal) throw new NonRetryableTaskError('no such service');
    if (ctx.attempt <= (input.failTimes ?? 0)) throw new Error('CMDB busy');
    return { owner: `team-${input.service}` };
  },
});

const flow = {
  name: 'owner-flow',
  definition: {
    initial: 'lookup',
    context: { service: { $input: 'service' }, failTimes: { $input: 'failTimes', default: 0 }, fatal: { $input: 'fatal', default: false }, owner: null, error: null },
    states: {
      lookup: {
        invoke: {
          src: 'lookup_service_owner', input: { service: { $context: 'service' }, failTimes: { $context: 'failTimes' }, fatal: { $context: 'fatal' } },
          onDone: { target: 'done', actions: { type: 'assign', params: { set: { owner: { $event: 'output.owner' } } } } },
          onError: { target: 'failed', actions: { type: 'assign', params: { set: { error: { $event: 'error.message' } } } } },
        },
      },
      done: { type: 'final' },
      failed: { type: 'final' },
    },
  },
};

async function finished(runId: string) {
  return waitFor(async () => {
    const r = await h.call('GET', `/v1/runs/${runId}`);
    return r.body.status !== 'running' ? r.body : null;
  }, 15_000, `run ${runId} to end`);
}

test.before(async () => {
  h = await startHarness();
  const refused = await h.call('POST', '/v1/workflows', { body: flow });
  assert.is(refused.status, 422, 'no worker serves the task yet');
  assert.match(JSON.stringify(refused.body), 'unknown task \\"lookup_service_owner\\"');
  worker = await runWorker({ redis: await redisUrl(), prefix: h.prefix, tasks: [lookup], concurrency: 2, lockMs: 2000 });
  const res = await h.call('POST', '/v1/workflows', { body: flow });
  assert.is(res.status, 201, JSON.stringify(res.body));
});

test.after(async () => {
  await worker.close(2000);
  await h.close();
});

test('the worker is live in the catalog with its schemas', async () => {
  const types = (await h.call('GET', '/v1/task-types')).body.items;
  const t = types.find((x: any) => x.name === 'lookup_service_owner');
  assert.is(t.execution, 'external');
  assert.is(t.workers[0].kind, 'package');
  assert.is(t.workers[0].workerId, worker.workerId);
  assert.equal(t.output, lookup.output);
});

test('a task runs in the worker and its output goes to the run', async () => {
  const start = await h.call('POST', '/v1/runs', { body: { workflow: 'owner-flow', input: { service: 'payments' } } });
  const run = await finished(start.body.id);
  assert.is(run.context.owner, 'team-payments');
});

test('a thrown error is retried with the same idempotency key; NonRetryableTaskError fails the run at once', async () => {
  seen.length = 0;
  const a = await h.call('POST', '/v1/runs', { body: { workflow: 'owner-flow', input: { service: 'billing', failTimes: 2 } } });
  const ra = await finished(a.body.id);
  assert.is(ra.context.owner, 'team-billing');
  assert.equal(seen.map((s) => s.attempt), [1, 2, 3]);
  assert.is(new Set(seen.map((s) => s.key)).size, 1);
  seen.length = 0;
  const b = await h.call('POST', '/v1/runs', { body: { workflow: 'owner-flow', input: { service: 'x', fatal: true } } });
  const rb = await finished(b.body.id);
  assert.equal(rb.state, 'failed');
  assert.is(rb.context.error, 'no such service');
  assert.is(seen.length, 1);
});

test('a code workflow whose task only a remote worker serves is checked against the live catalog at start', async () => {
  const machine = setup({ actors: taskActors('lookup_service_owner', 'no_such_task') }).createMachine({
    id: 'owner-code', initial: 'lookup', context: { owner: null as string | null },
    states: {
      lookup: { invoke: { src: 'lookup_service_owner', input: { service: 'search' }, onDone: { target: 'done', actions: assign({ owner: ({ event }) => (event.output as { owner: string }).owner }) } } },
      done: { type: 'final' },
    },
  });
  const def = defineWorkflow({ name: 'owner-code', version: 1, description: 'code workflow, remote task', machine });
  assert.throws(() => h.engine.registerWorkflow(def), 'not in this process: the synchronous check refuses it');
  await h.engine.registerWorkflowChecked(def);
  const typo = defineWorkflow({ name: 'owner-typo', version: 1, description: '', machine: setup({ actors: taskActors('lookup_servce_owner') }).createMachine({ initial: 'a', states: { a: { invoke: { src: 'lookup_servce_owner' } } } }) });
  try {
    await h.engine.registerWorkflowChecked(typo);
    assert.unreachable('a name nobody serves is refused');
  } catch (err) {
    assert.is((err as { code?: string }).code, 'VALIDATION_FAILED');
  }
  // The worker applies results itself, so it is given the installation's code workflows too.
  await worker.close(2000);
  worker = await runWorker({ redis: await redisUrl(), prefix: h.prefix, tasks: [lookup], workflows: [def], lockMs: 2000 });
  const { run } = await h.engine.startRun({ workflow: 'owner-code' });
  const ended = await finished(run.id);
  assert.is(ended.context.owner, 'team-search');
});

test.run();
