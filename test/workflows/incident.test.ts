// The incident model through HTTP (docs/models/incident.md §1.10): lifecycle, priority, human tasks, refusals.
// SLA clocks, paging, major incidents, the change link and crashes have their own incident-*.test.ts files.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, type Harness } from '../api/harness.ts';
import { priorityFromMatrix, DEFAULT_PRIORITY_MATRIX } from '../../workflows/incident/priority.ts';
import {
  at, complete, completed, getRun, history, inState, measures, ms, openTasks, scheduled, send, sendOk, startIncident, untilHistory, untilRun, untilState, untilTask,
} from './incident-helpers.ts';

const test = suite<{ h: Harness }>('incident', {} as { h: Harness });

test.before(async (ctx) => {
  ctx.h = await startHarness();
});
test.after(async (ctx) => {
  await ctx.h.close();
});

test('scenario 1, happy path P3 from the API: routed, acknowledged, resolved, auto-closed, both SLAs met, history in order', async ({ h }) => {
  // Scale: 1 h = 1000 ms (roomy enough for a loaded machine: the response clock's first warning is 2 s
  // away from the ACK). Response 4 h, resolution 24 h; ACK at 12 min, RESOLVE at 2.4 h; auto-close shortened.
  const run = await startIncident(h, {
    title: 'Checkout slow', impact: 2, urgency: 2, category: 'database', caller: 'carl', service: 'shop',
    slaTargetsMs: { 3: { responseMs: 4000, resolutionMs: 24000 } }, autoCloseAfterMs: 300,
  }, 'INC-1001');
  assert.is(run.context.priority, 3);
  assert.ok(inState(run, 'open.work.new'));
  const t0 = run.context.openedAt as number;
  const routed = await untilRun(h, run.id, (r) => r.context.assignmentGroup !== null, 'routing');
  assert.is(routed.context.assignmentGroup, 'database-administration', 'the default rules route the database category');
  await at(t0 + 200);
  await sendOk(h, run.id, { type: 'ACKNOWLEDGE', by: 'dora' });
  await at(t0 + 2400);
  const resolved = await sendOk(h, run.id, { type: 'RESOLVE', code: 'fixed', comment: 'index rebuilt', by: 'dora' });
  assert.ok(inState(resolved, 'resolved'));
  const done = await untilRun(h, run.id, (r) => r.status === 'done', 'auto-close');
  assert.is(done.state, 'closed');
  assert.is(done.output.outcome, 'closed');
  const c = done.context;
  assert.ok(c.respondedAt - t0 >= 200 && c.respondedAt - t0 < 4000, `MTTA ${c.respondedAt - t0}`);
  assert.ok(c.resolvedAt - t0 >= 2400 && c.resolvedAt - t0 < 24000, `time to resolve ${c.resolvedAt - t0}`);
  assert.equal([c.sla.response.met, c.sla.response.breached, c.sla.resolution.met, c.sla.resolution.breached], [true, false, true, false]);

  const items = await history(h, run.id);
  const mtta = measures(items, 'mtta');
  assert.is(mtta.length, 1);
  assert.is(mtta[0].value, c.respondedAt - t0);
  assert.equal(mtta[0].dims, { priority: 3, service: 'shop', source: 'api' });
  assert.is(measures(items, 'meanTimeToResolve')[0].value, c.resolvedAt - t0);
  assert.equal(measures(items, 'slaComplianceResponse').map((m) => m.value), [1]);
  assert.equal(measures(items, 'slaComplianceResolution').map((m) => m.value), [1]);
  assert.equal(items.filter((e) => e.type === 'sla.met').map((e) => e.clock), ['response', 'resolution']);
  assert.is(items.filter((e) => e.type === 'sla.breached' || e.type === 'sla.warning').length, 0);

  const order = [
    (e: any) => e.type === 'run.started',
    (e: any) => e.type === 'state.entered' && e.state === 'open.work.new',
    (e: any) => e.type === 'task.completed' && e.task === 'route_assignment',
    (e: any) => e.type === 'event.received' && e.event === 'ACKNOWLEDGE',
    (e: any) => e.type === 'state.entered' && e.state === 'open.work.inProgress',
    (e: any) => e.type === 'event.received' && e.event === 'RESOLVE',
    (e: any) => e.type === 'state.entered' && e.state === 'resolved',
    (e: any) => e.type === 'timer.fired' && e.timer === 'autoCloseDelay',
    (e: any) => e.type === 'run.done',
  ];
  let pos = -1;
  for (const [i, match] of order.entries()) {
    const next = items.findIndex((e, j) => j > pos && match(e));
    assert.ok(next > pos, `history step ${i} in order`);
    pos = next;
  }
  assert.is(items[items.length - 1].type, 'run.done');
  assert.is(completed(items, 'send_survey').length, 1, 'a P3 with a caller gets a survey at closure');
  assert.is(completed(items, 'update_external_ticket').length, 1);
  assert.is(completed(items, 'create_external_ticket').length, 1, 'an API incident opens a ticket');
});

test('scenario 2, priority matrix: the 9 impact/urgency pairs give §0.2 priorities; impact 4 answers 422 at start', async ({ h }) => {
  const expected = [[1, 2, 3], [2, 3, 4], [3, 4, 5]];
  for (const impact of [1, 2, 3] as const) {
    for (const urgency of [1, 2, 3] as const) {
      assert.is(priorityFromMatrix(impact, urgency), expected[impact - 1][urgency - 1]);
      const run = await startIncident(h, { title: `m${impact}${urgency}`, impact, urgency, pagingPolicy: { enabled: false } });
      assert.is(run.context.priority, expected[impact - 1][urgency - 1], `impact ${impact} urgency ${urgency}`);
      await sendOk(h, run.id, { type: 'CANCEL', reason: 'raised_in_error' });
    }
  }
  assert.equal(DEFAULT_PRIORITY_MATRIX, expected);
  const bad = await h.call('POST', '/v1/runs', { key: 'operator', body: { workflow: 'incident', input: { title: 'x', impact: 4, urgency: 1 } } });
  assert.is(bad.status, 422);
  assert.is(bad.body.error.code, 'VALIDATION_FAILED');
  assert.ok(bad.body.error.details.some((d: { path: string }) => d.path === '/input/impact'));
});

test('the matrix is data: a replaced priorityMatrix in the input decides priority, and UPDATE_PRIORITY uses it too', async ({ h }) => {
  const matrix = [[1, 1, 2], [2, 3, 4], [3, 4, 5]];
  const run = await startIncident(h, { title: 'custom', impact: 1, urgency: 2, priorityMatrix: matrix, pagingPolicy: { enabled: false } });
  assert.is(run.context.priority, 1);
  const after = await sendOk(h, run.id, { type: 'UPDATE_PRIORITY', impact: 1, urgency: 3 });
  assert.is(after.context.priority, 2);
});

test('scenario 12, cancel as duplicate: without duplicateOf 409 and nothing changes; with it canceled, out of MTTR/SLA, counted in duplicates', async ({ h }) => {
  const run = await startIncident(h, { title: 'dup', impact: 3, urgency: 3 });
  const refused = await send(h, run.id, { type: 'CANCEL', reason: 'duplicate' });
  assert.is(refused.status, 409);
  assert.is(refused.body.error.code, 'EVENT_NOT_ACCEPTED');
  const same = await getRun(h, run.id);
  assert.ok(inState(same, 'open.work.new'));
  assert.not.ok((await history(h, run.id)).some((e) => e.type === 'event.received' && e.event === 'CANCEL'), 'a refused event leaves no trace');
  const badReason = await send(h, run.id, { type: 'CANCEL', reason: 'bored' });
  assert.is(badReason.status, 422, 'a reason outside the schema is a validation error');
  const canceled = await sendOk(h, run.id, { type: 'CANCEL', reason: 'duplicate', duplicateOf: 'INC-1' });
  assert.is(canceled.status, 'done');
  assert.is(canceled.state, 'canceled');
  assert.equal(canceled.output.outcome, 'canceled');
  assert.equal(canceled.output.reason, 'duplicate');
  assert.is(canceled.context.links.duplicateOf, 'INC-1');
  const items = await history(h, run.id);
  assert.is(measures(items, 'duplicates').length, 1);
  for (const name of ['meanTimeToResolve', 'slaComplianceResponse', 'slaComplianceResolution', 'mtta']) assert.is(measures(items, name).length, 0, `${name} not recorded`);
});

test('scenario 13 (model side), PagerDuty-sourced P2: no page_oncall, and ACKNOWLEDGE at the tool time 6 min 37 s later gives MTTA 6 min 37 s', async ({ h }) => {
  const opened = Date.now() - 60 * 60_000;
  const run = await startIncident(h, {
    title: 'PD incident', priority: 'P2', openedAt: new Date(opened).toISOString(),
    source: { tool: 'pagerduty', key: 'Q1ABC', url: 'https://pd.example/incidents/Q1ABC' },
    slaTargetsMs: { 2: { responseMs: 3 * 60 * 60_000 } },
  }, 'Q1ABC');
  assert.is(run.context.priority, 2);
  assert.is(run.context.openedAt, opened, 'openedAt is the tool creation time');
  const acked = await sendOk(h, run.id, { type: 'ACKNOWLEDGE', by: 'pat', at: new Date(opened + 397_000).toISOString() });
  assert.is(acked.context.respondedAt, opened + 397_000);
  const items = await untilHistory(h, run.id, (i) => completed(i, 'route_assignment').length === 1, 'intake');
  assert.is(measures(items, 'mtta')[0].value, 397_000);
  assert.is(scheduled(items, 'page_oncall').length, 0, 'PagerDuty pages itself');
  assert.ok(inState(acked, 'open.paging.off') || inState(acked, 'open.paging.acknowledged'));
});

test('scenario 15, events in the wrong state: REOPEN in inProgress 409 with nextEvents; ACKNOWLEDGE twice 409, or duplicate with the same Idempotency-Key', async ({ h }) => {
  const run = await startIncident(h, { title: 'wrong state', impact: 3, urgency: 2 });
  const first = await send(h, run.id, { type: 'ACKNOWLEDGE', by: 'ana' }, { 'idempotency-key': 'ack-1' });
  assert.is(first.status, 200);
  const repeat = await send(h, run.id, { type: 'ACKNOWLEDGE', by: 'ana' }, { 'idempotency-key': 'ack-1' });
  assert.is(repeat.status, 200);
  assert.is(repeat.body.duplicate, true);
  const second = await send(h, run.id, { type: 'ACKNOWLEDGE', by: 'ana' });
  assert.is(second.status, 409);
  assert.is(second.body.error.code, 'EVENT_NOT_ACCEPTED');
  const reopen = await send(h, run.id, { type: 'REOPEN', by: 'ana' });
  assert.is(reopen.status, 409);
  assert.is(reopen.body.error.code, 'EVENT_NOT_ACCEPTED');
  const next: string[] = reopen.body.error.details.nextEvents;
  for (const e of ['RESOLVE', 'PUT_ON_HOLD', 'REQUEST_CHANGE', 'CANCEL', 'UPDATE_PRIORITY']) assert.ok(next.includes(e), `nextEvents has ${e}`);
  assert.not.ok(next.includes('REOPEN'));
  const items = await history(h, run.id);
  assert.is(items.filter((e) => e.type === 'event.received' && e.event === 'ACKNOWLEDGE').length, 1);
  await sendOk(h, run.id, { type: 'RESOLVE', comment: 'done' });
  await sendOk(h, run.id, { type: 'CONFIRM_CLOSURE', by: 'ana' });
  const ended = await untilRun(h, run.id, (r) => r.status === 'done', 'closure');
  assert.is(ended.state, 'closed');
  const late = await send(h, run.id, { type: 'RESOLVE', comment: 'again' });
  assert.is(late.status, 409);
  assert.is(late.body.error.code, 'RUN_ENDED');
});

test('422 for a payload that breaks the schema, 409 for a valid one a guard refuses (§0.7)', async ({ h }) => {
  const run = await startIncident(h, { title: 'refusals', impact: 3, urgency: 3 });
  assert.is((await send(h, run.id, { type: 'PUT_ON_HOLD', reason: 'lunch' })).status, 422);
  assert.is((await send(h, run.id, { type: 'PUT_ON_HOLD' })).status, 422);
  assert.is((await send(h, run.id, { type: 'UPDATE_PRIORITY', impact: 4, urgency: 1 })).status, 422);
  assert.is((await send(h, run.id, { type: 'UPDATE_PRIORITY', impact: 1 })).status, 422);
  assert.is((await send(h, run.id, { type: 'ASSIGN' })).status, 422);
  const noComment = await send(h, run.id, { type: 'PUT_ON_HOLD', reason: 'awaiting_caller' });
  assert.is(noComment.status, 409, 'awaiting_caller needs a comment');
  assert.is(noComment.body.error.code, 'EVENT_NOT_ACCEPTED');
  const noInfo = await send(h, run.id, { type: 'RESOLVE', by: 'ana' });
  assert.is(noInfo.status, 409, 'a resolve needs a code or a comment');
  assert.ok(inState(await getRun(h, run.id), 'open.work.new'), 'nothing changed');
});

test('human tasks of §1.8: acknowledge and resolve through tasks; the caller confirms through the resolved task', async ({ h }) => {
  const run = await startIncident(h, { title: 'Printer on fire', impact: 3, urgency: 2, caller: 'carl' }, 'INC-2002');
  const ack = await untilTask(h, run.id, 'resolver');
  assert.is(ack.title, 'Acknowledge INC-2002: Printer on fire');
  assert.equal(ack.outcomes, { ACKNOWLEDGE: 'ACKNOWLEDGE' });
  const done = await complete(h, ack.id, { outcome: 'ACKNOWLEDGE', by: 'dora' });
  assert.is(done.status, 200);
  assert.ok(inState(done.body.run, 'open.work.inProgress'));
  assert.is(done.body.run.context.respondedBy, 'dora');
  const resolveTask = await untilTask(h, run.id, 'resolver');
  assert.is(resolveTask.title, 'Resolve INC-2002');
  const resolved = await complete(h, resolveTask.id, { outcome: 'RESOLVED', by: 'dora', comment: 'replaced the fuser' });
  assert.is(resolved.status, 200);
  assert.ok(inState(resolved.body.run, 'resolved'));
  assert.is(resolved.body.run.context.resolutionNotes, 'replaced the fuser');
  const confirm = await untilTask(h, run.id, 'caller');
  assert.is(confirm.title, 'Is INC-2002 fixed?');
  const wrong = await complete(h, confirm.id, { outcome: 'CONFIRM', by: 'mallory' });
  assert.is(wrong.status, 409, 'only the caller or the service desk confirms');
  assert.ok((await openTasks(h, run.id)).some((t) => t.id === confirm.id), 'the task stays open');
  const ok = await complete(h, confirm.id, { outcome: 'CONFIRM', by: 'carl' });
  assert.is(ok.status, 200);
  const closed = await untilRun(h, run.id, (r) => r.status === 'done', 'closure');
  assert.is(closed.state, 'closed');
  assert.is((await openTasks(h, run.id)).length, 0);
});

test('on hold awaiting the caller: the caller is notified, reminded twice, and the incident auto-resolves with no_caller_response', async ({ h }) => {
  const run = await startIncident(h, {
    title: 'Need logs', impact: 3, urgency: 2, caller: 'carl',
    delaysMs: { callerReminderDelay: 150, callerAutoResolveDelay: 600 },
  });
  await sendOk(h, run.id, { type: 'ACKNOWLEDGE', by: 'dora' });
  const held = await sendOk(h, run.id, { type: 'PUT_ON_HOLD', reason: 'awaiting_caller', comment: 'please send logs' });
  assert.ok(inState(held, 'open.work.onHold.awaitingCaller'));
  assert.ok(inState(held, 'open.resolutionSla.paused'));
  const task = await untilTask(h, run.id, 'caller');
  assert.is(task.outcomes.PROVIDED, 'CALLER_UPDATED');
  const resolved = await untilState(h, run.id, 'resolved', 5000);
  assert.is(resolved.context.resolutionCode, 'no_caller_response');
  const items = await history(h, run.id);
  const toCaller = scheduled(items, 'notify').filter((e) => e.input.to === 'carl').map((e) => e.input.template);
  assert.equal(toCaller.slice(0, 3), ['hold.awaiting_caller', 'hold.caller_reminder', 'hold.caller_reminder']);
});

test('RECLASSIFY_AS_REQUEST in new: canceled with reason reclassified_request, and a request ticket is created', async ({ h }) => {
  const run = await startIncident(h, { title: 'Need a new laptop', impact: 3, urgency: 3, caller: 'carl' });
  await sendOk(h, run.id, { type: 'RECLASSIFY_AS_REQUEST', by: 'desk' });
  const done = await untilRun(h, run.id, (r) => r.status === 'done', 'reclassified');
  assert.is(done.state, 'canceled');
  assert.is(done.output.reason, 'reclassified_request');
  const items = await history(h, run.id);
  assert.ok(scheduled(items, 'create_external_ticket').some((e) => e.input.kind === 'request'));
  assert.is(measures(items, 'reclassified').length, 1);
});

test('ASSIGN to another group counts a reassignment and notifies; routing never overrides it; an unknown group is refused', async ({ h }) => {
  const run = await startIncident(h, { title: 'VPN down', impact: 2, urgency: 2, service: 'vpn', groups: ['network-operations', 'security-operations'] });
  const routed = await untilRun(h, run.id, (r) => r.context.assignmentGroup === 'network-operations', 'routing by service');
  assert.is(routed.context.reassignmentCount, 0);
  const refused = await send(h, run.id, { type: 'ASSIGN', group: 'nobody' });
  assert.is(refused.status, 409);
  const moved = await sendOk(h, run.id, { type: 'ASSIGN', group: 'security-operations', assignee: 'sec-sue' });
  assert.is(moved.context.assignmentGroup, 'security-operations');
  assert.is(moved.context.reassignmentCount, 1);
  const items = await untilHistory(h, run.id, (i) => scheduled(i, 'notify').some((e) => e.input.template === 'assigned' && [].concat(e.input.to).includes('sec-sue' as never)), 'assignment notice');
  assert.ok(items.some((e) => e.type === 'incident.assigned' && e.group === 'security-operations'));
});

test('enrich_context finds the changes on the CI in the 24 h before opening and suggests the cause', async ({ h }) => {
  const now = Date.now();
  const run = await startIncident(h, {
    title: 'db errors', impact: 2, urgency: 3, ci: 'db-01', service: 'billing',
    serviceCatalog: { 'db-01': { owner: 'dba-team', criticality: 'tier-1' } },
    changes: [
      { ref: 'CHG-1', ci: 'db-01', at: new Date(now - 2 * 3_600_000).toISOString() },
      { ref: 'CHG-0', ci: 'db-01', at: new Date(now - 30 * 3_600_000).toISOString() },
      { ref: 'CHG-9', ci: 'web-01', at: new Date(now - 3_600_000).toISOString() },
    ],
  });
  const enriched = await untilRun(h, run.id, (r) => r.context.enrichment !== null, 'enrichment');
  assert.is(enriched.context.enrichment.owner, 'dba-team');
  assert.is(enriched.context.enrichment.criticality, 'tier-1');
  assert.equal(enriched.context.enrichment.recentChanges.map((c: { ref: string }) => c.ref), ['CHG-1']);
  assert.is(enriched.context.links.suggestedCausedByChange, 'CHG-1');
});

test('routing rules from the input win over the defaults, and a rise in priority re-routes', async ({ h }) => {
  const run = await startIncident(h, {
    title: 'API errors', impact: 3, urgency: 2, service: 'api',
    routingRules: [{ when: { service: 'api', priorityAtMost: 2 }, group: 'api-sre' }, { when: { service: 'api' }, group: 'api-team' }],
    pagingPolicy: { enabled: false },
  });
  await untilRun(h, run.id, (r) => r.context.assignmentGroup === 'api-team', 'first routing');
  await sendOk(h, run.id, { type: 'UPDATE_PRIORITY', impact: 1, urgency: 2 });
  const rerouted = await untilRun(h, run.id, (r) => r.context.assignmentGroup === 'api-sre', 're-routing');
  assert.is(rerouted.context.priority, 2);
  assert.is(rerouted.context.reassignmentCount, 1);
});

test('the diagram of the model is served', async ({ h }) => {
  const res = await h.call('GET', '/v1/workflows/incident/diagram?format=mermaid', { key: 'viewer' });
  assert.is(res.status, 200);
  assert.ok(String(res.body).includes('resolutionSla'));
  const wf = await h.call('GET', '/v1/workflows/incident', { key: 'viewer' });
  assert.is(wf.body.version, 1);
  assert.is(wf.body.builtIn, true);
  void ms;
});

test.run();
