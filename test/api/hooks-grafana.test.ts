// Grafana's webhook contact point: an Alertmanager-style body signed with X-Grafana-Alerting-Signature
// (optionally over timestamp:body), mapped per alert like Alertmanager's.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, type Harness } from './harness.ts';
import { SECRETS, clone, fixture, getRun, hmac, postHook, runsByKey } from './hooks-util.ts';

const test = suite<{ h: Harness }>('hooks grafana', {} as { h: Harness });
test.before(async (ctx) => {
  ctx.h = await startHarness({ hooks: { secrets: { grafana: SECRETS.grafana } } });
});
test.after(async (ctx) => {
  await ctx.h.close();
});

const body = (fingerprint: string) => {
  const b = clone(fixture('grafana-firing'));
  b.alerts[0].fingerprint = fingerprint;
  return b;
};

test('a firing Grafana alert starts an incident keyed by its fingerprint, P1 from severity critical, linked to its panel', async ({ h }) => {
  const res = await postHook(h, 'grafana', body('gf00000000000001'));
  assert.is(res.status, 202, JSON.stringify(res.body));
  assert.equal(res.body.results.map((r: { action: string }) => r.action), ['started']);
  const run = await getRun(h, res.body.results[0].runId);
  assert.is(run.businessKey, 'gf00000000000001');
  assert.is(run.context.title, 'Checkout p99 latency above 2 s');
  assert.is(run.context.service, 'checkout');
  assert.equal(run.context.source, { tool: 'grafana', key: 'gf00000000000001', url: 'https://grafana.example.com/d/checkout?orgId=1&viewPanel=4', fingerprint: 'gf00000000000001' });
  assert.is(run.context.openedAt, Date.parse('2026-01-01T00:00:00Z'));

  // Grafana re-sends the group: the same fingerprint is the same incident.
  const again = await postHook(h, 'grafana', body('gf00000000000001'));
  assert.equal(again.body.results.map((r: { action: string }) => r.action), ['event']);
  assert.is((await runsByKey(h, 'gf00000000000001')).length, 1);

  const resolved = body('gf00000000000001');
  resolved.status = 'resolved';
  resolved.alerts[0].status = 'resolved';
  resolved.alerts[0].endsAt = new Date(Date.now() - 1000).toISOString();
  const r = await postHook(h, 'grafana', resolved);
  assert.equal(r.body.results.map((x: { action: string }) => x.action), ['event']);
  assert.is((await getRun(h, res.body.results[0].runId)).context.resolutionCode, 'monitoring_cleared');
});

test('signatures: over the body, over timestamp:body with a fresh timestamp; a stale timestamp, a bad signature or none answers 401', async ({ h }) => {
  const raw = JSON.stringify(body('gf00000000000002'));
  const post = (headers: Record<string, string>) => h.call('POST', '/v1/hooks/grafana', { key: null, raw, headers: { 'content-type': 'application/json', ...headers } });
  const now = String(Math.floor(Date.now() / 1000));
  const fresh = await post({ 'x-grafana-alerting-signature': hmac(SECRETS.grafana, `${now}:${raw}`), 'x-grafana-alerting-timestamp': now });
  assert.is(fresh.status, 202, JSON.stringify(fresh.body));
  const stale = String(Math.floor(Date.now() / 1000) - 600);
  const old = await post({ 'x-grafana-alerting-signature': hmac(SECRETS.grafana, `${stale}:${raw}`), 'x-grafana-alerting-timestamp': stale });
  assert.is(old.status, 401, 'a replay ten minutes old');
  assert.is((await post({ 'x-grafana-alerting-signature': hmac('wrong', raw) })).status, 401);
  assert.is((await post({ 'x-grafana-alerting-signature': hmac(SECRETS.grafana, raw), 'x-grafana-alerting-timestamp': now })).status, 401, 'signed without the timestamp it names');
  assert.is((await post({})).status, 401);
  assert.is((await post({ authorization: `Bearer ${SECRETS.grafana}` })).status, 202, 'older Grafana: a bearer secret');
  assert.is((await runsByKey(h, 'gf00000000000002')).length, 1, 'the accepted deliveries found one incident');
});

test.run();
