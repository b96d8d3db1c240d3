// Redis restarted between an external worker's fetch and its complete: the lock survives (AOF), the complete
// answers 503 while Redis is down and changes nothing, and the same complete once Redis is back applies once.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectRedis, createEngine } from '../../engine/index.ts';
import { startEmbeddedRedis, type EmbeddedRedis } from '../../bin/embedded-redis.ts';
import { createApp } from '../../api/app.ts';
import { createAuth, parseApiKeys } from '../../api/auth.ts';
import { builtInTasks } from '../../workers/tasks/index.ts';
import { builtInWorkflows } from '../../workflows/index.ts';
import { waitFor } from '../helpers.ts';

const test = suite('external-redis-restart');
const ADMIN = 'restart-admin-key';
const WORKER = 'restart-worker-key';

test('a lock taken before a Redis restart is honoured after it; the result counts once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-ext-restart-'));
  let server: EmbeddedRedis = await startEmbeddedRedis({ dataDir: dir, reuse: false, fsync: 'always' });
  const port = server.port;
  const redis = await connectRedis(server.url);
  redis.on('error', () => undefined);
  const engine = createEngine({ redis, prefix: 'restart', workflows: builtInWorkflows, tasks: builtInTasks });
  const app = createApp({ engine, auth: createAuth(parseApiKeys(`${ADMIN}:admin,${WORKER}:worker`)), logger: { info() {}, warn() {}, debug() {}, error() {} } });
  const http: Server = await new Promise((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const call = async (path: string, key: string, body?: unknown) => {
    const res = await fetch(url + path, { method: body === undefined ? 'GET' : 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: await res.json() };
  };
  try {
    const reg = await call('/v1/workflows', ADMIN, {
      name: 'restart-flow',
      tasks: { check: { external: true, output: { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } } } },
      definition: { initial: 'a', context: { ok: null }, states: { a: { invoke: { src: 'check', onDone: { target: 'b', actions: { type: 'assign', params: { set: { ok: { $event: 'output.ok' } } } } } } }, b: { type: 'final' } } },
    });
    assert.is(reg.status, 201, JSON.stringify(reg.body));
    const run = await call('/v1/runs', ADMIN, { workflow: 'restart-flow' });
    const fetched = await call('/v1/external-tasks/fetch', WORKER, { workerId: 'w', types: ['check'], lockMs: 60_000, waitMs: 5000 });
    const task = fetched.body.tasks[0];
    assert.is(task.runId, run.body.id);

    await server.stop();
    await waitFor(() => redis.status !== 'ready', 5000, 'the connection to notice');
    const during = await call(`/v1/external-tasks/${task.id}/complete`, WORKER, { lockToken: task.lockToken, output: { ok: true } });
    assert.is(during.status, 503);
    assert.is(during.body.error.code, 'UNAVAILABLE');

    server = await startEmbeddedRedis({ dataDir: dir, reuse: false, fsync: 'always', port });
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, 15_000, 'readiness after Redis returns');
    assert.is((await call(`/v1/runs/${run.body.id}`, ADMIN)).body.status, 'running', 'the refused complete changed nothing');
    const after = await call(`/v1/external-tasks/${task.id}/complete`, WORKER, { lockToken: task.lockToken, output: { ok: true } });
    assert.is(after.status, 200, JSON.stringify(after.body));
    const done = await call(`/v1/runs/${run.body.id}`, ADMIN);
    assert.is(done.body.status, 'done');
    assert.is(done.body.context.ok, true);
    const again = await call(`/v1/external-tasks/${task.id}/complete`, WORKER, { lockToken: task.lockToken, output: { ok: false } });
    assert.is(again.status, 409);
    const history = await call(`/v1/runs/${run.body.id}/history?limit=100`, ADMIN);
    assert.is(history.body.items.filter((e: { type: string }) => e.type === 'task.completed').length, 1);
  } finally {
    http.closeAllConnections();
    await new Promise((r) => http.close(r));
    await engine.close();
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
