// `servicechart start` killed with SIGKILL while a JSON workflow's timer is pending: after a restart the
// definition is read back from Redis and the timer fires at its original due time, once.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChildProcess } from 'node:child_process';
import { clusterSeeds, freePortForTest, kill9, redisEnv, newPrefix, spawnReady, waitFor } from '../helpers.ts';

const test = suite('server restart');
const KEY = 'restart-admin-key-1';
// Long enough that the restarted process is up well before the due time on a loaded machine; on a
// Redis Cluster (test/cluster/suites.test.ts) a process takes longer to start (six nodes, 16 partitions'
// consumers) while other files run beside it.
const DELAY_MS = clusterSeeds() ? 15_000 : 8000;

function startServer(env: Record<string, string>): Promise<ChildProcess> {
  return spawnReady(['bin/servicechart.js', 'start'], env, /listening on/);
}

test('kill -9 with a timer pending, restart: the run finishes on time from the stored definition', async () => {
  const port = await freePortForTest();
  const env = { ...(await redisEnv()), SERVICECHART_PREFIX: newPrefix(), SERVICECHART_API_KEYS: `${KEY}:admin`, PORT: String(port), LOG_LEVEL: 'info' };
  const base = `http://127.0.0.1:${port}`;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(base + path, { method, headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: await res.json() };
  };
  let server = await startServer(env);
  try {
    const definition = {
      initial: 'waiting',
      context: { firedAt: null },
      states: {
        waiting: { after: { [String(DELAY_MS)]: { target: 'fired', actions: { type: 'assign', params: { set: { firedAt: { $now: true } } } } } } },
        fired: { type: 'final', output: { firedAt: { $context: 'firedAt' } } },
      },
    };
    assert.is((await call('POST', '/v1/workflows', { name: 'restartable', definition })).status, 201);
    const started = await call('POST', '/v1/runs', { workflow: 'restartable' });
    assert.is(started.status, 201);
    const dueAt = Date.parse(started.body.timers[0].dueAt);
    await new Promise<void>((r) => {
      server.once('exit', () => r());
      server.kill('SIGKILL');
    });
    await new Promise((r) => setTimeout(r, 500));
    const restarting = Date.now();
    server = await startServer(env);
    const done = await waitFor(async () => {
      const r = await call('GET', `/v1/runs/${started.body.id}`);
      return r.body.status === 'done' ? r.body : null;
    }, DELAY_MS + 12_000, 'the timer after the restart');
    assert.ok(done.output.firedAt >= dueAt, 'not early');
    assert.ok(done.output.firedAt < restarting + DELAY_MS, `fired ${done.output.firedAt - restarting} ms after the restart began (due ${dueAt - restarting} ms after): the delay was not kept`);
    assert.ok(done.output.firedAt - dueAt < 1500, `fired ${done.output.firedAt - dueAt} ms late`);
    const hist = await call('GET', `/v1/runs/${started.body.id}/history`);
    assert.is(hist.body.items.filter((e: { type: string }) => e.type === 'timer.fired').length, 1);
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  } finally {
    // A failed assertion must not leave the server running (the test process would never exit).
    await kill9(server);
  }
});

test.run();
