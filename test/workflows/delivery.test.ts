// The delivery model's scenarios (docs/models/delivery.md §3.10) through HTTP, with small timer overrides. The
// change and incident sides are played by recorder runs (delivery-helpers.ts), so each test can assert
// exactly what the release told them; delivery-change.test.ts runs the gate against the real change model.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, type Harness } from '../api/harness.ts';
import { waitFor } from '../helpers.ts';
import { delivery } from '../../workflows/delivery.ts';
import {
  completeTask, getRun, history, iso, measures, openTask, parentRecorder, recorderWorkflow, send, sendOk, startRun,
  waitForChild, waitForState, waitForStatus, children, paths,
} from './delivery-helpers.ts';
import { createServer, type AddressInfo, type Server } from 'node:net';

const test = suite<{ h: Harness }>('delivery scenarios', {} as { h: Harness });

test.before(async (ctx) => {
  ctx.h = await startHarness({ workflows: [delivery, recorderWorkflow('change'), recorderWorkflow('incident'), parentRecorder] });
});
test.after(async (ctx) => {
  await ctx.h.close();
});

const INTERVAL = 150;
const DIGEST = `sha256:${'a'.repeat(64)}`;

/** A release input with fast timers; `over` replaces top-level fields. */
function releaseInput(over: Record<string, unknown> = {}): Record<string, unknown> {
  const committedAt = iso(Date.now() - 3_600_000);
  return {
    release: {
      id: `REL-${Math.random().toString(36).slice(2, 8)}`, version: '2.4.0', service: 'checkout',
      artifacts: [{ name: 'checkout-image', digest: DIGEST }],
      commits: [{ sha: 'c0ffee1', committedAt }, { sha: 'c0ffee2', committedAt: iso(Date.now() - 1_800_000) }],
    },
    environments: ['staging', 'production'],
    strategy: 'canary',
    changePolicy: 'auto-standard',
    requestedBy: 'dev-dana',
    previousVersion: '2.3.9',
    approvers: { releaseManager: ['rita'], serviceOwner: ['sam'] },
    delaysMs: { canaryIntervalDelay: INTERVAL, bakeDelay: INTERVAL, elsDelay: INTERVAL, stepProgressDeadlineDelay: 5000, rollbackDeadlineDelay: 5000 },
    ...over,
  };
}

/** Drive a release to the change gate: GO by the release manager; returns the child change run. */
async function throughGo(h: Harness, runId: string): Promise<any> {
  const task = await openTask(h, runId, 'readiness');
  assert.is(task.role, 'release_manager');
  const done = await completeTask(h, task.id, 'GO', 'rita');
  assert.is(done.status, 200, JSON.stringify(done.body));
  const [change] = await waitForChild(h, runId, 'change');
  await waitForState(h, runId, 'changeGate.awaitingAuthorization');
  return change;
}

/** Play the change: authorized, then implementation starts; the release enters production. */
async function openGate(h: Harness, runId: string, changeRunId: string): Promise<void> {
  await sendOk(h, runId, { type: 'CHANGE_AUTHORIZED', childRunId: changeRunId, plannedStart: iso(Date.now()), plannedEnd: iso(Date.now() + 3_600_000) });
  await sendOk(h, runId, { type: 'CHANGE_IMPLEMENT_STARTED', childRunId: changeRunId });
}

async function toProduction(h: Harness, input: Record<string, unknown>): Promise<{ runId: string; changeRunId: string }> {
  const run = await startRun(h, 'delivery', input);
  const change = await throughGo(h, run.id);
  await openGate(h, run.id, change.id);
  return { runId: run.id, changeRunId: change.id };
}

test('happy canary: staging, GO, standard change, 10→50 % at interval steps, bake, ELS, completed; parent, change and DORA told', async ({ h }) => {
  const input = releaseInput();
  const parent = await startRun(h, 'parent-recorder', { workflow: 'delivery', input });
  const [child] = await waitForChild(h, parent.id, 'delivery');
  assert.is(child.parentRunId, parent.id);

  await waitForState(h, child.id, 'readiness');
  const readiness = await getRun(h, child.id);
  assert.equal(readiness.context.readinessChecklist, {
    preProductionGreen: true, noOpenMajorIncident: true, changeLinked: true, windowNotInFreeze: true, rollbackVersionAvailable: true,
  });
  assert.equal(readiness.context.deployed.staging, { version: '2.4.0', wave: null });
  const task = await openTask(h, child.id, 'readiness');
  assert.is(task.title, 'Go/no-go for checkout 2.4.0');

  const change = await throughGo(h, child.id);
  assert.is(change.parentRunId, child.id);
  assert.is(change.input.changeType, 'standard');
  assert.is(change.input.requestedBy, 'dev-dana');
  assert.equal(change.input.approvers, input.approvers);
  await openGate(h, child.id, change.id);

  const done = await waitForStatus(h, child.id, 'done', 20_000);
  assert.is(done.output.outcome, 'completed');
  assert.is(done.state, 'completed');

  const entries = await history(h, child.id);
  const weights = entries.filter((e) => e.type === 'delivery.weight_set').map((e) => e.weight);
  assert.equal(weights, [10, 20, 30, 40, 50]);
  // Minimum promotion time: interval × maxWeight / stepWeight (Flagger).
  const entered = Date.parse(entries.find((e) => e.type === 'state.entered' && e.state === 'production').at);
  const promoted = Date.parse(entries.find((e) => e.type === 'delivery.promoted').at);
  assert.ok(promoted - entered >= 5 * INTERVAL, `promotion took ${promoted - entered} ms`);
  for (const s of ['bake', 'earlyLifeSupport', 'completed']) assert.ok(entries.some((e) => e.type === 'state.entered' && e.state === s), s);

  // The change is told the deployment succeeded; the parent that the delivery completed.
  const changeRun = await getRun(h, change.id);
  const result = changeRun.context.received.find((e: any) => e.type === 'DEPLOYMENT_RESULT');
  assert.equal({ result: result.result, rolledBack: result.rolledBack, childRunId: result.childRunId }, { result: 'successful', rolledBack: false, childRunId: child.id });
  const parentRun = await waitFor(async () => {
    const p = await getRun(h, parent.id);
    return p.context.received.some((e: any) => e.type === 'DELIVERY_COMPLETED') ? p : null;
  }, 5000, 'DELIVERY_COMPLETED at the parent');
  const completed = parentRun.context.received.find((e: any) => e.type === 'DELIVERY_COMPLETED');
  assert.is(completed.childRunId, child.id);
  assert.is(completed.deployedAt, done.output.deployedAt);

  // One deployment, and lead time = deployedAt − committedAt of each commit.
  assert.is(measures(entries, 'deploymentFrequency').length, 1);
  const deployedAt = Date.parse(done.output.deployedAt);
  const lead = measures(entries, 'changeLeadTime');
  assert.equal(lead.map((m) => m.value), (input.release as any).commits.map((c: any) => deployedAt - Date.parse(c.committedAt)));
  assert.is(measures(entries, 'changeFailRate')[0].value, 0);
  assert.is(measures(entries, 'deploymentReworkRate')[0].value, 0);
  const recorded = entries.filter((e) => e.type === 'record_deployment.recorded').map((e) => e.payload.phase);
  assert.ok(recorded.includes('deployed') && recorded.includes('completed'), recorded.join());
});

test('failed canary: checks fail from 20 %, five failures roll back; change told rolled_back, a P2 incident raised, DORA counts the failure', async ({ h }) => {
  const input = releaseInput({ simulate: { health: [{ phase: 'canary', minWeight: 20, result: 'fail' }] } });
  const { runId, changeRunId } = await toProduction(h, input);
  const done = await waitForStatus(h, runId, 'done', 20_000);
  assert.is(done.state, 'failed');
  assert.is(done.output.outcome, 'rolled_back');
  assert.is(done.context.failedChecks, 5);
  assert.is(done.context.weight, 20);
  assert.is(done.context.deployedAt, null, 'never promoted');

  const entries = await history(h, runId);
  const checks = entries.filter((e) => e.type === 'delivery.check_failed');
  assert.is(checks.length, 5);
  // Time to roll back: interval × threshold.
  assert.is(done.context.failureDetectedAt, Date.parse(entries.find((e) => e.type === 'delivery.check_failed').at));
  assert.ok(Date.parse(entries.find((e) => e.type === 'state.entered' && e.state === 'rollingBack').at) - done.context.failureDetectedAt >= 4 * INTERVAL);

  const change = await getRun(h, changeRunId);
  const result = change.context.received.find((e: any) => e.type === 'DEPLOYMENT_RESULT');
  assert.equal([result.result, result.rolledBack], ['rolled_back', true]);

  const [incident] = await waitForChild(h, runId, 'incident');
  assert.is(incident.businessKey, `delivery:${runId}`);
  assert.equal([incident.input.impact, incident.input.urgency], [2, 1], 'P2');
  assert.equal(incident.input.links, { causedByDelivery: runId, causedByChange: changeRunId }, 'the links the incident model reads');
  assert.is(incident.input.service, 'checkout');

  assert.is(measures(entries, 'changeFailRate')[0].value, 1);
  assert.is(measures(entries, 'canaryAbortRate')[0].value, 1);
  const fdrt = measures(entries, 'failedDeploymentRecoveryTime');
  assert.is(fdrt.length, 1);
  assert.is(fdrt[0].value, Date.parse(done.output.restoredAt) - Date.parse(done.output.failureDetectedAt));
});

test('rollback fails: the rollback cannot be verified → failed (rollback_failed) and a P1 incident', async ({ h }) => {
  const input = releaseInput({ simulate: { health: [{ phase: 'canary', minWeight: 10, result: 'fail' }, { phase: 'rollback', result: 'fail' }] }, canary: { threshold: 1 } });
  const { runId, changeRunId } = await toProduction(h, input);
  const done = await waitForStatus(h, runId, 'done', 20_000);
  assert.is(done.state, 'failed');
  assert.is(done.output.outcome, 'rollback_failed');
  assert.is(done.output.restoredAt, null);
  const [incident] = await waitForChild(h, runId, 'incident');
  assert.equal([incident.input.impact, incident.input.urgency], [1, 1], 'P1');
  const change = await getRun(h, changeRunId);
  assert.ok(change.context.received.some((e: any) => e.type === 'DEPLOYMENT_RESULT' && e.result === 'rolled_back' && e.rolledBack === false));
});

test('rollback fails: rollbackDeadlineDelay passes while the rollback is verified → rollback_failed', async ({ h }) => {
  // A rollback verification that hangs (its probe never answers) is cut by the deadline.
  const hang = await new Promise<Server>((resolve) => {
    const s = createServer(() => undefined);
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
  const port = (hang.address() as AddressInfo).port;
  try {
    const input = releaseInput({
      canary: { threshold: 1 },
      simulate: { health: [{ phase: 'canary', result: 'fail' }] },
      healthChecks: [{ name: 'probe', url: `http://127.0.0.1:${port}/health`, max: 500 }],
      observed: {},
      delaysMs: { canaryIntervalDelay: INTERVAL, stepProgressDeadlineDelay: 5000, rollbackDeadlineDelay: 300 },
      environments: ['production'],
    });
    const { runId } = await toProduction(h, input);
    const done = await waitForStatus(h, runId, 'done', 20_000);
    assert.is(done.output.outcome, 'rollback_failed');
    const entries = await history(h, runId);
    assert.ok(entries.some((e) => e.type === 'timer.fired' && e.timer === 'rollbackDeadlineDelay'));
    assert.ok(entries.some((e) => e.type === 'delivery.rollback_deadline_passed'));
  } finally {
    hang.close();
  }
});

test('no-go: NO_GO by the release manager cancels the release (no_go); the parent is told DELIVERY_CANCELED; no change is raised', async ({ h }) => {
  const parent = await startRun(h, 'parent-recorder', { workflow: 'delivery', input: releaseInput() });
  const [child] = await waitForChild(h, parent.id, 'delivery');
  const task = await openTask(h, child.id, 'readiness');
  const notOwner = await completeTask(h, task.id, 'NO_GO', 'sam', 'not me');
  assert.is(notOwner.status, 409, 'sam is no release manager');
  assert.is(notOwner.body.error.code, 'EVENT_NOT_ACCEPTED');
  assert.is((await completeTask(h, task.id, 'NO_GO', 'rita', 'monitoring not ready')).status, 200);
  const done = await waitForStatus(h, child.id, 'done');
  assert.is(done.state, 'canceled');
  assert.equal([done.output.outcome, done.output.reason], ['no_go', 'monitoring not ready']);
  assert.equal(done.context.goDecision.decision, 'NO_GO');
  const p = await waitFor(async () => {
    const run = await getRun(h, parent.id);
    return run.context.received.find((e: any) => e.type === 'DELIVERY_CANCELED') ?? null;
  }, 5000, 'DELIVERY_CANCELED');
  assert.is(p.outcome, 'no_go');
  assert.is((await children(h, child.id, 'change')).length, 0);
});

test('no decision: nobody answers the go/no-go by window.start − 2 h → canceled (no_go, no_decision)', async ({ h }) => {
  const start = Date.now() + 2 * 3_600_000 + 1500;
  const run = await startRun(h, 'delivery', releaseInput({ window: { start: iso(start), end: iso(start + 3_600_000) } }));
  await openTask(h, run.id, 'readiness');
  const done = await waitForStatus(h, run.id, 'done', 10_000);
  assert.is(done.state, 'canceled');
  assert.equal([done.output.outcome, done.output.reason], ['no_go', 'no_decision']);
  const entries = await history(h, run.id);
  const fired = entries.find((e) => e.type === 'timer.fired' && e.timer === 'goNoGoDeadlineDelay');
  assert.ok(fired, 'the go/no-go deadline fired');
  assert.is(Date.parse(fired.dueAt), start - 2 * 3_600_000);
  const tasks = await h.call('GET', '/v1/tasks?status=open', { key: 'viewer' });
  assert.not.ok(tasks.body.items.some((t: any) => t.runId === run.id), 'the go/no-go task is withdrawn');
});

test('a release that reaches go/no-go after window.start − 2 h (a change-initiated deployment) gets the offset to decide, not an instant no-go', async ({ h }) => {
  // The window is open already: window.start − offset has passed.
  const start = Date.now() - 60_000;
  const run = await startRun(h, 'delivery', releaseInput({ window: { start: iso(start), end: iso(start + 3_600_000) }, delaysMs: { goNoGoDeadlineDelay: 1500 } }));
  const entered = Date.now();
  await openTask(h, run.id, 'readiness');
  const timer = (await getRun(h, run.id)).timers.find((t: any) => t.timer === 'goNoGoDeadlineDelay');
  assert.ok(timer, 'the deadline is armed');
  const due = Date.parse(timer.dueAt);
  assert.ok(due >= entered + 1000 && due <= Date.now() + 1500, `due ${due - entered} ms after readiness, not at once`);
  const done = await waitForStatus(h, run.id, 'done', 10_000);
  assert.equal([done.output.outcome, done.output.reason], ['no_go', 'no_decision']);
});

test('change rejected at the gate: CHANGE_REJECTED → canceled (change_rejected), the change is canceled too', async ({ h }) => {
  const run = await startRun(h, 'delivery', releaseInput({ changePolicy: 'auto-normal' }));
  const change = await throughGo(h, run.id);
  assert.is(change.input.changeType, 'normal');
  const stranger = await send(h, run.id, { type: 'CHANGE_REJECTED', childRunId: 'r-some-other-run', comments: [] });
  assert.is(stranger.status, 409, 'only our change can reject');
  await sendOk(h, run.id, { type: 'CHANGE_REJECTED', childRunId: change.id, comments: ['CAB: too risky'] });
  const done = await waitForStatus(h, run.id, 'done');
  assert.is(done.state, 'canceled');
  assert.is(done.output.outcome, 'change_rejected');
  const c = await waitForStatus(h, change.id, 'done');
  assert.ok(c.context.received.some((e: any) => e.type === 'CANCEL' && e.childRunId === run.id));
});

test('window closes mid-rollout: window.end − 15 min arrives during the canary → rolling back; the change is told rolled_back', async ({ h }) => {
  const now = Date.now();
  const input = releaseInput({
    window: { start: iso(now + 60_000), end: iso(now + 15 * 60_000 + 2000) },
    delaysMs: { goNoGoDeadlineDelay: 0, canaryIntervalDelay: 600, bakeDelay: INTERVAL, elsDelay: INTERVAL, stepProgressDeadlineDelay: 5000, rollbackDeadlineDelay: 5000 },
  });
  const { runId, changeRunId } = await toProduction(h, input);
  const done = await waitForStatus(h, runId, 'done', 20_000);
  assert.is(done.output.outcome, 'rolled_back');
  assert.is(done.output.reason, 'window_closing');
  assert.ok(done.context.weight > 10 && done.context.weight < 50, `weight ${done.context.weight}`);
  const entries = await history(h, runId);
  assert.not.ok(entries.some((e) => e.type === 'delivery.promoted'));
  const fired = entries.find((e) => e.type === 'timer.fired' && e.timer === 'windowClosingDelay');
  assert.is(Date.parse(fired.dueAt), now + 2000);
  const change = await getRun(h, changeRunId);
  assert.ok(change.context.received.some((e: any) => e.type === 'DEPLOYMENT_RESULT' && e.result === 'rolled_back'));
});

test('extending the window during the rollout re-arms the window timer from the new end, at the same step', async ({ h }) => {
  const now = Date.now();
  const input = releaseInput({
    window: { start: iso(now + 60_000), end: iso(now + 3_600_000) },
    delaysMs: { goNoGoDeadlineDelay: 0, canaryIntervalDelay: 2000, stepProgressDeadlineDelay: 5000 },
  });
  const { runId } = await toProduction(h, input);
  await waitForState(h, runId, 'production.running.canary.analyzing.waiting');
  const newEnd = now + 7_200_000;
  const bad = await send(h, runId, { type: 'EXTEND_WINDOW', end: 'tomorrow' });
  assert.is(bad.status, 422);
  const run = await sendOk(h, runId, { type: 'EXTEND_WINDOW', end: iso(newEnd), by: 'cm-carl' });
  assert.ok(inStateStr(run, 'production.running.canary.analyzing.waiting'));
  assert.is(run.context.weight, 10);
  const timer = run.timers.find((t: any) => t.id.includes('windowClosingDelay'));
  assert.is(Date.parse(timer.dueAt), newEnd - 15 * 60_000);
  assert.is(run.timers.filter((t: any) => t.id.includes('windowClosingDelay')).length, 1);
  await sendOk(h, runId, { type: 'ABORT', by: 'rita', comment: 'done testing' });
  await waitForStatus(h, runId, 'done', 10_000);
});

test('freeze: FREEZE_DECLARED while awaiting the window holds the release; CHANGE_DEAUTHORIZED sends it back to awaiting authorization; a hotfix proceeds', async ({ h }) => {
  const freeze = { from: iso(Date.now() - 60_000), to: iso(Date.now() + 3_600_000) };
  const run = await startRun(h, 'delivery', releaseInput({ changePolicy: 'auto-normal' }));
  const change = await throughGo(h, run.id);
  await sendOk(h, run.id, { type: 'CHANGE_AUTHORIZED', childRunId: change.id });
  assert.is((await send(h, run.id, { type: 'FREEZE_DECLARED', from: 'now' })).status, 422);
  let r = await sendOk(h, run.id, { type: 'FREEZE_DECLARED', ...freeze });
  assert.ok(inStateStr(r, 'changeGate.awaitingWindow'), 'held where it was');
  r = await sendOk(h, run.id, { type: 'CHANGE_DEAUTHORIZED', childRunId: change.id, reason: 'blackout_conflict' });
  assert.ok(inStateStr(r, 'changeGate.awaitingAuthorization'));
  await sendOk(h, run.id, { type: 'CHANGE_AUTHORIZED', childRunId: change.id });
  const refused = await send(h, run.id, { type: 'CHANGE_IMPLEMENT_STARTED', childRunId: change.id });
  assert.is(refused.status, 409, 'no production start inside the freeze');
  assert.ok(inStateStr(await getRun(h, run.id), 'changeGate.awaitingWindow'));
  await sendOk(h, run.id, { type: 'CANCEL', by: 'rita', reason: 'freeze' });

  // An incident-driven hotfix with an emergency change (freeze override) goes ahead.
  const hotfix = await startRun(h, 'delivery', releaseInput({ reason: 'incident:INC-77', schedules: { blackout: [{ start: freeze.from, end: freeze.to }] }, changePolicy: 'auto-normal' }));
  const hotChange = await throughGo(h, hotfix.id);
  assert.is(hotChange.input.freezeOverrideRequested, true);
  await openGate(h, hotfix.id, hotChange.id);
  await waitForState(h, hotfix.id, 'production');
  await waitForStatus(h, hotfix.id, 'done', 20_000);
});

test('stuck step: deploy_step never reports → after the progress deadline the release rolls back', async ({ h }) => {
  const input = releaseInput({
    environments: ['production'],
    simulate: { deployHang: [{ env: 'production' }] },
    delaysMs: { canaryIntervalDelay: INTERVAL, stepProgressDeadlineDelay: 400, rollbackDeadlineDelay: 5000 },
  });
  const { runId } = await toProduction(h, input);
  const done = await waitForStatus(h, runId, 'done', 10_000);
  assert.is(done.output.outcome, 'rolled_back');
  assert.is(done.output.reason, 'progress_deadline');
  const entries = await history(h, runId);
  assert.ok(entries.some((e) => e.type === 'timer.fired' && e.timer === 'stepProgressDeadlineDelay'));
  assert.ok(entries.some((e) => e.type === 'task.withdrawn' && e.task === 'deploy_step'), 'the hanging step is withdrawn');
});

test('incident during bake: a P2 incident on the service rolls back automatically and counts as a change failure; no second incident is raised', async ({ h }) => {
  const input = releaseInput({ delaysMs: { canaryIntervalDelay: INTERVAL, bakeDelay: 60_000, stepProgressDeadlineDelay: 5000, rollbackDeadlineDelay: 5000 } });
  const { runId, changeRunId } = await toProduction(h, input);
  await waitForState(h, runId, 'bake.watching', 15_000);
  assert.is((await send(h, runId, { type: 'INCIDENT_OPENED', incidentRunId: 'INC-1' })).status, 422, 'priority is required');
  await sendOk(h, runId, { type: 'INCIDENT_OPENED', incidentRunId: 'INC-1', priority: 2, service: 'checkout' });
  const done = await waitForStatus(h, runId, 'done', 10_000);
  assert.is(done.output.outcome, 'rolled_back');
  assert.is(done.output.reason, 'incident');
  assert.ok(done.output.deployedAt, 'it had been promoted');
  const entries = await history(h, runId);
  assert.is(measures(entries, 'changeFailRate')[0].value, 1);
  assert.is(measures(entries, 'canaryAbortRate')[0].value, 0, 'promoted, so no canary abort');
  assert.is((await children(h, runId, 'incident')).length, 0, 'the incident that triggered it is the incident');
  const change = await getRun(h, changeRunId);
  assert.ok(change.context.received.some((e: any) => e.type === 'DEPLOYMENT_RESULT' && e.result === 'rolled_back'));
});

test('incident during ELS: a P4 only counts elsIncidents; the service owner signs off (a non-owner is refused)', async ({ h }) => {
  const input = releaseInput({ delaysMs: { canaryIntervalDelay: INTERVAL, bakeDelay: INTERVAL, elsDelay: 60_000, stepProgressDeadlineDelay: 5000 } });
  const { runId } = await toProduction(h, input);
  await waitForState(h, runId, 'earlyLifeSupport.watching', 15_000);
  const r = await sendOk(h, runId, { type: 'INCIDENT_OPENED', incidentRunId: 'INC-4', priority: 4 });
  assert.ok(inStateStr(r, 'earlyLifeSupport.watching'));
  assert.is(r.context.elsIncidents, 1);
  const task = await openTask(h, runId, 'earlyLifeSupport.watching');
  assert.is(task.role, 'service_owner');
  assert.is(task.title, 'Accept 2.4.0 into operation');
  assert.is((await completeTask(h, task.id, 'ACCEPT', 'dev-dana')).status, 409);
  assert.is((await completeTask(h, task.id, 'ACCEPT', 'sam')).status, 200);
  const done = await waitForStatus(h, runId, 'done', 10_000);
  assert.is(done.output.outcome, 'completed');
  assert.is(done.output.elsIncidents, 1);
  const entries = await history(h, runId);
  assert.is(measures(entries, 'elsIncidents')[0].value, 1);
  assert.is(measures(entries, 'changeFailRate')[0].value, 0, 'a P4 is no change failure');
});

test('rework: a delivery with reason incident:<id> completes and counts towards the deployment rework rate', async ({ h }) => {
  const run = await startRun(h, 'delivery', releaseInput({ reason: 'incident:INC-42', changePolicy: 'none' }));
  const task = await openTask(h, run.id, 'readiness');
  assert.is((await completeTask(h, task.id, 'GO', 'rita')).status, 200);
  const done = await waitForStatus(h, run.id, 'done', 20_000);
  assert.is(done.output.outcome, 'completed');
  assert.is(done.context.changeRunId, null, 'policy none: no change gate');
  const entries = await history(h, run.id);
  assert.equal(measures(entries, 'deploymentReworkRate').map((m) => m.value), [1]);
  assert.is(measures(entries, 'deploymentReworkRate')[0].dims.reason, 'incident:INC-42');
});

test('pause and resume: PAUSE at 20 % withdraws the step timer, nothing fires while paused, RESUME returns to the same step and the next step follows an interval later', async ({ h }) => {
  const interval = 400;
  const input = releaseInput({ delaysMs: { canaryIntervalDelay: interval, bakeDelay: INTERVAL, elsDelay: INTERVAL, stepProgressDeadlineDelay: 5000 } });
  const { runId } = await toProduction(h, input);
  await waitFor(async () => {
    const r = await getRun(h, runId);
    return r.context.weight === 20 && inStateStr(r, 'production.running.canary.analyzing.waiting');
  }, 10_000, 'canary waiting at 20 %');
  const paused = await sendOk(h, runId, { type: 'PAUSE', by: 'oncall-olga' });
  assert.ok(inStateStr(paused, 'production.paused'));
  assert.is(paused.timers.length, 0, 'the step timer is withdrawn');
  const task = await openTask(h, runId, 'production.paused');
  assert.is(task.role, 'on_call');
  assert.is(task.title, 'Rollout of 2.4.0 is paused');

  const pausedAt = Date.now();
  await waitFor(() => Date.now() - pausedAt > 3 * interval, 5000, 'three intervals');
  let entries = await history(h, runId);
  const pauseSeq = entries.find((e) => e.type === 'event.received' && e.event === 'PAUSE').seq;
  assert.not.ok(entries.some((e) => e.seq > pauseSeq && e.type === 'timer.fired'), 'no timer fires while paused');
  assert.ok(inStateStr(await getRun(h, runId), 'production.paused'));

  assert.is((await completeTask(h, task.id, 'CONTINUE', 'oncall-olga')).status, 200);
  const resumed = await getRun(h, runId);
  assert.ok(inStateStr(resumed, 'production.running.canary.analyzing'), JSON.stringify(resumed.state));
  assert.is(resumed.context.weight, 20);
  const done = await waitForStatus(h, runId, 'done', 20_000);
  assert.is(done.output.outcome, 'completed');
  entries = await history(h, runId);
  const weights = entries.filter((e) => e.type === 'delivery.weight_set').map((e) => e.weight);
  assert.equal(weights, [10, 20, 30, 40, 50], 'continued from 20 %, not from 0');
  const resumeAt = Date.parse(entries.find((e) => e.type === 'event.received' && e.event === 'RESUME').at);
  const thirty = Date.parse(entries.find((e) => e.type === 'delivery.weight_set' && e.weight === 30).at);
  assert.ok(thirty - resumeAt >= interval, `next step ${thirty - resumeAt} ms after RESUME`);
});

test('phased with a manual gate: three waves; PROMOTE by a non-owner → 409; by the owner → next wave; ROLL_BACK at gate 2 → rolling back', async ({ h }) => {
  const input = releaseInput({ strategy: 'phased', phased: { waves: 3 } });
  const { runId } = await toProduction(h, input);
  const gate1 = await openTask(h, runId, 'production.running.phased.gate');
  assert.is(gate1.role, 'service_owner');
  assert.is(gate1.title, 'Promote 2.4.0 to wave 2?');
  const refused = await completeTask(h, gate1.id, 'PROMOTE', 'rita');
  assert.is(refused.status, 409);
  assert.is(refused.body.error.code, 'EVENT_NOT_ACCEPTED');
  assert.is((await send(h, runId, { type: 'PROMOTE', by: 'dev-dana' })).status, 409);
  assert.is((await completeTask(h, gate1.id, 'PROMOTE', 'sam')).status, 200);
  const gate2 = await waitFor(async () => {
    const t = await openTask(h, runId, 'production.running.phased.gate');
    return t.id !== gate1.id ? t : null;
  }, 10_000, 'gate 2');
  assert.is(gate2.title, 'Promote 2.4.0 to wave 3?');
  const r = await getRun(h, runId);
  assert.equal(r.context.deployed.production, { version: '2.4.0', wave: 2 });
  assert.is((await completeTask(h, gate2.id, 'ROLL_BACK', 'sam')).status, 200);
  const done = await waitForStatus(h, runId, 'done', 10_000);
  assert.is(done.output.outcome, 'rolled_back');
  assert.is(done.output.reason, 'manual_rollback');
});

test('refusals: a broken input answers 422; GO by the requester (self-approval) and by a non-member answers 409 and leaves the task open', async ({ h }) => {
  const bad = await h.call('POST', '/v1/runs', { key: 'operator', body: { workflow: 'delivery', input: { release: { id: 'R1' } } } });
  assert.is(bad.status, 422);
  assert.is(bad.body.error.code, 'VALIDATION_FAILED');
  const badDelay = await h.call('POST', '/v1/runs', { key: 'operator', body: { workflow: 'delivery', input: releaseInput({ delaysMs: { bakeDelay: -1 } }) } });
  assert.is(badDelay.status, 422);
  const run = await startRun(h, 'delivery', releaseInput({ requestedBy: 'rita', approvers: { releaseManager: ['rita', 'rob'], serviceOwner: ['sam'] } }));
  const task = await openTask(h, run.id, 'readiness');
  assert.is((await completeTask(h, task.id, 'GO', 'rita')).status, 409, 'no self-approval');
  assert.is((await completeTask(h, task.id, 'GO', 'mallory')).status, 409);
  assert.is((await send(h, run.id, { type: 'GO' })).status, 422, 'by is required');
  const still = await openTask(h, run.id, 'readiness');
  assert.is(still.id, task.id);
  assert.is((await completeTask(h, task.id, 'GO', 'rob')).status, 200);
  await sendOk(h, run.id, { type: 'CANCEL', by: 'rob' });
  assert.is((await waitForStatus(h, run.id, 'done')).output.outcome, 'aborted');
});

test('the delivery model is registered as a built-in and draws its diagram', async ({ h }) => {
  const wf = await h.call('GET', '/v1/workflows/delivery', { key: 'viewer' });
  assert.is(wf.status, 200);
  assert.is(wf.body.builtIn, true);
  assert.is(wf.body.version, 1);
  const mermaid = await h.call('GET', '/v1/workflows/delivery/diagram?format=mermaid', { key: 'viewer' });
  assert.is(mermaid.status, 200);
  for (const s of ['readiness', 'changeGate', 'rollingBack', 'earlyLifeSupport']) assert.ok(String(mermaid.body).includes(s), s);
  const svg = await h.call('GET', '/v1/workflows/delivery/diagram?format=svg', { key: 'viewer' });
  assert.is(svg.status, 200);
});

test('freeze before the start: a release scheduled inside a declared freeze waits for the freeze to end; START inside it answers 409', async ({ h }) => {
  const now = Date.now();
  const run = await startRun(h, 'delivery', releaseInput({ scheduledStart: iso(now + 400) }));
  const freezeEnd = now + 1500;
  assert.is((await send(h, run.id, { type: 'FREEZE_DECLARED', from: iso(now - 1000), to: iso(freezeEnd) })).status, 200);
  assert.is((await send(h, run.id, { type: 'START', by: 'rita' })).status, 409, 'no manual start inside the freeze');
  const planned = await getRun(h, run.id);
  assert.ok(inStateStr(planned, 'planned.waiting'));
  assert.is(Date.parse(planned.timers[0].dueAt), freezeEnd, 'the start moved to the end of the freeze');
  await waitForState(h, run.id, 'readiness', 5000);
  const entries = await history(h, run.id);
  const built = Date.parse(entries.find((e) => e.type === 'state.entered' && e.state === 'build').at);
  assert.ok(built >= freezeEnd, 'not started inside the freeze');
  assert.ok(measures(entries, 'scheduleDeviation')[0].value >= freezeEnd - (now + 400));
  await sendOk(h, run.id, { type: 'CANCEL', by: 'rita' });
});

function inStateStr(run: any, path: string): boolean {
  return paths(run.state).some((p) => p === path || p.startsWith(path + '.'));
}


test.run();
