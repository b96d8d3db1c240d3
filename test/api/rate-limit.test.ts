// Each API key gets a request budget: past it, 429 RATE_LIMITED with Retry-After, and other keys are unaffected.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, type Harness } from './harness.ts';

const test = suite<{ h: Harness }>('rate limit', {} as { h: Harness });
test.before(async (ctx) => {
  ctx.h = await startHarness({ consume: false, rateLimit: { perSecond: 1, burst: 3 } });
});
test.after(async (ctx) => ctx.h.close());

test('a key past its burst answers 429 RATE_LIMITED with Retry-After; another key still gets through', async ({ h }) => {
  const statuses: number[] = [];
  let limited: Awaited<ReturnType<Harness['call']>> | null = null;
  for (let i = 0; i < 6; i++) {
    const r = await h.call('GET', '/v1/workflows', { key: 'viewer' });
    statuses.push(r.status);
    if (r.status === 429) limited = r;
  }
  assert.equal(statuses.slice(0, 3), [200, 200, 200]);
  assert.ok(limited, `some answer was 429: ${statuses}`);
  assert.is(limited!.body.error.code, 'RATE_LIMITED');
  assert.ok(limited!.headers.get('retry-after'));
  assert.is((await h.call('GET', '/v1/workflows', { key: 'admin' })).status, 200);
  assert.is((await h.call('GET', '/healthz', { key: null })).status, 200, 'health checks are never limited');
});

test.run();
