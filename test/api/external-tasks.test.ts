// External tasks over HTTP: fetch with a lock, complete, fail, extend, and every way a worker can get it wrong.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, type Harness } from './harness.ts';
import { waitFor } from '../helpers.ts';

let h: Harness;

/** A workflow whose `work` state waits on an external `lookup`; CANCEL_WORK leaves the state. */
const workflow = {
  name: 'ext-lookup',
  tasks: {
    lookup: {
      external: true,
      input: { type: 'object', required: ['ticket'], properties: { ticket: { type: 'string' } } },
      output: { type: 'object', required: ['owner'], additionalProperties: false, properties: { owner: { type: 'string' } } },
      retry: { attempts: 2, backoffMs: 200 },
    },
  },
  definition: {
    initial: 'work',
    context: { ticket: { $input: 'ticket' }, owner: null, error: null },
    states: {
      work: {
        on: { CANCEL_WORK: 'parked' },
        invoke: {
          id: 'lookup', src: 'lookup', input: { ticket: { $context: 'ticket' } },
          onDone: { target: 'done', actions: { type: 'assign', params: { set: { owner: { $event: 'output.owner' } } } } },
          onError: { target: 'failed', actions: { type: 'assign', params: { set: { error: { $event: 'error.message' } } } } },
        },
      },
      parked: { on: { RESUME: 'work' } },
      done: { type: 'final' },
      failed: { type: 'final' },
    },
  },
};

const worker = (body: object) => h.call('POST', '/v1/external-tasks/fetch', { key: 'worker', body });
const settle = (id: string, action: string, body: object) => h.call('POST', `/v1/external-tasks/${id}/${action}`, { key: 'worker', body });

async function startRun(ticket: string): Promise<string> {
  const res = await h.call('POST', '/v1/runs', { body: { workflow: 'ext-lookup', input: { ticket } } });
  assert.is(res.status, 201, JSON.stringify(res.body));
  return res.body.id;
}

/** Fetch until the task of `runId` comes (other tests' leftovers are not in the way: one run at a time). */
async function fetchOne(workerId: string, lockMs = 60_000) {
  const res = await worker({ workerId, types: ['lookup'], max: 1, lockMs, waitMs: 5000 });
  assert.is(res.status, 200, JSON.stringify(res.body));
  assert.is(res.body.tasks.length, 1, 'one task fetched');
  return res.body.tasks[0];
}

async function historyTypes(runId: string): Promise<string[]> {
  const res = await h.call('GET', `/v1/runs/${runId}/history?limit=500`);
  return res.body.items.map((e: { type: string; ignored?: boolean }) => (e.ignored ? `${e.type}(ignored)` : e.type));
}

test.before(async () => {
  h = await startHarness();
  const res = await h.call('POST', '/v1/workflows', { body: workflow });
  assert.is(res.status, 201, JSON.stringify(res.body));
});

test.after(async () => {
  await h.close();
});

test('a worker fetches a locked task, completes it, and the run moves on with its output', async () => {
  const runId = await startRun('INC-1');
  const t = await fetchOne('w1');
  assert.is(t.type, 'lookup');
  assert.is(t.runId, runId);
  assert.equal(t.input, { ticket: 'INC-1' });
  assert.is(t.attempt, 1);
  assert.is(t.maxAttempts, 2);
  assert.ok(t.idempotencyKey.startsWith(runId));
  assert.ok(Date.parse(t.lockDeadline) > Date.now());
  const running = await h.call('GET', `/v1/runs/${runId}`);
  assert.is(running.body.tasks[0].status, 'running');
  const done = await settle(t.id, 'complete', { lockToken: t.lockToken, output: { owner: 'alice' } });
  assert.is(done.status, 200, JSON.stringify(done.body));
  const run = await h.call('GET', `/v1/runs/${runId}`);
  assert.is(run.body.status, 'done');
  assert.is(run.body.context.owner, 'alice');
  // Completing again: 409, nothing more happens to the run.
  const again = await settle(t.id, 'complete', { lockToken: t.lockToken, output: { owner: 'bob' } });
  assert.is(again.status, 409);
  assert.is(again.body.error.code, 'CONFLICT');
  assert.is((await h.call('GET', `/v1/runs/${runId}`)).body.context.owner, 'alice');
  assert.equal((await historyTypes(runId)).filter((x) => x.startsWith('task.completed')), ['task.completed']);
});

test('a malformed output is 422 and the task stays locked to its worker', async () => {
  const runId = await startRun('INC-2');
  const t = await fetchOne('w1');
  const bad = await settle(t.id, 'complete', { lockToken: t.lockToken, output: { owner: 42 } });
  assert.is(bad.status, 422);
  assert.is(bad.body.error.code, 'VALIDATION_FAILED');
  assert.ok(bad.body.error.details.some((d: { path: string }) => d.path === '/body/output/owner'), JSON.stringify(bad.body));
  // Nobody else gets it meanwhile.
  const other = await worker({ workerId: 'w2', types: ['lookup'], max: 5, waitMs: 0 });
  assert.is(other.body.tasks.length, 0);
  const ok = await settle(t.id, 'complete', { lockToken: t.lockToken, output: { owner: 'carol' } });
  assert.is(ok.status, 200);
  assert.is((await h.call('GET', `/v1/runs/${runId}`)).body.context.owner, 'carol');
});

test('a lock that expires goes to another worker; the first worker is 409 and the run sees one result', async () => {
  const runId = await startRun('INC-3');
  const first = await fetchOne('slow', 1000);
  await new Promise((r) => setTimeout(r, 1200));
  const second = await fetchOne('fast');
  assert.is(second.id, first.id);
  assert.is.not(second.lockToken, first.lockToken);
  assert.is(second.attempt, 1, 'a re-delivery is not a new attempt');
  const late = await settle(first.id, 'complete', { lockToken: first.lockToken, output: { owner: 'slow' } });
  assert.is(late.status, 409);
  assert.is(late.body.error.details.reason, 'stale-lock');
  const lateExtend = await settle(first.id, 'extend-lock', { lockToken: first.lockToken, lockMs: 5000 });
  assert.is(lateExtend.status, 409);
  const ok = await settle(second.id, 'complete', { lockToken: second.lockToken, output: { owner: 'fast' } });
  assert.is(ok.status, 200);
  const run = await h.call('GET', `/v1/runs/${runId}`);
  assert.is(run.body.context.owner, 'fast');
  assert.equal((await historyTypes(runId)).filter((x) => x.startsWith('task.completed')), ['task.completed']);
});

test('a complete after the lock expired, before anyone refetched, is 409 and the task is offered again', async () => {
  const runId = await startRun('INC-4');
  const t = await fetchOne('w1', 1000);
  const extended = await settle(t.id, 'extend-lock', { lockToken: t.lockToken, lockMs: 1000 });
  assert.is(extended.status, 200);
  assert.ok(Date.parse(extended.body.lockDeadline) >= Date.parse(t.lockDeadline));
  await new Promise((r) => setTimeout(r, 1200));
  const late = await settle(t.id, 'complete', { lockToken: t.lockToken, output: { owner: 'late' } });
  assert.is(late.status, 409);
  assert.is(late.body.error.details.reason, 'lock-expired');
  assert.is((await h.call('GET', `/v1/runs/${runId}`)).body.status, 'running');
  const again = await fetchOne('w2');
  assert.is(again.id, t.id);
  assert.is((await settle(again.id, 'complete', { lockToken: again.lockToken, output: { owner: 'w2' } })).status, 200);
  assert.is((await h.call('GET', `/v1/runs/${runId}`)).body.context.owner, 'w2');
});

test('a retryable failure comes back after its backoff as the next attempt; the last one goes to the run', async () => {
  const runId = await startRun('INC-5');
  const t = await fetchOne('w1');
  const f1 = await settle(t.id, 'fail', { lockToken: t.lockToken, message: 'CMDB timeout', retryable: true, retryInMs: 300 });
  assert.is(f1.status, 200, JSON.stringify(f1.body));
  assert.is(f1.body.retrying, true);
  const stale = await settle(t.id, 'complete', { lockToken: t.lockToken, output: { owner: 'x' } });
  assert.is(stale.status, 409, 'the token died with the failed attempt');
  const none = await worker({ workerId: 'w1', types: ['lookup'], max: 1, waitMs: 0 });
  assert.is(none.body.tasks.length, 0, 'not before its backoff');
  const t2 = await fetchOne('w1');
  assert.is(t2.attempt, 2);
  assert.is(t2.idempotencyKey, t.idempotencyKey);
  const f2 = await settle(t2.id, 'fail', { lockToken: t2.lockToken, message: 'CMDB down', retryable: true });
  assert.is(f2.body.retrying, false, 'attempts exhausted');
  const run = await h.call('GET', `/v1/runs/${runId}`);
  assert.is(run.body.status, 'done');
  assert.equal(run.body.state, 'failed');
  assert.is(run.body.context.error, 'CMDB down');
  const types = await historyTypes(runId);
  assert.ok(types.includes('task.retrying') && types.includes('task.failed'), types.join());
});

test('a non-retryable failure goes to the run at once', async () => {
  const runId = await startRun('INC-6');
  const t = await fetchOne('w1');
  const f = await settle(t.id, 'fail', { lockToken: t.lockToken, message: 'no such ticket', retryable: false });
  assert.is(f.body.retrying, false);
  const run = await h.call('GET', `/v1/runs/${runId}`);
  assert.equal(run.body.state, 'failed');
});

test('a task withdrawn because the run left its state answers 410 to its worker', async () => {
  const runId = await startRun('INC-7');
  const t = await fetchOne('w1');
  const ev = await h.call('POST', `/v1/runs/${runId}/events`, { body: { type: 'CANCEL_WORK' } });
  assert.is(ev.status, 200);
  await waitFor(async () => (await settle(t.id, 'extend-lock', { lockToken: t.lockToken, lockMs: 5000 })).status === 410, 5000, 'withdrawal');
  const res = await settle(t.id, 'complete', { lockToken: t.lockToken, output: { owner: 'nobody' } });
  assert.is(res.status, 410);
  assert.is(res.body.error.code, 'TASK_WITHDRAWN');
  assert.equal((await h.call('GET', `/v1/runs/${runId}`)).body.state, 'parked');
  // Entering the state again schedules a new invocation, with a new id.
  await h.call('POST', `/v1/runs/${runId}/events`, { body: { type: 'RESUME' } });
  const t2 = await fetchOne('w1');
  assert.is.not(t2.id, t.id);
  assert.is((await settle(t2.id, 'complete', { lockToken: t2.lockToken, output: { owner: 'dave' } })).status, 200);
  assert.is((await h.call('GET', `/v1/runs/${runId}`)).body.context.owner, 'dave');
});

test('a long poll waits for the task, and answers empty when none comes', async () => {
  const t0 = Date.now();
  const empty = await worker({ workerId: 'w1', types: ['lookup'], max: 1, waitMs: 400 });
  assert.is(empty.body.tasks.length, 0);
  assert.ok(Date.now() - t0 >= 350, 'it waited');
  const waiting = worker({ workerId: 'w1', types: ['lookup'], max: 1, waitMs: 10_000 });
  await new Promise((r) => setTimeout(r, 300));
  const runId = await startRun('INC-8');
  const got = await waiting;
  assert.is(got.body.tasks.length, 1);
  assert.is(got.body.tasks[0].runId, runId);
  await settle(got.body.tasks[0].id, 'complete', { lockToken: got.body.tasks[0].lockToken, output: { owner: 'eve' } });
});

test('bad requests: unknown ids, bad bodies, wrong roles, unknown task types', async () => {
  assert.is((await settle('r0000000000.t1.nope', 'complete', { lockToken: 'x', output: {} })).status, 404);
  assert.is((await settle('not an id', 'complete', { lockToken: 'x', output: {} })).status, 422);
  assert.is((await worker({ workerId: 'w1', types: [] })).status, 422);
  assert.is((await worker({ workerId: 'w1', types: ['lookup'], lockMs: 10 })).status, 422);
  assert.is((await worker({ workerId: 'w1', types: ['lookup'], extra: 1 })).status, 422);
  // The worker role fetches and completes, nothing else; viewers and operators cannot fetch.
  assert.is((await h.call('GET', '/v1/runs', { key: 'worker' })).status, 403);
  assert.is((await h.call('POST', '/v1/runs', { key: 'worker', body: { workflow: 'ext-lookup', input: { ticket: 'x' } } })).status, 403);
  assert.is((await h.call('POST', '/v1/external-tasks/fetch', { key: 'operator', body: { workerId: 'w', types: ['lookup'] } })).status, 403);
  assert.is((await h.call('POST', '/v1/external-tasks/fetch', { key: null, body: { workerId: 'w', types: ['lookup'] } })).status, 401);
  // A workflow naming a task nobody serves or declares is refused at registration.
  const typo = await h.call('POST', '/v1/workflows', { body: { name: 'ext-typo', definition: { initial: 'a', states: { a: { invoke: { src: 'lokup' } } } } } });
  assert.is(typo.status, 422);
  assert.ok(typo.body.error.details.some((d: { message: string }) => d.message.includes('unknown task "lokup"')), JSON.stringify(typo.body));
  // A declaration whose schema does not compile is refused too.
  const badSchema = await h.call('POST', '/v1/workflows', { body: { name: 'ext-bad', tasks: { x: { external: true, output: { type: 'nonsense' } } }, definition: { initial: 'a', states: { a: { invoke: { src: 'x' } } } } } });
  assert.is(badSchema.status, 422);
});

test.run();
