// The delivery-id claim behind webhook dedup: a finished delivery answers repeats with its results, a
// repeat while the first is in flight waits and then gives up with 503 (the tool retries), and a claim
// left pending by a request that died is taken over once it is stale.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Redis } from 'ioredis';
import { createEngine, type Engine } from '../../engine/index.ts';
import { connect, dropPrefix, manualClock, newPrefix } from '../helpers.ts';

interface Ctx { redis: Redis; engine: Engine; prefix: string; clock: ReturnType<typeof manualClock> }
const test = suite<Ctx>('hook deliveries', {} as Ctx);

test.before(async (ctx) => {
  ctx.redis = await connect();
  ctx.prefix = newPrefix();
  ctx.clock = manualClock(Date.now());
  ctx.engine = createEngine({ redis: ctx.redis, prefix: ctx.prefix, clock: ctx.clock });
});
test.after(async (ctx) => {
  await ctx.engine.close();
  await dropPrefix(ctx.redis, ctx.prefix);
  await ctx.redis.quit();
});

test('a finished delivery answers its repeats with the same results', async ({ engine }) => {
  const store = engine.deliveries;
  const first = await store.claim('github', 'd-1');
  assert.is(first.kind, 'claimed');
  await store.finish('github', 'd-1', (first as { token: string }).token, [{ action: 'started', runId: 'r1' }]);
  assert.equal(await store.claim('github', 'd-1'), { kind: 'repeat', results: [{ action: 'started', runId: 'r1' }] });
  assert.is((await store.claim('jira', 'd-1')).kind, 'claimed', 'ids are per source');
});

test('a repeat of a delivery still in flight waits for it, then answers UNAVAILABLE rather than doing the work twice', async ({ engine }) => {
  const store = engine.deliveries;
  assert.is((await store.claim('pagerduty', 'd-2')).kind, 'claimed');
  const started = Date.now();
  try {
    await store.claim('pagerduty', 'd-2');
    assert.unreachable('a second claim while the first is pending');
  } catch (err) {
    assert.is((err as { code?: string }).code, 'UNAVAILABLE');
  }
  assert.ok(Date.now() - started >= 4000, 'it waited for the first');
});

test('a claim left pending by a request that died is taken over once stale; a released claim at once', async ({ engine, clock }) => {
  const store = engine.deliveries;
  const dead = await store.claim('generic', 'd-3');
  assert.is(dead.kind, 'claimed');
  clock.advance(31_000);
  const next = await store.claim('generic', 'd-3');
  assert.is(next.kind, 'claimed', 'taken over after 30 s');
  // The dead request's late finish cannot overwrite the live claim.
  await store.finish('generic', 'd-3', (dead as { token: string }).token, [{ action: 'ignored', reason: 'late' }]);
  await store.finish('generic', 'd-3', (next as { token: string }).token, [{ action: 'event', runId: 'r3' }]);
  assert.equal(await store.claim('generic', 'd-3'), { kind: 'repeat', results: [{ action: 'event', runId: 'r3' }] });

  const failed = await store.claim('generic', 'd-4');
  await store.release('generic', 'd-4', (failed as { token: string }).token);
  assert.is((await store.claim('generic', 'd-4')).kind, 'claimed', 'the tool\'s retry does the work');
});

test.run();
