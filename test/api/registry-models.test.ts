// The process models read the registry, through HTTP: an incident and a change started with only a
// title, a service or CI and a requester (through the API and through a webhook) get their approvers,
// windows, paging, SLA targets and risk from it; later registry changes leave running runs alone; the
// events that re-read it (UPDATE_PRIORITY, RESCHEDULE) do; delivery and planning get owners and release
// managers; enrich_context and detect_conflicts see the other runs.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, type Harness } from './harness.ts';
import { SECRETS, clone, fixture, postHook } from './hooks-util.ts';
import { waitFor } from '../helpers.ts';
import { history, paths, waitState } from '../workflows/change-helpers.ts';

const test = suite<{ h: Harness }>('registry models', {} as { h: Harness });
const HOUR = 3_600_000;
const now = Date.now();
const iso = (t: number) => new Date(t).toISOString();
const around = [{ start: iso(now - HOUR), end: iso(now + 100 * HOUR), name: 'open' }];
const freeze = { start: iso(now + 200 * HOUR), end: iso(now + 210 * HOUR), name: 'quarter end' };

const checkout = {
  name: 'checkout', title: 'Online checkout', criticality: 1, ownerGroup: 'commerce', supportGroup: 'checkout-sre',
  approvers: { technical: ['tomas'], changeManager: ['carla'], cab: ['bea', 'dmitri', 'femi'], ecab: ['ed'], serviceOwner: ['olga'], incidentManager: ['ian'], releaseManager: ['rhea'] },
  oncall: { policy: 'PD-CHECKOUT', levels: [{ target: 'checkout-primary', escalationTimeoutMs: 600_000 }, 'checkout-secondary'], loops: 2 },
  slaTargetsMs: { 1: { responseMs: 300_000, resolutionMs: 7_200_000 }, 2: { responseMs: 900_000, resolutionMs: 10_800_000 } },
  windows: { blackout: [freeze] },
};
const lines = [
  { kind: 'service', ...checkout },
  { kind: 'service', name: 'intranet', title: 'Intranet', criticality: 4, supportGroup: 'service-desk', approvers: { serviceOwner: ['hugo'] } },
  { kind: 'ci', id: 'db-orders', type: 'database', title: 'Orders DB', services: ['checkout'], environment: 'production', windows: { maintenance: around } },
  { kind: 'ci', id: 'checkout-app', type: 'application', title: 'Checkout app', services: ['checkout'], environment: 'production', dependsOn: ['db-orders'], windows: { maintenance: around } },
  { kind: 'ci', id: 'web-01', type: 'server', title: 'Web 1', services: ['checkout'], environment: 'production', dependsOn: ['checkout-app'], windows: { maintenance: around } },
  { kind: 'ci', id: 'intranet-app', type: 'application', title: 'Intranet app', services: ['intranet'], environment: 'staging' },
];

test.before(async (ctx) => {
  ctx.h = await startHarness({ hooks: { secrets: { alertmanager: SECRETS.alertmanager, servicenow: SECRETS.servicenow } } });
  const res = await ctx.h.call('POST', '/v1/registry/import', { raw: lines.map((l) => JSON.stringify(l)).join('\n'), headers: { 'content-type': 'application/x-ndjson' } });
  assert.is(res.status, 200, JSON.stringify(res.body));
});
test.after(async (ctx) => {
  await ctx.h.close();
});

async function start(h: Harness, workflow: string, input: Record<string, unknown>, businessKey?: string): Promise<any> {
  const res = await h.call('POST', '/v1/runs', { key: 'operator', body: { workflow, input, ...(businessKey ? { businessKey } : {}) } });
  assert.is(res.status, 201, JSON.stringify(res.body));
  return res.body;
}
const getRun = async (h: Harness, id: string) => (await h.call('GET', `/v1/runs/${id}`, { key: 'viewer' })).body;
const send = (h: Harness, id: string, event: Record<string, unknown>) => h.call('POST', `/v1/runs/${id}/events`, { key: 'operator', body: event });

function assertIncidentFromRegistry(run: any): void {
  const c = run.context;
  assert.is(c.service, 'checkout');
  assert.is(c.assignmentGroup, 'checkout-sre');
  assert.is(c.assignedBy, 'registry');
  assert.is(c.oncall, 'PD-CHECKOUT');
  assert.equal(c.config.pagingPolicy.levels, [{ target: 'checkout-primary', escalationTimeoutMs: 600_000 }, 'checkout-secondary'].map((l) => (typeof l === 'string' ? { target: l } : l)));
  assert.is(c.config.pagingPolicy.loops, 2);
  assert.equal(c.config.slaTargetsMs['1'], { responseMs: 300_000, resolutionMs: 7_200_000 });
  assert.equal(c.config.slaTargetsMs['2'], { responseMs: 900_000, resolutionMs: 10_800_000 });
  assert.equal(c.config.slaTargetsMs['3'], { responseMs: 4 * HOUR, resolutionMs: 24 * HOUR }, 'priorities the service does not set keep the defaults');
  assert.equal(c.approvers.incidentManager, ['ian']);
  assert.is(c.impact, 1, 'criticality 1 stands in for the missing impact');
  assert.is(c.registry.services[0], 'checkout');
  for (const f of ['assignmentGroup', 'oncall', 'config.pagingPolicy', 'config.slaTargetsMs', 'impact', 'approvers.incidentManager']) assert.ok(c.registry.fields.includes(f), f);
}

test('an incident with only a title, a service and a caller is routed, prioritised, paged and timed from the registry; later registry changes leave it alone', async ({ h }) => {
  const run = await start(h, 'incident', { title: 'Checkout is slow', service: 'checkout', caller: 'cal' });
  assertIncidentFromRegistry(run);
  assert.is(run.context.priority, 2, 'impact 1 × default urgency 2');
  assert.is(run.context.sla.response.dueAt - run.context.openedAt, 900_000, 'the P2 response target of the service');
  const hist = await waitFor(async () => {
    const items = await history(h, run.id);
    return items.some((e) => e.type === 'task.scheduled' && e.task === 'page_oncall') ? items : null;
  }, 10_000, 'the first page');
  const read = hist.find((e) => e.type === 'registry.read');
  assert.ok(read, 'the source of the copied fields is named in history');
  assert.equal(read.services, ['checkout']);
  assert.is(read.snapshot.services.checkout.supportGroup, 'checkout-sre');
  const page = hist.find((e) => e.type === 'task.scheduled' && e.task === 'page_oncall');
  assert.is(page.input.escalationPolicy, 'PD-CHECKOUT');
  assert.is(page.input.target, 'checkout-primary');

  // The registry changes: the running incident keeps what it copied.
  const changed = { ...checkout, supportGroup: 'new-team', oncall: { policy: 'PD-NEW', levels: ['new-primary'] }, slaTargetsMs: { 1: { responseMs: 60_000, resolutionMs: 3_600_000 } } };
  assert.is((await h.call('PUT', '/v1/services/checkout', { body: changed })).status, 200);
  const later = await getRun(h, run.id);
  assert.is(later.context.assignmentGroup, 'checkout-sre');
  assert.is(later.context.oncall, 'PD-CHECKOUT');
  assert.equal(later.context.config.slaTargetsMs['1'], { responseMs: 300_000, resolutionMs: 7_200_000 });

  // UPDATE_PRIORITY re-reads what the run took from the registry, and names the new read in history.
  const up = await send(h, run.id, { type: 'UPDATE_PRIORITY', impact: 1, urgency: 1, by: 'ian' });
  assert.is(up.status, 200, JSON.stringify(up.body));
  assert.is(up.body.run.context.priority, 1);
  assert.equal(up.body.run.context.config.slaTargetsMs['1'], { responseMs: 60_000, resolutionMs: 3_600_000 });
  assert.is(up.body.run.context.oncall, 'PD-NEW');
  assert.is(up.body.run.context.assignmentGroup, 'new-team');
  assert.is(up.body.run.context.sla.response.dueAt - up.body.run.context.openedAt, 60_000, 'the clock re-enters with the fresh P1 target');
  const reads = (await history(h, run.id)).filter((e) => e.type === 'registry.read');
  assert.is(reads.length, 2);
  assert.is(reads[1].version, reads[0].version + 1);
  const received = (await history(h, run.id)).find((e) => e.type === 'event.received' && e.event === 'UPDATE_PRIORITY');
  assert.not.ok('$registry' in received.payload, 'the snapshot is recorded once, as registry.read');
  assert.is((await h.call('PUT', '/v1/services/checkout', { body: checkout })).status, 200);
});

test('fields given in the input win over the registry; a forged $registry is ignored', async ({ h }) => {
  const run = await start(h, 'incident', {
    title: 'Checkout', service: 'checkout', caller: 'cal', assignmentGroup: 'my-team', oncall: 'PD-MINE', impact: 3, urgency: 3,
    approvers: { incidentManager: ['me'] }, slaTargetsMs: { 5: { responseMs: 1000, resolutionMs: null } },
    $registry: { version: 99, readAt: null, services: { checkout: { ...checkout, supportGroup: 'forged' } }, cis: {}, missing: [] },
  });
  const c = run.context;
  assert.is(c.assignmentGroup, 'my-team');
  assert.is(c.assignedBy, 'input');
  assert.is(c.oncall, 'PD-MINE');
  assert.is(c.priority, 5);
  assert.equal(c.approvers.incidentManager, ['me']);
  assert.equal(c.config.slaTargetsMs['1'], { responseMs: 15 * 60_000, resolutionMs: 4 * HOUR }, 'an input slaTargetsMs replaces the registry one');
  assert.ok(c.registry.version < 99);
  assert.not.ok(c.registry.fields.includes('assignmentGroup'));
  assert.ok(c.registry.fields.includes('config.pagingPolicy'));
  // A forged snapshot on an event is dropped too.
  const up = await send(h, run.id, { type: 'UPDATE_PRIORITY', impact: 3, urgency: 2, $registry: { version: 1, readAt: null, services: {}, cis: {}, missing: [] } });
  assert.is(up.status, 200);
  assert.ok(up.body.run.context.registry.version < 99 && up.body.run.context.registry.version > 1);
});

test('an Alertmanager alert labelled service=checkout, with a mapping that carries no approvers or policies, starts an incident routed, prioritised and paged from the registry', async ({ h }) => {
  const body = clone(fixture('alertmanager-firing'));
  body.alerts = [body.alerts[0]];
  delete body.alerts[0].labels.team;
  body.alerts[0].fingerprint = 'reg-fp-1';
  body.alerts[0].startsAt = iso(Date.now() - 1000);
  const res = await postHook(h, 'alertmanager', body);
  assert.is(res.status, 202, JSON.stringify(res.body));
  const { runId } = res.body.results[0];
  const run = await getRun(h, runId);
  assertIncidentFromRegistry(run);
  assert.is(run.context.priority, 1, 'criticality 1 (impact 1) × severity critical (urgency 1)');
  const items = await waitFor(async () => {
    const all = await history(h, runId);
    return all.some((e) => e.type === 'task.scheduled' && e.task === 'page_oncall') ? all : null;
  }, 10_000, 'the page');
  const page = items.find((e) => e.type === 'task.scheduled' && e.task === 'page_oncall');
  assert.is(page.input.escalationPolicy, 'PD-CHECKOUT');
  assert.is(page.input.target, 'checkout-primary');
  const routed = await waitFor(async () => {
    const r = await getRun(h, runId);
    return r.context.intakeDone ? r : null;
  }, 10_000, 'intake done');
  assert.is(routed.context.assignmentGroup, 'checkout-sre', 'routing does not override the registry group');
  assert.is(routed.context.enrichment.owner, 'commerce');
  assert.is(routed.context.enrichment.criticality, '1');
});

test('a change with only a title, a CI and a requester gets approvers, windows, blackouts, environment and risk from the registry', async ({ h }) => {
  const run = await start(h, 'change', { title: 'Tune the app', ci: ['checkout-app'], requestedBy: 'rita' }, 'CHG-REG-1');
  const c = run.context;
  assert.equal(c.services, ['checkout']);
  assert.equal(c.approvers.cab, ['bea', 'dmitri', 'femi']);
  assert.equal(c.approvers.changeManager, ['carla']);
  assert.equal(c.approvers.serviceOwner, ['olga']);
  assert.equal(c.schedules.maintenance, { 'checkout-app': around });
  assert.equal(c.schedules.blackout, { 'checkout-app': [freeze] });
  assert.equal(c.serviceCriticality, { checkout: 1 });
  assert.is(c.environment, 'production');
  for (const f of ['services', 'approvers.cab', 'schedules.maintenance', 'schedules.blackout', 'serviceCriticality', 'environment']) assert.ok(c.registry.fields.includes(f), f);

  // Another open change on db-orders, which checkout-app depends on, in an overlapping window.
  const start1 = now + 80 * HOUR;
  await start(h, 'change', { title: 'DB patch', ci: ['db-orders'], requestedBy: 'dora', plannedStart: iso(start1 + HOUR / 2), plannedEnd: iso(start1 + 2 * HOUR) }, 'CHG-REG-DB');

  const details = await send(h, run.id, {
    type: 'UPDATE_DETAILS', by: 'rita', implementationPlan: 'tune', backoutPlan: 'revert', testPlan: 'load test', implementer: 'ivan',
    plannedStart: iso(start1), plannedEnd: iso(start1 + HOUR),
  });
  assert.is(details.status, 200, JSON.stringify(details.body));
  assert.is((await send(h, run.id, { type: 'SUBMIT', by: 'rita' })).status, 200);
  const assessed = await waitState(h, run.id, 'assess', 10_000);
  assert.is(assessed.context.risk, 'high');
  assert.is(assessed.context.riskReasons[0], 'service_criticality_1', 'risk rule 10 from the registry');
  const dep = assessed.context.conflicts.find((x: any) => x.kind === 'dependent_ci_overlap');
  assert.ok(dep, JSON.stringify(assessed.context.conflicts));
  assert.is(dep.ci, 'checkout-app');
  assert.is(dep.otherChange, 'CHG-REG-DB');
  assert.not.ok(assessed.context.conflicts.some((x: any) => x.kind === 'outside_maintenance_window'), 'inside the registry window');
  assert.ok(assessed.context.approvalPlan.cab, 'a high-risk normal change goes to the CAB from the registry');

  // The registry changes: the change keeps its copy.
  assert.is((await h.call('PUT', '/v1/cis/checkout-app', { body: { ...lines[3], kind: undefined, windows: {} } })).status, 200);
  const later = await getRun(h, run.id);
  assert.equal(later.context.schedules.maintenance, { 'checkout-app': around });
  const restore = { ...lines[3] } as Record<string, unknown>;
  delete restore.kind;
  assert.is((await h.call('PUT', '/v1/cis/checkout-app', { body: restore })).status, 200);

  // The impact of db-orders names checkout and the open runs touching it.
  const impact = await h.call('GET', '/v1/cis/db-orders/impact', { key: 'viewer' });
  assert.equal(impact.body.services.map((s: any) => s.name), ['checkout']);
  const ids = impact.body.openRuns.map((r: any) => r.id);
  assert.ok(ids.includes(run.id), 'the change on checkout-app (depends on db-orders)');
  const del = await h.call('DELETE', '/v1/cis/web-01');
  assert.is(del.status, 204, 'web-01 has no open run and no dependent');
  assert.is((await h.call('POST', '/v1/registry/import', { raw: JSON.stringify(lines[4]), headers: { 'content-type': 'application/x-ndjson' } })).status, 200);
});

test('DELETE of a service an open run refers to answers 409 naming the run', async ({ h }) => {
  assert.is((await h.call('DELETE', '/v1/cis/intranet-app')).status, 204);
  const run = await start(h, 'incident', { title: 'Intranet down', service: 'intranet', caller: 'cal' });
  const res = await h.call('DELETE', '/v1/services/intranet');
  assert.is(res.status, 409);
  assert.equal(res.body.error.details[0].referencedBy, [`run:${run.id}`]);
  const runs = await h.call('GET', '/v1/services/intranet/runs', { key: 'viewer' });
  assert.equal(runs.body.items.map((r: any) => r.id), [run.id]);
  assert.is((await h.call('POST', `/v1/runs/${run.id}/cancel`, { key: 'operator', body: {} })).status, 200);
  assert.is((await h.call('DELETE', '/v1/services/intranet')).status, 204, 'once the run has ended');
});

test('a ServiceNow change_request naming only the CI gets its approvers and windows from the registry', async ({ h }) => {
  const record = clone(fixture('servicenow-change-flat'));
  record.cmdb_ci = 'db-orders';
  record.number = 'CHG0099001';
  const res = await postHook(h, 'servicenow', record);
  assert.is(res.status, 202, JSON.stringify(res.body));
  const run = await getRun(h, res.body.results[0].runId);
  assert.equal(run.context.ci, ['db-orders']);
  assert.equal(run.context.approvers.cab, ['bea', 'dmitri', 'femi']);
  assert.equal(run.context.schedules.maintenance, { 'db-orders': around });
  assert.equal(run.context.serviceCriticality, { checkout: 1 });
  // Submitted, it is assessed high risk by rule 10 from the registry, and goes to the service's ECAB.
  assert.is((await send(h, run.id, { type: 'SUBMIT', by: 'sn-user' })).status, 200);
  const authorizing = await waitState(h, run.id, 'authorize', 10_000);
  assert.is(authorizing.context.risk, 'high');
  assert.is(authorizing.context.riskReasons[0], 'service_criticality_1');
  assert.ok(authorizing.context.approvalPlan.ecab, JSON.stringify(authorizing.context.approvalPlan));
  assert.equal(authorizing.context.approvers.ecab, ['ed']);
  await h.call('POST', `/v1/runs/${run.id}/cancel`, { key: 'operator', body: {} });
});

test('enrich_context reports the change implemented on the CI in the last 24 h, from the change run itself', async ({ h }) => {
  const t = Date.now();
  const change = await start(h, 'change', {
    changeType: 'standard', templateId: 'restart', title: 'Restart web-01', ci: ['web-01'], requestedBy: 'rita', implementer: 'ivan', autoSubmit: true,
    templates: { restart: { active: true, implementationPlan: 'restart', backoutPlan: 'none needed', testPlan: 'curl' } },
    plannedStart: iso(t + 1000), plannedEnd: iso(t + HOUR),
  }, 'CHG-WEB-1');
  assert.ok(change.context.schedules.maintenance['web-01'], 'the window comes from the registry');
  await waitState(h, change.id, 'implement', 15_000);
  const inc = await start(h, 'incident', { title: 'web-01 errors', ci: 'web-01', caller: 'cal' });
  assert.is(inc.context.service, 'checkout', 'the CI names its service');
  const enriched = await waitFor(async () => {
    const r = await getRun(h, inc.id);
    return r.context.enrichment ? r : null;
  }, 10_000, 'enrichment');
  assert.equal(enriched.context.enrichment.recentChanges.map((x: any) => x.ref), [change.id]);
  assert.is(enriched.context.links.suggestedCausedByChange, change.id);
  assert.ok(paths(enriched.state).length > 0);
});

test('RESCHEDULE reads the windows again: a standard change moves into a window the registry gained after it started', async ({ h }) => {
  const ci = { id: 'cache-x', type: 'cache', title: 'Cache X', services: ['checkout'], environment: 'production', windows: { maintenance: around } };
  assert.is((await h.call('PUT', '/v1/cis/cache-x', { body: ci })).status, 201);
  const t = Date.now();
  const run = await start(h, 'change', {
    changeType: 'standard', templateId: 'flush', title: 'Flush cache-x', ci: ['cache-x'], requestedBy: 'rita', implementer: 'ivan', autoSubmit: true,
    templates: { flush: { active: true, implementationPlan: 'flush', backoutPlan: 'warm up', testPlan: 'hit rate' } },
    plannedStart: iso(t + 50 * HOUR), plannedEnd: iso(t + 51 * HOUR),
  }, 'CHG-RESCHED-1');
  await waitState(h, run.id, 'scheduled', 10_000);
  const later = { start: iso(now + 110 * HOUR), end: iso(now + 120 * HOUR), name: 'later' };
  const outside = { type: 'RESCHEDULE', plannedStart: iso(now + 111 * HOUR), plannedEnd: iso(now + 112 * HOUR), by: 'rita' };
  // With the windows it started with, the new dates are outside any window: refused.
  assert.is((await send(h, run.id, outside)).status, 409);
  // The registry gains the later window: the same RESCHEDULE is now checked against it, and taken.
  assert.is((await h.call('PUT', '/v1/cis/cache-x', { body: { ...ci, windows: { maintenance: [...around, later] } } })).status, 200);
  const res = await send(h, run.id, outside);
  assert.is(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.run.context.schedules.maintenance['cache-x'], [...around, later]);
  assert.is(res.body.run.context.plannedStart, outside.plannedStart);
  const reads = (await history(h, run.id)).filter((e) => e.type === 'registry.read');
  assert.ok(reads.length >= 2, 'the re-read is named in history');
  await h.call('POST', `/v1/runs/${run.id}/cancel`, { key: 'operator', body: {} });
});

test('delivery and planning take service owners and release managers from their services', async ({ h }) => {
  const delivery = await start(h, 'delivery', {
    release: { id: 'REL-REG-1', version: '1.2.3', service: 'checkout', artifacts: [], commits: [] }, environments: ['production'], changePolicy: 'none',
    requestedBy: 'dev', approvers: { releaseManager: ['given-rm'] },
  });
  assert.equal(delivery.context.approvers.serviceOwner, ['olga']);
  assert.equal(delivery.context.approvers.releaseManager, ['given-rm'], 'the input group wins');
  assert.equal(delivery.context.registry.fields, ['approvers.serviceOwner']);
  assert.not.ok(delivery.context.approvers.cab, 'only owners and release managers');
  const planning = await start(h, 'planning', { demand: { title: 'Faster checkout', services: ['checkout'], requestedBy: 'pm' } });
  assert.equal(planning.context.approvers.serviceOwner, ['olga']);
  assert.equal(planning.context.approvers.releaseManager, ['rhea']);
  await h.call('POST', `/v1/runs/${delivery.id}/cancel`, { key: 'operator', body: {} });
  await h.call('POST', `/v1/runs/${planning.id}/cancel`, { key: 'operator', body: {} });
});

test.run();
