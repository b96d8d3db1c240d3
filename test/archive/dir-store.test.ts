// The directory archive end to end: retention moves ended runs out of Redis into gzipped JSON Lines
// files per day, and the API still serves them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emit, setup, type AnyStateMachine } from 'xstate';
import { ARCHIVE_FORMAT, ARCHIVE_FORMAT_VERSION, createDirectoryStore, defineWorkflow, parseRetention, type ArchivedRun } from '../../engine/index.ts';
import { historyFromStream } from '../../engine/archive/sweeper.ts';
import { startHarness } from '../api/harness.ts';
import { waitFor } from '../helpers.ts';
import { archiveScenario } from './scenario.ts';

const test = suite('archive: directory store');

test('runs past retention leave Redis for day files, once each, and stay readable through the API', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-archive-'));
  try {
    await archiveScenario({
      open: () => createDirectoryStore(dir),
      env: { SERVICECHART_ARCHIVE_DIR: dir },
      async copies() {
        let n = 0;
        for (const name of readdirSync(dir)) {
          if (!name.endsWith('.jsonl.gz')) continue;
          assert.match(name, /^\d{4}-\d{2}-\d{2}\./, 'segments are named by their UTC day');
          for (const line of gunzipSync(readFileSync(join(dir, name))).toString('utf8').split('\n').filter(Boolean)) {
            const rec = JSON.parse(line);
            assert.is(rec.format, 'servicechart.archived-run');
            assert.is(rec.v, 1);
            n++;
          }
        }
        assert.not.ok(readdirSync(dir).some((n) => n.endsWith('.tmp')), 'no temp file left');
        return n;
      },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('retention rules: per workflow, a fallback, units, keep, and refusals', () => {
  const r = parseRetention('incident=180d,change=1y,*=30d');
  assert.is(r.of('incident'), 180 * 86_400_000);
  assert.is(r.of('change'), 365 * 86_400_000);
  assert.is(r.of('demo'), 30 * 86_400_000);
  assert.is(parseRetention('a=90s,b=15m,c=2h,d=1w').of('b'), 900_000);
  assert.is(parseRetention('').of('incident'), null);
  assert.is(parseRetention('').any, false);
  assert.is(parseRetention('incident=keep,*=1d').of('incident'), null);
  assert.throws(() => parseRetention('incident=10x'), /not a duration/);
  assert.throws(() => parseRetention('incident'), /workflow=duration/);
  assert.throws(() => parseRetention('a=1d,a=2d'), /twice/);
});

function record(id: string, endedAt: number, seq: number, hseq = 1): ArchivedRun {
  return {
    format: ARCHIVE_FORMAT, v: ARCHIVE_FORMAT_VERSION, archivedAt: Date.now(), hseq, history: [{ seq: 1, type: 'run.started', at: new Date(endedAt).toISOString(), actor: 'api' }], humanTasks: [],
    run: {
      schemaVersion: 1, id: id as never, workflow: 'demo', version: 1, status: 'done', snapshot: { value: 'finished', context: {} }, input: {}, businessKey: null, parentRunId: null,
      createdAt: endedAt - 1000, updatedAt: endedAt, endedAt, output: null, error: null, nextEvents: [], tasks: {}, timers: {}, humanTasks: {}, seq,
    },
  };
}

test('the directory store: a segment per batch and day, merged past 24; newest copy wins; day ranges read only their days; unknown versions refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-archive-unit-'));
  try {
    const store = createDirectoryStore(dir);
    const day1 = Date.UTC(2026, 2, 1, 10);
    const day2 = Date.UTC(2026, 2, 2, 10);
    for (let i = 0; i < 30; i++) await store.put([record(`r0000000a${String(i).padStart(2, '0')}`, day1 + i, 3)]);
    await store.put([record('r0000000b01', day2, 3), record('r0000000b02', day2 + 1, 3)]);
    const segs = readdirSync(dir).filter((n) => n.endsWith('.jsonl.gz'));
    assert.ok(segs.filter((n) => n.startsWith('2026-03-01')).length <= 24, `day 1 merged (${segs.length} segments)`);
    assert.is(segs.filter((n) => n.startsWith('2026-03-02')).length, 1);
    // A second, newer copy of a run (archived again after a crash) replaces the first for readers.
    await store.put([record('r0000000a05', day1 + 5, 4, 2)]);
    const fresh = createDirectoryStore(dir);
    assert.is((await fresh.get('r0000000a05'))!.run.seq, 4);
    assert.is(await fresh.get('r0000000zzz'), null);
    const page1 = await fresh.list({ limit: 20 });
    assert.is(page1.items[0].run.id, 'r0000000b02', 'newest end first');
    const page2 = await fresh.list({ limit: 20, cursor: page1.nextCursor });
    assert.is(page2.nextCursor, null);
    const ids = [...page1.items, ...page2.items].map((r) => r.run.id);
    assert.is(ids.length, 32);
    assert.is(new Set(ids).size, 32, 'each run listed once');
    const onlyDay2 = await fresh.list({ since: Date.UTC(2026, 2, 2), until: Date.UTC(2026, 2, 3) });
    assert.equal(onlyDay2.items.map((r) => r.run.id), ['r0000000b02', 'r0000000b01']);
    const exported: string[] = [];
    for await (const r of fresh.exportRange(Date.UTC(2026, 2, 1), Date.UTC(2026, 2, 2))) exported.push(r.run.id);
    assert.is(exported.length, 30);
    assert.is(exported[0], 'r0000000a00', 'export runs oldest end first');
    assert.not.ok(readdirSync(dir).some((n) => n.endsWith('.tmp')));
    // A line from a newer release is refused rather than misread.
    const later = { ...record('r0000000c01', Date.UTC(2026, 2, 4), 1), v: 2 };
    writeFileSync(join(dir, '2026-03-04.zzzz-00000000.jsonl.gz'), gzipSync(JSON.stringify(later) + '\n'));
    const refused = await createDirectoryStore(dir).list({ since: Date.UTC(2026, 2, 4) }).then(() => null, (err: Error) => err);
    assert.match(String(refused?.message), /version 2/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a crash after the run was deleted but before its index entries: the next sweep finishes from the archive copy', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-archive-half-'));
  const store = createDirectoryStore(dir);
  const h = await startHarness({ archive: store, consume: false });
  try {
    const run = (await h.engine.startRun({ workflow: 'demo', businessKey: 'HALF-1', input: { sleepMs: 60_000 } })).run;
    await h.engine.cancelRun(run.id);
    const k = h.engine.keys;
    await waitFor(async () => (await h.redis.zscore(k.runsEndedByWorkflow('demo'), run.id)) !== null, 5000, 'ended index');
    // The state the removal script leaves: archived, the run's own keys gone, its index entries still there.
    const hash = await h.redis.hgetall(k.run(run.id));
    const history = historyFromStream((await h.redis.xrange(k.history(run.id), '-', '+')) as [string, string[]][]);
    await store.put([{ format: ARCHIVE_FORMAT, v: ARCHIVE_FORMAT_VERSION, archivedAt: Date.now(), run: JSON.parse(hash.doc), hseq: Number(hash.hseq), history, humanTasks: [] }]);
    await h.redis.del(k.run(run.id), k.history(run.id));
    assert.ok(await h.redis.zscore(k.runsByBusinessKey('HALF-1'), run.id), 'a dangling index entry');
    h.engine.startArchiver({ retention: parseRetention('*=1s'), everyMs: 200 });
    await waitFor(async () => (await h.redis.zscore(k.runsEndedByWorkflow('demo'), run.id)) === null, 10_000, 'the removal finished');
    assert.is(await h.redis.zscore(k.runsByBusinessKey('HALF-1'), run.id), null);
    assert.is(await h.redis.zscore(k.runsAll(), run.id), null);
    assert.is(await h.redis.zscore(k.runsByStatus('cancelled'), run.id), null);
    const got = await h.call('GET', `/v1/runs/${run.id}`, { key: 'viewer' });
    assert.is(got.body.archived, true);
    assert.is(got.body.status, 'cancelled');
  } finally {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('runs that ended before the ended-runs index existed are found once (backfill); retention is per workflow', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-archive-old-'));
  const h = await startHarness({ archive: createDirectoryStore(dir), consume: false, workflows: [] });
  try {
    const k = h.engine.keys;
    const demo = (await h.engine.startRun({ workflow: 'demo', input: { sleepMs: 60_000 } })).run;
    await h.engine.cancelRun(demo.id);
    const approval = JSON.parse(readFileSync(new URL('../fixtures/approval.json', import.meta.url), 'utf8'));
    await h.engine.registerJsonWorkflow({ name: 'approval', definition: approval });
    const kept = (await h.engine.startRun({ workflow: 'approval' })).run;
    await h.engine.cancelRun(kept.id);
    await waitFor(async () => (await h.redis.zcard(k.runsEndedByWorkflow('demo'))) === 1, 5000, 'ended index');
    // An installation from before the index: no ended entries, no backfill mark.
    await h.redis.del(k.runsEndedByWorkflow('demo'), k.runsEndedByWorkflow(kept.workflow), k.runsEndedWorkflows(), k.runsEndedBackfilled());
    h.engine.startArchiver({ retention: parseRetention(`demo=1s,${kept.workflow}=keep,*=1s`), everyMs: 200 });
    await waitFor(async () => !(await h.redis.exists(k.run(demo.id))), 10_000, 'the old demo run archived');
    assert.ok(await h.redis.exists(k.runsEndedBackfilled()));
    await new Promise((r) => setTimeout(r, 600));
    assert.is(await h.redis.exists(k.run(kept.id)), 1, `${kept.workflow} is kept`);
    assert.ok(await h.redis.zscore(k.runsEndedByWorkflow(kept.workflow), kept.id), 'and indexed for a later retention');
  } finally {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tasks still read archived runs and correct their measures; the KPI figures follow', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-archive-kpi-'));
  const scored = defineWorkflow({
    name: 'scored', version: 1, description: 'one measure at the end',
    kpis: [{ name: 'score', label: 'Score', unit: 'count', aggregate: 'mean' }],
    machine: setup({}).createMachine({
      id: 'scored', initial: 'open',
      states: { open: { on: { FINISH: 'done' } }, done: { type: 'final', entry: emit({ type: 'measure.recorded', measure: 'score', value: 10 } as never) } },
    }) as unknown as AnyStateMachine,
  });
  const h = await startHarness({ archive: createDirectoryStore(dir), consume: false, workflows: [scored] });
  try {
    const parent = (await h.engine.startRun({ workflow: 'scored' })).run;
    const child = (await h.engine.startRun({ workflow: 'scored', parentRunId: parent.id })).run;
    await h.engine.sendEvent(child.id, { type: 'FINISH' });
    await waitFor(async () => (await h.redis.zcard(h.engine.keys.runsEndedByWorkflow('scored'))) === 1, 5000, 'ended index');
    const kpi = async () => (await h.engine.kpiReport('scored')).kpis.find((k) => k.name === 'score')!;
    assert.is((await kpi()).value, 10);
    h.engine.startArchiver({ retention: parseRetention('scored=1s'), everyMs: 200 });
    await waitFor(async () => !(await h.redis.exists(h.engine.keys.run(child.id))), 10_000, 'child archived');
    assert.is((await kpi()).value, 10, 'archiving leaves the figures as they were');
    const services = h.engine.taskServices(parent.id, 'review');
    assert.is((await services.getRun(child.id))?.archived, true);
    assert.is(await services.parentOf(child.id), parent.id);
    assert.ok(await services.amendMeasure(child.id, 'score', { add: -4 }, 'penalty'));
    assert.is((await kpi()).value, 6);
  } finally {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
