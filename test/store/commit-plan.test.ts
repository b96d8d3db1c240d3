// The commit plan a step's outcome derives (engine/commit-plan.ts): pure and key-agnostic, so it is
// checked here without Redis; test/store/lua-contract.test.ts checks what the adapter makes of one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { planCommit } from '../../engine/commit-plan.ts';
import type { StepOutcome } from '../../engine/step.ts';
import type { HumanTaskId, RunId, TaskId } from '../../engine/ids.ts';
import type { StoredHumanTask, StoredRun } from '../../engine/types.ts';

const ID = '01JPLAN0000000000000000001' as RunId;

function run(over: Partial<StoredRun> = {}): StoredRun {
  return {
    schemaVersion: 1, id: ID, workflow: 'incident', version: 2, status: 'running', snapshot: null, input: {}, businessKey: 'INC-1',
    parentRunId: '01JPARENT00000000000000001' as RunId, createdAt: 1000, updatedAt: 1000, endedAt: null, output: null, error: null,
    nextEvents: [], tasks: {}, timers: {}, humanTasks: {}, seq: 1, refs: { services: ['mail'], cis: ['db-1'] }, ...over,
  };
}

function outcome(over: Partial<StepOutcome>): StepOutcome {
  return { accepted: true, run: run(), history: [], outbox: [], droppedTasks: [], statusChanged: null, openedHumanTasks: [], closedHumanTasks: [], ...over };
}

const ctx = { expectedSeq: 'new' as const, prevTasks: {}, idempotency: null, kpis: undefined, at: 5000 };

test('a started run is added to every index it belongs to, by name and value, never by key', () => {
  const plan = planCommit(outcome({ statusChanged: { from: null, to: 'running' } }), ctx);
  assert.equal(plan.index, [
    { op: 'add', index: 'all', value: undefined, score: 1000, member: ID },
    { op: 'add', index: 'byWorkflow', value: 'incident', score: 1000, member: ID },
    { op: 'add', index: 'byBusinessKey', value: 'INC-1', score: 1000, member: ID },
    { op: 'add', index: 'byParent', value: '01JPARENT00000000000000001', score: 1000, member: ID },
    { op: 'add', index: 'byService', value: 'mail', score: 1000, member: ID },
    { op: 'add', index: 'byCi', value: 'db-1', score: 1000, member: ID },
    { op: 'add', index: 'byStatus', value: 'running', score: 1000, member: ID },
  ]);
  assert.is(plan.expectedSeq, 'new');
  assert.is(plan.at, 5000);
  assert.not.ok(JSON.stringify(plan.index).includes(':runs'), 'no key names');
});

test('an ended run moves status index and joins the ended index the archive sweeper reads', () => {
  const ended = run({ status: 'done', endedAt: 9000, seq: 4 });
  const plan = planCommit(outcome({ run: ended, statusChanged: { from: 'running', to: 'done' } }), { ...ctx, expectedSeq: 3 });
  assert.equal(plan.index, [
    { op: 'remove', index: 'byStatus', value: 'running', member: ID },
    { op: 'add', index: 'byStatus', value: 'done', score: 1000, member: ID },
    { op: 'add', index: 'endedByWorkflow', value: 'incident', score: 9000, member: ID },
    { op: 'add', index: 'endedWorkflows', value: undefined, score: 0, member: 'incident' },
  ]);
  assert.is(plan.expectedSeq, 3);
});

test('human tasks opened and closed become index operations and documents', () => {
  const h: StoredHumanTask = { id: `${ID}.h1` as HumanTaskId, stateId: 'triage', role: 'agent', title: 'Triage INC-1', outcomes: { ok: 'OK' }, createdAt: 2000, dueAt: 3000 };
  const old: StoredHumanTask = { ...h, id: `${ID}.h0` as HumanTaskId, createdAt: 1500, dueAt: null };
  const plan = planCommit(outcome({
    openedHumanTasks: [h],
    closedHumanTasks: [{ task: old, completion: { id: old.id, outcome: 'ok', by: 'ann', comment: null }, at: 2500 }],
  }), ctx);
  assert.equal(plan.index, [
    { op: 'add', index: 'humanTasksOpen', value: undefined, score: 2000, member: h.id },
    { op: 'remove', index: 'humanTasksOpen', member: old.id },
    { op: 'add', index: 'humanTasksDone', value: undefined, score: 2500, member: old.id },
  ]);
  assert.equal(plan.humanTasks.map((d) => [d.id, d.status, d.dueAt, d.completedAt, d.by]), [
    [h.id, 'open', '1970-01-01T00:00:03.000Z', null, null],
    [old.id, 'done', null, '1970-01-01T00:00:02.500Z', 'ann'],
  ]);
});

test('tasks newly awaited start queued; tasks gone or dropped stop being awaited', () => {
  const task = (id: string) => ({ id: id as TaskId, name: 'noop', invokeId: id, status: 'queued' as const, attempts: 0, scheduledAt: 1, idempotencyKey: id });
  const plan = planCommit(outcome({ run: run({ tasks: { b: task('b'), c: task('c') } }), droppedTasks: ['x'] }), { ...ctx, prevTasks: { a: task('a'), b: task('b') } });
  assert.equal(plan.tasks, { await: [{ taskId: 'c', live: { status: 'queued', attempts: 0 } }], drop: ['x', 'a'] });
});

test('measures recorded go to the outbox as one KPI operation; a cancelled run leaves the figures', () => {
  const measured = planCommit(outcome({
    history: [{ type: 'measure.recorded', at: 'x', actor: 'workflow:incident', measure: 'mttr', value: 7, openedAt: 1000 }],
    outbox: [{ op: 'remove', queue: 'timers', jobId: 'j' }],
  }), { ...ctx, kpis: [{ name: 'mttr', measure: 'mttr', aggregate: 'median', unit: 'ms', title: 'MTTR' } as never] });
  assert.is(measured.outbox.length, 2);
  assert.equal(measured.outbox[0], { op: 'remove', queue: 'timers', jobId: 'j' });
  const kpi = measured.outbox[1] as { op: string; entries: { measure: string; value: number; q: boolean }[] };
  assert.is(kpi.op, 'kpi');
  assert.equal(kpi.entries.map((e) => [e.measure, e.value, e.q]), [['mttr', 7, true]]);

  const cancelled = planCommit(outcome({ run: run({ status: 'cancelled' }), statusChanged: { from: 'running', to: 'cancelled' } }), ctx);
  assert.equal(cancelled.outbox, [{ op: 'kpiDrop', workflow: 'incident', runId: ID }]);
  assert.equal(planCommit(outcome({}), ctx).outbox, [], 'no measures: no KPI operation');
});

test.run();
