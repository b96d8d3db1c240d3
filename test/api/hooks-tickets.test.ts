// Ticketing webhooks (GitHub issues, Jira, ServiceNow) and the generic source: each mapping-table row,
// the ignored cases with their reasons, and delivery/record-version dedup.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, type Harness } from './harness.ts';
import { SECRETS, clone, fixture, hmac, postHook, runsByKey, getRun } from './hooks-util.ts';

const test = suite<{ h: Harness }>('hooks tickets', {} as { h: Harness });

test.before(async (ctx) => {
  ctx.h = await startHarness({ hooks: { secrets: { ...SECRETS } } });
});
test.after(async (ctx) => {
  await ctx.h.close();
});

let n = 0;
const uid = () => `${Date.now().toString(36)}${n++}`;
const result = (res: { body: any }) => res.body.results[0];
const github = (body: unknown, event = 'issues') => ({ 'x-github-event': event, 'x-github-delivery': `72d3162e-${uid()}`, 'user-agent': 'GitHub-Hookshot/abc' });

test('github: issues opened with label incident starts an incident keyed owner/repo#number, priority from the sev label', async ({ h }) => {
  const body = fixture('github-issues-opened');
  body.issue.number = 4201;
  const res = await postHook(h, 'github', body, github(body));
  assert.is(res.status, 202);
  assert.is(result(res).action, 'started');
  const run = await getRun(h, result(res).runId);
  assert.is(run.businessKey, 'acme/shop#4201');
  assert.is(run.context.priority, 2);
  assert.is(run.context.caller, 'octocat');
  assert.is(run.context.title, 'Checkout returns 500 for EU customers');
  assert.is(run.context.openedAt, Date.parse('2026-01-01T09:15:00Z'));
  assert.equal(run.context.source, { tool: 'github', key: 'acme/shop#4201', url: 'https://github.com/acme/shop/issues/42', fingerprint: null });
});

test('github: a delivery with GitHub\'s default form content type (payload=<json>) is read the same way, signed over the form body', async ({ h }) => {
  const body = fixture('github-issues-opened');
  body.issue.number = 4300;
  const raw = `payload=${encodeURIComponent(JSON.stringify(body))}`;
  const res = await h.call('POST', '/v1/hooks/github', {
    key: null, raw,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-hub-signature-256': `sha256=${hmac(SECRETS.github, raw)}`, ...github(body) },
  });
  assert.is(res.status, 202, JSON.stringify(res.body));
  assert.is(result(res).action, 'started');
  assert.is((await getRun(h, result(res).runId)).businessKey, `${body.repository.full_name}#4300`);
  const tampered = await h.call('POST', '/v1/hooks/github', {
    key: null, raw: raw.replace('4300', '4301'),
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-hub-signature-256': `sha256=${hmac(SECRETS.github, raw)}`, ...github(body) },
  });
  assert.is(tampered.status, 401);
  const other = await h.call('POST', '/v1/hooks/jira', { key: null, raw, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-hub-signature': `sha256=${hmac(SECRETS.jira, raw)}` } });
  assert.is(other.status, 415, 'only GitHub sends forms');
});

test('github: a P1 label gives priority 1; no sev/P label gives impact 3 × urgency 2 = P4', async ({ h }) => {
  const p1 = fixture('github-issues-opened');
  p1.issue.number = 4202;
  p1.issue.labels[1].name = 'P1';
  const r1 = await postHook(h, 'github', p1, github(p1));
  assert.is((await getRun(h, result(r1).runId)).context.priority, 1);
  const plain = fixture('github-issues-opened');
  plain.issue.number = 4203;
  plain.issue.labels = [plain.issue.labels[0]];
  const r2 = await postHook(h, 'github', plain, github(plain));
  assert.is((await getRun(h, result(r2).runId)).context.priority, 4);
});

test('github: an issue without the incident label, another action, or another event is ignored with a reason', async ({ h }) => {
  const body = fixture('github-issues-opened');
  body.issue.number = 4204;
  body.issue.labels = [{ name: 'bug' }];
  const res = await postHook(h, 'github', body, github(body));
  assert.is(res.status, 202);
  assert.is(result(res).action, 'ignored');
  assert.match(result(res).reason, /labelled incident/);
  const labelled = { ...fixture('github-issues-opened'), action: 'edited' };
  assert.is(result(await postHook(h, 'github', labelled, github(labelled))).action, 'ignored');
  const closed = { ...body, action: 'closed' };
  assert.is(result(await postHook(h, 'github', closed, github(closed))).action, 'ignored');
  const ping = { zen: 'Keep it logically awesome.', hook_id: 1 };
  assert.is(result(await postHook(h, 'github', ping, github(ping, 'ping'))).action, 'ignored');
  assert.is((await runsByKey(h, 'acme/shop#4204')).length, 0);
});

test('github: closing the issue resolves the incident (resolved_in_github); reopening it reopens the incident', async ({ h }) => {
  const body = fixture('github-issues-opened');
  body.issue.number = 4250;
  const opened = await postHook(h, 'github', body, github(body));
  const id = result(opened).runId;
  const closed = { ...clone(body), action: 'closed', sender: { login: 'hubot' } };
  closed.issue.state = 'closed';
  closed.issue.closed_at = new Date(Date.now() - 60_000).toISOString();
  const res = await postHook(h, 'github', closed, github(closed));
  assert.equal([result(res).action, result(res).runId], ['event', id]);
  let run = await getRun(h, id);
  assert.ok(JSON.stringify(run.state).includes('resolved'));
  assert.equal([run.context.resolutionCode, run.context.resolvedBy], ['resolved_in_github', 'hubot']);
  const reopened = { ...clone(body), action: 'reopened', sender: { login: 'octocat' } };
  assert.is(result(await postHook(h, 'github', reopened, github(reopened))).action, 'event');
  run = await getRun(h, id);
  assert.is(run.context.reopenCount, 1);
  assert.ok(JSON.stringify(run.state).includes('inProgress'));
});

test('github: a redelivery (same X-GitHub-Delivery) is a duplicate; a bad X-Hub-Signature-256 answers 401', async ({ h }) => {
  const body = fixture('github-issues-opened');
  body.issue.number = 4205;
  const headers = github(body);
  const first = await postHook(h, 'github', body, headers);
  const again = await postHook(h, 'github', body, headers);
  assert.is(result(again).action, 'duplicate');
  assert.is(result(again).runId, result(first).runId);
  assert.is((await runsByKey(h, 'acme/shop#4205')).length, 1);
  const raw = JSON.stringify({ ...body, issue: { ...body.issue, number: 4206 } });
  const bad = await h.call('POST', '/v1/hooks/github', { key: null, raw, headers: { ...headers, 'content-type': 'application/json', 'x-hub-signature-256': `sha256=${hmac('wrong', raw)}` } });
  assert.is(bad.status, 401);
  assert.is((await runsByKey(h, 'acme/shop#4206')).length, 0);
});

const jira = () => ({ 'x-atlassian-webhook-identifier': `jira-${uid()}`, 'x-atlassian-webhook-retry': '0' });

test('jira: issue_created with type Incident starts an incident: impact/urgency from the JSM custom fields, caller from the reporter', async ({ h }) => {
  const body = fixture('jira-incident-created');
  body.issue.key = 'ITSM-1101';
  const res = await postHook(h, 'jira', body, jira());
  assert.is(result(res).action, 'started');
  const run = await getRun(h, result(res).runId);
  assert.is(run.businessKey, 'ITSM-1101');
  assert.is(run.context.impact, 1, 'Extensive / Widespread');
  assert.is(run.context.urgency, 1, 'High');
  assert.is(run.context.priority, 1);
  assert.is(run.context.caller, 'grace@acme.example');
  assert.is(run.context.openedAt, Date.parse('2026-01-01T08:55:00.000Z'));
  assert.is(run.context.source.tool, 'jira');
});

test('jira: issue_created with type Change starts a change with type, risk and planned window from the custom fields', async ({ h }) => {
  const body = fixture('jira-change-created');
  body.issue.key = 'ITSM-1102';
  const res = await postHook(h, 'jira', body, jira());
  assert.is(result(res).action, 'started');
  const run = await getRun(h, result(res).runId);
  assert.is(run.workflow, 'change');
  assert.is(run.businessKey, 'ITSM-1102');
  assert.is(run.input.changeType, 'normal');
  assert.is(run.input.risk, 'moderate');
  assert.is(run.input.plannedStart, '2026-03-10T22:00:00.000Z');
  assert.is(run.input.plannedEnd, '2026-03-10T23:00:00.000Z');
  assert.is(run.context.requestedBy, 'grace@acme.example');
  assert.is(run.context.title, 'Upgrade PostgreSQL 15 → 16 on ledger-db');
});

test('jira: an Incident issue given a resolution resolves the incident (resolved_in_jira); clearing the resolution reopens it', async ({ h }) => {
  const created = fixture('jira-incident-created');
  created.issue.key = 'ITSM-450';
  const start = await postHook(h, 'jira', created, jira());
  const id = result(start).runId;
  const updated = clone(created);
  updated.webhookEvent = 'jira:issue_updated';
  updated.issue_event_type_name = 'issue_resolved';
  updated.issue.fields.resolution = { id: '10000', name: 'Done' };
  updated.issue.fields.status = { id: '5', name: 'Resolved' };
  updated.changelog = { id: '10601', items: [{ field: 'resolution', fieldtype: 'jira', from: null, fromString: null, to: '10000', toString: 'Done' }, { field: 'status', fieldtype: 'jira', from: '1', fromString: 'Open', to: '5', toString: 'Resolved' }] };
  const res = await postHook(h, 'jira', updated, jira());
  assert.equal([result(res).action, result(res).runId], ['event', id]);
  let run = await getRun(h, id);
  assert.equal([run.context.resolutionCode, run.context.resolutionNotes], ['resolved_in_jira', 'resolved in Jira: Done']);
  // An edit that does not touch the resolution changes nothing.
  const edit = clone(updated);
  edit.changelog.items = [{ field: 'summary', fieldtype: 'jira', from: null, fromString: 'VPN', to: null, toString: 'VPN down' }];
  assert.is(result(await postHook(h, 'jira', edit, jira())).action, 'ignored');
  const reopened = clone(updated);
  reopened.issue.fields.resolution = null;
  reopened.changelog.items = [{ field: 'resolution', fieldtype: 'jira', from: '10000', fromString: 'Done', to: null, toString: null }];
  assert.is(result(await postHook(h, 'jira', reopened, jira())).action, 'event');
  run = await getRun(h, id);
  assert.is(run.context.reopenCount, 1);
});

test('jira: a Story is ignored with a reason; a redelivery (same identifier) is a duplicate', async ({ h }) => {
  const story = fixture('jira-incident-created');
  story.issue.key = 'ITSM-1103';
  story.issue.fields.issuetype.name = 'Story';
  const res = await postHook(h, 'jira', story, jira());
  assert.is(result(res).action, 'ignored');
  assert.match(result(res).reason, /Incident and Change/);
  const body = fixture('jira-incident-created');
  body.issue.key = 'ITSM-1104';
  const headers = jira();
  const first = await postHook(h, 'jira', body, headers);
  const again = await postHook(h, 'jira', body, { ...headers, 'x-atlassian-webhook-retry': '1' });
  assert.is(result(again).action, 'duplicate');
  assert.is(result(again).runId, result(first).runId);
});

test('servicenow: a {result} record with display/value pairs starts a change; risk from the display value, times from raw UTC values', async ({ h }) => {
  const res = await postHook(h, 'servicenow', fixture('servicenow-change-display'));
  assert.is(result(res).action, 'started');
  const run = await getRun(h, result(res).runId);
  assert.is(run.workflow, 'change');
  assert.is(run.businessKey, 'CHG0030002');
  assert.is(run.input.risk, 'moderate', 'display "Moderate" wins over the ambiguous raw 3');
  assert.is(run.input.plannedStart, '2026-02-10T22:00:00.000Z');
  assert.is(run.input.plannedEnd, '2026-02-10T23:00:00.000Z');
  assert.is(run.input.changeType, 'normal');
  assert.is(run.input.ci, 'edge-proxy-cluster');
  assert.is(run.input.requestedBy, 'Beth Anglin');
  assert.is(run.input.impact, 2);
  const again = await postHook(h, 'servicenow', fixture('servicenow-change-display'));
  assert.is(result(again).action, 'duplicate', 'the same record version');
  assert.is(result(again).runId, result(res).runId);
  const updated = fixture('servicenow-change-display');
  updated.result.sys_updated_on.value = '2026-01-05 09:05:00';
  const later = await postHook(h, 'servicenow', updated);
  assert.is(result(later).action, 'duplicate', 'a new version of an open change starts nothing');
  assert.is((await runsByKey(h, 'CHG0030002')).length, 1);
});

test('servicenow: a flat record starts a change; the raw risk number goes through the numeric map', async ({ h }) => {
  const res = await postHook(h, 'servicenow', fixture('servicenow-change-flat'));
  assert.is(result(res).action, 'started');
  const run = await getRun(h, result(res).runId);
  assert.is(run.input.changeType, 'emergency');
  assert.is(run.input.risk, 'moderate');
  assert.is(run.input.plannedStart, '2026-01-06T20:00:00.000Z');
  assert.is(run.input.ci, '281a4d5fc0a8000b00e4ba489a83eedc');
  const incident = { sys_class_name: 'incident', number: 'INC0010001', sys_id: 'x1', sys_updated_on: '2026-01-05 09:00:00' };
  const other = await postHook(h, 'servicenow', incident);
  assert.is(result(other).action, 'ignored');
});

const generic = (extra: Record<string, string> = {}) => ({ 'x-delivery-id': `g-${uid()}`, ...extra });

test('generic: start by workflow and business key, send an event to the open run, and ignore an event with no open run', async ({ h }) => {
  const key = `GEN-${uid()}`;
  const start = await postHook(h, 'generic', { workflow: 'incident', businessKey: key, input: { title: 'Generic', impact: 2, urgency: 2 } }, generic());
  assert.is(result(start).action, 'started');
  const dup = await postHook(h, 'generic', { workflow: 'incident', businessKey: key, input: { title: 'Generic' } }, generic());
  assert.is(result(dup).action, 'duplicate', 'a run with that key is open');
  assert.is(result(dup).runId, result(start).runId);
  const ack = await postHook(h, 'generic', { businessKey: key, event: { type: 'ACKNOWLEDGE', by: 'ops' } }, generic());
  assert.is(result(ack).action, 'event');
  assert.ok(JSON.stringify((await getRun(h, result(ack).runId)).state).includes('inProgress'));
  const wrong = await postHook(h, 'generic', { businessKey: key, event: { type: 'REOPEN', by: 'ops' } }, generic());
  assert.is(result(wrong).action, 'ignored');
  assert.match(result(wrong).reason, /EVENT_NOT_ACCEPTED/);
  const none = await postHook(h, 'generic', { businessKey: `NONE-${uid()}`, event: { type: 'ACKNOWLEDGE', by: 'ops' } }, generic());
  assert.is(result(none).action, 'ignored');
  assert.match(result(none).reason, /no open run/);
});

test('generic: a start the input schema refuses is ignored with the validation message; an unknown workflow is ignored; an Idempotency-Key repeat is a duplicate', async ({ h }) => {
  const key = `GEN-${uid()}`;
  const bad = await postHook(h, 'generic', { workflow: 'incident', businessKey: key, input: { impact: 9 } }, generic());
  assert.is(bad.status, 202);
  assert.is(result(bad).action, 'ignored');
  assert.match(result(bad).reason, /VALIDATION_FAILED.*\/input\/impact/);
  assert.is((await runsByKey(h, key)).length, 0);
  const unknown = await postHook(h, 'generic', { workflow: 'nope', input: {} }, generic());
  assert.is(result(unknown).action, 'ignored');
  assert.match(result(unknown).reason, /NOT_FOUND/);
  const headers = { 'idempotency-key': `idem-${uid()}` };
  const first = await postHook(h, 'generic', { workflow: 'incident', input: { title: 'no key' } }, headers);
  const again = await postHook(h, 'generic', { workflow: 'incident', input: { title: 'no key' } }, headers);
  assert.is(result(first).action, 'started');
  assert.is(result(again).action, 'duplicate');
  assert.is(result(again).runId, result(first).runId);
  const nothing = await postHook(h, 'generic', { hello: 'world' }, generic());
  assert.is(result(nothing).action, 'ignored');
});

test.run();
