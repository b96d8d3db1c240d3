// Delivery scenarios that need a task to misbehave (§3.10 #3 and #10): the worker dies after a deploy
// step reached the target, and a rollback that errors. Each swaps one real task for a wrapper.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, type Harness } from '../api/harness.ts';
import { defineTask, NonRetryableTaskError } from '../../engine/index.ts';
import { delivery } from '../../workflows/delivery.ts';
import { deployStepTask, type DeployStepInput } from '../../workers/tasks/delivery-tasks.ts';
import {
  completeTask, getRun, history, iso, openTask, recorderWorkflow, sendOk, startRun, waitForChild, waitForState, waitForStatus,
} from './delivery-helpers.ts';

interface Attempt { weight: number | null; key: string; attempt: number; noop: boolean | null }
const attempts: Attempt[] = [];
const realDeploy = deployStepTask({});

/** deploy_step as the worker runs it, except that the first attempt at 30 % dies after the target applied it. */
const crashingDeploy = defineTask<DeployStepInput, any>({
  ...realDeploy,
  retry: { attempts: 3, backoffMs: 50 },
  handler: async (input, ctx) => {
    const out = await realDeploy.handler!(input, ctx);
    attempts.push({ weight: input.weight ?? null, key: ctx.idempotencyKey, attempt: ctx.attempt, noop: out.noop });
    if (input.weight === 30 && ctx.attempt === 1) throw new Error('worker lost mid-deploy');
    return out;
  },
});

const failingRollback = defineTask<Record<string, unknown>, Record<string, unknown>>({
  name: 'rollback',
  input: { type: 'object', additionalProperties: true },
  output: { type: 'object', additionalProperties: true },
  handler: async () => {
    throw new NonRetryableTaskError('previous version is gone from the registry');
  },
});

const test = suite<{ h: Harness }>('delivery with misbehaving tasks', {} as { h: Harness });

test.before(async (ctx) => {
  ctx.h = await startHarness({
    workflows: [delivery, recorderWorkflow('change'), recorderWorkflow('incident')],
    tasks: [crashingDeploy, failingRollback],
  });
});
test.after(async (ctx) => {
  await ctx.h.close();
});

function input(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    release: { id: `REL-${Math.random().toString(36).slice(2, 8)}`, version: '3.0.0', service: 'payments', commits: [{ sha: 'abc', committedAt: iso(Date.now() - 60_000) }] },
    environments: ['production'],
    changePolicy: 'none',
    approvers: { releaseManager: ['rita'], serviceOwner: ['sam'] },
    delaysMs: { canaryIntervalDelay: 150, bakeDelay: 150, elsDelay: 150, stepProgressDeadlineDelay: 5000, rollbackDeadlineDelay: 5000 },
    ...over,
  };
}

async function go(h: Harness, runId: string): Promise<void> {
  const task = await openTask(h, runId, 'readiness');
  assert.is((await completeTask(h, task.id, 'GO', 'rita')).status, 200);
}

test('worker crash mid-deploy: the retry at 30 % carries the same idempotency key, is a no-op on the target, and the canary continues from 30 %', async ({ h }) => {
  attempts.length = 0;
  const run = await startRun(h, 'delivery', input());
  await go(h, run.id);
  const done = await waitForStatus(h, run.id, 'done', 20_000);
  assert.is(done.output.outcome, 'completed');
  const at30 = attempts.filter((a) => a.weight === 30);
  assert.is(at30.length, 2, 'one lost attempt and its retry');
  assert.is(at30[0].key, at30[1].key);
  assert.is(at30[1].noop, true, 'the version already runs: nothing deployed twice');
  const entries = await history(h, run.id);
  assert.ok(entries.some((e) => e.type === 'task.retrying' && e.task === 'deploy_step'));
  assert.equal(entries.filter((e) => e.type === 'delivery.weight_set').map((e) => e.weight), [10, 20, 30, 40, 50]);
  assert.is(entries.filter((e) => e.type === 'deploy_step.recorded').length, 1, 'the target saw one deployment');
});

test('rollback fails: the rollback task errors → failed (rollback_failed) and a P1 incident is raised', async ({ h }) => {
  const run = await startRun(h, 'delivery', input({ canary: { threshold: 1 }, simulate: { health: [{ phase: 'canary', result: 'fail' }] } }));
  await go(h, run.id);
  const done = await waitForStatus(h, run.id, 'done', 20_000);
  assert.is(done.state, 'failed');
  assert.is(done.output.outcome, 'rollback_failed');
  const [incident] = await waitForChild(h, run.id, 'incident');
  assert.equal([incident.input.impact, incident.input.urgency], [1, 1]);
  const entries = await history(h, run.id);
  assert.ok(entries.some((e) => e.type === 'delivery.rollback_errored'));
  const parentless = await getRun(h, run.id);
  assert.is(parentless.parentRunId, null);
});

test('manual abort during the canary rolls back and records who aborted', async ({ h }) => {
  attempts.length = 0;
  const run = await startRun(h, 'delivery', input({ delaysMs: { canaryIntervalDelay: 5000, stepProgressDeadlineDelay: 5000, rollbackDeadlineDelay: 5000 } }));
  await go(h, run.id);
  await waitForState(h, run.id, 'production');
  await sendOk(h, run.id, { type: 'ABORT', by: 'rita', comment: 'wrong build' });
  const done = await waitForStatus(h, run.id, 'done', 10_000);
  // The errored rollback of this suite makes every rollback fail.
  assert.is(done.output.outcome, 'rollback_failed');
  assert.is(done.output.reason, 'aborted');
  const entries = await history(h, run.id);
  assert.ok(entries.some((e) => e.type === 'delivery.aborted' && e.by === 'rita'));
});

test.run();
