// Alertmanager webhooks: one run per alert fingerprint, repeats become ALERT_FIRING, resolves and refires.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, type Harness } from './harness.ts';
import { SECRETS, fixture, postHook, runsByKey, getRun } from './hooks-util.ts';
import { waitFor } from '../helpers.ts';

const test = suite<{ h: Harness }>('hooks alertmanager', {} as { h: Harness });

test.before(async (ctx) => {
  ctx.h = await startHarness({ hooks: { secrets: { alertmanager: SECRETS.alertmanager } } });
});
test.after(async (ctx) => {
  await ctx.h.close();
});

/** A fixture with fresh fingerprints, so each test owns its runs. */
function notification(name: string, tag: string) {
  const body = fixture(name);
  for (const a of body.alerts) a.fingerprint = `${a.fingerprint.slice(0, 10)}${tag}`;
  return body;
}
const actions = (res: { body: any }) => res.body.results.map((r: any) => r.action);

test('two firing alerts posted 3 times plus an exact redelivery: exactly 2 runs, started then event, alertRepeatCount rises', async ({ h }) => {
  const body = notification('alertmanager-firing', 'aaaaaa');
  const first = await postHook(h, 'alertmanager', body);
  assert.is(first.status, 202);
  assert.equal(actions(first), ['started', 'started']);
  const ids = first.body.results.map((r: any) => r.runId);
  for (let i = 0; i < 2; i++) {
    const again = await postHook(h, 'alertmanager', { ...body, notification_reason: 'repeat interval' });
    assert.equal(actions(again), ['event', 'event']);
    assert.equal(again.body.results.map((r: any) => r.runId), ids);
  }
  const redelivery = await postHook(h, 'alertmanager', body);
  assert.equal(actions(redelivery), ['event', 'event']);
  for (const [i, a] of body.alerts.entries()) {
    const runs = await runsByKey(h, a.fingerprint);
    assert.is(runs.length, 1, `one run for ${a.fingerprint}`);
    assert.is(runs[0].id, ids[i]);
    assert.is(runs[0].context.alertRepeatCount, 3);
  }
  const run = await getRun(h, ids[0]);
  const alert = body.alerts[0];
  assert.equal(run.context.source, { tool: 'alertmanager', key: alert.fingerprint, url: alert.generatorURL, fingerprint: alert.fingerprint });
  assert.is(run.context.priority, 2, 'severity critical → urgency 1, impact 2 → P2');
  assert.is(run.context.openedAt, Date.parse(alert.startsAt), 'openedAt is startsAt');
  assert.is(run.context.service, 'checkout');
  assert.is(run.context.title, 'Checkout 5xx above 5%');
  assert.is(run.context.labels.team, 'payments');
  const second = await getRun(h, ids[1]);
  assert.is(second.context.priority, 4, 'label impact 3 × severity warning (urgency 2) → P4');
});

test('a priority label P1 overrides severity and impact', async ({ h }) => {
  const body = notification('alertmanager-firing', 'bbbbbb');
  body.alerts = [body.alerts[1]];
  body.alerts[0].labels.priority = 'P1';
  const res = await postHook(h, 'alertmanager', body);
  assert.equal(actions(res), ['started']);
  assert.is((await getRun(h, res.body.results[0].runId)).context.priority, 1);
});

test('10 concurrent identical notifications start exactly one run per alert', async ({ h }) => {
  const body = notification('alertmanager-firing', 'cccccc');
  body.alerts = [body.alerts[0]];
  const answers = await Promise.all(Array.from({ length: 10 }, () => postHook(h, 'alertmanager', body)));
  assert.ok(answers.every((a) => a.status === 202));
  const all = answers.map((a) => a.body.results[0]);
  assert.is(all.filter((r) => r.action === 'started').length, 1);
  assert.is(all.filter((r) => r.action === 'event').length, 9);
  assert.is(new Set(all.map((r) => r.runId)).size, 1);
  const runs = await runsByKey(h, body.alerts[0].fingerprint);
  assert.is(runs.length, 1);
  assert.is(runs[0].context.alertRepeatCount, 9);
});

test('resolve → both runs resolved with monitoring_cleared; refire → the same run reopens; after it is closed a firing starts a new run', async ({ h }) => {
  const firing = notification('alertmanager-firing', 'dddddd');
  const started = await postHook(h, 'alertmanager', firing);
  const ids = started.body.results.map((r: any) => r.runId);
  const resolved = notification('alertmanager-resolved', 'dddddd');
  const res = await postHook(h, 'alertmanager', resolved);
  assert.equal(actions(res), ['event', 'event']);
  for (const id of ids) {
    const run = await getRun(h, id);
    assert.is((run.state as any).resolved !== undefined || run.state === 'resolved', true, `run ${id} resolved: ${JSON.stringify(run.state)}`);
    assert.is(run.context.resolutionCode, 'monitoring_cleared');
  }
  // A second resolved notification: the run is not open any more in a state that takes it.
  const again = await postHook(h, 'alertmanager', resolved);
  assert.equal(actions(again), ['ignored', 'ignored']);
  assert.match(again.body.results[0].reason, /EVENT_NOT_ACCEPTED/);

  const refire = { ...firing, alerts: [firing.alerts[0]] };
  const reopened = await postHook(h, 'alertmanager', refire);
  assert.equal(actions(reopened), ['event']);
  assert.is(reopened.body.results[0].runId, ids[0]);
  const run = await getRun(h, ids[0]);
  assert.is(run.context.reopenCount, 1);
  assert.ok(JSON.stringify(run.state).includes('inProgress'));

  const cancel = await h.call('POST', `/v1/runs/${ids[0]}/cancel`, { key: 'operator', body: { reason: 'test' } });
  assert.is(cancel.status, 200);
  const fresh = await postHook(h, 'alertmanager', refire);
  assert.equal(actions(fresh), ['started']);
  assert.is.not(fresh.body.results[0].runId, ids[0]);
  const runs = await runsByKey(h, firing.alerts[0].fingerprint);
  assert.is(runs.length, 2, 'a new run with the same business key');
  assert.is(runs.filter((r) => r.status === 'running').length, 1);
});

test('a resolved alert with no open run is ignored with a reason; an alert the input schema refuses is ignored with the validation message', async ({ h }) => {
  const resolved = notification('alertmanager-resolved', 'eeeeee');
  const res = await postHook(h, 'alertmanager', resolved);
  assert.is(res.status, 202);
  assert.equal(actions(res), ['ignored', 'ignored']);
  assert.match(res.body.results[0].reason, /no open incident/);
  const bad = notification('alertmanager-firing', 'ffffff');
  bad.alerts[1].labels.impact = '7';
  const mixed = await postHook(h, 'alertmanager', bad);
  assert.equal(actions(mixed), ['started', 'ignored']);
  assert.match(mixed.body.results[1].reason, /VALIDATION_FAILED.*impact/);
  assert.is((await runsByKey(h, bad.alerts[1].fingerprint)).length, 0, 'nothing was left behind');
  const retry = await postHook(h, 'alertmanager', { ...bad, alerts: [{ ...bad.alerts[1], labels: { ...bad.alerts[1].labels, impact: '1' } }] });
  assert.equal(actions(retry), ['started'], 'the refused start released its claim');
});

test('a wrong bearer secret answers 401 and starts nothing; an unset secret answers 401 naming the env var', async ({ h }) => {
  const body = notification('alertmanager-firing', 'gggggg');
  const raw = JSON.stringify(body);
  const wrong = await h.call('POST', '/v1/hooks/alertmanager', { key: null, raw, headers: { 'content-type': 'application/json', authorization: 'Bearer nope' } });
  assert.is(wrong.status, 401);
  assert.is(wrong.body.error.code, 'UNAUTHENTICATED');
  const none = await h.call('POST', '/v1/hooks/alertmanager', { key: null, raw, headers: { 'content-type': 'application/json' } });
  assert.is(none.status, 401);
  assert.is((await runsByKey(h, body.alerts[0].fingerprint)).length, 0);
  const unset = await postHook(h, 'servicenow', { number: 'CHG0000001' });
  assert.is(unset.status, 401);
  assert.match(unset.body.error.message, /SERVICECHART_HOOK_SECRET_SERVICENOW/);
});

test('malformed JSON answers 400, a non-JSON media type 415, an unknown source 404', async ({ h }) => {
  const bad = await postHook(h, 'alertmanager', '{"alerts": [');
  assert.is(bad.status, 400);
  assert.is(bad.body.error.code, 'BAD_JSON');
  const raw = 'status=firing';
  const text = await h.call('POST', '/v1/hooks/alertmanager', { key: null, raw, headers: { 'content-type': 'text/plain', authorization: `Bearer ${SECRETS.alertmanager}` } });
  assert.is(text.status, 415);
  const unknown = await h.call('POST', '/v1/hooks/nagios', { key: null, raw: '{}', headers: { 'content-type': 'application/json' } });
  assert.is(unknown.status, 404);
});

test('a notification whose alerts list is empty or missing is answered ignored with a reason, and starts nothing', async ({ h }) => {
  for (const body of [{ version: '4', status: 'firing', alerts: [] }, { version: '4', status: 'firing' }]) {
    const res = await postHook(h, 'alertmanager', body);
    assert.is(res.status, 202);
    assert.equal(actions(res), ['ignored']);
    assert.match(res.body.results[0].reason, /alerts/);
  }
});

test('scenario 6 from the hook: a critical alert labelled impact 1 opens a P1 that pages on-call at once', async ({ h }) => {
  const body = notification('alertmanager-firing', 'p1p1p1');
  body.alerts = [body.alerts[0]];
  body.alerts[0].labels.impact = '1';
  const res = await postHook(h, 'alertmanager', body);
  assert.equal(actions(res), ['started']);
  const id = res.body.results[0].runId;
  const run = await getRun(h, id);
  assert.is(run.context.priority, 1);
  const paged = async () => {
    const items = (await h.call('GET', `/v1/runs/${id}/history?limit=500`, { key: 'viewer' })).body.items;
    return items.find((e: { type: string; task?: string }) => e.type === 'task.scheduled' && e.task === 'page_oncall') ?? null;
  };
  const page = await waitFor(paged, 5000, 'page_oncall scheduled');
  assert.is(page.input.level, 1);
});

test.run();
