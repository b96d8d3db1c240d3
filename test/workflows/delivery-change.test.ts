// The delivery's change gate and incident link against the real `change` and `incident` models (§5):
// the change is raised by the release, approved by its groups, and closes on the release's result.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, type Harness } from '../api/harness.ts';
import { waitFor } from '../helpers.ts';
import {
  completeTask, getRun, history, iso, openTask, send, startRun, waitForChild, waitForState, waitForStatus,
} from './delivery-helpers.ts';

const test = suite<{ h: Harness }>('delivery with the real change model', {} as { h: Harness });

test.before(async (ctx) => {
  ctx.h = await startHarness({});
});
test.after(async (ctx) => {
  await ctx.h.close();
});

const DIGEST = `sha256:${'b'.repeat(64)}`;
/** Who answers each approval role of the change (one member per group). */
const VOTER: Record<string, string> = { technical_approver: 'ann', change_manager: 'ann', cab: 'ann', ecab: 'ann', service_owner: 'sam' };

function input(over: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Date.now();
  return {
    release: { id: `REL-${Math.random().toString(36).slice(2, 8)}`, version: '7.1.0', service: 'orders', artifacts: [{ name: 'orders', digest: DIGEST }], commits: [{ sha: 'f00', committedAt: iso(now - 7_200_000) }] },
    environments: ['production'],
    changePolicy: 'auto-normal',
    requestedBy: 'dev-dana',
    previousVersion: '7.0.3',
    // The change implements at plannedStart; the test starts it early, within its tolerance.
    window: { start: iso(now + 10 * 60_000), end: iso(now + 3_600_000) },
    approvers: { releaseManager: ['rita'], serviceOwner: ['sam'], technical: ['ann'], changeManager: ['ann'], cab: ['ann'], ecab: ['ann'] },
    change: { leadTimeMs: 0, delaysMs: { authorizationCutoffDelay: 0 } },
    delaysMs: { goNoGoDeadlineDelay: 0, canaryIntervalDelay: 150, bakeDelay: 150, elsDelay: 150, stepProgressDeadlineDelay: 5000, rollbackDeadlineDelay: 5000 },
    ...over,
  };
}

/** Answer the change's approval tasks until it is scheduled (or `until` says stop). */
async function approveChange(h: Harness, changeId: string, decision: 'APPROVE' | 'REJECT' = 'APPROVE'): Promise<any> {
  return waitFor(async () => {
    const c = await getRun(h, changeId);
    if (JSON.stringify(c.state).includes('scheduled') || c.status !== 'running' || (decision === 'REJECT' && JSON.stringify(c.state).includes('draft') && c.context.returnReason === 'rejected')) return c;
    const open = (await h.call('GET', '/v1/tasks?status=open&limit=200', { key: 'viewer' })).body.items.filter((t: any) => t.runId === changeId);
    for (const t of open) if (t.outcomes[decision] && VOTER[t.role]) await completeTask(h, t.id, decision, VOTER[t.role]);
    return null;
  }, 15_000, 'the change decided');
}

async function toGate(h: Harness, over: Record<string, unknown> = {}): Promise<{ runId: string; changeId: string }> {
  const key = `REL-${Math.random().toString(36).slice(2, 8)}`;
  const run = await startRun(h, 'delivery', input(over), key);
  const go = await openTask(h, run.id, 'readiness');
  assert.is((await completeTask(h, go.id, 'GO', 'rita')).status, 200);
  const [change] = await waitForChild(h, run.id, 'change');
  assert.is(change.version, 1, 'the real change model');
  assert.is(change.businessKey, `change:${key}:1`, "the gate's change is named after the delivery's business key (§0.7)");
  return { runId: run.id, changeId: change.id };
}

test('happy path through a real normal change: authorized, implementation starts, the release deploys and the change closes successful', async ({ h }) => {
  const { runId, changeId } = await toGate(h);
  await approveChange(h, changeId);
  await waitForState(h, runId, 'changeGate.awaitingWindow');
  const start = await send(h, changeId, { type: 'START_IMPLEMENTATION', by: 'ann' });
  assert.is(start.status, 200, JSON.stringify(start.body));
  const done = await waitForStatus(h, runId, 'done', 20_000);
  assert.is(done.output.outcome, 'completed');
  assert.is(done.output.changeRunId, changeId);
  const received = (await history(h, runId)).filter((e) => e.type === 'event.received').map((e) => e.event);
  assert.ok(received.includes('CHANGE_AUTHORIZED') && received.includes('CHANGE_IMPLEMENT_STARTED'), received.join());
  const change = await waitFor(async () => {
    const c = await getRun(h, changeId);
    if (c.status === 'running') for (const t of (await h.call('GET', '/v1/tasks?status=open&limit=200', { key: 'viewer' })).body.items.filter((x: any) => x.runId === changeId && x.outcomes.ACCEPT)) await completeTask(h, t.id, 'ACCEPT', 'ann');
    return c.status === 'done' ? c : null;
  }, 10_000, 'the change closed');
  assert.is(change.output.closeCode, 'successful');
});

test('failed canary through a real change: the change closes unsuccessful and a real P2 incident links the delivery and the change', async ({ h }) => {
  const { runId, changeId } = await toGate(h, { canary: { threshold: 2 }, simulate: { health: [{ phase: 'canary', minWeight: 20, result: 'fail' }] } });
  await approveChange(h, changeId);
  await waitForState(h, runId, 'changeGate.awaitingWindow');
  assert.is((await send(h, changeId, { type: 'START_IMPLEMENTATION', by: 'ann' })).status, 200);
  const done = await waitForStatus(h, runId, 'done', 20_000);
  assert.is(done.output.outcome, 'rolled_back');
  const change = await waitFor(async () => {
    const c = await getRun(h, changeId);
    return c.context.closeCode ? c : null;
  }, 10_000, 'the change close code');
  assert.is(change.context.closeCode, 'unsuccessful');
  const [incident] = await waitForChild(h, runId, 'incident');
  assert.is(incident.version, 1, 'the real incident model');
  assert.is(incident.parentRunId, runId);
  assert.is(incident.context.links.causedByDelivery, runId);
  assert.is(incident.context.links.causedByChange, changeId);
  const entries = await history(h, runId);
  assert.not.ok(entries.some((e) => e.type === 'delivery.incident_not_raised'), 'the incident model took the input');
});

test('change rejected at the gate by the real change model: the CAB rejects → CHANGE_REJECTED → canceled (change_rejected)', async ({ h }) => {
  const { runId, changeId } = await toGate(h);
  await approveChange(h, changeId, 'REJECT');
  const done = await waitForStatus(h, runId, 'done', 15_000);
  assert.is(done.state, 'canceled');
  assert.is(done.output.outcome, 'change_rejected');
  const change = await waitForStatus(h, changeId, 'done', 10_000);
  assert.is(change.output.outcome, 'canceled', 'the release cancels its rejected change');
});

test.run();
