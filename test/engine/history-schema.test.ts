// The schemas the engine's RunView and history types are derived from (and the API documents) hold for what
// the engine really writes: runs driven through events, timers, tasks (completed, retried, failed) and a
// cancellation, read back through the engine's API, validate against them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { emit, log, sendTo, setup } from 'xstate';
import { defineWorkflow, engineHistorySchemas, historyEntrySchema, runRef, runViewSchema, type HistoryEntry } from '../../engine/index.ts';
import { builtInTasks } from '../../workers/tasks/index.ts';
import { closeEngine, openEngine, type EngineFixture } from './engine-fixture.ts';
import { waitFor } from '../helpers.ts';
import { testTasks, testWorkflows } from '../fixtures/workflows.ts';

type Ctx = EngineFixture;
const test = suite<Ctx>('history and run schemas', {} as Ctx);

const ajv = new Ajv({ strict: true, allErrors: true, allowUnionTypes: true });
addFormats.default(ajv);
const byType = new Map(Object.entries(engineHistorySchemas).map(([type, schema]) => [type, ajv.compile(schema)]));
const anyEntry = ajv.compile(historyEntrySchema);
const runView = ajv.compile(runViewSchema);

/** Emits (its own entry and a plain event), logs, sends to other runs, and asks a person twice. */
const chatty = defineWorkflow({
  name: 'chatty', version: 1, description: 'emits, logs, sends and asks',
  machine: setup({ types: {} as { context: { other: string; gone: string }; input: { other: string; gone: string }; emitted: { type: string; n?: number } } }).createMachine({
    id: 'chatty',
    context: ({ input }) => ({ other: input.other, gone: input.gone }),
    initial: 'ask',
    states: {
      ask: {
        entry: [emit({ type: 'chatty.asked', n: 1 }), emit({ type: 'PLAIN' }), log('asking'), sendTo(({ context }) => runRef(context.other), { type: 'INC' })],
        meta: { humanTask: { role: 'reviewer', title: 'Review it', outcomes: { OK: 'APPROVE' } } },
        on: { APPROVE: 'again' },
      },
      again: { meta: { humanTask: { role: 'reviewer', title: 'Again', outcomes: { OK: 'APPROVE' } } }, on: { SKIP: 'done' } },
      done: { type: 'final', entry: sendTo(({ context }) => runRef(context.gone), { type: 'INC' }) },
    },
  }),
});

/** Check each entry: against the API's schema, and an engine entry against its own type's (closed) schema. */
function check(history: HistoryEntry[], runId: string, seen: Set<string>): void {
  for (const entry of history) {
    const { seq, ...draft } = entry;
    assert.ok(anyEntry(entry), `${entry.type} #${seq} of ${runId}: ${ajv.errorsText(anyEntry.errors)}`);
    const own = byType.get(entry.type);
    if (own) assert.ok(own(draft), `${entry.type} #${seq} of ${runId}: ${ajv.errorsText(own.errors)}`);
    seen.add(entry.type);
  }
}

test.before((ctx) => openEngine(ctx, (redis, prefix) => ({ workflows: [...testWorkflows, chatty], tasks: [...builtInTasks, ...testTasks(redis, prefix)] })));

test.after(closeEngine);

async function ended(ctx: Ctx, runId: string) {
  return waitFor(async () => {
    const run = await ctx.engine.getRun(runId);
    return run.status === 'running' ? null : run;
  }, 15_000, `run ${runId} to end`);
}

test('every entry the engine writes, and every run view, matches its schema', async (ctx) => {
  const e = ctx.engine;
  const counted = (await e.startRun({ workflow: 'counter', input: { start: 1 } })).run;
  await e.sendEvent(counted.id, { type: 'INC' });
  await e.sendEvent(counted.id, { type: 'DONE' });
  const expiring = (await e.startRun({ workflow: 'timed', input: { delayMs: 50 } })).run;
  const stopped = (await e.startRun({ workflow: 'timed', input: { delayMs: 60_000 } })).run;
  await e.sendEvent(stopped.id, { type: 'STOP' });
  const echoed = (await e.startRun({ workflow: 'tasky', input: { task: 'echo', payload: { a: 1 } } })).run;
  const flaked = (await e.startRun({ workflow: 'tasky', input: { task: 'flaky', payload: { failTimes: 1 } } })).run;
  const failed = (await e.startRun({ workflow: 'tasky', input: { task: 'fail' } })).run;
  const cancelled = (await e.startRun({ workflow: 'timed', input: { delayMs: 60_000 } })).run;
  await e.cancelRun(cancelled.id, { reason: 'not needed' });
  const runs = [counted, expiring, stopped, echoed, flaked, failed, cancelled];

  const seen = new Set<string>();
  for (const { id } of runs) {
    const run = await ended(ctx, id);
    assert.ok(runView(run), `run ${id} (${run.workflow}): ${ajv.errorsText(runView.errors)}`);
    check((await e.getHistory(id, { limit: 500 })).items, id, seen);
  }
  for (const type of ['run.started', 'state.entered', 'event.received', 'timer.scheduled', 'timer.fired', 'timer.cancelled', 'task.scheduled',
    'task.started', 'task.retrying', 'task.completed', 'task.failed', 'run.done', 'run.cancelled']) {
    assert.ok(seen.has(type), `the runs wrote a ${type} entry`);
  }
});

test('human tasks, emitted and logged entries, and events sent to other runs match their schemas too', async (ctx) => {
  const e = ctx.engine;
  const other = (await e.startRun({ workflow: 'counter', input: { start: 0 } })).run;
  const gone = (await e.startRun({ workflow: 'counter', input: { start: 0 } })).run;
  await e.sendEvent(gone.id, { type: 'DONE' });
  const { run } = await e.startRun({ workflow: 'chatty', input: { other: other.id, gone: gone.id } });
  await e.completeHumanTask(run.humanTasks[0].id, { outcome: 'OK', by: 'ana', comment: 'fine' });
  await e.sendEvent(run.id, { type: 'SKIP' });
  const seen = new Set<string>();
  const history = await waitFor(async () => {
    const items = (await e.getHistory(run.id, { limit: 500 })).items;
    return items.some((h) => h.type === 'event.undelivered') ? items : null;
  }, 15_000, 'the event to the ended run to be refused');
  check(history, run.id, seen);
  assert.ok(runView(await e.getRun(run.id)), ajv.errorsText(runView.errors));
  for (const type of ['human.opened', 'human.completed', 'human.withdrawn', 'workflow.emitted', 'workflow.logged', 'event.sent', 'event.undelivered', 'chatty.asked']) {
    assert.ok(seen.has(type), `the run wrote a ${type} entry`);
  }
});

test.run();
