// While Redis is unreachable, writes answer 503 at once and never take effect later; reads of
// readiness answer 503; once Redis is back, the API works again.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectRedis, createEngine } from '../../engine/index.ts';
import { startEmbeddedRedis } from '../../bin/embedded-redis.ts';
import { createApp } from '../../api/app.ts';
import { createAuth, parseApiKeys } from '../../api/auth.ts';
import { builtInTasks } from '../../workers/tasks/index.ts';
import { builtInWorkflows } from '../../workflows/index.ts';
import { waitFor } from '../helpers.ts';

const test = suite('unavailable');
const KEY = 'unavailable-admin-key';

test('writes answer 503 UNAVAILABLE within 5 s while Redis is down, and nothing is replayed when it returns', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-down-'));
  let server = await startEmbeddedRedis({ dataDir: dir, reuse: false, fsync: 'always' });
  const port = server.port;
  const redis = await connectRedis(server.url);
  redis.on('error', () => undefined);
  const engine = createEngine({ redis, prefix: 'down', workflows: builtInWorkflows, tasks: builtInTasks });
  const app = createApp({ engine, auth: createAuth(parseApiKeys(`${KEY}:admin`)), logger: { info() {}, warn() {}, debug() {}, error() {} } });
  const http: Server = await new Promise((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const post = (body: unknown) => fetch(`${url}/v1/runs`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  assert.is((await post({ workflow: 'demo', businessKey: 'BEFORE' })).status, 201);
  await server.stop();
  await waitFor(() => redis.status !== 'ready', 5000, 'the connection to notice');

  const started = Date.now();
  const res = await post({ workflow: 'demo', businessKey: 'DURING' });
  assert.is(res.status, 503);
  assert.is((await res.json()).error.code, 'UNAVAILABLE');
  assert.ok(Date.now() - started < 5000, 'answered within 5 s');
  assert.is((await fetch(`${url}/readyz`)).status, 503);

  server = await startEmbeddedRedis({ dataDir: dir, reuse: false, fsync: 'always', port });
  await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, 15_000, 'readiness after Redis returns');
  const list = await (await fetch(`${url}/v1/runs?limit=50`, { headers: { authorization: `Bearer ${KEY}` } })).json();
  const keys = list.items.map((r: { businessKey: string }) => r.businessKey);
  assert.ok(keys.includes('BEFORE'), 'what was acknowledged survived the restart');
  assert.not.ok(keys.includes('DURING'), 'the refused write never took effect');

  http.closeAllConnections();
  await new Promise((r) => http.close(r));
  await engine.close();
  redis.disconnect();
  await server.stop();
});

test.run();
