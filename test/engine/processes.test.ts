// Several processes at once: events sent concurrently from separate processes are each applied exactly
// once, and a worker process drains gracefully on SIGTERM.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import type { Redis } from 'ioredis';
import { createEngine, type Engine } from '../../engine/index.ts';
import { builtInTasks } from '../../workers/tasks/index.ts';
import { builtInWorkflows } from '../../workflows/index.ts';
import { connect, dropPrefix, kill9, newPrefix, redisUrl, waitFor } from '../helpers.ts';
import { testTasks, testWorkflows } from '../fixtures/workflows.ts';

interface Ctx {
  redis: Redis;
  engine: Engine;
  prefix: string;
}
const test = suite<Ctx>('processes', {} as Ctx);
const root = new URL('../..', import.meta.url).pathname;

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

test.before(async (ctx) => {
  ctx.redis = await connect();
  ctx.prefix = newPrefix();
  ctx.engine = createEngine({ redis: ctx.redis, prefix: ctx.prefix, workflows: [...builtInWorkflows, ...testWorkflows], tasks: [...builtInTasks, ...testTasks(ctx.redis, ctx.prefix)] });
});
test.after(async (ctx) => {
  await ctx.engine.close();
  await dropPrefix(ctx.redis, ctx.prefix);
  await ctx.redis.quit();
});

test('events sent at once from three processes are applied one at a time, each exactly once', async (ctx) => {
  const { run: r } = await ctx.engine.startRun({ workflow: 'counter' });
  const env = { REDIS_URL: await redisUrl(), SERVICECHART_PREFIX: ctx.prefix, RUN_ID: r.id, TYPE: 'INC', COUNT: '25' };
  const results = await Promise.all([1, 2, 3].map(() => run(['--import', 'tsx', 'test/fixtures/send-events.ts'], env)));
  for (const res of results) {
    assert.is(res.code, 0, res.out);
    assert.equal(JSON.parse(res.out.trim().split('\n').pop()!), { sent: 25, failed: 0 });
  }
  const now = await ctx.engine.getRun(r.id);
  assert.is((now.context as { count: number }).count, 75);
  const hist = (await ctx.engine.getHistory(r.id, { limit: 500 })).items;
  assert.is(hist.filter((h) => h.type === 'event.received').length, 75);
  assert.equal(hist.map((h) => h.seq), hist.map((_, i) => i + 1), 'history has no gaps or repeats');
});

test('servicechart worker stops on SIGTERM after finishing its in-flight task, and exits 0', async (ctx) => {
  const env = { ...process.env, REDIS_URL: await redisUrl(), SERVICECHART_PREFIX: ctx.prefix, LOG_LEVEL: 'info' };
  const child = spawn(process.execPath, ['bin/servicechart.js', 'worker'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  try {
    await waitFor(() => out.includes('consumers running'), 20_000, 'the worker');
    const { run: r } = await ctx.engine.startRun({ workflow: 'demo', input: { sleepMs: 800, coolDownMs: 60_000 } });
    await waitFor(async () => (await ctx.engine.getRun(r.id)).tasks[0]?.status === 'running', 10_000, 'the task to run');
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.is(await exited, 0, out);
    const now = await ctx.engine.getRun(r.id);
    assert.is(now.state, 'coolingDown', 'the in-flight task finished and its result was applied before the process left');
    assert.ok((now.context as { slept: number }).slept >= 800);
    await ctx.engine.cancelRun(r.id);
  } finally {
    // A failed assertion must not leave the worker running (the test process would never exit).
    await kill9(child);
  }
});

test.run();
