// Faults injected for real: a worker process killed mid-task, the whole process killed with a timer
// pending, and Redis itself restarted.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { type RunId } from '../../engine/index.ts';
import { createEngineInstance as createEngine, type EngineInstance as Engine } from '../../engine/testing.ts';
import { startEmbeddedRedis } from '../../bin/embedded-redis.ts';
import { builtInTasks } from '../../workers/tasks/index.ts';
import { builtInWorkflows } from '../../workflows/index.ts';
import { connect, dropPrefix, kill9, newPrefix, redisUrl, spawnReady, waitFor } from '../helpers.ts';
import { testTasks, testWorkflows, timed } from '../fixtures/workflows.ts';

interface Ctx {
  redis: Redis;
  engine: Engine;
  prefix: string;
  children: ChildProcess[];
}

const test = suite<Ctx>('crash', { children: [] } as unknown as Ctx);

async function spawnProcess(ctx: Ctx, args: string[], env: Record<string, string>): Promise<ChildProcess> {
  const child = await spawnReady(args, env, /ready|consumers running/);
  ctx.children.push(child);
  return child;
}

test.before(async (ctx) => {
  ctx.redis = await connect();
  ctx.prefix = newPrefix();
  ctx.engine = createEngine({ redis: ctx.redis, prefix: ctx.prefix, workflows: [...builtInWorkflows, ...testWorkflows], tasks: [...builtInTasks, ...testTasks(ctx.redis, ctx.prefix)] });
});

// A test that fails leaves no process behind to take the next test's jobs.
test.after.each(async (ctx) => {
  for (const c of ctx.children.splice(0)) await kill9(c);
});

test.after(async (ctx) => {
  for (const c of ctx.children) if (c.exitCode === null) c.kill('SIGKILL');
  await ctx.engine.close();
  await dropPrefix(ctx.redis, ctx.prefix);
  await ctx.redis.quit();
});

test('a worker killed with SIGKILL mid-task: another worker reruns the task and the run ends as without the crash', async (ctx) => {
  const env = { REDIS_URL: await redisUrl(), SERVICECHART_PREFIX: ctx.prefix };
  const first = await spawnProcess(ctx, ['--import', 'tsx', 'test/fixtures/worker-process.ts'], env);
  const { run } = await ctx.engine.startRun({ workflow: 'tasky', input: { task: 'slow', payload: { ms: 1500 } } });
  await waitFor(async () => Number(await ctx.redis.get(`${ctx.prefix}:slow-started`)) >= 1, 10_000, 'the task to start');
  await kill9(first);
  assert.is((await ctx.engine.getRun(run.id)).status, 'running');
  await spawnProcess(ctx, ['--import', 'tsx', 'test/fixtures/worker-process.ts'], env);
  const done = await waitFor(async () => {
    const r = await ctx.engine.getRun(run.id);
    return r.status === 'done' ? r : null;
  }, 20_000, 'the run to finish after the crash');
  assert.is(done.state, 'ok');
  assert.equal(done.output, { result: { done: true }, error: null });
  assert.is(Number(await ctx.redis.get(`${ctx.prefix}:slow-started`)), 2, 'the task ran again (at least once)');
  const finishedKeys = await ctx.redis.keys(`${ctx.prefix}:slow-finished:*`);
  assert.is(finishedKeys.length, 1, 'one idempotency key across both attempts');
  assert.is(Number(await ctx.redis.get(finishedKeys[0])), 1, 'the side effect completed once');
  const hist = (await ctx.engine.getHistory(run.id, { limit: 200 })).items;
  assert.is(hist.filter((h) => h.type === 'task.completed').length, 1);
  assert.is(hist.filter((h) => h.type === 'run.done').length, 1);
  for (const c of ctx.children) if (c.exitCode === null) await kill9(c);
});

test('the whole process killed while a timer is pending: after a restart the timer fires at its original due time, once', async (ctx) => {
  const env = { REDIS_URL: await redisUrl(), SERVICECHART_PREFIX: ctx.prefix, LOG_LEVEL: 'info' };
  const server = await spawnProcess(ctx, ['bin/servicechart.js', 'worker'], env);
  // Long enough that the restarted process is up well before the due time, even on a loaded machine.
  const coolDownMs = 8000;
  const { run } = await ctx.engine.startRun({ workflow: 'demo', input: { sleepMs: 50, coolDownMs } });
  const cooling = await waitFor(async () => {
    const r = await ctx.engine.getRun(run.id);
    return r.state === 'coolingDown' ? r : null;
  }, 10_000, 'the timer to be armed');
  const dueAt = Date.parse(cooling.timers[0].dueAt);
  await waitFor(async () => (await ctx.redis.zcard(`${ctx.engine.keys.queuePrefix(0)}:timers:delayed`)) > 0, 5000, 'the delayed job');
  await kill9(server);
  await new Promise((r) => setTimeout(r, 1000));
  assert.is((await ctx.engine.getRun(run.id)).state, 'coolingDown');
  const restarting = Date.now();
  await spawnProcess(ctx, ['bin/servicechart.js', 'worker'], env);
  const done = await waitFor(async () => {
    const r = await ctx.engine.getRun(run.id);
    return r.status === 'done' ? r : null;
  }, 20_000, 'the timer after the restart');
  const finishedAt = (done.output as { finishedAt: number }).finishedAt;
  assert.ok(finishedAt >= dueAt, 'not early');
  // Restarted from zero, the delay would run out no sooner than its full length after the restart.
  assert.ok(finishedAt < restarting + coolDownMs, `fired ${finishedAt - restarting} ms after the restart: the delay was not kept`);
  assert.ok(finishedAt - dueAt < 1000, `fired ${finishedAt - dueAt} ms late`);
  const hist = (await ctx.engine.getHistory(run.id, { limit: 200 })).items;
  assert.is(hist.filter((h) => h.type === 'timer.fired').length, 1);
});

test('a crash between a commit and its outbox flush loses nothing and duplicates nothing', async (ctx) => {
  const env = { REDIS_URL: await redisUrl(), SERVICECHART_PREFIX: ctx.prefix };
  const doomed = spawnProcess(ctx, ['--import', 'tsx', 'test/fixtures/worker-process.ts'], { ...env, CRASH_AFTER_COMMIT: '1' });
  const first = await doomed;
  const { run } = await ctx.engine.startRun({ workflow: 'demo', input: { sleepMs: 20, coolDownMs: 1500 } });
  await new Promise((r) => (first.exitCode !== null || first.signalCode !== null ? r(null) : first.once('exit', r)));
  assert.is(first.signalCode, 'SIGKILL', 'the worker died right after committing the task result');
  const stored = await ctx.engine.getRun(run.id);
  assert.is(stored.state, 'coolingDown', 'the step was committed');
  const dueAt = Date.parse(stored.timers[0].dueAt);
  assert.ok((await ctx.redis.hlen(ctx.engine.keys.outbox(run.id as RunId))) > 0, 'its outbox was left behind');
  assert.is(await ctx.redis.zcard(`${ctx.engine.keys.queuePrefix(0)}:timers:delayed`), 0, 'the timer never reached BullMQ');
  await spawnProcess(ctx, ['--import', 'tsx', 'test/fixtures/worker-process.ts'], env);
  const done = await waitFor(async () => {
    const r = await ctx.engine.getRun(run.id);
    return r.status === 'done' ? r : null;
  }, 15_000, 'the sweeper to finish the outbox');
  assert.ok((done.output as { finishedAt: number }).finishedAt >= dueAt, 'the re-added timer kept its due time');
  const hist = (await ctx.engine.getHistory(run.id, { limit: 200 })).items;
  assert.is(hist.filter((h) => h.type === 'timer.fired').length, 1);
  assert.is(hist.filter((h) => h.type === 'task.completed' && !h.ignored).length, 1);
  await waitFor(async () => (await ctx.redis.hlen(ctx.engine.keys.outbox(run.id as RunId))) === 0, 5000, 'every outbox entry cleared');
  for (const c of ctx.children) if (c.exitCode === null) await kill9(c);
});

test('Redis restarted with a timer pending: the AOF keeps the run and the timer fires', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-restart-'));
  let server = await startEmbeddedRedis({ dataDir: dir, fsync: 'always', reuse: false });
  const port = server.port;
  const redis = new Redis(server.url, { maxRetriesPerRequest: null });
  const prefix = newPrefix();
  const engine = createEngine({ redis, prefix, workflows: [timed], tasks: builtInTasks });
  engine.startTimerConsumer();
  const { run } = await engine.startRun({ workflow: 'timed', input: { delayMs: 2000 } });
  await server.stop();
  server = await startEmbeddedRedis({ dataDir: dir, fsync: 'always', reuse: false, port });
  const done = await waitFor(async () => {
    const r = await engine.getRun(run.id);
    return r.status === 'done' ? r : null;
  }, 20_000, 'the timer after the Redis restart');
  assert.is(done.state, 'expired');
  const hist = (await engine.getHistory(run.id)).items;
  assert.is(hist.filter((h) => h.type === 'timer.fired').length, 1);
  await engine.close();
  await redis.quit();
  await server.stop();
});

test.run();
