// `servicechart start` on its embedded Redis with a retention and no archive setting: ended runs go to
// `<data dir>/archive`, the API keeps serving them, and the CLI's export reads the same directory.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePortForTest, spawnReady, waitFor } from '../helpers.ts';
import { cli } from './surfaces.ts';

const test = suite('archive: the start role');
const KEY = 'archive-admin-key-1';

test('the embedded setup archives to <data dir>/archive and still answers for the run', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sc-archive-start-'));
  const port = await freePortForTest();
  const env = {
    SERVICECHART_DATA_DIR: dataDir, PORT: String(port), SERVICECHART_API_KEYS: `${KEY}:admin`, LOG_LEVEL: 'info',
    SERVICECHART_RETENTION: 'demo=1s', SERVICECHART_ARCHIVE_INTERVAL: '0.3s', REDIS_URL: '',
  };
  const base = `http://127.0.0.1:${port}`;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(base + path, { method, headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: await res.json() };
  };
  let server: ChildProcess | null = null;
  try {
    server = await spawnReady(['bin/servicechart.js', 'start'], env, /listening on/, 60_000);
    const run = (await call('POST', '/v1/runs', { workflow: 'demo', input: { sleepMs: 60_000 } })).body;
    assert.is((await call('POST', `/v1/runs/${run.id}/cancel`, {})).status, 200);
    const archived = await waitFor(async () => {
      const r = await call('GET', `/v1/runs/${run.id}`);
      return r.body.archived ? r.body : null;
    }, 20_000, 'the run archived');
    assert.is(archived.status, 'cancelled');
    assert.ok(readdirSync(join(dataDir, 'archive')).some((n) => n.endsWith('.jsonl.gz')));
    assert.is((await call('GET', '/readyz')).body.archive.status, 'ok');
    const exported = await cli(['archive', 'export'], { SERVICECHART_DATA_DIR: dataDir });
    assert.is(exported.code, 0, exported.err);
    assert.equal(exported.out.split('\n').filter(Boolean).map((l) => JSON.parse(l).run.id), [run.id]);
  } finally {
    if (server && server.exitCode === null) {
      // SIGTERM: the server stops its embedded Redis on the way out.
      await new Promise<void>((r) => {
        server!.once('exit', () => r());
        server!.kill('SIGTERM');
      });
    }
    if (existsSync(dataDir)) rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
