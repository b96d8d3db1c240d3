// The incident → change link through HTTP (docs/models/incident.md §1.10 scenario 11, §5).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, type Harness } from '../api/harness.ts';
import { waitFor } from '../helpers.ts';
import { complete, getRun, history, inState, sendOk, startIncident, untilHistory, untilRun, untilState, untilTask } from './incident-helpers.ts';

const test = suite<{ h: Harness }>('incident change', {} as { h: Harness });

test.before(async (ctx) => {
  ctx.h = await startHarness();
});
test.after(async (ctx) => {
  await ctx.h.close();
});

const approvers = { incidentManager: ['ina'], ecab: ['eve', 'eli'], changeManager: ['carla'], cab: ['ann', 'bob'], technical: ['tom'] };

test('scenario 11, an incident needs an emergency change: a child change:<incident business key>:1 in authorize, the incident waits with its clock running, CHANGE_CLOSED resumes it', async ({ h }) => {
  // The business key only as the run was started (POST /v1/runs {businessKey}): the child's key derives from it (§0.7).
  const run = await startIncident(h, {
    title: 'Billing DB saturated', impact: 1, urgency: 2, service: 'billing', ci: 'db-01', caller: 'cal', approvers,
  }, 'INC-1111');
  assert.is(run.context.priority, 2);
  await sendOk(h, run.id, { type: 'ACKNOWLEDGE', by: 'rick' });
  const waiting = await sendOk(h, run.id, { type: 'REQUEST_CHANGE', summary: 'add a read replica', by: 'rick' });
  assert.ok(inState(waiting, 'open.work.onHold.awaitingChange'));
  assert.ok(inState(waiting, 'open.resolutionSla.running'), 'a change wait does not pause the SLA (§7 C3)');

  const linked = await untilRun(h, run.id, (r) => r.context.links.change.length === 1, 'the child run id');
  const childId = linked.context.links.change[0];
  const child = await getRun(h, childId);
  assert.is(child.workflow, 'change');
  assert.is(child.parentRunId, run.id);
  assert.is(child.businessKey, 'change:INC-1111:1');
  const authorizing = await waitFor(async () => {
    const c = await getRun(h, childId);
    return inState(c, 'authorize') ? c : null;
  }, 8000, 'the child in authorize');
  assert.is(authorizing.context.changeType, 'emergency', 'P2 asks for an emergency change');
  assert.is(authorizing.context.requestedBy, 'rick');

  const ecab = await untilTask(h, childId, 'ecab');
  assert.is((await complete(h, ecab.id, { outcome: 'APPROVE', by: 'eve', comment: 'go' })).status, 200);
  await waitFor(async () => inState(await getRun(h, childId), 'implement'), 8000, 'implement');
  await sendOk(h, childId, { type: 'DEPLOYMENT_RESULT', result: 'successful', rolledBack: false });
  await waitFor(async () => inState(await getRun(h, childId), 'review.pir'), 8000, 'review');
  await sendOk(h, childId, { type: 'PIR_ACCEPTED', by: 'carla', comment: 'fine' });

  const resumed = await untilState(h, run.id, 'open.work.inProgress');
  assert.equal(resumed.context.changeOutcome, { childRunId: childId, closeCode: 'successful', event: 'CHANGE_CLOSED' });
  assert.is(resumed.context.onHoldReason, null);
  await untilHistory(h, run.id, (i) => i.some((e) => e.type === 'task.scheduled' && e.task === 'notify' && e.input.template === 'change.closed'), 'the assignee notice');
  const resolved = await sendOk(h, run.id, { type: 'RESOLVE', code: 'fixed_by_change', comment: 'replica added', by: 'rick' });
  assert.ok(inState(resolved, 'resolved'));
  const items = await history(h, run.id);
  assert.ok(items.some((e) => e.type === 'incident.change_requested' && e.childRunId === childId && e.changeType === 'emergency'));
});

test('CHANGE_CLOSED from a run that is not this incident\'s child is refused with 409; a child of an incident without a business key is named after its run id', async ({ h }) => {
  const run = await startIncident(h, { title: 'Stranger', impact: 2, urgency: 2, approvers, service: 'billing', ci: 'db-02' });
  await sendOk(h, run.id, { type: 'ACKNOWLEDGE', by: 'rick' });
  await sendOk(h, run.id, { type: 'REQUEST_CHANGE', summary: 'normal change please', changeType: 'normal', by: 'rick' });
  await untilRun(h, run.id, (r) => r.context.links.change.length === 1, 'the child');
  const res = await h.call('POST', `/v1/runs/${run.id}/events`, { key: 'operator', body: { type: 'CHANGE_CLOSED', childRunId: 'someone-else', closeCode: 'successful' } });
  assert.is(res.status, 409);
  const child = await getRun(h, (await getRun(h, run.id)).context.links.change[0]);
  assert.is(child.context.changeType, 'normal', 'REQUEST_CHANGE changeType is passed on');
  assert.is(child.businessKey, `change:${run.id}:1`, 'an incident started without a business key lends its run id');
});

test.run();
