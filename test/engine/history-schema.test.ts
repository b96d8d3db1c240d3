// The schemas the engine's RunView and history types are derived from (and the API documents) hold for what
// the engine really writes: runs driven through events, timers, tasks (completed, retried, failed) and a
// cancellation, read back through the engine's API, validate against them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Redis } from 'ioredis';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { createEngine, engineHistorySchemas, historyEntrySchema, runViewSchema, type Engine, type HistoryEntry } from '../../engine/index.ts';
import { startTaskWorker, type TaskWorker } from '../../workers/runtime.ts';
import { builtInTasks } from '../../workers/tasks/index.ts';
import { connect, dropPrefix, newPrefix, waitFor } from '../helpers.ts';
import { testTasks, testWorkflows } from '../fixtures/workflows.ts';

interface Ctx { redis: Redis; engine: Engine; worker: TaskWorker; prefix: string }
const test = suite<Ctx>('history and run schemas', {} as Ctx);

const ajv = new Ajv({ strict: true, allErrors: true, allowUnionTypes: true });
addFormats.default(ajv);
const byType = new Map(Object.entries(engineHistorySchemas).map(([type, schema]) => [type, ajv.compile(schema)]));
const anyEntry = ajv.compile(historyEntrySchema);
const runView = ajv.compile(runViewSchema);

test.before(async (ctx) => {
  ctx.redis = await connect();
  ctx.prefix = newPrefix();
  ctx.engine = createEngine({ redis: ctx.redis, prefix: ctx.prefix, workflows: testWorkflows, tasks: [...builtInTasks, ...testTasks(ctx.redis, ctx.prefix)] });
  ctx.engine.startTimerConsumer();
  ctx.worker = await startTaskWorker({ engine: ctx.engine, lockDurationMs: 2000 });
});

test.after(async (ctx) => {
  await ctx.worker.close(2000);
  await ctx.engine.close();
  await dropPrefix(ctx.redis, ctx.prefix);
  await ctx.redis.quit();
});

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
    const history: HistoryEntry[] = (await e.getHistory(id, { limit: 500 })).items;
    for (const entry of history) {
      const { seq, ...draft } = entry;
      assert.ok(anyEntry(entry), `${entry.type} #${seq}: ${ajv.errorsText(anyEntry.errors)}`);
      const own = byType.get(entry.type);
      assert.ok(own, `${entry.type} is an engine entry type`);
      assert.ok(own(draft), `${entry.type} #${seq} of ${id}: ${ajv.errorsText(own.errors)}`);
      seen.add(entry.type);
    }
  }
  for (const type of ['run.started', 'state.entered', 'event.received', 'timer.scheduled', 'timer.fired', 'timer.cancelled', 'task.scheduled',
    'task.started', 'task.retrying', 'task.completed', 'task.failed', 'run.done', 'run.cancelled']) {
    assert.ok(seen.has(type), `the runs wrote a ${type} entry`);
  }
});

test.run();
