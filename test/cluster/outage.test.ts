// Redis unreachable at the moment a worker hands a task's result to its run (a failover, a restart):
// the job is not spent. With one attempt only, the task would otherwise fail for good in BullMQ and
// its run would wait forever; here the job waits the outage out, runs again once Redis answers (at
// least once) and its result is applied once. A real redis-server (AOF, fsync always) is SIGKILLed
// while the handler runs and restarted on the same port and data.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setup, type AnyStateMachine } from 'xstate';
import { connectRedis, createEngine, defineTask, defineWorkflow, taskActors, type Engine, type RedisClient } from '../../engine/index.ts';
import { startTaskWorker, type TaskWorker } from '../../workers/runtime.ts';
import { waitFor } from '../helpers.ts';
import { startRedis } from './harness.ts';

const gated = defineWorkflow({
  name: 'gated', version: 1, description: 'waits on one task with a single attempt',
  machine: setup({ actors: taskActors('gate') }).createMachine({
    id: 'gated', initial: 'waiting',
    states: {
      waiting: { invoke: { src: 'gate', onDone: 'done', onError: 'failed' } },
      done: { type: 'final' },
      failed: { type: 'final' },
    },
  }) as unknown as AnyStateMachine,
});

test('a task result that meets an unreachable Redis is handed over once Redis is back, with no attempt spent', async () => {
  // A step that never returns fails the file at once, naming the step, rather than at the runner's cap.
  let step = 'start';
  const stuck = setTimeout(() => {
    process.stderr.write(`outage test: stuck at "${step}" for 90 s\n`);
    process.exit(1);
  }, 90_000);
  stuck.unref();
  const server = await startRedis(['--appendonly', 'yes', '--appendfsync', 'always']);
  let redis: RedisClient | undefined;
  let engine: Engine | undefined;
  let worker: TaskWorker | undefined;
  let release: () => void = () => undefined;
  const released = new Promise<void>((r) => (release = r));
  const attempts: number[] = [];
  const gate = defineTask<Record<string, unknown>, { ok: boolean }>({
    name: 'gate',
    input: { type: 'object' } as never,
    output: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } as never,
    retry: { attempts: 1 },
    handler: async (_input, ctx) => {
      attempts.push(ctx.attempt);
      if (attempts.length === 1) await released;
      return { ok: true };
    },
  });
  try {
    redis = await connectRedis(`redis://${server.address}`);
    redis.on('error', () => undefined);
    engine = createEngine({ redis, prefix: 'outage', workflows: [gated], tasks: [gate] });
    await engine.ready();
    engine.startTimerConsumer();
    worker = await startTaskWorker({ engine, concurrency: 2 });
    const { run } = await engine.startRun({ workflow: 'gated', idempotencyKey: 'outage-1' });
    await waitFor(() => attempts.length === 1, 10_000, 'the handler to start');
    // Once the attempt is marked running (after 100 ms), nothing of the worker's is in flight.
    await waitFor(async () => (await engine!.getHistory(run.id, { limit: 20 })).items.some((e) => e.type === 'task.started'), 10_000, 'the attempt marked running');

    // Redis dies while the handler runs; its result then cannot reach the run.
    step = 'kill';
    await server.kill();
    release();
    await new Promise((r) => setTimeout(r, 500));
    step = 'restart';
    await server.restart();
    step = 'the run to end';

    const done = await waitFor(async () => {
      const r = await engine!.getRun(run.id).catch(() => null);
      return r?.status === 'done' ? r : null;
    }, 20_000, 'the run to end after the outage');
    assert.is(done.state, 'done', 'the task succeeded: its result reached the run, not a failure');
    // Either the hand-over failed and the handler ran again (as often as it met the outage) as the same
    // attempt, or the client resent the hand-over itself once reconnected: never as a further attempt.
    assert.ok(attempts.every((a) => a === 1), `no attempt spent (${attempts.join(',')})`);
    step = 'history';
    const h = (await engine.getHistory(run.id, { limit: 100 })).items;
    assert.is(h.filter((e) => e.type === 'task.completed' && !e.ignored).length, 1, 'its result applied once');
    assert.is(h.filter((e) => e.type === 'task.failed').length, 0);
  } finally {
    release();
    step = 'worker.close';
    await worker?.close(2000).catch(() => undefined);
    step = 'engine.close';
    await engine?.close().catch(() => undefined);
    redis?.disconnect();
    step = 'server.stop';
    await server.stop();
    clearTimeout(stuck);
  }
});

test.run();
