// The open-run claim by business key: one run per key while it is open, a new one once it has ended,
// a crashed starter's claim taken over, and a refused start leaving nothing behind.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Redis } from 'ioredis';
import { createEngineInstance as createEngine, type EngineInstance as Engine } from '../../engine/testing.ts';
import { builtInWorkflows } from '../../workflows/index.ts';
import { builtInTasks } from '../../workers/tasks/index.ts';
import { connect, dropPrefix, manualClock, newPrefix } from '../helpers.ts';

interface Ctx {
  redis: Redis;
  engine: Engine;
  prefix: string;
  clock: ReturnType<typeof manualClock>;
}

const test = suite<Ctx>('business keys', {} as Ctx);

test.before(async (ctx) => {
  ctx.redis = await connect();
  ctx.prefix = newPrefix();
  ctx.clock = manualClock(Date.now());
  ctx.engine = createEngine({ redis: ctx.redis, prefix: ctx.prefix, clock: ctx.clock, workflows: builtInWorkflows, tasks: builtInTasks });
});

test.after(async (ctx) => {
  await ctx.engine.close();
  await dropPrefix(ctx.redis, ctx.prefix);
  await ctx.redis.quit();
});

test('concurrent calls with one key start one run; after it ends the next call starts a new one', async ({ engine }) => {
  const args = { workflow: 'incident', businessKey: 'BK-1', input: { title: 't' } };
  const all = await Promise.all(Array.from({ length: 10 }, () => engine.startOrFindOpen(args)));
  assert.is(all.filter((r) => r.started).length, 1);
  assert.is(new Set(all.map((r) => r.runId)).size, 1);
  assert.is(await engine.findOpenRun('BK-1', 'incident'), all[0].runId);
  await engine.cancelRun(all[0].runId);
  assert.is(await engine.findOpenRun('BK-1', 'incident'), null);
  const next = await engine.startOrFindOpen(args);
  assert.ok(next.started);
  assert.is.not(next.runId, all[0].runId);
  assert.is((await engine.listRuns({ businessKey: 'BK-1' })).items.length, 2);
});

test('a start the input schema refuses throws VALIDATION_FAILED and releases the claim', async ({ engine, redis }) => {
  try {
    await engine.startOrFindOpen({ workflow: 'incident', businessKey: 'BK-2', input: { impact: 9 } });
    assert.unreachable();
  } catch (err) {
    assert.is((err as { code?: string }).code, 'VALIDATION_FAILED');
  }
  assert.is(await redis.exists(engine.keys.openClaim('incident', 'BK-2')), 0);
  assert.ok((await engine.startOrFindOpen({ workflow: 'incident', businessKey: 'BK-2', input: {} })).started);
});

test('a claim whose run never appeared is waited for, and taken over once it is stale', async ({ engine, redis, clock }) => {
  const key = engine.keys.openClaim('incident', 'BK-3');
  await redis.set(key, `r0000000000ghost|${clock.now()}`);
  const pending = engine.startOrFindOpen({ workflow: 'incident', businessKey: 'BK-3', input: {} });
  await new Promise((r) => setTimeout(r, 100));
  clock.advance(11_000);
  const res = await pending;
  assert.ok(res.started);
  assert.is((await engine.getRun(res.runId)).businessKey, 'BK-3');
});

test.run();
