// The incident's SLA clocks through HTTP (docs/models/conventions.md §0.3, §1.10 scenarios 3, 4, 5, 9): warnings,
// breaches, pauses, retroactive priority changes and reopen, on real timers at a small scale.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, type Harness } from '../api/harness.ts';
import { at, getRun, history, inState, measures, ms, scheduled, send, sendOk, startIncident, untilHistory, untilRun, untilState, untilTask } from './incident-helpers.ts';

const test = suite<{ h: Harness }>('incident sla', {} as { h: Harness });

// Timers fire 10–50 ms late on a test Redis (hz 100); a step through HTTP adds a few ms more.
const LATE = 300;

test.before(async (ctx) => {
  ctx.h = await startHarness();
});
test.after(async (ctx) => {
  await ctx.h.close();
});

test('scenario 3, response SLA breach and escalation: warnings at 50 % and 75 % (with the manager), breach at 100 %, level 1, a late ACKNOWLEDGE still accepted', async ({ h }) => {
  // Scale: 1 h = 400 ms. P2 response 1 h; paging every 30 min.
  const run = await startIncident(h, {
    title: 'Payments failing', impact: 1, urgency: 2, assignmentGroup: 'payments-sre',
    slaTargetsMs: { 2: { responseMs: 400, resolutionMs: 3200 } },
  });
  assert.is(run.context.priority, 2);
  const t0 = run.context.openedAt as number;
  const breached = await untilState(h, run.id, 'open.responseSla.breached');
  assert.is(breached.context.escalationLevel, 1);
  const clock = breached.context.sla.response;
  assert.is(clock.breached, true);
  assert.ok(clock.breachedAt >= t0 + 400 && clock.breachedAt < t0 + 400 + LATE, `breached at +${clock.breachedAt - t0}`);
  assert.equal(Object.keys(clock.warnedAt).sort(), ['0.5', '0.75']);
  assert.ok(clock.warnedAt['0.5'] >= t0 + 200 && clock.warnedAt['0.5'] < t0 + 200 + LATE);
  assert.ok(clock.warnedAt['0.75'] >= t0 + 300 && clock.warnedAt['0.75'] < t0 + 300 + LATE);

  const items = await untilHistory(h, run.id, (i) => scheduled(i, 'notify').some((e) => e.input.template === 'sla.breached.response'), 'the breach notice');
  const warnings = items.filter((e) => e.type === 'sla.warning' && e.clock === 'response');
  assert.equal(warnings.map((e) => e.fraction), [0.5, 0.75]);
  assert.is(items.filter((e) => e.type === 'sla.breached' && e.clock === 'response').length, 1);
  const notices = scheduled(items, 'notify').map((e) => e.input);
  const w50 = notices.find((n) => n.template === 'sla.warning.response' && n.fraction === 0.5);
  const w75 = notices.find((n) => n.template === 'sla.warning.response' && n.fraction === 0.75);
  const br = notices.find((n) => n.template === 'sla.breached.response');
  assert.equal([].concat(w50.to), ['group:payments-sre']);
  assert.equal([].concat(w75.to), ['group:payments-sre', 'manager:payments-sre']);
  assert.ok(br.to.includes('incident_manager') && br.to.includes('manager:payments-sre'));
  assert.equal(measures(items, 'slaComplianceResponse').map((m) => m.value), [0], 'the response KPI records the breach');
  assert.is(measures(items, 'slaBreaches').length, 1);

  const acked = await sendOk(h, run.id, { type: 'ACKNOWLEDGE', by: 'pat' });
  assert.ok(inState(acked, 'open.work.inProgress'));
  assert.ok(inState(acked, 'open.responseSla.breached'), 'a breached clock stays breached');
  assert.is(acked.context.sla.response.stoppedAt !== null, true);
  const after = await history(h, run.id);
  assert.equal(measures(after, 'slaComplianceResponse').map((m) => m.value), [0], 'counted once');
  assert.is(measures(after, 'mtta').length, 1);
});

test('a breached clock re-escalates every half target, at most 3 times, and stops re-escalating once acknowledged', async ({ h }) => {
  const run = await startIncident(h, {
    title: 'Re-escalation', impact: 2, urgency: 2, slaTargetsMs: { 3: { responseMs: 200, resolutionMs: 60_000 } },
  });
  const done = await untilRun(h, run.id, (r) => r.context.sla.response.reescalations === 3, 'three re-escalations', 5000);
  assert.ok(inState(done, 'open.responseSla.breached'));
  await at(Date.now() + 350);
  const items = await history(h, run.id);
  assert.equal(items.filter((e) => e.type === 'sla.reescalated' && e.clock === 'response').map((e) => e.level), [1, 2, 3]);
  assert.is((await getRun(h, run.id)).context.sla.response.reescalations, 3, 'no fourth');
});

test('scenario 4, pause on awaiting caller: 10 h + 30 h on hold + 10 h gives 20 h of SLA time, met under 24 h', async ({ h }) => {
  // Scale: 1 h = 40 ms. P4 would be 72 h; use a P3 (24 h = 960 ms).
  const run = await startIncident(h, {
    title: 'Cannot log in', impact: 2, urgency: 2, caller: 'carl', slaTargetsMs: { 3: { responseMs: 1000, resolutionMs: 960 } },
  });
  const t0 = run.context.openedAt as number;
  await sendOk(h, run.id, { type: 'ACKNOWLEDGE', by: 'dora' });
  await at(t0 + 400);
  const held = await sendOk(h, run.id, { type: 'PUT_ON_HOLD', reason: 'awaiting_caller', comment: 'which browser?' });
  assert.ok(inState(held, 'open.resolutionSla.paused'));
  assert.is(held.context.sla.resolution.paused, true);
  await at(t0 + 1600);
  const back = await sendOk(h, run.id, { type: 'CALLER_UPDATED', comment: 'Firefox' });
  assert.ok(inState(back, 'open.work.inProgress'));
  assert.ok(inState(back, 'open.resolutionSla.running'));
  assert.ok(back.context.sla.resolution.pausedMs >= 1150, `paused ${back.context.sla.resolution.pausedMs}`);
  await at(t0 + 2000);
  const resolved = await sendOk(h, run.id, { type: 'RESOLVE', code: 'fixed', comment: 'cleared cookies' });
  const c = resolved.context.sla.resolution;
  assert.is(c.met, true);
  assert.is(c.breached, false);
  // 20 h of SLA time at 40 ms an hour; the clock may start a millisecond after openedAt.
  assert.ok(c.elapsedMs >= 780 && c.elapsedMs < 960, `SLA time ${c.elapsedMs}`);
  assert.ok(resolved.context.resolvedAt - t0 >= 2000, 'wall clock well past the target');
  const items = await history(h, run.id);
  assert.equal(measures(items, 'slaComplianceResolution').map((m) => m.value), [1]);
  const slaTime = measures(items, 'meanTimeToResolveSla')[0].value;
  assert.is(slaTime, c.elapsedMs);
  assert.ok(measures(items, 'meanTimeToResolve')[0].value >= 2000);
});

test('scenario 4 variant: the same timeline waiting on a vendor breaches at 24 h, because vendor waits do not pause', async ({ h }) => {
  const run = await startIncident(h, {
    title: 'Cannot log in (vendor)', impact: 2, urgency: 2, caller: 'carl', slaTargetsMs: { 3: { responseMs: 1000, resolutionMs: 960 } },
  });
  const t0 = run.context.openedAt as number;
  await sendOk(h, run.id, { type: 'ACKNOWLEDGE', by: 'dora' });
  await at(t0 + 400);
  const held = await sendOk(h, run.id, { type: 'PUT_ON_HOLD', reason: 'awaiting_vendor' });
  assert.ok(inState(held, 'open.work.onHold.awaitingVendor'));
  assert.ok(inState(held, 'open.resolutionSla.running'));
  const breached = await untilState(h, run.id, 'open.resolutionSla.breached');
  const at0 = breached.context.sla.resolution.breachedAt - t0;
  assert.ok(at0 >= 960 && at0 < 960 + LATE, `breached at +${at0}`);
  assert.ok(inState(breached, 'open.work.onHold.awaitingVendor'), 'still waiting on the vendor');
  await sendOk(h, run.id, { type: 'RESUME', by: 'dora' });
  const resolved = await sendOk(h, run.id, { type: 'RESOLVE', code: 'fixed' });
  assert.is(resolved.context.sla.resolution.met, false);
  assert.is(resolved.context.sla.resolution.breached, true);
  assert.equal(measures(await history(h, run.id), 'slaComplianceResolution').map((m) => m.value), [0]);
});

test('slaPauseReasons from the input: awaiting_vendor pauses when the process owner says so', async ({ h }) => {
  const run = await startIncident(h, {
    title: 'Vendor pause', impact: 2, urgency: 2, slaPauseReasons: ['awaiting_caller', 'awaiting_vendor'],
  });
  await sendOk(h, run.id, { type: 'ACKNOWLEDGE', by: 'dora' });
  const held = await sendOk(h, run.id, { type: 'PUT_ON_HOLD', reason: 'awaiting_vendor' });
  assert.ok(inState(held, 'open.resolutionSla.paused'));
  assert.is(held.context.sla.resolution.dueAt, null);
  const resumed = await sendOk(h, run.id, { type: 'RESUME', by: 'dora' });
  assert.ok(inState(resumed, 'open.resolutionSla.running'));
  assert.ok(resumed.context.sla.resolution.dueAt > held.context.sla.resolution.startedAt + 24 * 3_600_000 - 1, 'due time moved by the pause');
});

test('scenario 5, priority raised mid-flight: P3 → P1 at 3 h breaches at 4 h from the start; 50 %/75 % warnings at once and once; paging and major candidate start', async ({ h }) => {
  // Scale: 1 h = 200 ms. P3 resolution 24 h, P1 resolution 4 h; response targets beyond the test.
  const run = await startIncident(h, {
    title: 'Latency creeping', impact: 2, urgency: 2, approvers: { incidentManager: ['ina'] },
    slaTargetsMs: { 3: { responseMs: 60_000, resolutionMs: 4800 }, 1: { responseMs: 60_000, resolutionMs: 800 } },
    delaysMs: { pageEscalationDelay: 60_000 },
  }, 'INC-5005');
  const t0 = run.context.openedAt as number;
  await at(t0 + 620);
  const raised = await sendOk(h, run.id, { type: 'UPDATE_PRIORITY', impact: 1, urgency: 1, by: 'ina' });
  assert.is(raised.context.priority, 1);
  const clock = raised.context.sla.resolution;
  assert.is(clock.targetMs, 800);
  assert.is(clock.startedAt, t0, 'retroactive: counted from the start');
  assert.ok(Math.abs(clock.dueAt - (t0 + 800)) <= 5, `due at +${clock.dueAt - t0}`);
  assert.equal(Object.keys(clock.warnedAt).sort(), ['0.5', '0.75'], 'both warnings went out with the upgrade');
  assert.ok(inState(raised, 'open.paging.active'), 'a rise to P1 starts paging');
  assert.ok(inState(raised, 'open.major.candidate'));
  await untilTask(h, run.id, 'incident_manager');

  const breached = await untilState(h, run.id, 'open.resolutionSla.breached');
  const b = breached.context.sla.resolution.breachedAt - t0;
  assert.ok(b >= 800 && b < 800 + LATE, `breached at +${b}`);
  const items = await history(h, run.id);
  const warnings = items.filter((e) => e.type === 'sla.warning' && e.clock === 'resolution');
  assert.equal(warnings.map((e) => e.fraction), [0.5, 0.75], 'each warning once');
  const upgrade = items.find((e) => e.type === 'event.received' && e.event === 'UPDATE_PRIORITY');
  for (const w of warnings) assert.is(w.at, upgrade.at, 'sent in the step of the upgrade');
  assert.ok(scheduled(items, 'page_oncall').length >= 1);
  assert.ok(items.some((e) => e.type === 'incident.priority_changed' && e.from === 3 && e.to === 1));
});

test('a lower priority gives a longer target: the breach moves out, and a P5 detaches the resolution clock', async ({ h }) => {
  const run = await startIncident(h, { title: 'Downgrade', impact: 2, urgency: 2, slaTargetsMs: { 3: { resolutionMs: 500 }, 4: { resolutionMs: 60_000 } } });
  const down = await sendOk(h, run.id, { type: 'UPDATE_PRIORITY', impact: 2, urgency: 3 });
  assert.is(down.context.priority, 4);
  assert.is(down.context.sla.resolution.targetMs, 60_000);
  const p5 = await sendOk(h, run.id, { type: 'UPDATE_PRIORITY', impact: 3, urgency: 3 });
  assert.ok(inState(p5, 'open.resolutionSla.notAttached'));
  await at(Date.now() + 700);
  assert.ok(inState(await getRun(h, run.id), 'open.resolutionSla.notAttached'), 'no breach at the old 500 ms target');
});

test('scenario 9, reopen within N days: REOPEN at day 2 continues the resolution clock from its elapsed time; after auto-close 409 RUN_ENDED', async ({ h }) => {
  // Scale: 1 day = 100 ms; auto-close after 3 days.
  const run = await startIncident(h, {
    title: 'Mail bounces', impact: 2, urgency: 2, caller: 'carl', autoCloseAfterMs: 300,
    slaTargetsMs: { 3: { responseMs: 60_000, resolutionMs: 60_000 } },
  });
  const t0 = run.context.openedAt as number;
  await sendOk(h, run.id, { type: 'ACKNOWLEDGE', by: 'dora' });
  await at(t0 + 100);
  const resolved = await sendOk(h, run.id, { type: 'RESOLVE', code: 'fixed', comment: 'dns', by: 'dora' });
  const elapsedAtResolve = resolved.context.sla.resolution.elapsedMs;
  assert.is(resolved.context.sla.resolution.met, true);
  await at(resolved.context.resolvedAt + 200);
  const denied = await send(h, run.id, { type: 'REOPEN', by: 'mallory' });
  assert.is(denied.status, 409, 'only the caller, opener or a resolver reopens');
  const reopened = await sendOk(h, run.id, { type: 'REOPEN', by: 'carl', comment: 'still bouncing' });
  assert.ok(inState(reopened, 'open.work.inProgress'));
  assert.ok(inState(reopened, 'open.resolutionSla.running'));
  assert.ok(inState(reopened, 'open.responseSla.met'), 'the response stays met');
  assert.is(reopened.context.reopenCount, 1);
  assert.is(reopened.context.lastReopenedBy, 'carl');
  const clock = reopened.context.sla.resolution;
  assert.is(clock.elapsedMs, elapsedAtResolve, 'the clock resumes from its elapsed time');
  assert.is(clock.stoppedAt, null);
  assert.ok(reopened.context.sla.resolution.dueAt - ms(reopened.updatedAt) <= 60_000 - elapsedAtResolve + 5);

  const again = await sendOk(h, run.id, { type: 'RESOLVE', code: 'fixed', comment: 'mx record' });
  const closed = await untilRun(h, run.id, (r) => r.status === 'done', 'auto-close', 5000);
  assert.is(closed.state, 'closed');
  assert.ok(ms(closed.endedAt) - again.context.resolvedAt >= 300);
  const late = await send(h, run.id, { type: 'REOPEN', by: 'carl' });
  assert.is(late.status, 409);
  assert.is(late.body.error.code, 'RUN_ENDED');
  const items = await history(h, run.id);
  assert.equal(measures(items, 'reopenRate').map((m) => m.value), [1]);
  assert.equal(measures(items, 'slaComplianceResolution').map((m) => m.value), [1], 'one compliance figure per run');
  assert.is(measures(items, 'meanTimeToResolve').length, 1, 'time to resolve counts the first resolution');
});

test('the second reopen files a problem record (choice), once', async ({ h }) => {
  const run = await startIncident(h, { title: 'Flaky disk', impact: 2, urgency: 2, caller: 'carl' });
  await sendOk(h, run.id, { type: 'RESOLVE', code: 'fixed' });
  await sendOk(h, run.id, { type: 'REOPEN', by: 'carl' });
  await sendOk(h, run.id, { type: 'RESOLVE', code: 'fixed' });
  await sendOk(h, run.id, { type: 'REOPEN', by: 'carl' });
  const linked = await untilRun(h, run.id, (r) => r.context.links.problem !== null, 'the problem record');
  assert.match(linked.context.links.problem, /^PRB/);
  await sendOk(h, run.id, { type: 'RESOLVE', code: 'fixed' });
  await sendOk(h, run.id, { type: 'REOPEN', by: 'carl' });
  const items = await history(h, run.id);
  assert.is(scheduled(items, 'create_problem_record').length, 1);
});

test.run();
