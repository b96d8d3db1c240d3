// Paging, alerts and the major-incident track through HTTP (docs/models/incident.md §1.10 scenarios 6, 8, 10).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, type Harness } from '../api/harness.ts';
import { at, complete, completed, getRun, history, inState, measures, openTasks, scheduled, send, sendOk, startIncident, untilHistory, untilRun, untilState, untilTask } from './incident-helpers.ts';

const test = suite<{ h: Harness }>('incident paging', {} as { h: Harness });

const LATE = 300;

test.before(async (ctx) => {
  ctx.h = await startHarness();
});
test.after(async (ctx) => {
  await ctx.h.close();
});

/** A P1 as the Alertmanager mapping puts it in the input (severity critical → urgency 1, label impact 1). */
function alertP1(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    title: 'HighErrorRate on checkout', impact: 1, urgency: 1, service: 'checkout', labels: { severity: 'critical', impact: '1' },
    source: { tool: 'alertmanager', key: 'fp-1', fingerprint: 'fp-1' }, approvers: { incidentManager: ['ina'] },
    slaTargetsMs: { 1: { responseMs: 60_000, resolutionMs: 60_000 } },
    ...over,
  };
}

test('scenario 6, paging ladder: level 1 at t0, level 2 after the timeout, through 2 levels × 3 loops, then exhausted with the incident manager task', async ({ h }) => {
  // Scale: 10 min = 150 ms.
  const run = await startIncident(h, alertP1({ delaysMs: { pageEscalationDelay: 150, majorCandidateDelay: 60_000 } }), 'fp-1');
  const t0 = run.context.openedAt as number;
  const exhausted = await untilState(h, run.id, 'open.paging.exhausted', 5000);
  assert.is(exhausted.context.paging.pages, 6);
  const task = await untilTask(h, run.id, 'incident_manager');
  const tasks = await openTasks(h, run.id);
  const nobody = tasks.find((t) => t.outcomes.TAKE_OVER === 'ACKNOWLEDGE');
  assert.ok(nobody, 'the "Nobody acknowledged" task is open');
  assert.is(nobody.title, 'Nobody acknowledged fp-1');
  void task;

  const items = await untilHistory(h, run.id, (i) => scheduled(i, 'page_oncall').length >= 7, 'the last-resort page');
  const pages = scheduled(items, 'page_oncall').map((e) => e.input).filter((i) => i.target !== 'incident_manager');
  assert.equal(pages.map((p) => [p.level, p.loop]), [[1, 1], [2, 1], [1, 2], [2, 2], [1, 3], [2, 3]]);
  for (const p of pages) assert.is(p.dedupKey, 'fp-1', 'dedup_key is the business key');
  const paged = items.filter((e) => e.type === 'paging.paged');
  paged.forEach((e, i) => {
    const offset = Date.parse(e.at) - t0;
    assert.ok(offset >= i * 150 && offset < i * 150 + LATE * (i + 1), `page ${i + 1} at +${offset}`);
  });
  assert.ok(scheduled(items, 'page_oncall').some((e) => e.input.target === 'incident_manager'), 'exhausted pages the incident manager');

  const took = await complete(h, nobody.id, { outcome: 'TAKE_OVER', by: 'ina' });
  assert.is(took.status, 200);
  assert.ok(inState(took.body.run, 'open.paging.acknowledged'));
  assert.ok(inState(took.body.run, 'open.work.inProgress'));
});

test('scenario 6, acknowledge stops paging: no page and no paging timer fires after ACKNOWLEDGE', async ({ h }) => {
  const run = await startIncident(h, alertP1({ delaysMs: { pageEscalationDelay: 150 }, source: { tool: 'alertmanager', key: 'fp-2', fingerprint: 'fp-2' } }), 'fp-2');
  await untilRun(h, run.id, (r) => r.context.paging.pages >= 2, 'the second page');
  const acked = await sendOk(h, run.id, { type: 'ACKNOWLEDGE', by: 'oncall-2' });
  assert.ok(inState(acked, 'open.paging.acknowledged'));
  const pagesAtAck = acked.context.paging.pages;
  await at(Date.now() + 3 * 150 + LATE);
  const items = await history(h, run.id);
  const ack = items.findIndex((e) => e.type === 'event.received' && e.event === 'ACKNOWLEDGE');
  assert.is(items.slice(ack).filter((e) => e.type === 'timer.fired' && e.timer === 'pageEscalationDelay').length, 0);
  assert.is(items.slice(ack).filter((e) => e.type === 'task.scheduled' && e.task === 'page_oncall').length, 0);
  assert.is((await getRun(h, run.id)).context.paging.pages, pagesAtAck);
  assert.ok(items.some((e) => e.type === 'paging.stopped'));
});

test('paging is off for P3 and for PagerDuty-sourced incidents, and a rise to P2 starts it', async ({ h }) => {
  const low = await startIncident(h, { title: 'low', impact: 2, urgency: 2 });
  assert.ok(inState(low, 'open.paging.off'));
  const raised = await sendOk(h, low.id, { type: 'UPDATE_PRIORITY', impact: 1, urgency: 2 });
  assert.ok(inState(raised, 'open.paging.active'));
  const pd = await startIncident(h, { title: 'pd', impact: 1, urgency: 1, source: { tool: 'pagerduty', key: 'PD1' } });
  assert.ok(inState(pd, 'open.paging.off'));
});

test('scenario 8 (events), alert clears then flaps: ALERT_RESOLVED resolves with monitoring_cleared; the same fingerprint firing reopens the same run', async ({ h }) => {
  const run = await startIncident(h, alertP1({ source: { tool: 'alertmanager', key: 'fp-8', fingerprint: 'fp-8' }, pagingPolicy: { enabled: false } }), 'fp-8');
  const repeat = await sendOk(h, run.id, { type: 'ALERT_FIRING', fingerprint: 'fp-8' });
  assert.is(repeat.context.alertRepeatCount, 1);
  const other = await send(h, run.id, { type: 'ALERT_FIRING', fingerprint: 'fp-other' });
  assert.is(other.status, 409, 'another fingerprint is not this alert');
  const cleared = await sendOk(h, run.id, { type: 'ALERT_RESOLVED', fingerprint: 'fp-8' });
  assert.ok(inState(cleared, 'resolved'));
  assert.is(cleared.context.resolutionCode, 'monitoring_cleared');
  // The resolution reaches the tool before the alert flaps (leaving `resolved` would withdraw the task).
  const items = await untilHistory(h, run.id, (i) => completed(i, 'resolve_external_alert').length >= 1, 'the alert resolution');
  assert.is(scheduled(items, 'resolve_external_alert')[0].input.dedupKey, 'fp-8');
  const flap = await sendOk(h, run.id, { type: 'ALERT_FIRING', fingerprint: 'fp-8' });
  assert.ok(inState(flap, 'open.work.inProgress'));
  assert.is(flap.context.reopenCount, 1);
  assert.is(flap.context.reopenReason, 'alert_refired');
  assert.is(flap.context.alertRepeatCount, 2);
});

test('autoResolveOnAlertClear false: ALERT_RESOLVED only records alertClearedAt and notifies the assignee', async ({ h }) => {
  const run = await startIncident(h, alertP1({ autoResolveOnAlertClear: false, pagingPolicy: { enabled: false }, source: { tool: 'alertmanager', key: 'fp-9', fingerprint: 'fp-9' } }));
  const after = await sendOk(h, run.id, { type: 'ALERT_RESOLVED' });
  assert.ok(inState(after, 'open'));
  assert.ok(typeof after.context.alertClearedAt === 'number');
  await untilHistory(h, run.id, (i) => scheduled(i, 'notify').some((e) => e.input.template === 'alert.cleared'), 'the notice');
});

test('scenario 10, major incident: candidate → ACCEPT → bridge and updates at 30/60/90 min; ALERT_RESOLVED does not resolve; auto-close leads to PIR; problem record once', async ({ h }) => {
  // Scale: 30 min = 200 ms.
  const run = await startIncident(h, alertP1({
    source: { tool: 'alertmanager', key: 'fp-10', fingerprint: 'fp-10' }, caller: 'carl', pagingPolicy: { enabled: false },
    delaysMs: { commsUpdateDelay: 200, pirDueDelay: 60_000 }, autoCloseAfterMs: 200,
  }), 'fp-10');
  assert.ok(inState(run, 'open.major.candidate'));
  const task = await untilTask(h, run.id, 'incident_manager');
  assert.is(task.title, 'Major incident? fp-10');
  const notEligible = await complete(h, task.id, { outcome: 'ACCEPT', by: 'mallory' });
  assert.is(notEligible.status, 409, 'only a listed incident manager decides');
  const accepted = await complete(h, task.id, { outcome: 'ACCEPT', by: 'ina' });
  assert.is(accepted.status, 200);
  const declaredAt = accepted.body.run.context.majorAcceptedAt as number;
  assert.is(accepted.body.run.context.assignmentGroup, 'major-incident');
  const bridged = await untilRun(h, run.id, (r) => r.context.bridge !== null, 'the bridge');
  assert.match(bridged.context.bridge.channel, /^#inc-fp-10/);

  const three = await untilHistory(h, run.id, (i) => completed(i, 'publish_status_update').length >= 3, 'three status updates', 5000);
  const updates = scheduled(three, 'publish_status_update');
  updates.slice(0, 3).forEach((e, i) => {
    const offset = Date.parse(e.at) - declaredAt;
    assert.ok(offset >= (i + 1) * 200 && offset < (i + 1) * 200 + LATE, `update ${i + 1} at +${offset}`);
    assert.is(e.input.update, i + 1);
  });
  assert.is(completed(three, 'open_bridge').length, 1);

  const cleared = await sendOk(h, run.id, { type: 'ALERT_RESOLVED' });
  assert.ok(inState(cleared, 'open'), 'a major incident is not resolved by the monitor');
  const resolved = await sendOk(h, run.id, { type: 'RESOLVE', code: 'rolled_back', comment: 'bad deploy rolled back', by: 'ina' });
  assert.ok(inState(resolved, 'resolved'));
  const pir = await untilState(h, run.id, 'postIncidentReview');
  assert.is(pir.status, 'running', 'never straight to closed');
  const pirTask = await untilTask(h, run.id, 'incident_manager');
  assert.is(pirTask.title, 'Post-incident review for fp-10');
  const done = await complete(h, pirTask.id, { outcome: 'DONE', by: 'ina', comment: 'rollback tooling to improve' });
  assert.is(done.status, 200);
  const closed = await untilRun(h, run.id, (r) => r.status === 'done', 'closure');
  assert.is(closed.state, 'closed');
  assert.is(closed.output.major, true);
  const items = await history(h, run.id);
  assert.is(scheduled(items, 'create_problem_record').length, 1);
  assert.match(closed.context.links.problem, /^PRB/);
  assert.equal(measures(items, 'majorIncidents').map((m) => m.value), [1]);
  assert.equal(measures(items, 'pirCompletedWithinDue').map((m) => m.value), [1]);
  assert.is(scheduled(items, 'send_survey').length, 0, 'no survey for a P1');
  const lastUpdate = Date.parse(scheduled(items, 'publish_status_update').at(-1).at);
  const resolvedEntry = items.find((e) => e.type === 'state.entered' && e.state === 'resolved');
  assert.ok(lastUpdate <= Date.parse(resolvedEntry.at), 'status updates stop with the resolve');
});

test('a caller-confirmed major incident goes to its review; the PIR reminder and escalation go out, and a late PIR counts as not within due', async ({ h }) => {
  const run = await startIncident(h, alertP1({
    source: { tool: 'alertmanager', key: 'fp-12', fingerprint: 'fp-12' }, caller: 'carl', pagingPolicy: { enabled: false },
    delaysMs: { pirDueDelay: 150, pirEscalationDelay: 150 },
  }), 'fp-12');
  await sendOk(h, run.id, { type: 'ACCEPT_MAJOR', by: 'ina' });
  await sendOk(h, run.id, { type: 'RESOLVE', comment: 'failed over' });
  const review = await sendOk(h, run.id, { type: 'CONFIRM_CLOSURE', by: 'carl' });
  assert.ok(inState(review, 'postIncidentReview'), 'a major incident is reviewed before it closes');
  const items = await untilHistory(h, run.id, (i) => scheduled(i, 'notify').some((e) => e.input.template === 'pir.escalation'), 'the PIR escalation');
  assert.ok(scheduled(items, 'notify').some((e) => e.input.template === 'pir.reminder'));
  const early = await send(h, run.id, { type: 'PIR_COMPLETED', by: 'mallory' });
  assert.is(early.status, 409);
  await sendOk(h, run.id, { type: 'PIR_COMPLETED', by: 'ina', comment: 'done late' });
  const closed = await untilRun(h, run.id, (r) => r.status === 'done', 'closure');
  assert.is(closed.state, 'closed');
  assert.equal(measures(await history(h, run.id), 'pirCompletedWithinDue').map((m) => m.value), [0]);
});

test('REJECT_MAJOR returns the track to none and it stays there', async ({ h }) => {
  const run = await startIncident(h, alertP1({ pagingPolicy: { enabled: false }, source: { tool: 'alertmanager', key: 'fp-11', fingerprint: 'fp-11' } }));
  const rejected = await sendOk(h, run.id, { type: 'REJECT_MAJOR', by: 'ina' });
  assert.ok(inState(rejected, 'open.major.none'));
  assert.is(rejected.context.major, false);
  const declared = await sendOk(h, run.id, { type: 'DECLARE_MAJOR', by: 'dora' });
  assert.ok(inState(declared, 'open.major.candidate'), 'anyone may put it up again');
});

test('LINK_PROBLEM with a ref links it; without one, create_problem_record makes one', async ({ h }) => {
  const a = await startIncident(h, { title: 'known error', impact: 2, urgency: 2 });
  const linked = await sendOk(h, a.id, { type: 'LINK_PROBLEM', problemRef: 'PRB0042' });
  assert.is(linked.context.links.problem, 'PRB0042');
  assert.ok(inState(linked, 'open.problem.linked'));
  const b = await startIncident(h, { title: 'new problem', impact: 2, urgency: 2 });
  await sendOk(h, b.id, { type: 'LINK_PROBLEM' });
  const created = await untilRun(h, b.id, (r) => r.context.links.problem !== null, 'the created problem');
  assert.match(created.context.links.problem, /^PRB/);
});

test.run();
