// The incident → delivery link (docs/models/incident.md §1.9): an incident opened on a service tells that service's
// deliveries in bake or early life support, through the real incident and delivery models. The change
// side of each delivery is a recorder run (delivery-helpers.ts).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, type Harness } from '../api/harness.ts';
import {
  children, completeTask, getRun, history as deliveryHistory, iso, measures, openTask, recorderWorkflow, sendOk, startRun,
  waitForChild, waitForState, waitForStatus,
} from './delivery-helpers.ts';
import { completed, history, startIncident, untilHistory } from './incident-helpers.ts';

const test = suite<{ h: Harness }>('incident links', {} as { h: Harness });

test.before(async (ctx) => {
  ctx.h = await startHarness({ workflows: [recorderWorkflow('change')] });
});
test.after(async (ctx) => {
  await ctx.h.close();
});

const INTERVAL = 150;
const DIGEST = `sha256:${'a'.repeat(64)}`;

/** A release of `service` with a fast canary; bake and ELS wait `holdMs`, so a test can act while they last. */
function releaseInput(service: string, holdMs: { bakeDelay?: number; elsDelay?: number } = {}): Record<string, unknown> {
  return {
    release: {
      id: `REL-${Math.random().toString(36).slice(2, 8)}`, version: '2.4.0', service,
      artifacts: [{ name: `${service}-image`, digest: DIGEST }],
      commits: [{ sha: 'c0ffee1', committedAt: iso(Date.now() - 3_600_000) }],
    },
    environments: ['production'],
    strategy: 'canary',
    changePolicy: 'auto-standard',
    requestedBy: 'dev-dana',
    previousVersion: '2.3.9',
    approvers: { releaseManager: ['rita'], serviceOwner: ['sam'] },
    delaysMs: { canaryIntervalDelay: INTERVAL, bakeDelay: INTERVAL, elsDelay: INTERVAL, stepProgressDeadlineDelay: 5000, rollbackDeadlineDelay: 5000, ...holdMs },
  };
}

/** Start a delivery and take it through GO and the change gate into production. */
async function toProduction(h: Harness, input: Record<string, unknown>): Promise<string> {
  const run = await startRun(h, 'delivery', input);
  const task = await openTask(h, run.id, 'readiness');
  assert.is((await completeTask(h, task.id, 'GO', 'rita')).status, 200);
  const [change] = await waitForChild(h, run.id, 'change');
  await waitForState(h, run.id, 'changeGate.awaitingAuthorization');
  await sendOk(h, run.id, { type: 'CHANGE_AUTHORIZED', childRunId: change.id, plannedStart: iso(Date.now()), plannedEnd: iso(Date.now() + 3_600_000) });
  await sendOk(h, run.id, { type: 'CHANGE_IMPLEMENT_STARTED', childRunId: change.id });
  return run.id;
}

const incidentOpened = (entries: any[]) => entries.filter((e) => e.type === 'event.received' && e.event === 'INCIDENT_OPENED');

/** The incident's record of the link, once its notify_deliveries task has answered. */
async function notifiedBy(h: Harness, incidentRunId: string): Promise<string[]> {
  const items = await untilHistory(h, incidentRunId, (i) => i.some((e) => e.type === 'incident.deliveries_notified'), 'notify_deliveries answered');
  return items.find((e) => e.type === 'incident.deliveries_notified').runIds;
}

test('a P2 incident on a service whose delivery is in bake sends it INCIDENT_OPENED; the delivery rolls back and raises no second incident', async ({ h }) => {
  const deliveryId = await toProduction(h, releaseInput('checkout', { bakeDelay: 60_000 }));
  await waitForState(h, deliveryId, 'bake.watching', 15_000);

  const incident = await startIncident(h, { title: 'Checkout errors after release', priority: 2, service: 'checkout', caller: 'carl' });
  assert.is(incident.context.runId, incident.id, 'the incident keeps its own run id');
  assert.equal(await notifiedBy(h, incident.id), [deliveryId]);

  const done = await waitForStatus(h, deliveryId, 'done', 10_000);
  assert.is(done.output.outcome, 'rolled_back');
  assert.is(done.output.reason, 'incident');
  const received = incidentOpened(await deliveryHistory(h, deliveryId));
  assert.is(received.length, 1, 'told once');
  assert.is(received[0].actor, 'task:notify_deliveries');
  assert.equal(received[0].payload, { incidentRunId: incident.id, priority: 2, service: 'checkout' });
  assert.equal(done.context.incidents.map((i: any) => [i.incidentRunId, i.priority, i.phase]), [[incident.id, 2, 'bake']]);
  assert.is(measures(await deliveryHistory(h, deliveryId), 'changeFailRate')[0].value, 1);
  assert.is((await children(h, deliveryId, 'incident')).length, 0, 'the incident that triggered the rollback is the incident');

  const items = await untilHistory(h, incident.id, (i) => completed(i, 'route_assignment').length === 1, 'the intake goes on to routing');
  assert.is(completed(items, 'notify_deliveries').length, 1);
});

test('an incident during early life support is recorded by the delivery, which carries on', async ({ h }) => {
  const deliveryId = await toProduction(h, releaseInput('basket', { elsDelay: 60_000 }));
  await waitForState(h, deliveryId, 'earlyLifeSupport.watching', 15_000);

  const incident = await startIncident(h, { title: 'Basket icon misaligned', priority: 4, service: 'basket' });
  assert.equal(await notifiedBy(h, incident.id), [deliveryId]);
  const run = await getRun(h, deliveryId);
  assert.is(run.context.elsIncidents, 1);
  assert.is(run.status, 'running');
  assert.is(incidentOpened(await deliveryHistory(h, deliveryId))[0].actor, 'task:notify_deliveries');
});

test('an incident on another service, or on a service whose delivery is not in bake or ELS, tells no delivery', async ({ h }) => {
  const baking = await toProduction(h, releaseInput('payments', { bakeDelay: 60_000 }));
  await waitForState(h, baking, 'bake.watching', 15_000);
  const early = await startRun(h, 'delivery', releaseInput('search'));
  await waitForState(h, early.id, 'readiness');

  const elsewhere = await startIncident(h, { title: 'Search is slow', priority: 2, service: 'search' });
  assert.equal(await notifiedBy(h, elsewhere.id), [], 'the search delivery is at readiness, the baking one is for payments');

  assert.is(incidentOpened(await deliveryHistory(h, baking)).length, 0);
  assert.is(incidentOpened(await deliveryHistory(h, early.id)).length, 0);
  const still = await getRun(h, baking);
  assert.is(still.status, 'running');
  assert.is(still.context.incidents.length, 0);
});

test('an incident a delivery raised about itself (links.causedByDelivery) and one with no service are not linked back', async ({ h }) => {
  const deliveryId = await toProduction(h, releaseInput('ledger', { bakeDelay: 60_000 }));
  await waitForState(h, deliveryId, 'bake.watching', 15_000);

  const raised = await startIncident(h, { title: 'Rollback of ledger', priority: 2, service: 'ledger', links: { causedByDelivery: deliveryId } });
  const serviceless = await startIncident(h, { title: 'Something broke', priority: 2 });
  for (const id of [raised.id, serviceless.id]) {
    const items = await untilHistory(h, id, (i) => completed(i, 'route_assignment').length === 1, 'intake routed');
    assert.is(items.filter((e) => e.type === 'task.scheduled' && e.task === 'notify_deliveries').length, 0);
  }
  const run = await getRun(h, deliveryId);
  assert.is(run.status, 'running');
  assert.is(run.context.incidents.length, 0);
  assert.is(incidentOpened(await deliveryHistory(h, deliveryId)).length, 0);
});

test.run();
