// The change model's links (docs/models/change.md §2.9, §5) through HTTP: the emergency child of a P1 incident,
// the events a parent run hears, and same-CI overlap found among the running changes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { assign, setup } from 'xstate';
import { startHarness, type Harness } from '../api/harness.ts';
import { defineWorkflow, taskActors } from '../../engine/index.ts';
import { detectConflictsTask } from '../../workers/tasks/change-tasks.ts';
import { waitFor } from '../helpers.ts';
import {
  HOUR, approvers, complete, getRun, history, iso, maintenanceAround, normalChange, sendOk, startChange, waitState, waitTask,
} from './change-helpers.ts';

/** A parent that starts one change from its input and logs every event the change sends it. */
const probe = defineWorkflow({
  name: 'change-parent-probe',
  version: 1,
  description: 'test parent of a change',
  machine: setup({
    types: {} as { context: { change: Record<string, unknown>; heard: string[]; childRunId: string | null } },
    actors: taskActors('start_run'),
  }).createMachine({
    id: 'probe',
    context: ({ input }: { input: any }) => ({ change: input.change, heard: [], childRunId: null }),
    initial: 'starting',
    states: {
      starting: {
        invoke: {
          id: 'start', src: 'start_run', input: ({ context }: any) => ({ workflow: 'change', input: context.change }),
          onDone: { target: 'listening', actions: assign({ childRunId: ({ event }: any) => event.output.runId }) },
        },
      },
      listening: {
        on: Object.fromEntries(['CHANGE_AUTHORIZED', 'CHANGE_REJECTED', 'CHANGE_DEAUTHORIZED', 'CHANGE_IMPLEMENT_STARTED', 'CHANGE_CLOSED', 'CHANGE_CANCELED'].map((t) => [
          t, { actions: assign({ heard: ({ context, event }: any) => [...context.heard, `${t}:${event.closeCode ?? event.reason ?? ''}:${event.childRunId === context.childRunId}`] }) },
        ])),
      },
    },
  }),
});

interface Ctx {
  h: Harness;
  overlap: Harness;
}
const test = suite<Ctx>('change links', {} as Ctx);

test.before(async (ctx) => {
  ctx.h = await startHarness({ workflows: [probe] });
  // detect_conflicts looks up the running changes of its own engine, as an installation wires it.
  let engine: Harness['engine'] | null = null;
  ctx.overlap = await startHarness({
    tasks: [detectConflictsTask({
      lookupChanges: async () => {
        const page = await engine!.listRuns({ workflow: 'change', status: 'running', limit: 500 });
        return page.items
          .map((r) => ({ r, c: r.context as any }))
          .filter(({ c }) => c.plannedStart && c.plannedEnd)
          .map(({ r, c }) => ({ ref: r.businessKey ?? r.id, runId: r.id, ci: c.ci, plannedStart: c.plannedStart, plannedEnd: c.plannedEnd, implementer: c.implementer }));
      },
    })],
  });
  engine = ctx.overlap.engine;
});
test.after(async (ctx) => {
  await ctx.h.close();
  await ctx.overlap.close();
});

test('emergency change from a P1 incident: authorize with only ECAB, implement at once, PIR, closed; the incident hears CHANGE_CLOSED', async ({ h }) => {
  const inc = await h.call('POST', '/v1/runs', {
    key: 'operator',
    body: { workflow: 'incident', businessKey: 'INC-77', input: { title: 'billing down', impact: 1, urgency: 1, service: 'billing', ci: 'db-01', caller: 'cal', approvers: { ...approvers, incidentManager: ['ina'] } } },
  });
  assert.is(inc.status, 201, JSON.stringify(inc.body));
  await sendOk(h, inc.body.id, { type: 'ACKNOWLEDGE', by: 'rick' });
  await sendOk(h, inc.body.id, { type: 'REQUEST_CHANGE', summary: 'fail over the database', by: 'rick' });
  const child = await waitFor(async () => {
    const page = (await h.call('GET', `/v1/runs?workflow=change&parentRunId=${inc.body.id}`, { key: 'viewer' })).body;
    return page.items[0] ?? null;
  }, 8000, 'the child change');
  const authorizing = await waitState(h, child.id, 'authorize');
  assert.is(authorizing.parentRunId, inc.body.id);
  assert.is(authorizing.context.changeType, 'emergency');
  assert.is(authorizing.context.requestedBy, 'rick');
  assert.equal(Object.keys(authorizing.context.approvalPlan), ['ecab']);
  const ecab = await waitTask(h, child.id, 'ecab');
  assert.is((await complete(h, ecab.id, 'APPROVE', 'eve', 'go')).status, 200);
  await waitState(h, child.id, 'implement.inProgress', 5000);
  await sendOk(h, child.id, { type: 'DEPLOYMENT_RESULT', result: 'successful', rolledBack: false });
  await waitState(h, child.id, 'review.pir');
  await sendOk(h, child.id, { type: 'PIR_ACCEPTED', by: 'carla', comment: 'fine' });
  const closed = await waitState(h, child.id, 'closed');
  assert.is(closed.output.closeCode, 'successful');
  const childHist = await history(h, child.id);
  const entered = childHist.filter((e) => e.type === 'state.entered').map((e) => String(e.state));
  assert.not.ok(entered.some((s) => s.startsWith('assess') || s === 'new.draft'), 'no assess, no draft');
  const parent = await waitFor(async () => {
    const items = await history(h, inc.body.id);
    return items.find((e) => e.type === 'event.received' && e.event === 'CHANGE_CLOSED') ?? null;
  }, 5000, 'CHANGE_CLOSED at the incident');
  assert.is(parent.payload.closeCode, 'successful');
  assert.is(parent.payload.childRunId, child.id);
  const incident = await getRun(h, inc.body.id);
  assert.ok(JSON.stringify(incident.state).includes('inProgress'), JSON.stringify(incident.state));
});

test('a parent hears CHANGE_AUTHORIZED, CHANGE_IMPLEMENT_STARTED and CHANGE_CLOSED, in that order, from its own child', async ({ h }) => {
  const now = Date.now();
  const change = {
    changeType: 'standard', templateId: 'deploy', requestedBy: 'pipeline', ci: ['svc-9'], approvers, links: { delivery: 'pipeline-run' },
    templates: { deploy: { active: true, implementationPlan: 'pipeline', backoutPlan: 'rollback', testPlan: 'canary' } },
    plannedStart: iso(now + 300), plannedEnd: iso(now + HOUR), schedules: { maintenance: maintenanceAround(['svc-9'], now) },
  };
  const parent = (await h.call('POST', '/v1/runs', { key: 'operator', body: { workflow: 'change-parent-probe', input: { change } } })).body;
  const child = await waitFor(async () => (await getRun(h, parent.id)).context.childRunId, 5000, 'the child');
  await waitState(h, child, 'implement.inProgress.delivering', 8000);
  await sendOk(h, child, { type: 'DEPLOYMENT_RESULT', result: 'completed_with_issues', rolledBack: false });
  await waitState(h, child, 'review.pir');
  await sendOk(h, child, { type: 'PIR_ACCEPTED', by: 'carla' });
  await waitState(h, child, 'closed');
  const heard = await waitFor(async () => {
    const p = await getRun(h, parent.id);
    return p.context.heard.length >= 3 ? p.context.heard : null;
  }, 5000, 'three events at the parent');
  assert.equal(heard, ['CHANGE_AUTHORIZED::true', 'CHANGE_IMPLEMENT_STARTED::true', 'CHANGE_CLOSED:successful_issues:true']);
});

test('a parent hears CHANGE_REJECTED when its change is rejected and goes back to New', async ({ h }) => {
  const change = normalChange({ leadTimeMs: 0, links: { delivery: 'pipeline-run' }, approvalPolicy: { cab: { waitFor: 'first_response' } } }, 4 * HOUR);
  const parent = (await h.call('POST', '/v1/runs', { key: 'operator', body: { workflow: 'change-parent-probe', input: { change } } })).body;
  const child = await waitFor(async () => (await getRun(h, parent.id)).context.childRunId, 5000, 'the child');
  await waitState(h, child, 'assess');
  await sendOk(h, child, { type: 'APPROVE_TECHNICAL', by: 'tom' });
  await waitState(h, child, 'authorize');
  await sendOk(h, child, { type: 'REJECT_CAB', by: 'bob', comment: 'bad timing' });
  await waitState(h, child, 'new.draft');
  const heard = await waitFor(async () => {
    const p = await getRun(h, parent.id);
    return p.context.heard.length >= 1 ? p.context.heard : null;
  }, 5000, 'CHANGE_REJECTED at the parent');
  assert.equal(heard, ['CHANGE_REJECTED::true']);
});

test('overlap on the same CI: the second change carries a conflict naming the first, its CM task shows it, and approval still decides', async ({ overlap: h }) => {
  const start = Date.now() + 4 * HOUR;
  const window = { leadTimeMs: 0, impact: 3, plannedStart: iso(start), plannedEnd: iso(start + HOUR) };
  const first = await startChange(h, normalChange(window), 'CHG-A');
  await sendOk(h, first.id, { type: 'SUBMIT', by: 'rita' });
  const a = await waitState(h, first.id, 'assess');
  assert.equal(a.context.conflicts, [], 'the first change has the CI to itself');
  const second = await startChange(h, normalChange({ ...window, plannedStart: iso(start + HOUR / 2), plannedEnd: iso(start + 2 * HOUR) }), 'CHG-B');
  await sendOk(h, second.id, { type: 'SUBMIT', by: 'rita' });
  const b = await waitState(h, second.id, 'assess');
  assert.ok(b.context.conflicts.some((c: any) => c.kind === 'ci_overlap' && c.ci === 'db-01' && c.otherChange === 'CHG-A'), JSON.stringify(b.context.conflicts));
  assert.ok(b.context.conflicts.some((c: any) => c.kind === 'assignee_double_booked'), 'the same implementer is double-booked');
  assert.is(b.context.risk, 'low', 'an overlap alone does not raise the risk');
  await sendOk(h, second.id, { type: 'APPROVE_TECHNICAL', by: 'tom' });
  const cm = await waitTask(h, second.id, 'change_manager');
  assert.ok(cm.title.includes('ci_overlap db-01 (CHG-A)'), cm.title);
  assert.is((await complete(h, cm.id, 'APPROVE', 'carla', 'sequenced after CHG-A')).status, 200);
  await waitState(h, second.id, 'scheduled');
});

test.run();
