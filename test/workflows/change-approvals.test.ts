// Group approval policies (docs/models/conventions.md §0.5) as the change model's CAB uses them: first_response, all,
// percentage, rejection as soon as the quorum is out of reach, one vote per member, and only members vote.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, type Harness } from '../api/harness.ts';
import { waitFor } from '../helpers.ts';
import { HOUR, complete, getRun, history, normalChange, send, sendOk, startChange, waitState, waitTask } from './change-helpers.ts';

const test = suite<{ h: Harness }>('change approvals', {} as { h: Harness });

test.before(async (ctx) => {
  ctx.h = await startHarness();
});
test.after(async (ctx) => {
  await ctx.h.close();
});

/** A normal, moderate-risk change in authorize, with the CAB policy given. */
async function inAuthorize(h: Harness, cab: Record<string, unknown>): Promise<string> {
  const run = await startChange(h, normalChange({ leadTimeMs: 0, approvalPolicy: { cab } }, 4 * HOUR));
  await sendOk(h, run.id, { type: 'SUBMIT', by: 'rita' });
  await waitState(h, run.id, 'assess');
  await sendOk(h, run.id, { type: 'APPROVE_TECHNICAL', by: 'tom' });
  await waitState(h, run.id, 'authorize');
  await sendOk(h, run.id, { type: 'APPROVE_CM', by: 'carla' });
  return run.id;
}

test('first_response: the first CAB answer decides, a rejection sends the change back to New', async ({ h }) => {
  const id = await inAuthorize(h, { waitFor: 'first_response' });
  const run = await sendOk(h, id, { type: 'REJECT_CAB', by: 'cem', comment: 'not this week' });
  assert.equal(run.context.approvals.cab.status, 'rejected');
  await waitState(h, id, 'new.draft');
  const approvedId = await inAuthorize(h, { waitFor: 'first_response' });
  await sendOk(h, approvedId, { type: 'APPROVE_CAB', by: 'dia' });
  await waitState(h, approvedId, 'scheduled');
});

test('all: every member must approve; three approvals leave it pending and one rejection rejects at once', async ({ h }) => {
  const id = await inAuthorize(h, { waitFor: 'all' });
  for (const by of ['ann', 'bob', 'cem']) await sendOk(h, id, { type: 'APPROVE_CAB', by });
  assert.is((await getRun(h, id)).context.approvals.cab.status, 'pending');
  const run = await sendOk(h, id, { type: 'REJECT_CAB', by: 'dia', comment: 'veto' });
  assert.is(run.context.approvals.cab.status, 'rejected');
  const back = await waitState(h, id, 'new.draft');
  assert.equal(back.context.rejection.comments, [{ group: 'cab', by: 'dia', comment: 'veto' }]);
});

test('percentage 75 of 4: one rejection keeps it open, the second makes 3 approvals impossible and rejects', async ({ h }) => {
  const id = await inAuthorize(h, { waitFor: 'percentage', percent: 75 });
  let run = await sendOk(h, id, { type: 'REJECT_CAB', by: 'ann' });
  assert.is(run.context.approvals.cab.status, 'pending', '3 approvals are still possible');
  run = await sendOk(h, id, { type: 'APPROVE_CAB', by: 'bob' });
  assert.is(run.context.approvals.cab.status, 'pending');
  run = await sendOk(h, id, { type: 'REJECT_CAB', by: 'cem' });
  assert.is(run.context.approvals.cab.status, 'rejected', 'only 2 of the 3 needed remain possible');
  await waitState(h, id, 'new.draft');
  const hist = await history(h, id);
  assert.equal(hist.filter((e) => e.type === 'approval.rejected').map((e) => e.group), ['cab']);
});

test('percentage 50 of 4: two approvals reach the quorum whatever the others say', async ({ h }) => {
  const id = await inAuthorize(h, { waitFor: 'percentage', percent: 50 });
  await sendOk(h, id, { type: 'REJECT_CAB', by: 'ann' });
  await sendOk(h, id, { type: 'APPROVE_CAB', by: 'bob' });
  const run = await sendOk(h, id, { type: 'APPROVE_CAB', by: 'cem' });
  assert.is(run.context.approvals.cab.status, 'approved');
  await waitState(h, id, 'scheduled');
});

test('a member votes once, someone outside the group or the requester cannot vote: 409 and nothing changes', async ({ h }) => {
  const run = await startChange(h, normalChange({ leadTimeMs: 0, approvers: { technical: ['tom'], changeManager: ['carla'], cab: ['ann', 'bob', 'cem', 'rita'] } }, 4 * HOUR));
  await sendOk(h, run.id, { type: 'SUBMIT', by: 'rita' });
  await waitState(h, run.id, 'assess');
  await sendOk(h, run.id, { type: 'APPROVE_TECHNICAL', by: 'tom' });
  await waitState(h, run.id, 'authorize');
  await sendOk(h, run.id, { type: 'APPROVE_CAB', by: 'ann' });
  const before = await getRun(h, run.id);
  for (const by of ['ann', 'mallory', 'rita']) {
    const res = await send(h, run.id, { type: 'APPROVE_CAB', by });
    assert.is(res.status, 409, by);
    assert.is(res.body.error.code, 'EVENT_NOT_ACCEPTED');
  }
  assert.is((await send(h, run.id, { type: 'APPROVE_CAB' })).status, 422, 'a vote names who votes');
  const after = await getRun(h, run.id);
  assert.equal(after.context.approvals, before.context.approvals, 'refused votes change nothing');
  // 50 % of the 3 eligible members (the requester is not one) is 2.
  await sendOk(h, run.id, { type: 'APPROVE_CAB', by: 'bob' });
  assert.is((await getRun(h, run.id)).context.approvals.cab.status, 'approved');
});

test('a required group with nobody eligible to approve is rejected at once rather than waiting forever', async ({ h }) => {
  const run = await startChange(h, normalChange({ leadTimeMs: 0, approvers: { technical: ['rita'], changeManager: ['carla'] } }, 4 * HOUR));
  await sendOk(h, run.id, { type: 'SUBMIT', by: 'rita' });
  const back = await waitState(h, run.id, 'new.draft', 8000, (r) => r.context.returnReason === 'rejected');
  assert.is(back.context.approvals.technical.status, 'rejected');
});

test('the ECAB has its own shorter reminder and escalation to the change manager', async ({ h }) => {
  const run = await startChange(h, normalChange({ changeType: 'emergency', delaysMs: { ecabReminderDelay: 150, ecabEscalationDelay: 300 } }, 2 * HOUR));
  await sendOk(h, run.id, { type: 'SUBMIT', by: 'rita' });
  await waitState(h, run.id, 'authorize');
  const task = await waitTask(h, run.id, 'ecab');
  const hist = await waitFor(async () => {
    const items = await history(h, run.id);
    return items.filter((e) => e.type === 'notify.recorded').length >= 2 ? items : null;
  }, 5000, 'the ECAB reminder and escalation');
  const nudges = hist.filter((e) => e.type === 'notify.recorded').map((e) => [e.payload.subject, e.payload.to]);
  assert.equal(nudges, [['Reminder: approval pending (ecab)', ['eve', 'eli']], ['Escalation: approval overdue (ecab)', ['carla']]]);
  assert.equal((await waitTask(h, run.id, 'ecab')).id, task.id, 'reminders keep the same task open');
  assert.is((await complete(h, task.id, 'APPROVE', 'eli')).status, 200);
  const done = await getRun(h, run.id);
  assert.is(done.context.approvals.ecab.status, 'approved', 'a person approved, never the timer');
});

test.run();
