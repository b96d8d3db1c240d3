// The runs endpoints through HTTP: every status and error code of the contract.
import type { Redis } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, type Harness } from './harness.ts';
import { testTasks, testWorkflows } from '../fixtures/workflows.ts';
import { connect, waitFor } from '../helpers.ts';

const test = suite<{ h: Harness; side: Redis }>('api runs', {} as { h: Harness; side: Redis });

test.before(async (ctx) => {
  ctx.h = await startHarness({ workflows: testWorkflows, tasks: testTasks(ctx.side = await connect(), 'side') });
});
test.after(async (ctx) => {
  await ctx.h.close();
  await ctx.side.quit();
});

test('POST /v1/runs starts a run: 201 with the run resource', async ({ h }) => {
  const res = await h.call('POST', '/v1/runs', { key: 'operator', body: { workflow: 'counter', input: { start: 1 }, businessKey: 'CNT-9' } });
  assert.is(res.status, 201);
  const run = res.body;
  for (const f of ['id', 'workflow', 'version', 'status', 'state', 'context', 'input', 'businessKey', 'parentRunId', 'createdAt', 'updatedAt', 'endedAt', 'nextEvents', 'tasks', 'timers', 'output']) {
    assert.ok(f in run, `run has ${f}`);
  }
  assert.is(run.status, 'running');
  assert.is(run.businessKey, 'CNT-9');
  assert.is(run.version, 1);
  assert.equal(run.context, { count: 1, log: [] });
  const history = await h.call('GET', `/v1/runs/${run.id}/history`, { key: 'viewer' });
  assert.is(history.body.items[0].type, 'run.started');
  assert.is(history.body.items[0].actor, 'ops', 'the key name, never the key');
});

test('starting a run: unknown workflow 404, bad input 422 against the input schema, unknown body field 422', async ({ h }) => {
  assert.is((await h.call('POST', '/v1/runs', { key: 'operator', body: { workflow: 'nope' } })).status, 404);
  const bad = await h.call('POST', '/v1/runs', { key: 'operator', body: { workflow: 'counter', input: { start: 'x' } } });
  assert.is(bad.status, 422);
  assert.is(bad.body.error.code, 'VALIDATION_FAILED');
  assert.ok(bad.body.error.details.some((d: { path: string }) => d.path.startsWith('/input')));
  const extra = await h.call('POST', '/v1/runs', { key: 'operator', body: { workflow: 'counter', colour: 'red' } });
  assert.is(extra.status, 422);
  assert.equal(extra.body.error.details.map((d: { path: string }) => d.path), ['/body/colour']);
});

test('auth: no key 401, unknown key 401, viewer cannot start 403, viewer can read', async ({ h }) => {
  assert.is((await h.call('POST', '/v1/runs', { key: null, body: { workflow: 'counter' } })).status, 401);
  const unknown = await h.call('GET', '/v1/runs', { key: null, headers: { authorization: 'Bearer nope-nope-nope' } });
  assert.is(unknown.status, 401);
  assert.is(unknown.body.error.code, 'UNAUTHENTICATED');
  const forbidden = await h.call('POST', '/v1/runs', { key: 'viewer', body: { workflow: 'counter' } });
  assert.is(forbidden.status, 403);
  assert.is(forbidden.body.error.code, 'FORBIDDEN');
  assert.is((await h.call('GET', '/v1/runs', { key: 'viewer' })).status, 200);
});

test('GET /v1/runs/:id: 200, and 404 for an unknown id', async ({ h }) => {
  const { body: run } = await h.call('POST', '/v1/runs', { body: { workflow: 'counter' } });
  const got = await h.call('GET', `/v1/runs/${run.id}`, { key: 'viewer' });
  assert.is(got.status, 200);
  assert.is(got.body.id, run.id);
  const missing = await h.call('GET', '/v1/runs/rdoesnotexist0000', { key: 'viewer' });
  assert.is(missing.status, 404);
  assert.is(missing.body.error.code, 'NOT_FOUND');
  assert.is((await h.call('GET', '/v1/runs/..%2F..%2Fetc', { key: 'viewer' })).status, 404);
});

test('events: 200 applied with the run right after; 409 EVENT_NOT_ACCEPTED with nextEvents; 409 RUN_ENDED; no event.received for refused events', async ({ h }) => {
  const { body: run } = await h.call('POST', '/v1/runs', { body: { workflow: 'counter' } });
  const ok = await h.call('POST', `/v1/runs/${run.id}/events`, { key: 'operator', body: { type: 'ADD', amount: 4 } });
  assert.is(ok.status, 200);
  assert.is(ok.body.applied, true);
  assert.is(ok.body.run.context.count, 4);
  await h.call('POST', `/v1/runs/${run.id}/events`, { body: { type: 'PAUSE' } });
  const refused = await h.call('POST', `/v1/runs/${run.id}/events`, { body: { type: 'INC' } });
  assert.is(refused.status, 409);
  assert.is(refused.body.error.code, 'EVENT_NOT_ACCEPTED');
  assert.equal(refused.body.error.details.nextEvents, ['DONE', 'RESUME']);
  await h.call('POST', `/v1/runs/${run.id}/events`, { body: { type: 'DONE' } });
  const ended = await h.call('POST', `/v1/runs/${run.id}/events`, { body: { type: 'RESUME' } });
  assert.is(ended.status, 409);
  assert.is(ended.body.error.code, 'RUN_ENDED');
  const hist = await h.call('GET', `/v1/runs/${run.id}/history?limit=500`);
  const received = hist.body.items.filter((e: { type: string }) => e.type === 'event.received').map((e: { event: string }) => e.event);
  assert.equal(received, ['ADD', 'PAUSE', 'DONE']);
  const bad = await h.call('POST', `/v1/runs/${run.id}/events`, { body: { type: 'xstate.init' } });
  assert.is(bad.status, 422);
  const none = await h.call('POST', '/v1/runs/rnope00000000/events', { body: { type: 'INC' } });
  assert.is(none.status, 404);
});

test('Idempotency-Key: a repeated start or event does the work once and answers with duplicate: true', async ({ h }) => {
  const headers = { 'idempotency-key': 'start-abc' };
  const a = await h.call('POST', '/v1/runs', { body: { workflow: 'counter' }, headers });
  const b = await h.call('POST', '/v1/runs', { body: { workflow: 'counter' }, headers });
  assert.is(a.status, 201);
  assert.is(b.body.id, a.body.id);
  assert.is(b.body.duplicate, true);
  assert.is(a.body.duplicate, undefined);
  const ev = { 'idempotency-key': 'ev-1' };
  const results = await Promise.all([1, 2, 3, 4, 5].map(() => h.call('POST', `/v1/runs/${a.body.id}/events`, { body: { type: 'INC' }, headers: ev })));
  assert.is(results.filter((r) => r.status === 200).length, 5);
  assert.is(results.filter((r) => r.body.duplicate === true).length, 4);
  const now = await h.call('GET', `/v1/runs/${a.body.id}`);
  assert.is(now.body.context.count, 1);
});

test('concurrent events to one run through HTTP are each applied exactly once', async ({ h }) => {
  const { body: run } = await h.call('POST', '/v1/runs', { body: { workflow: 'counter' } });
  const res = await Promise.all(Array.from({ length: 30 }, () => h.call('POST', `/v1/runs/${run.id}/events`, { body: { type: 'INC' } })));
  assert.ok(res.every((r) => r.status === 200));
  const now = await h.call('GET', `/v1/runs/${run.id}`);
  assert.is(now.body.context.count, 30);
});

test('cancel: 200 cancelled with timers withdrawn; a second cancel answers 409 RUN_ENDED', async ({ h }) => {
  const { body: run } = await h.call('POST', '/v1/runs', { body: { workflow: 'timed', input: { delayMs: 60_000 } } });
  assert.is(run.timers.length, 1);
  const res = await h.call('POST', `/v1/runs/${run.id}/cancel`, { key: 'operator', body: { reason: 'duplicate ticket' } });
  assert.is(res.status, 200);
  assert.is(res.body.status, 'cancelled');
  assert.equal(res.body.timers, []);
  const again = await h.call('POST', `/v1/runs/${run.id}/cancel`, { body: {} });
  assert.is(again.status, 409);
  assert.is(again.body.error.code, 'RUN_ENDED');
});

test('GET /v1/runs lists newest first with filters and cursor paging', async ({ h }) => {
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) ids.push((await h.call('POST', '/v1/runs', { body: { workflow: 'counter', businessKey: 'LIST-1' } })).body.id);
  await h.call('POST', `/v1/runs/${ids[0]}/events`, { body: { type: 'PAUSE' } });
  const page1 = await h.call('GET', '/v1/runs?businessKey=LIST-1&limit=3');
  assert.equal(page1.body.items.map((r: { id: string }) => r.id), [ids[3], ids[2], ids[1]]);
  assert.ok(page1.body.nextCursor);
  const page2 = await h.call('GET', `/v1/runs?businessKey=LIST-1&limit=3&cursor=${encodeURIComponent(page1.body.nextCursor)}`);
  assert.equal(page2.body.items.map((r: { id: string }) => r.id), [ids[0]]);
  assert.is(page2.body.nextCursor, null);
  const paused = await h.call('GET', '/v1/runs?workflow=counter&state=paused');
  assert.ok(paused.body.items.some((r: { id: string }) => r.id === ids[0]));
  assert.is((await h.call('GET', '/v1/runs?limit=0')).status, 422);
  assert.is((await h.call('GET', '/v1/runs?limit=501')).status, 422);
  assert.is((await h.call('GET', '/v1/runs?status=sleeping')).status, 422);
  assert.is((await h.call('GET', '/v1/runs?colour=red')).status, 422);
});

test('a run that invokes a task goes on by itself: tasks are queued, not awaited, by the event answer', async ({ h }) => {
  const { body: run } = await h.call('POST', '/v1/runs', { body: { workflow: 'demo', input: { sleepMs: 10, coolDownMs: 50 } } });
  assert.is(run.tasks.length, 1);
  assert.is(run.tasks[0].name, 'sleep');
  const done = await waitFor(async () => {
    const r = await h.call('GET', `/v1/runs/${run.id}`);
    return r.body.status === 'done' ? r.body : null;
  }, 5000, 'the demo run');
  assert.is(done.state, 'finished');
  assert.ok(done.endedAt);
});

test.run();
