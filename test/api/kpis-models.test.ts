// GET /v1/kpis for the models beyond the incident basics of kpis.test.ts: figures this test computes by hand
// from runs it drives through HTTP only (PagerDuty webhooks, change close codes, delivery deployments).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, type Harness } from './harness.ts';
import { SECRETS, fixture, postHook } from './hooks-util.ts';
import { waitFor } from '../helpers.ts';
import { HOUR, approvers, complete, iso, maintenanceAround, normalChange, sendOk, startChange, waitState, waitTask } from '../workflows/change-helpers.ts';
import { completeTask, openTask, startRun } from '../workflows/delivery-helpers.ts';

const test = suite<{ h: Harness }>('api kpis by model', {} as { h: Harness });
test.before(async (ctx) => {
  ctx.h = await startHarness({ hooks: { secrets: { pagerduty: SECRETS.pagerduty } } });
});
test.after(async (ctx) => {
  await ctx.h.close();
});

const MIN = 60_000;
const DAY = 86_400_000;

type Row = { key: string; value: number | null; count: number };
type Kpi = { name: string; value: number | null; count: number; unit: string; breakdown?: Record<string, Row[]> };
async function kpis(h: Harness, workflow: string, window: { since?: number; until?: number } = {}): Promise<Record<string, Kpi>> {
  const q = [`workflow=${workflow}`];
  if (window.since !== undefined) q.push(`since=${encodeURIComponent(iso(window.since))}`);
  if (window.until !== undefined) q.push(`until=${encodeURIComponent(iso(window.until))}`);
  const res = await h.call('GET', `/v1/kpis?${q.join('&')}`, { key: 'viewer' });
  assert.is(res.status, 200, JSON.stringify(res.body));
  return Object.fromEntries((res.body.kpis as Kpi[]).map((k) => [k.name, k]));
}

/** Wait until `name` of `workflow` has `count` measures, and return every figure of that read. */
function kpisWhen(h: Harness, workflow: string, name: string, count: number): Promise<Record<string, Kpi>> {
  return waitFor(async () => {
    const got = await kpis(h, workflow);
    return got[name].count === count ? got : null;
  }, 8000, `${count} ${name} measures`);
}

let deliveries = 0;
const webhookId = () => ({ 'x-webhook-id': `kpi-${Date.now()}-${deliveries++}` });

/** A PagerDuty V3 event from the fixtures, for incident `id` created at `createdAt` and happening at `occurredAt`. */
function pagerduty(name: 'pagerduty-triggered' | 'pagerduty-acknowledged', id: string, createdAt: string, occurredAt: string, type?: string) {
  const body = fixture(name);
  body.event.data.id = id;
  body.event.data.created_at = createdAt;
  body.event.occurred_at = occurredAt;
  if (type) body.event.event_type = type;
  return body;
}

test('a PagerDuty acknowledge 6 min 37 s after created_at gives MTTA 397 000 ms with a pagerduty source row; a resolve without acknowledge counts as the response', async ({ h }) => {
  const opened = '2026-01-01T10:00:00.000Z';
  const trig = await postHook(h, 'pagerduty', pagerduty('pagerduty-triggered', 'PDKPI1', opened, '2026-01-01T10:00:05.000Z'), webhookId());
  assert.is(trig.status, 202);
  assert.is(trig.body.results[0].action, 'started');
  const ack = await postHook(h, 'pagerduty', pagerduty('pagerduty-acknowledged', 'PDKPI1', opened, '2026-01-01T10:06:37.000Z'), webhookId());
  assert.is(ack.body.results[0].action, 'event');

  let k = await kpisWhen(h, 'incident', 'mtta', 1);
  assert.is(k.mtta.value, 6 * MIN + 37_000);
  assert.equal(k.mtta.breakdown!.source, [{ key: 'pagerduty', value: 397_000, count: 1 }]);
  assert.equal(k.mtta.breakdown!.service, [{ key: 'payments-api', value: 397_000, count: 1 }]);
  assert.equal(k.mtta.breakdown!.priority, [{ key: '2', value: 397_000, count: 1 }], 'P2 from priority.summary');
  assert.is(k.meanTimeToResolve.count, 0, 'not resolved yet');
  // A second acknowledge is refused by the model, so it steps nothing and measures nothing.
  const again = await postHook(h, 'pagerduty', pagerduty('pagerduty-acknowledged', 'PDKPI1', opened, '2026-01-01T10:30:00.000Z'), webhookId());
  assert.is(again.body.results[0].action, 'ignored');
  assert.equal((await kpis(h, 'incident')).mtta, k.mtta);

  // The first incident resolved in PagerDuty 50 minutes after it opened; a second one, never acknowledged,
  // resolved 20 minutes after it opened: that resolve is its response too.
  const res1 = await postHook(h, 'pagerduty', pagerduty('pagerduty-acknowledged', 'PDKPI1', opened, '2026-01-01T10:50:00.000Z', 'incident.resolved'), webhookId());
  assert.is(res1.body.results[0].action, 'event');
  const opened2 = '2026-01-03T08:00:00.000Z';
  await postHook(h, 'pagerduty', pagerduty('pagerduty-triggered', 'PDKPI2', opened2, '2026-01-03T08:00:02.000Z'), webhookId());
  const res2 = await postHook(h, 'pagerduty', pagerduty('pagerduty-acknowledged', 'PDKPI2', opened2, '2026-01-03T08:20:00.000Z', 'incident.resolved'), webhookId());
  assert.is(res2.body.results[0].action, 'event');
  k = await waitFor(async () => {
    const got = await kpis(h, 'incident');
    return got.mtta.count === 2 && got.meanTimeToResolve.count === 2 ? got : null;
  }, 8000, 'two responses and two resolves');
  assert.is(k.mtta.value, (397_000 + 20 * MIN) / 2);
  assert.is(k.meanTimeToResolve.value, (50 * MIN + 20 * MIN) / 2);
  assert.equal(k.mtta.breakdown!.source, [{ key: 'pagerduty', value: (397_000 + 20 * MIN) / 2, count: 2 }]);

  // The window selects by created_at: a day around the first incident holds only it.
  const first = await kpis(h, 'incident', { since: Date.parse('2026-01-01T00:00:00Z'), until: Date.parse('2026-01-02T00:00:00Z') });
  assert.is(first.mtta.count, 1);
  assert.is(first.mtta.value, 397_000);
  assert.is(first.meanTimeToResolve.value, 50 * MIN);
  const after = await kpis(h, 'incident', { since: Date.parse(opened) + 1 });
  assert.is(after.mtta.count, 1, 'a millisecond after the first opened, only the second remains');
  assert.is(after.mtta.value, 20 * MIN);
});

type How = 'SUCCESS' | 'ISSUES' | 'FAILED' | 'BACK_OUT';
const closeCodeOf: Record<How, string> = { SUCCESS: 'successful', ISSUES: 'successful_issues', FAILED: 'unsuccessful', BACK_OUT: 'unsuccessful' };

/** A standard change with an active template, due now inside a maintenance window: no approvals. */
function standardChange(ci: string, assignmentGroup: string): Record<string, unknown> {
  const now = Date.now();
  return {
    changeType: 'standard', templateId: 'patch', requestedBy: 'rita', implementer: 'ivan', assignmentGroup, environment: 'production', ci: [ci], approvers,
    templates: { patch: { active: true, implementationPlan: 'patch', backoutPlan: 'unpatch', testPlan: 'probe' } },
    plannedStart: iso(now + 200), plannedEnd: iso(now + HOUR), schedules: { maintenance: maintenanceAround([ci], now) },
  };
}

/** Finish implementation through the implementer task; anything but a clean low-risk standard success goes through a PIR. */
async function implementAndClose(h: Harness, id: string, how: How, pir = how !== 'SUCCESS'): Promise<void> {
  const task = await waitTask(h, id, 'implementer');
  assert.is((await complete(h, task.id, how, 'ivan')).status, 200);
  if (pir) {
    await waitState(h, id, 'review.pir');
    await sendOk(h, id, { type: 'PIR_ACCEPTED', by: 'carla', comment: 'reviewed' });
  }
  const done = await waitState(h, id, 'closed', 10_000);
  assert.is(done.output.closeCode, closeCodeOf[how]);
}

async function standardClosed(h: Harness, ci: string, group: string, how: How): Promise<void> {
  const run = await startChange(h, standardChange(ci, group));
  await sendOk(h, run.id, { type: 'SUBMIT', by: 'rita' });
  await implementAndClose(h, run.id, how);
}

async function emergencyClosed(h: Harness, ci: string, group: string): Promise<void> {
  const run = await startChange(h, normalChange({ changeType: 'emergency', assignmentGroup: group, ci: [ci], schedules: { maintenance: maintenanceAround([ci]) } }, 2 * HOUR));
  await sendOk(h, run.id, { type: 'SUBMIT', by: 'rita' });
  await waitState(h, run.id, 'authorize');
  await sendOk(h, run.id, { type: 'APPROVE_ECAB', by: 'eve' });
  await implementAndClose(h, run.id, 'SUCCESS', true);
}

/** Submitted and in implement, then canceled before work started: no close, so no close measures. */
async function canceledInImplement(h: Harness, ci: string, group: string): Promise<void> {
  const run = await startChange(h, standardChange(ci, group));
  await sendOk(h, run.id, { type: 'SUBMIT', by: 'rita' });
  await waitState(h, run.id, 'implement.inProgress');
  await sendOk(h, run.id, { type: 'CANCEL', by: 'rita', reason: 'no longer needed' });
  await waitState(h, run.id, 'canceled');
}

test('change KPIs: success, failure, with-issues and backout rates from closed changes, by type and assignment group; a canceled change is not a close', async ({ h }) => {
  // Close code per change (1 = the measure's case):  success failure issues backout  score
  await Promise.all([
    standardClosed(h, 'k-01', 'ops', 'SUCCESS'), //      1       0       0      0       +3
    standardClosed(h, 'k-02', 'db', 'SUCCESS'), //       1       0       0      0       +3
    standardClosed(h, 'k-03', 'ops', 'ISSUES'), //       0       0       1      0       -2
    standardClosed(h, 'k-04', 'db', 'FAILED'), //        0       1       0      0       -5
    standardClosed(h, 'k-05', 'db', 'BACK_OUT'), //      0       1       0      1       -5
    emergencyClosed(h, 'k-06', 'ops'), //                1       0       0      0       +3
    canceledInImplement(h, 'k-07', 'ops'), //            (submitted, never closed)
  ]);
  const k = await kpisWhen(h, 'change', 'changeSuccessRate', 6);
  assert.is(k.changeSuccessRate.value, (1 + 1 + 0 + 0 + 0 + 1) / 6);
  assert.is(k.changeSuccessRate.unit, 'ratio');
  assert.is(k.changeFailureRate.count, 6);
  assert.is(k.changeFailureRate.value, (0 + 0 + 0 + 1 + 1 + 0) / 6);
  assert.is(k.successfulWithIssues.value, 1 / 6);
  assert.is(k.backoutRate.count, 6);
  assert.is(k.backoutRate.value, 1 / 6);
  assert.is(k.overrunRate.value, 0, 'every change ended inside its window');
  assert.is(k.changeSuccessScore.value, (3 + 3 - 2 - 5 - 5 + 3) / 6);
  assert.is(k.leadTime.count, 6, 'lead time is measured at close only');
  assert.is(k.emergencyChangeRatio.count, 7, 'every first submit counts, the canceled change too');
  assert.is(k.emergencyChangeRatio.value, 1 / 7);

  assert.equal(k.changeSuccessRate.breakdown!.type, [
    { key: 'emergency', value: 1, count: 1 },
    { key: 'standard', value: (1 + 1 + 0 + 0 + 0) / 5, count: 5 },
  ]);
  assert.equal(k.changeFailureRate.breakdown!.type.find((r) => r.key === 'standard'), { key: 'standard', value: 2 / 5, count: 5 });
  assert.equal(k.changeSuccessRate.breakdown!.assignmentGroup, [
    { key: 'db', value: 1 / 3, count: 3 },
    { key: 'ops', value: 2 / 3, count: 3 },
  ]);
  assert.equal(k.changeSuccessScore.breakdown!.assignmentGroup.find((r) => r.key === 'db'), { key: 'db', value: (3 - 5 - 5) / 3, count: 3 });
});

/** A big-bang release straight to production with no change gate, fast timers. */
function release(service: string): Record<string, unknown> {
  return {
    release: { id: `REL-${service}-${deliveries++}`, version: '3.1.0', service, artifacts: [{ name: `${service}-image`, digest: `sha256:${'b'.repeat(64)}` }], commits: [] },
    environments: ['production'], strategy: 'bigBang', changePolicy: 'none', requestedBy: 'dev-dana', previousVersion: '3.0.9',
    approvers: { releaseManager: ['rita'], serviceOwner: ['sam'] },
    delaysMs: { bakeDelay: 150, elsDelay: 150, stepProgressDeadlineDelay: 5000, rollbackDeadlineDelay: 5000 },
  };
}

async function decide(h: Harness, service: string, outcome: 'GO' | 'NO_GO'): Promise<void> {
  const run = await startRun(h, 'delivery', release(service));
  const task = await openTask(h, run.id, 'readiness');
  assert.is((await completeTask(h, task.id, outcome, 'rita')).status, 200);
}

test('delivery deploymentFrequency: production entries per day of the window asked, per service; a NO_GO release never deploys', async ({ h }) => {
  await Promise.all([decide(h, 'checkout', 'GO'), decide(h, 'checkout', 'GO'), decide(h, 'search', 'GO'), decide(h, 'checkout', 'NO_GO')]);
  const all = await kpisWhen(h, 'delivery', 'deploymentFrequency', 3);
  // With no window the span is first opening to now, at least one day: three deployments in under a day.
  assert.is(all.deploymentFrequency.value, 3);
  assert.is(all.deploymentFrequency.unit, 'perDay');

  const today = Math.floor(Date.now() / DAY) * DAY;
  const fourDays = await kpis(h, 'delivery', { since: today - DAY, until: today + 3 * DAY });
  assert.is(fourDays.deploymentFrequency.count, 3);
  assert.is(fourDays.deploymentFrequency.value, 3 / 4);
  assert.equal(fourDays.deploymentFrequency.breakdown!.service, [
    { key: 'checkout', value: 2 / 4, count: 2 },
    { key: 'search', value: 1 / 4, count: 1 },
  ]);
  const earlier = await kpis(h, 'delivery', { since: today - 10 * DAY, until: today - 8 * DAY });
  assert.is(earlier.deploymentFrequency.count, 0);
  assert.is(earlier.deploymentFrequency.value, 0, 'no deployment in those two days');
});

test('an incident caused by a closed change: a P2 makes the change count as failed and costs its score 5; a later P3 costs 2 more and fails it no further', async ({ h }) => {
  const run = await startChange(h, standardChange('k-20', 'inc-grp'));
  await sendOk(h, run.id, { type: 'SUBMIT', by: 'rita' });
  await implementAndClose(h, run.id, 'SUCCESS');
  const before = await waitFor(async () => {
    const k = await kpis(h, 'change');
    return k.changeFailureRate.breakdown!.assignmentGroup.some((r) => r.key === 'inc-grp') ? k : null;
  }, 5000, 'the change measured');
  const n = before.changeFailureRate.count;

  const incident = async (impact: number, urgency: number) => {
    const res = await h.call('POST', '/v1/runs', { key: 'operator', body: { workflow: 'incident', input: { title: 'after the patch', impact, urgency, links: { causedByChange: run.id } } } });
    assert.is(res.status, 201, JSON.stringify(res.body));
    return waitFor(async () => {
      const items = (await h.call('GET', `/v1/runs/${res.body.id}/history?limit=500`, { key: 'viewer' })).body.items;
      return items.find((e: { type: string }) => e.type === 'incident.change_failure_reported') ?? null;
    }, 10_000, 'the change failure reported');
  };
  const p2 = await incident(1, 2);
  assert.equal([p2.priority, p2.failureCounted, p2.penalty], [2, true, -5]);
  const after = await kpis(h, 'change');
  assert.is(after.changeFailureRate.count, n, 'the count of changes stays');
  assert.ok(Math.abs(after.changeFailureRate.value! - (before.changeFailureRate.value! * n + 1) / n) < 1e-9);
  assert.equal(after.changeFailureRate.breakdown!.assignmentGroup.find((r) => r.key === 'inc-grp'), { key: 'inc-grp', value: 1, count: 1 });
  assert.equal(after.changeSuccessScore.breakdown!.assignmentGroup.find((r) => r.key === 'inc-grp'), { key: 'inc-grp', value: 3 - 5, count: 1 });
  assert.is(after.changeSuccessRate.breakdown!.assignmentGroup.find((r) => r.key === 'inc-grp')!.value, 1, 'it still closed successful');

  const p3 = await incident(2, 2);
  assert.equal([p3.priority, p3.failureCounted, p3.penalty], [3, false, -2]);
  const last = await kpis(h, 'change');
  assert.equal(last.changeFailureRate.breakdown!.assignmentGroup.find((r) => r.key === 'inc-grp'), { key: 'inc-grp', value: 1, count: 1 });
  assert.equal(last.changeSuccessScore.breakdown!.assignmentGroup.find((r) => r.key === 'inc-grp'), { key: 'inc-grp', value: 3 - 5 - 2, count: 1 });
});

test.run();
