// Bad and hostile input through HTTP: every refusal in the contract's shape, and nothing half-written.
import type { Redis } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, type Harness } from './harness.ts';
import { testTasks, testWorkflows } from '../fixtures/workflows.ts';
import { connect } from '../helpers.ts';
import type { RunId } from '../../engine/index.ts';

const test = suite<{ h: Harness; side: Redis }>('api hardening', {} as { h: Harness; side: Redis });

test.before(async (ctx) => {
  ctx.h = await startHarness({ workflows: testWorkflows, tasks: testTasks(ctx.side = await connect(), 'side'), consume: false });
});
test.after(async (ctx) => {
  await ctx.h.close();
  await ctx.side.quit();
});

async function runCount(h: Harness): Promise<number> {
  const counts = await Promise.all(h.engine.keys.all.map((p) => h.redis.zcard(h.engine.keys.runsAll(p))));
  return counts.reduce((a, b) => a + b, 0);
}

test('malformed JSON answers 400 BAD_JSON', async ({ h }) => {
  const res = await h.call('POST', '/v1/runs', { raw: '{"workflow": "counter",', headers: { 'content-type': 'application/json' } });
  assert.is(res.status, 400);
  assert.is(res.body.error.code, 'BAD_JSON');
});

test('a body that is not JSON answers 415 UNSUPPORTED_MEDIA_TYPE', async ({ h }) => {
  const res = await h.call('POST', '/v1/runs', { raw: 'workflow=counter', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.is(res.status, 415);
  assert.is(res.body.error.code, 'UNSUPPORTED_MEDIA_TYPE');
});

test('a body over 1 MiB answers 413 PAYLOAD_TOO_LARGE', async ({ h }) => {
  const before = await runCount(h);
  const big = JSON.stringify({ workflow: 'counter', input: { blob: 'x'.repeat(1024 * 1024) } });
  const res = await h.call('POST', '/v1/runs', { raw: big, headers: { 'content-type': 'application/json' } });
  assert.is(res.status, 413);
  assert.is(res.body.error.code, 'PAYLOAD_TOO_LARGE');
  assert.is(await runCount(h), before);
});

test('__proto__, constructor and prototype keys anywhere answer 422 and never reach a prototype', async ({ h }) => {
  for (const key of ['__proto__', 'constructor', 'prototype']) {
    const raw = `{"workflow":"counter","input":{"nested":{"${key}":{"polluted":true}}}}`;
    const res = await h.call('POST', '/v1/runs', { raw, headers: { 'content-type': 'application/json' } });
    assert.is(res.status, 422, key);
    assert.is(res.body.error.code, 'VALIDATION_FAILED');
    assert.is(res.body.error.details[0].path, `/input/nested/${key}`);
  }
  assert.is(({} as Record<string, unknown>).polluted, undefined);
});

test('limits: nesting past 64, strings over 64 KiB and arrays over 1,000 items answer 422', async ({ h }) => {
  let deep: unknown = 1;
  for (let i = 0; i < 70; i++) deep = { d: deep };
  const r1 = await h.call('POST', '/v1/runs', { body: { workflow: 'counter', input: { deep } } });
  assert.is(r1.status, 422);
  const r2 = await h.call('POST', '/v1/runs', { body: { workflow: 'counter', input: { s: 'x'.repeat(65 * 1024) } } });
  assert.is(r2.status, 422);
  const r3 = await h.call('POST', '/v1/runs', { body: { workflow: 'counter', input: { a: Array.from({ length: 1001 }, (_, i) => i) } } });
  assert.is(r3.status, 422);
});

test("an event that would grow a run's context past 256 KiB answers 422 and stores nothing", async ({ h }) => {
  const { body: run } = await h.call('POST', '/v1/runs', { body: { workflow: 'counter' } });
  // Each ADD appends to context.log; big payloads are refused by the context limit, not stored.
  const seqBefore = await h.redis.hget(h.engine.keys.run(run.id as RunId), 'seq');
  const res = await h.call('POST', `/v1/runs/${run.id}/events`, { body: { type: 'ADD', amount: 1, pad: 'y'.repeat(60_000) } });
  assert.is(res.status, 200, 'payload fields the machine does not keep do not count');
  const bigStart = await h.call('POST', '/v1/runs', { body: { workflow: 'tasky', input: { task: 'echo', payload: Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`k${i}`, 'z'.repeat(60_000)])) } } });
  assert.is(bigStart.status, 422);
  assert.is(bigStart.body.error.details[0].path, '/context');
  assert.is(Number(await h.redis.hget(h.engine.keys.run(run.id as RunId), 'seq')), Number(seqBefore) + 1);
});

test('unknown routes answer 404 in the contract shape', async ({ h }) => {
  const res = await h.call('GET', '/v1/nothing-here');
  assert.is(res.status, 404);
  assert.is(res.body.error.code, 'NOT_FOUND');
});

test('an Idempotency-Key that is not printable ASCII answers 422', async ({ h }) => {
  const res = await h.call('POST', '/v1/runs', { body: { workflow: 'counter' }, headers: { 'idempotency-key': 'x'.repeat(201) } });
  assert.is(res.status, 422);
});

test('security headers are set on every answer', async ({ h }) => {
  const res = await h.call('GET', '/healthz', { key: null });
  assert.is(res.headers.get('x-content-type-options'), 'nosniff');
});

test.run();
