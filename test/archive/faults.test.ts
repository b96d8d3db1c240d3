// Faults while archiving, each injected for real: the sweeper process killed with SIGKILL between the
// archive write and the removal from Redis, PostgreSQL stopped, and an archive directory that cannot
// be written. No run is lost, none is served twice, nothing leaves Redis before the archive has it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createDirectoryStore, createPostgresStore, parseRetention, type ArchiveStore, type Logger } from '../../engine/index.ts';
import { createEngineInstance as createEngine, type EngineInstance as Engine } from '../../engine/testing.ts';
import { builtInWorkflows } from '../../workflows/index.ts';
import { builtInTasks } from '../../workers/tasks/index.ts';
import { startHarness, type Harness } from '../api/harness.ts';
import { kill9, redisUrl, spawnReady, waitFor, zcardEvery } from '../helpers.ts';
import { startPostgres } from './pg-harness.ts';

const test = suite('archive: faults');

/** A logger that keeps what it was told. */
function capture(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const put = (o: object | string, msg?: string) => lines.push(`${msg ?? ''} ${typeof o === 'string' ? o : JSON.stringify(o)}`);
  return { lines, info: put, warn: put, error: put, debug() {} };
}

/** Start `n` demo runs and cancel them: ended runs, their outboxes flushed. */
async function endedRuns(h: Harness, n: number, reason = 'test'): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const run = (await h.engine.startRun({ workflow: 'demo', input: { sleepMs: 60_000 }, businessKey: `F-${i}` })).run;
    await h.engine.cancelRun(run.id, { reason });
    ids.push(run.id);
  }
  await waitFor(async () => (await zcardEvery(h.redis, h.engine.keys, (p) => h.engine.keys.runsEndedByWorkflow(p, 'demo'))) === n, 5000, 'ended index');
  return ids;
}

async function inRedis(h: Harness, ids: string[]): Promise<number> {
  let n = 0;
  for (const id of ids) n += await h.redis.exists(h.engine.keys.run(id as never));
  return n;
}

function lines(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith('.jsonl.gz')).flatMap((n) => gunzipSync(readFileSync(join(dir, n))).toString('utf8').split('\n').filter(Boolean));
}

async function archivedList(h: Harness): Promise<string[]> {
  const res = await h.call('GET', '/v1/runs?archived=true&limit=500', { key: 'viewer' });
  assert.is(res.status, 200);
  return res.body.items.map((r: any) => r.id);
}

test('kill -9 between archive write and Redis removal: the run stays in Redis, the next sweeper finishes, each run is served once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-archive-kill-'));
  const store = createDirectoryStore(dir);
  const h = await startHarness({ archive: store, consume: false });
  const children: ChildProcess[] = [];
  try {
    const ids = await endedRuns(h, 5);
    const env = {
      REDIS_URL: await redisUrl(), SERVICECHART_PREFIX: h.prefix, SERVICECHART_RETENTION: 'demo=1s', SERVICECHART_ARCHIVE_DIR: dir,
      SERVICECHART_ARCHIVE_INTERVAL: '0.2s', SERVICECHART_ARCHIVE_LEASE: '3s', LOG_LEVEL: 'info',
    };
    const doomed = await spawnReady(['bin/servicechart.js', 'worker'], { ...env, SERVICECHART_TEST_FAULT: 'archive-after-write' }, /archive sweeper running/);
    children.push(doomed);
    const exit = await new Promise<string | null>((r) => (doomed.exitCode !== null || doomed.signalCode !== null ? r(doomed.signalCode) : doomed.once('exit', (_c, sig) => r(sig))));
    assert.is(exit, 'SIGKILL');
    // Archived, not removed: every run is still in Redis and served from there, not from the archive.
    // The sweeper goes partition by partition, so the write it died after holds the first partition's runs.
    const partitionOf = (id: string) => h.engine.keys.partitionOf(id);
    const first = Math.min(...ids.map(partitionOf));
    const firstBatch = ids.filter((id) => partitionOf(id) === first).length;
    assert.is(lines(dir).length, firstBatch);
    assert.is(await inRedis(h, ids), 5);
    for (const id of ids) assert.is((await h.engine.getRun(id)).archived, undefined);
    assert.equal(await archivedList(h), [], 'a run still in Redis is not listed as archived');
    const after = await spawnReady(['bin/servicechart.js', 'worker'], env, /archive sweeper running/);
    children.push(after);
    // The killed sweeper's leases hold for SERVICECHART_ARCHIVE_LEASE (3 s here), then the next one takes the runs.
    await waitFor(async () => (await inRedis(h, ids)) === 0, 30_000, 'runs removed by the next sweeper');
    // Written twice (the retry is idempotent by run id), served once.
    assert.is(lines(dir).length, firstBatch + 5);
    assert.equal((await archivedList(h)).sort(), [...ids].sort());
    for (const id of ids) assert.is((await h.engine.getRun(id)).archived, true);
  } finally {
    for (const c of children) await kill9(c);
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** An engine that sweeps every 200 ms with a 1 s retention, logging to `log`. */
function sweeper(h: Harness, store: ArchiveStore, log: Logger): Engine {
  const e = createEngine({ redis: h.redis, prefix: h.prefix, partitions: h.engine.keys.partitions, workflows: builtInWorkflows, tasks: builtInTasks, archive: store, logger: log });
  e.startArchiver({ retention: parseRetention('*=1s'), everyMs: 200 });
  return e;
}

test('PostgreSQL down: archiving pauses, nothing is removed, /readyz and the log say so; it resumes when the server is back', async () => {
  const server = await startPostgres();
  const store = createPostgresStore(server.url);
  const h = await startHarness({ archive: store, consume: false });
  const log = capture();
  const sweeperStore = createPostgresStore(server.url);
  let e: Engine | null = null;
  try {
    assert.is((await h.call('GET', '/readyz', { key: null })).body.archive.status, 'ok');
    server.stop();
    const ids = await endedRuns(h, 4);
    e = sweeper(h, sweeperStore, log);
    await waitFor(() => log.lines.some((l) => l.includes('archive unavailable')), 10_000, 'the log says the archive is unavailable');
    await new Promise((r) => setTimeout(r, 1500));
    assert.is(await inRedis(h, ids), 4, 'nothing removed while the archive is down');
    const ready = await h.call('GET', '/readyz', { key: null });
    assert.is(ready.status, 200, 'Redis answers: the API stays ready');
    assert.is(ready.body.archive.status, 'unavailable');
    assert.is(ready.body.archive.store, 'postgres');
    assert.ok(ready.body.archive.error);
    for (const id of ids) assert.is((await h.call('GET', `/v1/runs/${id}`, { key: 'viewer' })).body.status, 'cancelled');
    // An archived listing cannot be answered: 503, not an empty page.
    assert.is((await h.call('GET', '/v1/runs?archived=true', { key: 'viewer' })).status, 503);
    server.start();
    await waitFor(async () => (await inRedis(h, ids)) === 0, 20_000, 'archiving resumed');
    assert.ok(log.lines.some((l) => l.includes('archive available again')));
    assert.equal((await archivedList(h)).sort(), [...ids].sort());
    assert.is((await h.call('GET', '/readyz', { key: null })).body.archive.status, 'ok');
  } finally {
    await e?.close();
    await h.close();
    await sweeperStore.close();
    await store.close();
    server.destroy();
  }
});

test('an archive directory that cannot be written (a file in its place): nothing removed, /readyz and the log say so; it resumes once writable', async () => {
  const root = mkdtempSync(join(tmpdir(), 'sc-archive-ro-'));
  const dir = join(root, 'archive');
  writeFileSync(dir, 'not a directory');
  const store = createDirectoryStore(dir);
  const h = await startHarness({ archive: store, consume: false });
  const log = capture();
  let e: Engine | null = null;
  try {
    const ids = await endedRuns(h, 3);
    e = sweeper(h, createDirectoryStore(dir), log);
    await waitFor(() => log.lines.some((l) => l.includes('archive unavailable')), 10_000, 'the log says the archive is unavailable');
    await new Promise((r) => setTimeout(r, 1500));
    assert.is(await inRedis(h, ids), 3, 'nothing removed while the archive cannot be written');
    const ready = await h.call('GET', '/readyz', { key: null });
    assert.is(ready.body.archive.status, 'unavailable');
    assert.is(ready.body.archive.store, 'directory');
    rmSync(dir);
    mkdirSync(dir);
    await waitFor(async () => (await inRedis(h, ids)) === 0, 20_000, 'archiving resumed');
    assert.is(lines(dir).length, 3);
    assert.ok(log.lines.some((l) => l.includes('archive available again')));
  } finally {
    await e?.close();
    await h.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('a write that fails halfway (the file size limit, as a full disk would): no half file, nothing removed, the next sweeper archives', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-archive-full-'));
  const store = createDirectoryStore(dir);
  const h = await startHarness({ archive: store, consume: false });
  const children: ChildProcess[] = [];
  try {
    // A long cancel reason: the batch's segment is well over the 1 KiB limit below.
    const ids = await endedRuns(h, 12, randomBytes(2048).toString('hex'));
    const env = {
      REDIS_URL: await redisUrl(), SERVICECHART_PREFIX: h.prefix, SERVICECHART_RETENTION: 'demo=1s', SERVICECHART_ARCHIVE_DIR: dir,
      SERVICECHART_ARCHIVE_INTERVAL: '0.2s', SERVICECHART_ARCHIVE_LEASE: '2s', LOG_LEVEL: 'info',
    };
    // Files this process writes stop at 1 KiB (RLIMIT_FSIZE; SIGXFSZ ignored, so write() fails with EFBIG).
    const limited = await spawnReady(['-c', `trap '' XFSZ; ulimit -f 2; exec "${process.execPath}" bin/servicechart.js worker`], env, /archive sweeper running/, 30_000, 'sh');
    children.push(limited);
    let log = '';
    limited.stdout!.on('data', (d) => (log += d));
    limited.stderr!.on('data', (d) => (log += d));
    await waitFor(() => log.includes('archive unavailable'), 15_000, 'the failed write logged').catch((err) => {
      throw new Error(`${err.message}; log: ${log.slice(-1500)}; dir: ${readdirSync(dir).map((n) => `${n}=${statSync(join(dir, n)).size}`).join(' ')}`);
    });
    assert.match(log, /EFBIG|too large/i);
    await new Promise((r) => setTimeout(r, 1000));
    assert.is(await inRedis(h, ids), 12, 'nothing removed');
    assert.equal(readdirSync(dir).filter((n) => n.endsWith('.jsonl.gz') || n.endsWith('.tmp')), [], 'no segment, no temp file');
    await kill9(limited);
    children.push(await spawnReady(['bin/servicechart.js', 'worker'], env, /archive sweeper running/));
    await waitFor(async () => (await inRedis(h, ids)) === 0, 30_000, 'archived by a sweeper that can write');
    assert.is(lines(dir).length, 12);
  } finally {
    for (const c of children) await kill9(c);
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
