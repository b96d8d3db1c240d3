// PagerDuty V3 webhooks: signatures (several v1= values), delivery-id dedup, the incident life cycle
// events, ignored event types, and the delivery log.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, type Harness } from './harness.ts';
import { SECRETS, fixture, hmac, postHook, runsByKey, getRun } from './hooks-util.ts';

const test = suite<{ h: Harness }>('hooks pagerduty', {} as { h: Harness });

test.before(async (ctx) => {
  ctx.h = await startHarness({ hooks: { secrets: { pagerduty: SECRETS.pagerduty } } });
});
test.after(async (ctx) => {
  await ctx.h.close();
});

let n = 0;
/** A fixture for a fresh PagerDuty incident id. */
function event(name: string, incidentId: string, type?: string) {
  const body = fixture(name);
  body.event.data.id = incidentId;
  if (type) body.event.event_type = type;
  return body;
}
const delivery = () => ({ 'x-webhook-id': `wh-${Date.now()}-${n++}` });
const result = (res: { body: any }) => res.body.results[0];

test('incident.triggered starts an incident: P2 from priority.summary, openedAt from created_at, and no page_oncall', async ({ h }) => {
  const res = await postHook(h, 'pagerduty', event('pagerduty-triggered', 'PDTRIG1'), delivery());
  assert.is(res.status, 202);
  assert.is(result(res).action, 'started');
  const run = await getRun(h, result(res).runId);
  assert.is(run.businessKey, 'PDTRIG1');
  assert.is(run.context.priority, 2);
  assert.is(run.context.openedAt, Date.parse('2026-01-01T10:00:00Z'));
  assert.equal(run.context.source, { tool: 'pagerduty', key: 'PDTRIG1', url: 'https://acme.pagerduty.com/incidents/Q2T6XGE8FQ2TSZ', fingerprint: null });
  assert.is(run.context.service, 'payments-api');
  const history = await h.call('GET', `/v1/runs/${run.id}/history?limit=500`, { key: 'viewer' });
  assert.not.ok(history.body.items.some((e: any) => e.task === 'page_oncall'), 'PagerDuty pages; the incident does not');
});

test('without priority.summary, urgency high → urgency 1 with impact 2 (P2); low → urgency 3 (P4)', async ({ h }) => {
  for (const [urgency, priority] of [['high', 2], ['low', 4]] as const) {
    const body = event('pagerduty-triggered', `PDURG${urgency}`);
    body.event.data.priority = null;
    body.event.data.urgency = urgency;
    const res = await postHook(h, 'pagerduty', body, delivery());
    const run = await getRun(h, result(res).runId);
    assert.is(run.context.priority, priority, urgency);
  }
});

test('incident.acknowledged sends ACKNOWLEDGE with respondedAt = occurred_at (MTTA 6 min 37 s); a second acknowledge is ignored with its reason', async ({ h }) => {
  await postHook(h, 'pagerduty', event('pagerduty-triggered', 'PDACK1'), delivery());
  const ack = await postHook(h, 'pagerduty', event('pagerduty-acknowledged', 'PDACK1'), delivery());
  assert.is(result(ack).action, 'event');
  const run = await getRun(h, result(ack).runId);
  assert.is(run.context.respondedAt, Date.parse('2026-01-01T10:06:37.000Z'));
  assert.is(run.context.respondedAt - run.context.openedAt, 6 * 60_000 + 37_000);
  assert.ok(JSON.stringify(run.state).includes('inProgress'));
  const twice = await postHook(h, 'pagerduty', event('pagerduty-acknowledged', 'PDACK1'), delivery());
  assert.is(twice.status, 202);
  assert.is(result(twice).action, 'ignored');
  assert.match(result(twice).reason, /EVENT_NOT_ACCEPTED/);
  const history = await h.call('GET', `/v1/runs/${result(ack).runId}/history?limit=500`, { key: 'viewer' });
  const notes = history.body.items.filter((e: { type: string }) => e.type === 'hook.ignored');
  assert.is(notes.length, 1, 'the refused acknowledge is on the run\'s timeline');
  assert.is(notes[0].event, 'ACKNOWLEDGE');
  assert.is(notes[0].actor, 'hook:pagerduty');
  assert.match(notes[0].reason, /EVENT_NOT_ACCEPTED/);
  assert.is(history.body.items.filter((e: { type: string; event?: string }) => e.type === 'event.received' && e.event === 'ACKNOWLEDGE').length, 1, 'no event.received for the refused one');
});

test('incident.resolved → RESOLVE with code resolved_in_pagerduty; incident.reopened → REOPEN', async ({ h }) => {
  await postHook(h, 'pagerduty', event('pagerduty-triggered', 'PDRES1'), delivery());
  const resolved = await postHook(h, 'pagerduty', event('pagerduty-acknowledged', 'PDRES1', 'incident.resolved'), delivery());
  assert.is(result(resolved).action, 'event');
  let run = await getRun(h, result(resolved).runId);
  assert.is(run.context.resolutionCode, 'resolved_in_pagerduty');
  const reopened = await postHook(h, 'pagerduty', event('pagerduty-acknowledged', 'PDRES1', 'incident.reopened'), delivery());
  assert.is(result(reopened).action, 'event');
  run = await getRun(h, result(reopened).runId);
  assert.is(run.context.reopenCount, 1);
});

test('an event for an incident with no open run, and an unmapped event type, are ignored with a reason', async ({ h }) => {
  const orphan = await postHook(h, 'pagerduty', event('pagerduty-acknowledged', 'PDNONE'), delivery());
  assert.is(result(orphan).action, 'ignored');
  assert.match(result(orphan).reason, /no open incident with business key PDNONE/);
  const unack = await postHook(h, 'pagerduty', event('pagerduty-acknowledged', 'PDNONE', 'incident.unacknowledged'), delivery());
  assert.is(unack.status, 202);
  assert.is(result(unack).action, 'ignored');
  assert.match(result(unack).reason, /maps to nothing/);
});

test('a redelivery with the same X-Webhook-Id answers duplicate with the first runId and starts no second run; concurrent repeats too', async ({ h }) => {
  const body = event('pagerduty-triggered', 'PDDUP1');
  const id = delivery();
  const first = await postHook(h, 'pagerduty', body, id);
  assert.is(result(first).action, 'started');
  const again = await postHook(h, 'pagerduty', body, id);
  assert.is(result(again).action, 'duplicate');
  assert.is(result(again).runId, result(first).runId);

  const body2 = event('pagerduty-triggered', 'PDDUP2');
  const id2 = delivery();
  const answers = await Promise.all(Array.from({ length: 10 }, () => postHook(h, 'pagerduty', body2, id2)));
  assert.ok(answers.every((a) => a.status === 202));
  assert.is(answers.filter((a) => result(a).action === 'started').length, 1);
  assert.is(answers.filter((a) => result(a).action === 'duplicate').length, 9);
  assert.is((await runsByKey(h, 'PDDUP1')).length, 1);
  assert.is((await runsByKey(h, 'PDDUP2')).length, 1);
});

test('signatures: a bad one answers 401 and changes nothing; a header with two v1= values, one right, is accepted', async ({ h }) => {
  const body = event('pagerduty-triggered', 'PDSIG1');
  const raw = JSON.stringify(body);
  const bad = await h.call('POST', '/v1/hooks/pagerduty', { key: null, raw, headers: { 'content-type': 'application/json', 'x-pagerduty-signature': `v1=${hmac('old-secret', raw)}` } });
  assert.is(bad.status, 401);
  assert.is(bad.body.error.code, 'UNAUTHENTICATED');
  assert.is((await runsByKey(h, 'PDSIG1')).length, 0);
  const tampered = await h.call('POST', '/v1/hooks/pagerduty', { key: null, raw: raw.replace('P2', 'P1'), headers: { 'content-type': 'application/json', 'x-pagerduty-signature': `v1=${hmac(SECRETS.pagerduty, raw)}` } });
  assert.is(tampered.status, 401);
  const rotated = await h.call('POST', '/v1/hooks/pagerduty', {
    key: null, raw, headers: { 'content-type': 'application/json', ...delivery(), 'x-pagerduty-signature': `v1=${hmac('old-secret', raw)},v1=${hmac(SECRETS.pagerduty, raw)}` },
  });
  assert.is(rotated.status, 202);
  assert.is(result(rotated).action, 'started');
});

test('GET /v1/hooks/deliveries lists deliveries newest first for admins, with 401s and paging; viewer gets 403', async ({ h }) => {
  const raw = JSON.stringify(event('pagerduty-triggered', 'PDLOG1'));
  await h.call('POST', '/v1/hooks/pagerduty', { key: null, raw, headers: { 'content-type': 'application/json', 'x-pagerduty-signature': 'v1=00' } });
  const ok = await postHook(h, 'pagerduty', event('pagerduty-triggered', 'PDLOG1'), { 'x-webhook-id': 'log-1' });
  assert.is(ok.status, 202);
  const page = await h.call('GET', '/v1/hooks/deliveries?source=pagerduty&limit=2', { key: 'admin' });
  assert.is(page.status, 200);
  assert.is(page.body.items.length, 2);
  assert.is(page.body.items[0].deliveryId, 'log-1');
  assert.is(page.body.items[0].status, 202);
  assert.is(page.body.items[0].results[0].action, 'started');
  assert.is(page.body.items[1].status, 401);
  assert.match(page.body.items[1].reason, /UNAUTHENTICATED/);
  assert.ok(page.body.nextCursor);
  const next = await h.call('GET', `/v1/hooks/deliveries?source=pagerduty&limit=2&cursor=${page.body.nextCursor}`, { key: 'admin' });
  assert.is(next.status, 200);
  assert.ok(next.body.items.length > 0);
  assert.ok(next.body.items.every((i: any) => !page.body.items.some((p: any) => p.id === i.id)));
  assert.is((await h.call('GET', '/v1/hooks/deliveries', { key: 'viewer' })).status, 403);
  assert.is((await h.call('GET', '/v1/hooks/deliveries', { key: null })).status, 401);
});

test('incident.priority_updated to P1 raises the incident to priority 1 (UPDATE_PRIORITY); a priority outside P1–P5 is ignored', async ({ h }) => {
  const started = await postHook(h, 'pagerduty', event('pagerduty-triggered', 'PDPRIO1'), delivery());
  const id = result(started).runId;
  assert.is((await getRun(h, id)).context.priority, 2);
  const raised = event('pagerduty-triggered', 'PDPRIO1', 'incident.priority_updated');
  raised.event.data.priority = { id: 'PXYZ', type: 'priority_reference', summary: 'P1' };
  const res = await postHook(h, 'pagerduty', raised, delivery());
  assert.equal([result(res).action, result(res).runId], ['event', id]);
  assert.is((await getRun(h, id)).context.priority, 1);
  const odd = event('pagerduty-triggered', 'PDPRIO1', 'incident.priority_updated');
  odd.event.data.priority = { id: 'PXYZ', type: 'priority_reference', summary: 'SEV-A' };
  assert.is(result(await postHook(h, 'pagerduty', odd, delivery())).action, 'ignored');
  assert.is((await getRun(h, id)).context.priority, 1);
});

test.run();
