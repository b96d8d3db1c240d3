// GET /v1/kpis through HTTP: figures that this test computes by hand from the incident runs it drives
// (tool times in the input and events make every duration exact), windows, breakdowns, exclusions.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, type Harness } from './harness.ts';
import { waitFor } from '../helpers.ts';

const test = suite<{ h: Harness }>('api kpis', {} as { h: Harness });
test.before(async (ctx) => {
  ctx.h = await startHarness();
});
test.after(async (ctx) => {
  await ctx.h.close();
});

const MIN = 60_000;
const DAY = 86_400_000;
// Noon UTC a few days ago, so day buckets and window edges are both exercised.
const today = Math.floor(Date.now() / DAY) * DAY;
const t = (daysAgo: number, plusMs = 0) => new Date(today - daysAgo * DAY + 12 * 3600_000 + plusMs).toISOString();
const longSla = { 3: { responseMs: 30 * DAY, resolutionMs: 60 * DAY }, 2: { responseMs: 30 * DAY, resolutionMs: 60 * DAY } };

async function incident(h: Harness, opts: { openedDaysAgo: number; service: string; impact?: number; ackAfterMs?: number; resolveAfterMs?: number }): Promise<string> {
  const start = await h.call('POST', '/v1/runs', {
    key: 'operator',
    body: { workflow: 'incident', input: { title: `${opts.service} down`, service: opts.service, impact: opts.impact ?? 2, urgency: 2, openedAt: t(opts.openedDaysAgo), slaTargetsMs: longSla, caller: 'cal' } },
  });
  assert.is(start.status, 201, JSON.stringify(start.body));
  const id = start.body.id as string;
  if (opts.ackAfterMs !== undefined) {
    const r = await h.call('POST', `/v1/runs/${id}/events`, { key: 'operator', body: { type: 'ACKNOWLEDGE', by: 'ana', at: t(opts.openedDaysAgo, opts.ackAfterMs) } });
    assert.is(r.status, 200, JSON.stringify(r.body));
  }
  if (opts.resolveAfterMs !== undefined) {
    const r = await h.call('POST', `/v1/runs/${id}/events`, { key: 'operator', body: { type: 'RESOLVE', by: 'ana', comment: 'fixed', at: t(opts.openedDaysAgo, opts.resolveAfterMs) } });
    assert.is(r.status, 200, JSON.stringify(r.body));
  }
  return id;
}

type Kpi = { name: string; value: number | null; count: number; unit: string; label: string; breakdown?: Record<string, { key: string; value: number | null; count: number }[]> };
async function kpis(h: Harness, query = ''): Promise<Record<string, Kpi>> {
  const res = await h.call('GET', `/v1/kpis?workflow=incident${query}`, { key: 'viewer' });
  assert.is(res.status, 200, JSON.stringify(res.body));
  return Object.fromEntries((res.body.kpis as Kpi[]).map((k) => [k.name, k]));
}

test('incident KPIs: MTTA, time to resolve (mean, median, p90), per service, from the runs driven here', async ({ h }) => {
  // Acknowledged after 4, 10 and 30 minutes; resolved after 60, 120 and 600 minutes (the third later on).
  const a = await incident(h, { openedDaysAgo: 5, service: 'web', ackAfterMs: 4 * MIN, resolveAfterMs: 60 * MIN });
  await incident(h, { openedDaysAgo: 3, service: 'web', ackAfterMs: 10 * MIN, resolveAfterMs: 120 * MIN });
  const c = await incident(h, { openedDaysAgo: 1, service: 'db', ackAfterMs: 30 * MIN });
  // An acknowledgement counts for MTTA before the run ends.
  let k = await waitFor(async () => {
    const got = await kpis(h);
    return got.mtta.count === 3 ? got : null;
  }, 5000, 'three MTTA measures');
  assert.is(k.mtta.value, (4 + 10 + 30) * MIN / 3);
  assert.is(k.mtta.unit, 'ms');
  assert.is(k.meanTimeToResolve.count, 2);
  assert.is(k.meanTimeToResolve.value, 90 * MIN);

  const r = await h.call('POST', `/v1/runs/${c}/events`, { key: 'operator', body: { type: 'RESOLVE', by: 'ana', comment: 'fixed', at: t(1, 600 * MIN) } });
  assert.is(r.status, 200);
  k = await waitFor(async () => {
    const got = await kpis(h);
    return got.meanTimeToResolve.count === 3 ? got : null;
  }, 5000, 'three resolves');
  assert.is(k.meanTimeToResolve.value, (60 + 120 + 600) * MIN / 3);
  assert.is(k.medianTimeToResolve.value, 120 * MIN, 'median of 60, 120, 600 minutes');
  assert.is(k.p90TimeToResolve.value, 600 * MIN, 'nearest-rank p90 of three values');
  const web = k.mtta.breakdown!.service.find((b) => b.key === 'web')!;
  assert.equal(web, { key: 'web', value: 7 * MIN, count: 2 });
  assert.equal(k.medianTimeToResolve.breakdown!.service.find((b) => b.key === 'db'), { key: 'db', value: 600 * MIN, count: 1 });
  assert.is(k.slaComplianceResponse.value, 1, 'every response was inside its 30-day target');

  // A window selects runs by when they opened: [4 days ago, 2 days ago) holds only the second run.
  const w = await kpis(h, `&since=${encodeURIComponent(new Date(today - 4 * DAY).toISOString())}&until=${encodeURIComponent(new Date(today - 2 * DAY).toISOString())}`);
  assert.is(w.mtta.count, 1);
  assert.is(w.mtta.value, 10 * MIN);
  assert.is(w.medianTimeToResolve.value, 120 * MIN);
  // A window with a partial first day: from noon-plus-a-minute five days ago leaves the first run out.
  const edge = await kpis(h, `&since=${encodeURIComponent(t(5, MIN))}`);
  assert.is(edge.mtta.count, 2);
  assert.is(edge.mtta.value, 20 * MIN);
  const byDate = await kpis(h, `&since=${new Date(today - 4 * DAY).toISOString().slice(0, 10)}&until=${new Date(today - 2 * DAY).toISOString().slice(0, 10)}`);
  assert.is(byDate.mtta.value, 10 * MIN, 'dates alone are midnight UTC');
  const none = await kpis(h, `&until=${encodeURIComponent(new Date(today - 30 * DAY).toISOString())}`);
  assert.is(none.mtta.count, 0);
  assert.is(none.mtta.value, null);

  // A run cancelled through the API leaves every figure.
  const cancel = await h.call('POST', `/v1/runs/${a}/cancel`, { key: 'operator', body: { reason: 'test data' } });
  assert.is(cancel.status, 200, JSON.stringify(cancel.body));
  k = await waitFor(async () => {
    const got = await kpis(h);
    return got.mtta.count === 2 ? got : null;
  }, 5000, 'the cancelled run left out');
  assert.is(k.mtta.value, 20 * MIN);
  assert.is(k.medianTimeToResolve.value, 360 * MIN, 'the median of 120 and 600 minutes is their mean');
  assert.is(k.meanTimeToResolve.count, 2);
});

test('a model-level cancel (duplicate) is counted as a duplicate and is not in the resolve figures', async ({ h }) => {
  const first = await incident(h, { openedDaysAgo: 2, service: 'mail' });
  const dup = await incident(h, { openedDaysAgo: 2, service: 'mail' });
  const r = await h.call('POST', `/v1/runs/${dup}/events`, { key: 'operator', body: { type: 'CANCEL', reason: 'duplicate', duplicateOf: first } });
  assert.is(r.status, 200, JSON.stringify(r.body));
  const k = await waitFor(async () => {
    const got = await kpis(h);
    return got.duplicates.count >= 1 ? got : null;
  }, 5000, 'a duplicate counted');
  assert.equal(k.duplicates.breakdown!.service.find((b) => b.key === 'mail'), { key: 'mail', value: 1, count: 1 });
  assert.not.ok(k.meanTimeToResolve.breakdown!.service.some((b) => b.key === 'mail'));
});

test('backlog: the incidents open now by state and age; SLA breaches per 100 incidents', async ({ h }) => {
  // Earlier tests left one unresolved incident (opened 2 days ago); two more, 3 and 10 days old.
  await incident(h, { openedDaysAgo: 3, service: 'dns' });
  const old = await incident(h, { openedDaysAgo: 10, service: 'dns' });
  const k = await kpis(h);
  assert.is(k.backlog.value, 3);
  assert.equal(k.backlog.breakdown!.age, [{ key: '1-7d', value: 2, count: 2 }, { key: '7-30d', value: 1, count: 1 }]);
  assert.equal(k.backlog.breakdown!.service.find((b) => b.key === 'dns'), { key: 'dns', value: 2, count: 2 });
  assert.ok(Math.abs(k.backlogAge.value! - (Date.now() - (Date.parse(t(2)) + Date.parse(t(3)) + Date.parse(t(10))) / 3)) < 5 * MIN);
  const resolved = await h.call('POST', `/v1/runs/${old}/events`, { key: 'operator', body: { type: 'RESOLVE', by: 'ana', comment: 'stale' } });
  assert.is(resolved.status, 200);
  assert.is((await kpis(h)).backlog.value, 2, 'a resolved incident leaves the backlog');

  // One incident whose response target (300 ms) passes unacknowledged: one breach.
  const before = await kpis(h);
  await h.call('POST', '/v1/runs', { key: 'operator', body: { workflow: 'incident', input: { title: 'slow', impact: 2, urgency: 2, slaTargetsMs: { 3: { responseMs: 300, resolutionMs: 60 * DAY } } } } });
  const after = await waitFor(async () => {
    const got = await kpis(h);
    return got.slaBreaches.value === (before.slaBreaches.value ?? 0) + 1 ? got : null;
  }, 10_000, 'the response breach');
  assert.is(after.incidents.value, before.incidents.value! + 1);
  assert.ok(Math.abs(after.slaBreachesPer100.value! - (after.slaBreaches.value! * 100) / after.incidents.value!) < 1e-9);
  assert.is(after.slaBreachesPer100.count, after.incidents.value);
});

test('every KPI of each built-in model is listed with name, label, unit and count', async ({ h }) => {
  for (const wf of ['incident', 'change', 'delivery', 'planning']) {
    const res = await h.call('GET', `/v1/kpis?workflow=${wf}`, { key: 'viewer' });
    assert.is(res.status, 200);
    assert.is(res.body.workflow, wf);
    assert.is(res.body.since, null);
    assert.ok(res.body.kpis.length >= 10, `${wf} lists its KPIs`);
    for (const k of res.body.kpis) {
      assert.ok(/^[a-z][A-Za-z0-9]*$/.test(k.name), k.name);
      assert.ok(['ms', 'ratio', 'count', 'perDay'].includes(k.unit));
      assert.type(k.count, 'number');
    }
  }
  const names = (await kpis(h)).mtta ? Object.keys(await kpis(h)) : [];
  for (const n of ['mtta', 'meanTimeToResolve', 'slaComplianceResponse', 'slaComplianceResolution', 'reopenRate']) assert.ok(names.includes(n), n);
});

test('errors: unknown workflow 404, bad time 422, since after until 422, unknown parameter 422, no key 401', async ({ h }) => {
  assert.is((await h.call('GET', '/v1/kpis?workflow=nope', { key: 'viewer' })).status, 404);
  const bad = await h.call('GET', '/v1/kpis?workflow=incident&since=yesterday', { key: 'viewer' });
  assert.is(bad.status, 422);
  assert.is(bad.body.error.code, 'VALIDATION_FAILED');
  assert.is((await h.call('GET', `/v1/kpis?workflow=incident&since=${t(1)}&until=${t(3)}`, { key: 'viewer' })).status, 422);
  assert.is((await h.call('GET', '/v1/kpis?workflow=incident&x=1', { key: 'viewer' })).status, 422);
  assert.is((await h.call('GET', '/v1/kpis', { key: 'viewer' })).status, 422);
  assert.is((await h.call('GET', '/v1/kpis?workflow=incident', { key: null })).status, 401);
});

test.run();
