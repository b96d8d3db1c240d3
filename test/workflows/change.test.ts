// The change model (docs/models/change.md §2.10) through HTTP on a real engine: standard, normal, rejected,
// emergency, approval timeout, freeze, windows, on hold, cancel, segregation of duties, revert, type rules, unauthorized.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, type Harness } from '../api/harness.ts';
import { waitFor } from '../helpers.ts';
import { completeTask, openTask, startRun, waitForChild, waitForStatus } from './delivery-helpers.ts';
import {
  HOUR, approvers, complete, getRun, history, iso, maintenanceAround, measures, normalChange, notifications, openTasks, paths, send, sendOk,
  startChange, waitState, waitTask,
} from './change-helpers.ts';

const test = suite<{ h: Harness }>('change model', {} as { h: Harness });

test.before(async (ctx) => {
  ctx.h = await startHarness();
});
test.after(async (ctx) => {
  await ctx.h.close();
});

test('standard change, happy path: scheduled with no approvals, implemented at plannedStart, closed without PIR', async ({ h }) => {
  const now = Date.now();
  const run = await startChange(h, {
    changeType: 'standard', templateId: 'cert-rotation', requestedBy: 'rita', implementer: 'ivan', ci: ['web-01'],
    templates: { 'cert-rotation': { active: true, implementationPlan: 'rotate', backoutPlan: 'restore old cert', testPlan: 'curl' } },
    plannedStart: iso(now + 1500), plannedEnd: iso(now + HOUR), schedules: { maintenance: maintenanceAround(['web-01'], now) },
  }, 'CHG-STD-1');
  assert.equal(run.state, { new: 'draft' });
  assert.is(run.context.implementationPlan, 'rotate', 'plans are copied from the template');
  const draftTask = await waitTask(h, run.id, 'change_requester');
  assert.ok(draftTask.title.includes('CHG-STD-1'));
  assert.is((await complete(h, draftTask.id, 'SUBMIT', 'rita')).status, 200);
  const scheduled = await waitState(h, run.id, 'scheduled');
  assert.equal(scheduled.context.approvals, {}, 'no approval records');
  assert.equal(scheduled.context.approvalPlan, {});
  const implementing = await waitState(h, run.id, 'implement.inProgress.manual');
  assert.ok(Date.now() >= now + 1500 - 50, 'implementation starts at plannedStart, not before');
  const task = await waitTask(h, implementing.id, 'implementer');
  assert.is((await complete(h, task.id, 'SUCCESS', 'ivan')).status, 200);
  const done = await waitState(h, run.id, 'closed');
  assert.is(done.status, 'done');
  assert.equal(done.output.outcome, 'closed');
  assert.is(done.output.closeCode, 'successful');
  const hist = await history(h, run.id);
  const entered = hist.filter((e) => e.type === 'state.entered').map((e) => e.state);
  assert.not.ok(entered.some((s: string) => s.startsWith('assess') || s.startsWith('authorize') || s === 'review.pir'), 'no approvals, no PIR');
  assert.ok(hist.some((e) => e.type === 'timer.fired' && e.timer === 'untilPlannedStartDelay'));
  assert.not.ok(hist.some((e) => e.type === 'approval.requested'));
  const subjects = notifications(hist);
  for (const word of ['scheduled', 'being implemented', 'in review']) assert.ok(subjects.some((s) => s.includes(word)), `a notification at ${word}`);
  assert.equal(measures(hist, 'changeSuccessRate').map((m) => m.value), [1]);
  assert.is(measures(hist, 'leadTime').length, 1);
});


/** Submit, wait for assess, and have the technical approver approve through the task. */
async function throughAssess(h: Harness, id: string): Promise<void> {
  await sendOk(h, id, { type: 'SUBMIT', by: 'rita' });
  await waitState(h, id, 'assess');
  const tech = await waitTask(h, id, 'technical_approver');
  assert.is((await complete(h, tech.id, 'APPROVE', 'tom', 'looks sound')).status, 200);
  await waitState(h, id, 'authorize');
}

test('normal change, moderate risk: technical review, then change manager and 50 % of a CAB of 4, then scheduled, implemented and closed', async ({ h }) => {
  const start = Date.now() + 4000;
  const run = await startChange(h, normalChange({ leadTimeMs: 0, delaysMs: { authorizationCutoffDelay: 0 }, plannedStart: iso(start), plannedEnd: iso(start + HOUR) }), 'CHG-N-2');
  await throughAssess(h, run.id);
  const authorizing = await getRun(h, run.id);
  assert.is(authorizing.context.risk, 'moderate');
  assert.equal(Object.keys(authorizing.context.approvalPlan).sort(), ['cab', 'changeManager', 'technical']);
  assert.equal(authorizing.context.approvalPlan.cab, { waitFor: 'percentage', percent: 50 });
  assert.is(authorizing.state.authorize.ecab, 'notRequired');
  assert.is(authorizing.state.authorize.serviceOwner, 'notRequired');
  const cm = await waitTask(h, run.id, 'change_manager');
  assert.ok(cm.title.includes('CHG-N-2') && cm.title.includes('moderate'), cm.title);
  const cab1 = await waitTask(h, run.id, 'cab');
  assert.is((await complete(h, cab1.id, 'APPROVE', 'ann', 'ok from ann')).status, 200);
  let mid = await getRun(h, run.id);
  assert.is(mid.context.approvals.cab.status, 'pending', 'one of the two CAB approvals needed');
  // A vote that does not decide opens a fresh task for the members still to vote.
  const cab2 = await waitFor(async () => (await openTasks(h, run.id, 'cab')).find((t) => t.id !== cab1.id), 5000, 'a second CAB task');
  assert.is((await complete(h, cab2.id, 'APPROVE', 'bob', 'ok from bob')).status, 200);
  mid = await getRun(h, run.id);
  assert.is(mid.state.authorize.cab, 'approved');
  assert.is((await complete(h, cm.id, 'APPROVE', 'carla', 'authorized')).status, 200);
  await waitState(h, run.id, 'scheduled.waiting');
  await sendOk(h, run.id, { type: 'START_IMPLEMENTATION', by: 'ivan' });
  await waitState(h, run.id, 'implement.inProgress');
  await sendOk(h, run.id, { type: 'IMPLEMENTED_SUCCESSFULLY', by: 'ivan', comment: 'done' });
  const done = await waitState(h, run.id, 'closed');
  assert.is(done.output.closeCode, 'successful');
  const hist = await history(h, run.id);
  const votes = hist.filter((e) => e.type === 'approval.vote').map((e) => `${e.group}:${e.by}:${e.decision}:${e.comment}`);
  assert.equal(votes, ['technical:tom:approved:looks sound', 'cab:ann:approved:ok from ann', 'cab:bob:approved:ok from bob', 'changeManager:carla:approved:authorized']);
  assert.equal(hist.filter((e) => e.type === 'approval.approved').map((e) => e.group), ['technical', 'cab', 'changeManager']);
  assert.not.ok(hist.some((e) => e.type === 'state.entered' && e.state === 'review.pir'), 'no PIR for a successful moderate change');
  assert.is(measures(hist, 'approvalCycleTime').length, 1);
  assert.equal(measures(hist, 'rejectionRate').map((m) => m.value), [0]);
});

test('rejected change, then resubmitted: back to New with the comment, pending approvals withdrawn, a fresh round reuses nothing', async ({ h }) => {
  const run = await startChange(h, normalChange({ leadTimeMs: 0, approvalPolicy: { cab: { waitFor: 'all' } } }, 4 * HOUR));
  await throughAssess(h, run.id);
  await waitTask(h, run.id, 'change_manager');
  const cab = await waitTask(h, run.id, 'cab');
  assert.is((await complete(h, cab.id, 'REJECT', 'ann', 'no rollback tested')).status, 200);
  const back = await waitState(h, run.id, 'new.draft');
  assert.is(back.context.returnReason, 'rejected');
  assert.equal(back.context.rejection.comments, [{ group: 'cab', by: 'ann', comment: 'no rollback tested' }]);
  assert.is(back.context.approvals.changeManager.status, 'withdrawn', 'the pending change manager approval is withdrawn');
  assert.equal(await openTasks(h, run.id, 'change_manager'), [], 'no approval task left open');
  let hist = await history(h, run.id);
  const withdrawn = hist.find((e) => e.type === 'task.completed' && e.task === 'withdraw_approvals');
  assert.ok(withdrawn, 'withdraw_approvals ran');
  assert.equal(hist.find((e) => e.type === 'task.scheduled' && e.task === 'withdraw_approvals').input.groups, ['changeManager']);
  // The requester edits and resubmits: a new round from the technical review on.
  await sendOk(h, run.id, { type: 'UPDATE_DETAILS', testPlan: 'rollback rehearsed in staging', backoutTested: true });
  await sendOk(h, run.id, { type: 'SUBMIT', by: 'rita' });
  const again = await waitState(h, run.id, 'assess');
  assert.equal(again.context.approvals.technical.votes, [], 'the earlier technical approval is not reused');
  assert.is(again.context.rejection, null);
  const tech = await waitTask(h, run.id, 'technical_approver');
  assert.is((await complete(h, tech.id, 'APPROVE', 'tom')).status, 200);
  await waitState(h, run.id, 'authorize');
  for (const by of ['ann', 'bob', 'cem', 'dia']) await sendOk(h, run.id, { type: 'APPROVE_CAB', by });
  await sendOk(h, run.id, { type: 'APPROVE_CM', by: 'carla' });
  const scheduled = await waitState(h, run.id, 'scheduled');
  assert.equal(scheduled.context.approvals.cab.votes.map((v: any) => v.decision), ['approved', 'approved', 'approved', 'approved']);
  hist = await history(h, run.id);
  assert.equal(measures(hist, 'rejectionRate').map((m) => m.value), [1, 0]);
});

test('approval timeout: reminders and an escalation, then back to New with approval_expired at plannedStart - 1 h, never scheduled', async ({ h }) => {
  const start = Date.now() + HOUR + 2500;
  const run = await startChange(h, normalChange({
    leadTimeMs: 0, plannedStart: iso(start), plannedEnd: iso(start + HOUR),
    delaysMs: { approvalReminderDelay: 200, approvalEscalationDelay: 400 },
  }));
  await throughAssess(h, run.id);
  await sendOk(h, run.id, { type: 'APPROVE_CM', by: 'carla' });
  const back = await waitState(h, run.id, 'new.draft', 10_000);
  assert.ok(Date.now() >= start - HOUR - 100, 'not before plannedStart - 1 h');
  assert.is(back.context.returnReason, 'approval_expired');
  assert.is(back.context.approvals.cab.status, 'withdrawn');
  assert.is(back.context.approvals.changeManager.status, 'approved', 'a timer never changes a decision');
  const hist = await history(h, run.id);
  assert.not.ok(hist.some((e) => e.type === 'state.entered' && String(e.state).startsWith('scheduled')), 'never scheduled');
  assert.ok(hist.some((e) => e.type === 'timer.fired' && e.timer === 'authorizationCutoffDelay'));
  const subjects = notifications(hist);
  assert.ok(subjects.includes('Reminder: approval pending (cab)'), 'CAB reminded');
  assert.ok(subjects.includes('Escalation: approval overdue (cab)'), 'escalated');
  const escalation = hist.find((e) => e.type === 'notify.recorded' && e.payload.subject.startsWith('Escalation'));
  assert.equal(escalation.payload.to, ['carla'], 'the escalation goes to the change manager');
  assert.equal(hist.find((e) => e.type === 'task.scheduled' && e.task === 'withdraw_approvals').input.groups, ['cab']);
  assert.is(measures(hist, 'approvalExpired').length, 1);
});

test('freeze period: a normal or unoverridden emergency change in a blackout returns to New; with freezeOverride ECAB + CM approve and it is scheduled', async ({ h }) => {
  const now = Date.now();
  const freeze = { start: iso(now + 2 * HOUR), end: iso(now + 20 * HOUR), name: 'year-end freeze' };
  const inFreeze = { leadTimeMs: 0, plannedStart: iso(now + 5 * HOUR), plannedEnd: iso(now + 6 * HOUR), schedules: { maintenance: maintenanceAround(['db-01'], now), blackout: [freeze] } };
  const normal = await startChange(h, normalChange(inFreeze));
  await sendOk(h, normal.id, { type: 'SUBMIT', by: 'rita' });
  const n = await waitState(h, normal.id, 'new.draft', 8000, (r) => r.context.returnReason !== null);
  assert.is(n.context.returnReason, 'blackout_conflict');
  assert.ok(n.context.conflicts.some((c: any) => c.kind === 'blackout'));
  const emergency = await startChange(h, normalChange({ ...inFreeze, changeType: 'emergency' }));
  await sendOk(h, emergency.id, { type: 'SUBMIT', by: 'rita' });
  const e = await waitState(h, emergency.id, 'new.draft', 8000, (r) => r.context.returnReason !== null);
  assert.ok(e.context.problems.includes('blackout_conflict'));
  const overridden = await startChange(h, normalChange({ ...inFreeze, changeType: 'emergency', freezeOverride: true, impact: 3 }));
  await sendOk(h, overridden.id, { type: 'SUBMIT', by: 'rita' });
  const o = await waitState(h, overridden.id, 'authorize');
  assert.equal(Object.keys(o.context.approvalPlan).sort(), ['changeManager', 'ecab']);
  await sendOk(h, overridden.id, { type: 'APPROVE_ECAB', by: 'eve' });
  await sendOk(h, overridden.id, { type: 'APPROVE_CM', by: 'carla' });
  const implementing = await waitState(h, overridden.id, 'implement');
  assert.is(implementing.context.usedFreezeOverride, true);
  const hist = await history(h, overridden.id);
  assert.ok(hist.some((x) => x.type === 'state.entered' && x.state === 'scheduled'));
  assert.equal(measures(hist, 'changesInFreezeOrOutsideWindow').length, 1);
  // An emergency change always gets a PIR, even a successful, low-risk one.
  await sendOk(h, overridden.id, { type: 'IMPLEMENTED_SUCCESSFULLY', by: 'ivan' });
  const review = await waitState(h, overridden.id, 'review.pir');
  assert.is(review.context.risk, 'low');
  assert.is(review.context.closeCode, 'successful');
});

test('FREEZE_DECLARED on a scheduled normal change sends it back to New with blackout_conflict', async ({ h }) => {
  const now = Date.now();
  const run = await startChange(h, normalChange({ impact: 3, leadTimeMs: 0, plannedStart: iso(now + 3 * HOUR), plannedEnd: iso(now + 4 * HOUR) }));
  await throughAssess(h, run.id);
  assert.is((await getRun(h, run.id)).context.risk, 'low');
  await sendOk(h, run.id, { type: 'APPROVE_CM', by: 'carla' });
  await waitState(h, run.id, 'scheduled.waiting');
  const outside = await send(h, run.id, { type: 'FREEZE_DECLARED', from: iso(now + 10 * HOUR), to: iso(now + 12 * HOUR) });
  assert.is(outside.status, 200, 'a freeze elsewhere is recorded');
  assert.equal(paths(outside.body.run.state)[0].split('.')[0], 'scheduled');
  assert.is((await send(h, run.id, { type: 'FREEZE_DECLARED', from: iso(now) })).status, 422, 'a broken payload');
  await sendOk(h, run.id, { type: 'FREEZE_DECLARED', from: iso(now + 2 * HOUR), to: iso(now + 48 * HOUR) });
  const back = await waitState(h, run.id, 'new.draft');
  assert.is(back.context.returnReason, 'blackout_conflict');
});

test('outside the maintenance window: the conflict makes the risk high, so CAB and the service owner are required', async ({ h }) => {
  const run = await startChange(h, normalChange({ leadTimeMs: 0, schedules: { maintenance: {} } }, 4 * HOUR));
  await throughAssess(h, run.id);
  const r = await getRun(h, run.id);
  assert.ok(r.context.conflicts.some((c: any) => c.kind === 'outside_maintenance_window' && c.ci === 'db-01'));
  assert.is(r.context.risk, 'high');
  assert.ok(r.context.riskReasons.includes('outside_maintenance_window'));
  assert.equal(Object.keys(r.context.approvalPlan).sort(), ['cab', 'changeManager', 'serviceOwner', 'technical']);
  assert.equal(r.context.approvalPlan.cab, { waitFor: 'percentage', percent: 67 });
  for (const role of ['change_manager', 'cab', 'service_owner']) await waitTask(h, run.id, role);
  const owner = await waitTask(h, run.id, 'service_owner');
  assert.is(owner.title, 'Accept risk for billing');
});

test('overrun: past plannedEnd the change manager is told, after the grace a task opens; BACKOUT runs rollback, closes unsuccessful after PIR', async ({ h }) => {
  const now = Date.now();
  const run = await startChange(h, {
    changeType: 'standard', templateId: 'patch', requestedBy: 'rita', implementer: 'ivan', ci: ['app-01'], approvers,
    templates: { patch: { active: true, implementationPlan: 'patch', backoutPlan: 'unpatch', testPlan: 'probe' } },
    plannedStart: iso(now + 300), plannedEnd: iso(now + 1000), schedules: { maintenance: maintenanceAround(['app-01'], now) },
    delaysMs: { overrunGraceDelay: 300 },
  });
  await sendOk(h, run.id, { type: 'SUBMIT', by: 'rita' });
  await waitState(h, run.id, 'implement.inProgress');
  const over = await waitState(h, run.id, 'implement.overrun');
  assert.is(over.context.overran, true);
  assert.equal(await openTasks(h, run.id, 'change_manager'), [], 'no task during the grace period');
  const task = await waitTask(h, run.id, 'change_manager');
  assert.ok(Date.now() >= now + 1000 + 300 - 100, 'the task opens after the grace');
  assert.equal(Object.keys(task.outcomes), ['EXTEND', 'BACK_OUT']);
  assert.is((await complete(h, task.id, 'BACK_OUT', 'carla')).status, 200);
  const pir = await waitState(h, run.id, 'review.pir');
  assert.is(pir.context.closeCode, 'unsuccessful');
  assert.is(pir.context.pirRequired, true);
  assert.is((await send(h, run.id, { type: 'CANCEL', reason: 'too late' })).status, 409, 'no cancel from Review');
  assert.is((await send(h, run.id, { type: 'PIR_ACCEPTED', by: 'rita' })).status, 409, 'only a change manager accepts the PIR');
  await sendOk(h, run.id, { type: 'PIR_ACCEPTED', by: 'carla', comment: 'window was too short' });
  const done = await waitState(h, run.id, 'closed');
  assert.is(done.context.closeNotes, 'window was too short');
  const hist = await history(h, run.id);
  assert.ok(hist.some((e) => e.type === 'task.completed' && e.task === 'rollback'));
  assert.ok(hist.some((e) => e.type === 'task.completed' && e.task === 'create_pir_task'));
  assert.ok(notifications(hist).some((s) => s.includes('past its planned end')));
  assert.equal(measures(hist, 'backoutRate').map((m) => m.value), [1]);
  assert.equal(measures(hist, 'overrunRate').map((m) => m.value), [1]);
  assert.equal(measures(hist, 'changeSuccessRate').map((m) => m.value), [0]);
  assert.equal(measures(hist, 'pirOnTime').map((m) => m.value), [1]);
});

test('failed deployment: DEPLOYMENT_RESULT rolled_back closes the change unsuccessful after a PIR and counts a change failure', async ({ h }) => {
  const now = Date.now();
  const run = await startChange(h, {
    changeType: 'standard', templateId: 'deploy', requestedBy: 'rita', ci: ['svc-01'], approvers, links: { delivery: 'delivery-run-x' },
    templates: { deploy: { active: true, implementationPlan: 'pipeline', backoutPlan: 'pipeline rollback', testPlan: 'canary' } },
    plannedStart: iso(now + 200), plannedEnd: iso(now + HOUR), schedules: { maintenance: maintenanceAround(['svc-01'], now) },
  });
  // A change raised for a delivery submits itself (§2.9).
  const inProgress = await waitState(h, run.id, 'implement.inProgress.delivering');
  assert.equal(await openTasks(h, run.id, 'implementer'), [], 'no implementer task when a delivery implements');
  assert.is(inProgress.context.submitCount, 1);
  assert.is((await send(h, run.id, { type: 'DEPLOYMENT_RESULT', result: 'exploded' })).status, 422);
  await sendOk(h, run.id, { type: 'DEPLOYMENT_RESULT', result: 'rolled_back', rolledBack: true });
  const pir = await waitState(h, run.id, 'review.pir');
  assert.is(pir.context.closeCode, 'unsuccessful');
  await sendOk(h, run.id, { type: 'PIR_ACCEPTED', by: 'carla' });
  await waitState(h, run.id, 'closed');
  const hist = await history(h, run.id);
  assert.equal(measures(hist, 'changeFailureRate').map((m) => m.value), [1]);
});

type Kpi = { name: string; value: number | null; count: number };
async function kpis(h: Harness, workflow: string): Promise<Record<string, Kpi>> {
  const res = await h.call('GET', `/v1/kpis?workflow=${workflow}`, { key: 'viewer' });
  assert.is(res.status, 200, JSON.stringify(res.body));
  return Object.fromEntries((res.body.kpis as Kpi[]).map((k) => [k.name, k]));
}

test('failed deployment through a real delivery: the canary fails and rolls back, the change closes unsuccessful after a PIR, the delivery raises an incident caused by the change, and the change KPIs count it', async () => {
  // A harness of its own: KPI figures are cumulative per harness, so these are this test's runs only.
  const h = await startHarness();
  try {
    const now = Date.now();
    const delivery = await startRun(h, 'delivery', {
      release: { id: 'REL-FAIL-10', version: '7.1.0', service: 'orders', artifacts: [{ name: 'orders', digest: `sha256:${'b'.repeat(64)}` }], commits: [] },
      environments: ['production'], changePolicy: 'auto-standard', requestedBy: 'dev-dana', previousVersion: '7.0.3',
      window: { start: iso(now + 1500), end: iso(now + HOUR) },
      approvers: { ...approvers, releaseManager: ['rita'] },
      change: { templateId: 'deploy', templates: { deploy: { active: true } }, schedules: { maintenance: maintenanceAround(['orders'], now) } },
      canary: { threshold: 2 }, simulate: { health: [{ phase: 'canary', minWeight: 20, result: 'fail' }] },
      delaysMs: { goNoGoDeadlineDelay: 0, canaryIntervalDelay: 150, bakeDelay: 150, elsDelay: 150, stepProgressDeadlineDelay: 5000, rollbackDeadlineDelay: 5000 },
    });
    const go = await openTask(h, delivery.id, 'readiness');
    assert.is((await completeTask(h, go.id, 'GO', 'rita')).status, 200);
    const [child] = await waitForChild(h, delivery.id, 'change');
    const failed = await waitForStatus(h, delivery.id, 'done', 20_000);
    assert.is(failed.output.outcome, 'rolled_back', 'the canary failed and was rolled back');
    const pir = await waitState(h, child.id, 'review.pir', 10_000);
    assert.is(pir.context.closeCode, 'unsuccessful');
    assert.is(pir.context.backedOut, true);
    const received = (await history(h, child.id)).find((e) => e.type === 'event.received' && e.event === 'DEPLOYMENT_RESULT');
    assert.ok(received, 'the delivery reported DEPLOYMENT_RESULT');
    const [incident] = await waitForChild(h, delivery.id, 'incident');
    assert.is(incident.context.links.causedByChange, child.id, 'the incident raised by the delivery names the change');
    await sendOk(h, child.id, { type: 'PIR_ACCEPTED', by: 'carla' });
    await waitState(h, child.id, 'closed');
    // This harness has one closed, implemented change: unsuccessful. (The incident it caused is the same
    // change failing, so it does not count twice.)
    const k = await waitFor(async () => {
      const got = await kpis(h, 'change');
      return got.changeFailureRate.count === 1 ? got : null;
    }, 8000, 'the change failure measure');
    assert.equal([k.changeFailureRate.count, k.changeFailureRate.value], [1, 1]);
    assert.equal([k.changeSuccessRate.count, k.changeSuccessRate.value], [1, 0]);
  } finally {
    await h.close();
  }
});

test('on hold: pending CAB approvals are withdrawn, only RELEASE_HOLD and CANCEL are accepted, release restores CM approved and asks CAB again, without the vote cast before the hold', async ({ h }) => {
  const run = await startChange(h, normalChange({ leadTimeMs: 0 }, 4 * HOUR));
  await throughAssess(h, run.id);
  await sendOk(h, run.id, { type: 'APPROVE_CM', by: 'carla' });
  await sendOk(h, run.id, { type: 'APPROVE_CAB', by: 'ann' });
  const held = await sendOk(h, run.id, { type: 'PUT_ON_HOLD', reason: 'waiting for the vendor', by: 'rita' });
  assert.is(paths(held.state)[0].split('.')[0], 'onHold');
  assert.is(held.context.heldFrom, 'authorize');
  assert.is(held.context.approvals.cab.status, 'withdrawn');
  assert.is(held.context.approvals.changeManager.status, 'approved');
  assert.equal(held.nextEvents, ['CANCEL', 'RELEASE_HOLD']);
  assert.equal(await openTasks(h, run.id, 'cab'), [], 'the CAB task is withdrawn');
  for (const event of [{ type: 'APPROVE_CAB', by: 'bob' }, { type: 'SUBMIT', by: 'rita' }, { type: 'START_IMPLEMENTATION', by: 'ivan' }]) {
    const res = await send(h, run.id, event);
    assert.is(res.status, 409, event.type);
    assert.is(res.body.error.code, 'EVENT_NOT_ACCEPTED');
  }
  assert.is((await send(h, run.id, { type: 'PUT_ON_HOLD' })).status, 422, 'a hold needs a reason');
  await waitFor(async () => (await history(h, run.id)).some((e) => e.type === 'task.completed' && e.task === 'withdraw_approvals'), 5000, 'withdrawal');
  const released = await sendOk(h, run.id, { type: 'RELEASE_HOLD', by: 'rita' });
  assert.is(released.state.authorize.changeManager, 'approved', 'CM stays approved');
  assert.ok(paths(released.state).some((p) => p.startsWith('authorize.cab.pending')), 'CAB pending again');
  assert.is(released.context.approvals.cab.requests, 2, 'CAB asked a second time');
  assert.equal(released.context.approvals.cab.votes, [], 'the partial vote cast before the hold was withdrawn with it');
  await waitTask(h, run.id, 'cab');
  // CAB needs 50 % of 4: before the hold ann's vote plus bob's would have been enough; now bob's is the first.
  const one = await sendOk(h, run.id, { type: 'APPROVE_CAB', by: 'bob' });
  assert.ok(paths(one.state).some((p) => p.startsWith('authorize.cab.pending')), 'one vote of this request is not a quorum');
  assert.equal(one.context.approvals.cab.votes.map((v: any) => v.by), ['bob']);
  await sendOk(h, run.id, { type: 'APPROVE_CAB', by: 'ann' });
  await waitState(h, run.id, 'scheduled');
});

test('cancel rules: canceled from implement before work starts; after WORK_STARTED a CANCEL answers 409', async ({ h }) => {
  const now = Date.now();
  const base = {
    changeType: 'standard', templateId: 'patch', requestedBy: 'rita', implementer: 'ivan', ci: ['app-02'], approvers,
    templates: { patch: { active: true, implementationPlan: 'patch', backoutPlan: 'unpatch', testPlan: 'probe' } },
    plannedStart: iso(now + 200), plannedEnd: iso(now + HOUR), schedules: { maintenance: maintenanceAround(['app-02'], now) },
  };
  const a = await startChange(h, base);
  await sendOk(h, a.id, { type: 'SUBMIT', by: 'rita' });
  await waitState(h, a.id, 'implement.inProgress');
  assert.is((await send(h, a.id, { type: 'CANCEL' })).status, 422, 'a cancel needs a reason');
  await sendOk(h, a.id, { type: 'CANCEL', by: 'rita', reason: 'no longer needed' });
  const canceled = await waitState(h, a.id, 'canceled');
  assert.is(canceled.status, 'done');
  assert.equal(canceled.output, { outcome: 'canceled', closeCode: null, reason: 'no longer needed', changeType: 'standard', risk: 'low' });
  assert.equal((await history(h, a.id)).filter((e) => e.type === 'change.child_cancelled'), [], 'no child, nothing to cancel');
  const b = await startChange(h, base);
  await sendOk(h, b.id, { type: 'SUBMIT', by: 'rita' });
  await waitState(h, b.id, 'implement.inProgress');
  await sendOk(h, b.id, { type: 'WORK_STARTED', by: 'ivan' });
  const refused = await send(h, b.id, { type: 'CANCEL', by: 'rita', reason: 'too late' });
  assert.is(refused.status, 409);
  assert.is(refused.body.error.code, 'EVENT_NOT_ACCEPTED');
});

test('cancel rules: a change canceled in implement before work starts cancels the delivery it started (run status cancelled), on record in its history', async ({ h }) => {
  const now = Date.now();
  const release = { id: 'REL-CANCEL-12', version: '2.0.0', service: 'orders', artifacts: [{ name: 'orders', digest: `sha256:${'c'.repeat(64)}` }] };
  const run = await startChange(h, {
    changeType: 'standard', templateId: 'deploy', requestedBy: 'rita', ci: ['orders'], approvers: { ...approvers, releaseManager: ['rita'] },
    templates: { deploy: { active: true, implementationPlan: 'pipeline', backoutPlan: 'pipeline rollback', testPlan: 'canary' } },
    plannedStart: iso(now + 2.5 * HOUR), plannedEnd: iso(now + 3.5 * HOUR), schedules: { maintenance: maintenanceAround(['orders'], now) },
    links: { release }, startDelivery: true, earlyStartToleranceMs: 3 * HOUR,
  }, 'CHG-12');
  // A change with a link submits itself (§2.9).
  await waitState(h, run.id, 'scheduled.waiting');
  // Started early (within the tolerance): the delivery's go/no-go, due 2 h before the window, is still open.
  await sendOk(h, run.id, { type: 'START_IMPLEMENTATION', by: 'ivan' });
  // A change carrying a release starts its own production delivery at implement (§2.9).
  const delivering = await waitState(h, run.id, 'implement.inProgress.delivering');
  const deliveryId = delivering.context.deliveryRunId;
  assert.type(deliveryId, 'string');
  const child = await getRun(h, deliveryId);
  assert.is(child.parentRunId, run.id);
  assert.is(child.businessKey, 'delivery:CHG-12:REL-CANCEL-12', "named after the change's business key (§0.7)");
  assert.is(child.status, 'running', 'the delivery waits for its go/no-go');
  await sendOk(h, run.id, { type: 'CANCEL', by: 'rita', reason: 'release withdrawn' });
  const canceled = await waitState(h, run.id, 'canceled');
  assert.is(canceled.output.outcome, 'canceled');
  const gone = await waitFor(async () => {
    const d = await getRun(h, deliveryId);
    return d.status === 'cancelled' ? d : null;
  }, 8000, 'the child delivery cancelled');
  assert.equal(gone.tasks, [], 'its tasks are withdrawn');
  const hist = await history(h, run.id);
  assert.equal(hist.filter((e) => e.type === 'change.child_cancelled').map((e) => [e.runId, e.workflow, e.cancelled]), [[deliveryId, 'delivery', true]]);
  const childHist = await history(h, deliveryId);
  const cancelled = childHist.find((e) => e.type === 'run.cancelled');
  assert.is(cancelled.reason, 'change_canceled');
  assert.is(cancelled.actor, 'task:cancel_child');
  assert.is((await send(h, run.id, { type: 'CANCEL', by: 'rita', reason: 'again' })).status, 409, 'an ended change takes nothing');
});

test('segregation of duties: the requester completing the CM approval task answers 409 and the task stays open', async ({ h }) => {
  const run = await startChange(h, normalChange({ leadTimeMs: 0, impact: 3, approvers: { ...approvers, changeManager: ['rita', 'carla'] } }, 4 * HOUR));
  await throughAssess(h, run.id);
  const task = await waitTask(h, run.id, 'change_manager');
  const self = await complete(h, task.id, 'APPROVE', 'rita');
  assert.is(self.status, 409);
  assert.is(self.body.error.code, 'EVENT_NOT_ACCEPTED');
  assert.equal((await openTasks(h, run.id, 'change_manager')).map((t) => t.id), [task.id], 'the task stays open');
  assert.is((await getRun(h, run.id)).context.approvals.changeManager.votes.length, 0);
  const stranger = await complete(h, task.id, 'APPROVE', 'mallory');
  assert.is(stranger.status, 409, 'someone outside the group');
  const unknown = await complete(h, task.id, 'MAYBE', 'carla');
  assert.is(unknown.status, 422);
  assert.is(unknown.body.error.code, 'VALIDATION_FAILED');
  assert.is((await complete(h, task.id, 'APPROVE', 'carla')).status, 200);
  const again = await complete(h, task.id, 'APPROVE', 'carla');
  assert.is(again.status, 409, 'a task already done');
  await waitState(h, run.id, 'scheduled');
});

test('revert to new: an emergency change in authorize goes back to New on REVERT_TO_NEW by the requester, with its ECAB approvals withdrawn', async ({ h }) => {
  const run = await startChange(h, normalChange({ changeType: 'emergency' }, 2 * HOUR));
  await sendOk(h, run.id, { type: 'SUBMIT', by: 'rita' });
  const auth = await waitState(h, run.id, 'authorize');
  assert.equal(Object.keys(auth.context.approvalPlan), ['ecab'], 'emergency: only ECAB, no assess');
  await waitTask(h, run.id, 'ecab');
  assert.is((await send(h, run.id, { type: 'REVERT_TO_NEW', by: 'ann' })).status, 409, 'only the requester or a change manager');
  await sendOk(h, run.id, { type: 'REVERT_TO_NEW', by: 'rita' });
  const back = await waitState(h, run.id, 'new.draft');
  assert.is(back.context.approvals.ecab.status, 'withdrawn');
  assert.equal(await openTasks(h, run.id, 'ecab'), []);
  const hist = await history(h, run.id);
  assert.equal(hist.find((e) => e.type === 'task.scheduled' && e.task === 'withdraw_approvals').input.groups, ['ecab']);
  assert.not.ok(hist.some((e) => e.type === 'state.entered' && e.state === 'assess'));
});

test('type change rules: standard → normal in draft is accepted; a change in assess answers 409; back to standard and a bad type are refused', async ({ h }) => {
  const std = await startChange(h, { changeType: 'standard', requestedBy: 'rita', title: 'x' });
  const changed = await sendOk(h, std.id, { type: 'UPDATE_DETAILS', changeType: 'normal', title: 'now normal' });
  assert.is(changed.context.changeType, 'normal');
  assert.is(changed.context.title, 'now normal');
  assert.is((await send(h, std.id, { type: 'UPDATE_DETAILS', changeType: 'standard' })).status, 409, 'never back to standard');
  assert.is((await send(h, std.id, { type: 'UPDATE_DETAILS', changeType: 'weird' })).status, 422);
  assert.is((await send(h, std.id, { type: 'SUBMIT', by: 'rita' })).status, 409, 'an incomplete change cannot be submitted');
  const normal = await startChange(h, normalChange({ leadTimeMs: 0 }, 4 * HOUR));
  await sendOk(h, normal.id, { type: 'SUBMIT', by: 'rita' });
  await waitState(h, normal.id, 'assess');
  const refused = await send(h, normal.id, { type: 'UPDATE_DETAILS', changeType: 'emergency' });
  assert.is(refused.status, 409);
  assert.is(refused.body.error.code, 'EVENT_NOT_ACCEPTED');
});

test('unauthorized change: straight to authorize for the change manager, then review without scheduled or implement, PIR, closed', async ({ h }) => {
  const run = await startChange(h, { unauthorized: true, changeType: 'normal', title: 'hotfix found on db-01', requestedBy: 'rita', ci: ['db-01'], approvers });
  assert.ok(paths(run.state).some((p) => p.startsWith('authorize.changeManager.pending')));
  assert.equal(Object.keys(run.context.approvalPlan), ['changeManager']);
  const cm = await waitTask(h, run.id, 'change_manager');
  assert.is((await complete(h, cm.id, 'APPROVE', 'carla', 'retro approval')).status, 200);
  await waitState(h, run.id, 'review.pir');
  const pir = await waitTask(h, run.id, 'change_manager');
  assert.is((await complete(h, pir.id, 'ACCEPT', 'carla', 'reviewed')).status, 200);
  await waitState(h, run.id, 'closed');
  const hist = await history(h, run.id);
  const entered = hist.filter((e) => e.type === 'state.entered').map((e) => String(e.state));
  assert.not.ok(entered.some((s) => s.startsWith('scheduled') || s.startsWith('implement') || s.startsWith('assess')));
  assert.is(measures(hist, 'unauthorizedChanges').length, 1);
});

test('input: a bad impact or change type answers 422 at start; ServiceNow-style strings are read', async ({ h }) => {
  for (const input of [{ impact: 4 }, { changeType: 'sometimes' }, { approvalPolicy: { cab: { waitFor: 'percentage' } } }]) {
    const res = await h.call('POST', '/v1/runs', { key: 'operator', body: { workflow: 'change', input } });
    assert.is(res.status, 422, JSON.stringify(input));
    assert.is(res.body.error.code, 'VALIDATION_FAILED');
  }
  const run = await startChange(h, { type: 'Emergency', impact: '2', ci: 'db-01', unauthorized: 'false', risk: 'Moderate', sys_id: 'abc', extra: { any: 1 } });
  assert.is(run.context.changeType, 'emergency');
  assert.is(run.context.impact, 2);
  assert.equal(run.context.ci, ['db-01']);
  assert.is(run.context.questionnaireRisk, 'moderate');
});

test('the diagram of the change model is served as SVG and Mermaid', async ({ h }) => {
  const svg = await h.call('GET', '/v1/workflows/change/diagram?format=svg', { key: 'viewer' });
  assert.is(svg.status, 200);
  const mermaid = await h.call('GET', '/v1/workflows/change/diagram?format=mermaid', { key: 'viewer' });
  assert.is(mermaid.status, 200);
  assert.ok(String(mermaid.body).includes('authorize'));
});

test.run();
