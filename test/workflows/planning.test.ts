// The planning model's scenarios (docs/models/planning.md §4.10) through HTTP, with small timer overrides and
// real child delivery runs (policy `none`, big-bang, fast timers). A recorder stands in for `change`
// so the capacity action's close can be played by the test.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, type Harness } from '../api/harness.ts';
import { waitFor } from '../helpers.ts';
import { planning } from '../../workflows/planning.ts';
import { delivery } from '../../workflows/delivery.ts';
import {
  children, completeTask, getRun, history, inState, iso, measures, openTask, recorderWorkflow, send, sendOk, startRun,
  waitForChild, waitForState, waitForStatus,
} from './delivery-helpers.ts';

const test = suite<{ h: Harness }>('planning scenarios', {} as { h: Harness });

test.before(async (ctx) => {
  ctx.h = await startHarness({ workflows: [planning, delivery, recorderWorkflow('change')] });
});
test.after(async (ctx) => {
  await ctx.h.close();
});

const DAY = 86_400_000;
const HOUR = 3_600_000;
const APPROVERS = {
  demandManager: ['dm-dora'], portfolioBoard: ['board-bo'], releaseManager: ['rita'], capacityManager: ['cap-carl'],
  serviceOwner: ['sam'], finance: ['fin-fay'], businessOwner: ['biz-ben'],
};

function span(start: number, lengthMs = 2 * HOUR): { start: string; end: string } {
  return { start: iso(start), end: iso(start + lengthMs) };
}

/** A demand with release windows two to four days out, each handed off at once (handoff offset = 5 days). */
function demandInput(over: Record<string, unknown> = {}): Record<string, any> {
  const now = Date.now();
  return {
    demand: {
      id: `DEM-${Math.random().toString(36).slice(2, 8)}`, title: 'Faster checkout', businessCase: 'Cart abandonment is 12 %',
      requestedBy: 'pm-paula', services: ['checkout'], targetDate: iso(now + 30 * DAY), size: 'M', strategicGoal: 'conversion',
    },
    approvers: APPROVERS,
    capacity: { current: { checkout: 0.5 }, expectedLoad: 0.05 },
    schedules: { releaseWindows: [span(now + 2 * DAY), span(now + 3 * DAY), span(now + 4 * DAY)], blackout: [] },
    delivery: {
      environments: ['production'], changePolicy: 'none', strategy: 'bigBang', release: { version: '5.0.0' },
      delaysMs: { bakeDelay: 150, elsDelay: 150, stepProgressDeadlineDelay: 5000, rollbackDeadlineDelay: 5000 },
    },
    delaysMs: { handoffDelay: 5 * DAY },
    ...over,
  };
}

async function task(h: Harness, runId: string, state: string): Promise<any> {
  return openTask(h, runId, state);
}

async function complete(h: Harness, runId: string, state: string, outcome: string, by: string, comment?: string): Promise<void> {
  const t = await task(h, runId, state);
  const res = await completeTask(h, t.id, outcome, by, comment);
  assert.is(res.status, 200, `${state} ${outcome} by ${by}: ${JSON.stringify(res.body)}`);
}

/** Draft → submitted → screening; `skip` lists areas nobody answers. */
async function screen(h: Harness, runId: string, skip: string[] = []): Promise<void> {
  await complete(h, runId, 'draft', 'SUBMIT', 'pm-paula');
  await complete(h, runId, 'submitted', 'SCREEN', 'dm-dora');
  await waitForState(h, runId, 'screening');
  if (!skip.includes('businessValue')) await complete(h, runId, 'screening.businessValue.pending', 'SUBMITTED', 'biz-ben', 'score 8/10, strong case');
  if (!skip.includes('serviceLevel')) await complete(h, runId, 'screening.serviceLevel.pending', 'SUBMITTED', 'sam', '7');
  if (!skip.includes('capacity')) await complete(h, runId, 'screening.capacity.review', 'CONFIRM', 'cap-carl', 'forecast accepted');
  if (!skip.includes('financial')) await complete(h, runId, 'screening.financial.pending', 'SUBMITTED', 'fin-fay', 'within budget, 6');
}

async function toQualified(h: Harness, input: Record<string, unknown>, businessKey?: string): Promise<string> {
  const run = await startRun(h, 'planning', input, businessKey);
  await screen(h, run.id);
  await waitForState(h, run.id, 'qualified');
  return run.id;
}

/** Board approves, release manager confirms the proposed plan; the run is scheduled. */
async function approveAndConfirm(h: Harness, runId: string, outcome = 'APPROVE'): Promise<any> {
  await complete(h, runId, 'qualified', outcome, 'board-bo');
  await waitForState(h, runId, 'approved.confirming');
  await complete(h, runId, 'approved.confirming', 'CONFIRM', 'rita');
  return getRun(h, runId);
}

/** Drive a child delivery to its end: GO (after START when it waits for its window), then optionally abort. */
async function runDelivery(h: Harness, deliveryId: string, how: 'complete' | 'abort' | 'hold' = 'complete'): Promise<any> {
  const d = await getRun(h, deliveryId);
  if (inState(d, 'planned')) await sendOk(h, deliveryId, { type: 'START', by: 'rita' });
  if (how === 'hold') return d;
  await complete(h, deliveryId, 'readiness', 'GO', 'rita');
  if (how === 'abort') {
    await waitForState(h, deliveryId, 'production');
    await send(h, deliveryId, { type: 'ABORT', by: 'rita', comment: 'broken' });
  }
  return waitForStatus(h, deliveryId, 'done', 20_000);
}

test('happy path: submitted, four assessments, qualified, approved at the board meeting, scheduled after the freeze, handed off to a delivery that completes → completed', async ({ h }) => {
  const now = Date.now();
  const t = now + 14 * DAY;
  const w1 = span(t, 20 * 60_000);
  const w2 = span(t + 40 * 60_000);
  const input = demandInput({
    board: { meetingsAt: [iso(now + 5000)] },
    schedules: { releaseWindows: [w1, w2], blackout: [{ start: iso(t - 60_000), end: iso(t + 30 * 60_000) }] },
    delaysMs: { handoffDelay: 14 * DAY + 40 * 60_000 - 8000 },
  });
  const key = `PLAN-${Math.random().toString(36).slice(2, 8)}`;
  const runId = await toQualified(h, input, key);
  let run = await getRun(h, runId);
  assert.is(run.context.assessments.businessValue.score, 8);
  assert.is(run.context.assessments.serviceLevel.score, 7);
  assert.is(run.context.forecast.peakUtilisation, 0.55);
  assert.is(run.context.capacityRisk, false);
  const boardTask = await task(h, runId, 'qualified');
  assert.is(boardTask.title, 'Portfolio decision on Faster checkout');
  assert.is(boardTask.role, 'portfolio_board');
  run = await waitFor(async () => {
    const r = await getRun(h, runId);
    return r.context.totalScore !== null ? r : null;
  }, 5000, 'the score');
  assert.ok(run.context.totalScore > 0 && run.context.totalScore <= 10);
  // The board sees it on the agenda of its next meeting.
  const agenda = await waitFor(async () => (await history(h, runId)).find((e) => e.type === 'timer.fired' && e.timer === 'boardMeetingDelay'), 8000, 'board meeting');
  assert.is(Date.parse(agenda.dueAt), now + 5000);
  await waitFor(async () => (await history(h, runId)).some((e) => e.type === 'notify.recorded' && String(e.payload.subject).startsWith('Board agenda')), 5000, 'board agenda');

  run = await approveAndConfirm(h, runId);
  assert.ok(inState(run, 'scheduled'));
  assert.equal(run.context.plan.releases.map((r: any) => r.window), [w2], 'the first window after the freeze');
  const handoffAt = Date.parse(run.context.plan.releases[0].handoffAt);
  assert.is(handoffAt, Date.parse(w2.start) - (14 * DAY + 40 * 60_000 - 8000));

  const [child] = await waitForChild(h, runId, 'delivery', 1, 10_000);
  assert.is(child.parentRunId, runId);
  assert.is(child.businessKey, `delivery:${key}:R1`, "named after the planning run's business key (§5)");
  assert.is(child.input.scheduledStart, w2.start);
  assert.equal(child.input.window, w2);
  assert.is(child.input.release.id, 'R1');
  assert.ok(Date.now() >= handoffAt - 50, 'not handed off before its time');
  const done = await runDelivery(h, child.id);
  assert.is(done.output.outcome, 'completed');

  const final = await waitForStatus(h, runId, 'done', 10_000);
  assert.is(final.state, 'completed');
  assert.is(final.output.outcome, 'completed');
  const entries = await history(h, runId);
  assert.is(measures(entries, 'demandLeadTime').length, 1);
  assert.is(measures(entries, 'timeToMarket').length, 1);
  assert.equal(measures(entries, 'approvalRate').map((m) => m.value), [1]);
  assert.equal(measures(entries, 'onTimeAgainstTargetDate').map((m) => m.value), [1]);
  assert.equal(measures(entries, 'scheduleAdherence').map((m) => m.value), [0], 'started by hand before its window');
});

test('deferral: DEFER until a date → deferred; the revisit timer brings it back to qualified; APPROVE', async ({ h }) => {
  const runId = await toQualified(h, demandInput());
  const until = Date.now() + 600;
  assert.is((await send(h, runId, { type: 'DEFER', by: 'board-bo', until: 'next quarter' })).status, 422);
  let run = await sendOk(h, runId, { type: 'DEFER', by: 'board-bo', until: iso(until) });
  assert.ok(inState(run, 'deferred'));
  assert.is(run.context.deferredUntil, until);
  run = await waitForState(h, runId, 'qualified', 5000);
  const entries = await history(h, runId);
  const fired = entries.find((e) => e.type === 'timer.fired' && e.timer === 'revisitDelay');
  assert.is(Date.parse(fired.dueAt), until);
  await complete(h, runId, 'qualified', 'APPROVE', 'board-bo');
  await waitForState(h, runId, 'approved');
  assert.equal(measures(await history(h, runId), 'deferralRate').map((m) => m.value), [1, 0]);
});

test('rejection: REJECT → rejected, with no child runs', async ({ h }) => {
  const runId = await toQualified(h, demandInput());
  assert.is((await completeTask(h, (await task(h, runId, 'qualified')).id, 'REJECT', 'pm-paula')).status, 409, 'not on the board');
  await complete(h, runId, 'qualified', 'REJECT', 'board-bo', 'not aligned with strategy');
  const done = await waitForStatus(h, runId, 'done');
  assert.is(done.state, 'rejected');
  assert.equal([done.output.outcome, done.output.reason], ['rejected', 'not aligned with strategy']);
  assert.is((await children(h, runId)).length, 0);
});

test('capacity shortfall: 92 % peak > 80 % → capacityRisk; APPROVE answers 409 and the task stays open; APPROVE_WITH_CAPACITY_ACTION → a normal change that must close before the first release starts', async ({ h }) => {
  const key = `PLAN-${Math.random().toString(36).slice(2, 8)}`;
  const runId = await toQualified(h, demandInput({ capacity: { current: { checkout: 0.87 }, expectedLoad: 0.05 } }), key);
  let run = await getRun(h, runId);
  assert.is(run.context.forecast.peakUtilisation, 0.92);
  assert.is(run.context.capacityRisk, true);
  const t = await task(h, runId, 'qualified');
  const refused = await completeTask(h, t.id, 'APPROVE', 'board-bo');
  assert.is(refused.status, 409);
  assert.is(refused.body.error.code, 'EVENT_NOT_ACCEPTED');
  assert.is((await task(h, runId, 'qualified')).id, t.id, 'the task stays open');

  run = await approveAndConfirm(h, runId, 'APPROVE_WITH_CAPACITY_ACTION');
  assert.is(run.context.planIncludesCapacityChange, true);
  const [change] = await waitForChild(h, runId, 'change');
  assert.is(change.businessKey, `change:${key}:1`, "named after the planning run's business key (§5)");
  assert.is(change.input.changeType, 'normal');
  assert.is(change.input.plannedEnd, run.context.plan.releases[0].window.start, 'to close before the first window');
  // Handoff time has come, but the release waits for the capacity change.
  await waitForState(h, runId, 'scheduled.release0.held');
  assert.is((await children(h, runId, 'delivery')).length, 0);
  assert.is((await send(h, runId, { type: 'CHANGE_CLOSED', childRunId: 'r-not-ours', closeCode: 'successful' })).status, 409);
  await sendOk(h, runId, { type: 'CHANGE_CLOSED', childRunId: change.id, closeCode: 'successful' });
  await waitForChild(h, runId, 'delivery');
  const entries = await history(h, runId);
  assert.equal(measures(entries, 'capacityRiskRate').map((m) => m.value), [1]);
  assert.is(measures(entries, 'capacityActionsRaised').length, 1);
});

test('slow assessor: finance never answers; reminder, then the demand manager is told at due; QUALIFY → qualified with financial missing', async ({ h }) => {
  const run = await startRun(h, 'planning', demandInput({ delaysMs: { handoffDelay: 5 * DAY, assessmentReminderDelay: 200, assessmentDueDelay: 500 } }));
  await screen(h, run.id, ['financial']);
  const notices = await waitFor(async () => {
    const entries = await history(h, run.id);
    const n = entries.filter((e) => e.type === 'notify.recorded' && e.payload.area === 'financial');
    return n.length >= 2 ? n : null;
  }, 5000, 'reminder and overdue notices');
  assert.equal(notices[0].payload.to, ['fin-fay']);
  assert.equal(notices[1].payload.to, ['dm-dora']);
  assert.ok((await history(h, run.id)).some((e) => e.type === 'planning.assessment_overdue' && e.area === 'financial'));
  assert.ok(inState(await getRun(h, run.id), 'screening.financial.pending'));
  assert.is((await send(h, run.id, { type: 'QUALIFY', by: 'biz-ben' })).status, 409, 'only the demand manager qualifies by hand');
  const q = await sendOk(h, run.id, { type: 'QUALIFY', by: 'dm-dora' });
  assert.ok(inState(q, 'qualified'));
  assert.equal(q.context.missingAssessments, ['financial']);
  assert.is(q.context.qualifiedManually, true);
});

test('freeze-aware scheduling: the only window before the target date is frozen → the first window after it, target date flagged missed; a freeze over the confirmed window → replanning', async ({ h }) => {
  const now = Date.now();
  const w1 = span(now + 5 * DAY);
  const w2 = span(now + 20 * DAY);
  const input = demandInput({
    demand: { ...demandInput().demand, targetDate: iso(now + 10 * DAY) },
    schedules: { releaseWindows: [w1, w2], blackout: [{ start: iso(now + 4 * DAY), end: iso(now + 6 * DAY) }] },
    delaysMs: {},
  });
  const runId = await toQualified(h, input);
  await complete(h, runId, 'qualified', 'APPROVE', 'board-bo');
  const proposed = await waitForState(h, runId, 'approved.confirming');
  assert.equal(proposed.context.plan.releases[0].window, w2);
  assert.is(proposed.context.plan.targetDateMissed, true);
  // Default handoff: 14 days before the window.
  assert.is(Date.parse(proposed.context.plan.releases[0].handoffAt), Date.parse(w2.start) - 14 * DAY);
  await complete(h, runId, 'approved.confirming', 'CONFIRM', 'rita');
  let run = await waitForState(h, runId, 'scheduled.release0.waiting');
  const handoff = run.timers.find((t: any) => t.id.includes('handoffDelay'));
  assert.is(Date.parse(handoff.dueAt), Date.parse(w2.start) - 14 * DAY);
  // A freeze elsewhere is only recorded; one over the window sends the plan back.
  run = await sendOk(h, runId, { type: 'FREEZE_DECLARED', from: iso(now + 30 * DAY), to: iso(now + 31 * DAY) });
  assert.ok(inState(run, 'scheduled'));
  run = await sendOk(h, runId, { type: 'FREEZE_DECLARED', from: w2.start, to: w2.end });
  assert.ok(inState(run, 'replanning'));
  assert.is(run.context.replanReason, 'freeze');
  const t = await task(h, runId, 'replanning');
  assert.is(t.role, 'demand_manager');
});

test('delivery fails → replan: the child ends DELIVERY_FAILED → replanning → RESCHEDULE → a new window → a second child completes → completed; the first child stays failed', async ({ h }) => {
  const runId = await toQualified(h, demandInput());
  let run = await approveAndConfirm(h, runId);
  const firstWindow = run.context.plan.releases[0].window;
  const [first] = await waitForChild(h, runId, 'delivery');
  const failed = await runDelivery(h, first.id, 'abort');
  assert.is(failed.state, 'failed');
  run = await waitForState(h, runId, 'replanning', 10_000);
  assert.is(run.context.releases.R1.status, 'failed');
  await complete(h, runId, 'replanning', 'RESCHEDULE', 'dm-dora');
  run = await waitForState(h, runId, 'approved.confirming');
  assert.not.equal(run.context.plan.releases[0].window, firstWindow, 'a new window');
  await complete(h, runId, 'approved.confirming', 'CONFIRM', 'rita');
  const kids = await waitForChild(h, runId, 'delivery', 2);
  const second = kids.find((k) => k.id !== first.id);
  assert.is(second.businessKey, `delivery:${runId}:R1:2`, 'a run started without a business key lends its id');
  await runDelivery(h, second.id);
  const final = await waitForStatus(h, runId, 'done', 10_000);
  assert.is(final.state, 'completed');
  assert.is(final.output.replanCount, 1);
  assert.is((await getRun(h, first.id)).state, 'failed');
  assert.equal(final.context.releases.R1.runIds, [first.id, second.id]);
});

test('two releases: A completes, B fails → replanning; DESCOPE B → completed', async ({ h }) => {
  const runId = await toQualified(h, demandInput({ releases: [{ id: 'A', service: 'checkout' }, { id: 'B', service: 'checkout', version: '5.1.0' }] }));
  const run = await approveAndConfirm(h, runId);
  assert.equal(run.context.plan.releases.map((r: any) => r.id), ['A', 'B']);
  assert.ok(Date.parse(run.context.plan.releases[0].window.start) < Date.parse(run.context.plan.releases[1].window.start));
  const kids = await waitForChild(h, runId, 'delivery', 2);
  const a = kids.find((k) => k.input.release.id === 'A');
  const b = kids.find((k) => k.input.release.id === 'B');
  assert.is(b.input.release.version, '5.1.0');
  await runDelivery(h, a.id);
  await runDelivery(h, b.id, 'abort');
  await waitForState(h, runId, 'replanning', 10_000);
  assert.is((await send(h, runId, { type: 'DESCOPE', by: 'dm-dora', releaseIds: [] })).status, 422);
  await sendOk(h, runId, { type: 'DESCOPE', by: 'dm-dora', releaseIds: ['B'] });
  const final = await waitForStatus(h, runId, 'done', 10_000);
  assert.is(final.state, 'completed');
  assert.equal([final.output.releases.A.status, final.output.releases.B.status], ['done', 'descoped']);
});

test('cancel cascades: CANCEL while A is in delivery → planning canceled, and A gets run status cancelled', async ({ h }) => {
  const runId = await toQualified(h, demandInput());
  await approveAndConfirm(h, runId);
  const [a] = await waitForChild(h, runId, 'delivery');
  await waitForState(h, runId, 'scheduled.release0.inDelivery.running');
  await runDelivery(h, a.id, 'hold');
  await openTask(h, a.id, 'readiness');
  await sendOk(h, runId, { type: 'CANCEL', by: 'dm-dora', reason: 'budget cut' });
  const done = await waitForStatus(h, runId, 'done', 10_000);
  assert.is(done.state, 'canceled');
  assert.equal([done.output.outcome, done.output.reason], ['canceled', 'budget cut']);
  // Cancelled as POST /v1/runs/:id/cancel would: the child's open readiness task is withdrawn with it.
  const child = await waitForStatus(h, a.id, 'cancelled', 10_000);
  assert.is(child.state, 'readiness');
  const entries = await history(h, runId);
  assert.ok(entries.some((e) => e.type === 'planning.child_cancelled' && e.runId === a.id && e.cancelled === true));
  const childEntries = await history(h, a.id);
  assert.ok(childEntries.some((e) => e.type === 'run.cancelled' && e.actor === 'task:cancel_child' && e.reason === 'planning_canceled'));
});

test('refusals: incomplete draft cannot be submitted (409) until updated; broken payloads answer 422; the planning model draws its diagram', async ({ h }) => {
  const input = demandInput();
  delete input.demand.businessCase;
  const run = await startRun(h, 'planning', input);
  assert.is((await send(h, run.id, { type: 'SUBMIT', by: 'pm-paula' })).status, 409);
  assert.is((await send(h, run.id, { type: 'UPDATE_DEMAND', size: 'HUGE' })).status, 422);
  await sendOk(h, run.id, { type: 'UPDATE_DEMAND', businessCase: 'Now with numbers' });
  await sendOk(h, run.id, { type: 'SUBMIT', by: 'pm-paula' });
  assert.is((await send(h, run.id, { type: 'MOVE_TO_SCREENING', by: 'pm-paula' })).status, 409, 'only a demand manager');
  await sendOk(h, run.id, { type: 'MOVE_TO_SCREENING', by: 'dm-dora' });
  assert.is((await send(h, run.id, { type: 'VALUE_ASSESSED', by: 'biz-ben', score: 11 })).status, 422);
  assert.is((await send(h, run.id, { type: 'VALUE_ASSESSED', by: 'sam', score: 5 })).status, 409, 'not a business owner');
  const bad = await h.call('POST', '/v1/runs', { key: 'operator', body: { workflow: 'planning', input: { demand: { targetDate: 'soon' } } } });
  assert.is(bad.status, 422);
  const diagram = await h.call('GET', '/v1/workflows/planning/diagram?format=mermaid', { key: 'viewer' });
  assert.is(diagram.status, 200);
  await sendOk(h, run.id, { type: 'CANCEL', by: 'dm-dora' });
});

test('stale draft: a reminder, then canceled (stale) after draftStaleDelay without an update', async ({ h }) => {
  const run = await startRun(h, 'planning', demandInput({ delaysMs: { draftReminderDelay: 150, draftStaleDelay: 500 } }));
  const done = await waitForStatus(h, run.id, 'done', 5000);
  assert.is(done.state, 'canceled');
  assert.is(done.output.reason, 'stale');
  const entries = await history(h, run.id);
  assert.ok(entries.some((e) => e.type === 'notify.recorded' && e.payload.to === 'pm-paula'));
});

test('a no-go on the child delivery: DELIVERY_CANCELED → the release failed → replanning', async ({ h }) => {
  const runId = await toQualified(h, demandInput());
  await approveAndConfirm(h, runId);
  const [child] = await waitForChild(h, runId, 'delivery');
  await runDelivery(h, child.id, 'hold');
  await complete(h, child.id, 'readiness', 'NO_GO', 'rita', 'not ready');
  const run = await waitForState(h, runId, 'replanning', 10_000);
  assert.is(run.context.releases.R1.status, 'failed');
  assert.is(run.context.releases.R1.outcome, 'no_go');
  assert.is(run.context.replanReason, 'delivery_failed');
});

test.run();
