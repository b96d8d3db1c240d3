// One scenario both archive stores must pass: runs end, a short retention moves them to the archive,
// nothing of them stays in Redis but KPI figures, and the API still serves them.
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { masters, type RedisClient, parseRetention, type ArchiveStore } from '../../engine/index.ts';
import { createEngineInstance as createEngine, type EngineInstance as Engine } from '../../engine/testing.ts';
import { builtInWorkflows } from '../../workflows/index.ts';
import { builtInTasks } from '../../workers/tasks/index.ts';
import { startHarness, type Harness } from '../api/harness.ts';
import { scanNode, waitFor, zcardEvery } from '../helpers.ts';
import { checkCli, checkConsole } from './surfaces.ts';

const approval = JSON.parse(readFileSync(new URL('../fixtures/approval.json', import.meta.url), 'utf8'));

/** Every key under the prefix and what it holds, as text (KPI figures and queue keys left out). */
export async function redisLeftovers(client: RedisClient, prefix: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  // Every master of a cluster; `<prefix>:*` and the hash-tagged keys (partitions, external tasks, catalog).
  for (const redis of masters(client)) {
    for (const pattern of [`${prefix}:*`, `{${prefix}-*`]) {
      for (const key of await scanNode(redis, pattern)) {
        // KPI figures stay by design; BullMQ's own job records are the queues' business, not the run's.
        if (key.includes(':kpi:') || /^\{[^}]+\}:(tasks|timers):/.test(key)) continue;
        const type = await redis.type(key);
        let content = '';
        if (type === 'string') content = (await redis.get(key)) ?? '';
        else if (type === 'hash') content = JSON.stringify(await redis.hgetall(key));
        else if (type === 'zset') content = JSON.stringify(await redis.zrange(key, '0', '-1'));
        else if (type === 'set') content = JSON.stringify(await redis.smembers(key));
        else if (type === 'stream') content = JSON.stringify(await redis.xrange(key, '-', '+'));
        else if (type === 'list') content = JSON.stringify(await redis.lrange(key, 0, -1));
        out.set(key, content);
      }
    }
  }
  return out;
}

async function all(h: Harness, path: string): Promise<any[]> {
  const items: any[] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const res: { status: number; body: any } = await h.call('GET', `${path}${cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : ''}`, { key: 'viewer' });
    assert.is(res.status, 200, JSON.stringify(res.body));
    items.push(...res.body.items);
    cursor = res.body.nextCursor;
  } while (cursor);
  return items;
}

async function send(h: Harness, id: string, event: Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await h.call('POST', `/v1/runs/${id}/events`, { key: 'operator', body: event, headers });
  assert.is(res.status, 200, `${String(event.type)}: ${JSON.stringify(res.body)}`);
  return res.body.run;
}

export interface ScenarioStore {
  /** A fresh client of the same archive (a second sweeper gets its own). */
  open(): ArchiveStore;
  /** How many copies of runs the store physically holds (a double write shows here). */
  copies(): Promise<number>;
  /** The environment that points `servicechart archive export` at this store. */
  env: Record<string, string>;
}

export async function archiveScenario(s: ScenarioStore): Promise<void> {
  const store = s.open();
  const h = await startHarness({ archive: store });
  let second: Engine | null = null;
  const store2 = s.open();
  try {
    assert.is((await h.call('POST', '/v1/workflows', { body: { name: 'approval', description: 'one approval', definition: approval } })).status, 201);
    // An incident closed end to end (its KPIs must not change), a parent and its child, a start and an
    // event under Idempotency-Keys, a human task completed, and one run that keeps running.
    const inc = (await h.call('POST', '/v1/runs', { key: 'operator', body: { workflow: 'incident', businessKey: 'INC-A1', input: { title: 'Checkout slow', impact: 2, urgency: 2, category: 'database', caller: 'carl', service: 'shop', autoCloseAfterMs: 100 } } })).body;
    await waitFor(async () => (await h.engine.getRun(inc.id)).context && ((await h.engine.getRun(inc.id)).context as any).assignmentGroup, 8000, 'routing');
    await send(h, inc.id, { type: 'ACKNOWLEDGE', by: 'dora' });
    await send(h, inc.id, { type: 'RESOLVE', code: 'fixed', comment: 'index rebuilt', by: 'dora' });
    await waitFor(async () => (await h.engine.getRun(inc.id)).status === 'done', 10_000, 'incident closed');

    const parent = (await h.call('POST', '/v1/runs', { key: 'operator', body: { workflow: 'demo', businessKey: 'DEMO-P', input: { sleepMs: 10_000 } } })).body;
    await send(h, parent.id, { type: 'SKIP' }, { 'idempotency-key': 'skip-1' });
    await send(h, parent.id, { type: 'FINISH' });
    const child = (await h.engine.startRun({ workflow: 'demo', parentRunId: parent.id, input: { sleepMs: 10_000 } })).run;
    await h.call('POST', `/v1/runs/${child.id}/cancel`, { key: 'operator', body: { reason: 'not needed' } });
    const keyed = await h.call('POST', '/v1/runs', { key: 'operator', body: { workflow: 'demo', input: { sleepMs: 10_000 } }, headers: { 'idempotency-key': 'start-1' } });
    assert.is(keyed.status, 201);
    await h.call('POST', `/v1/runs/${keyed.body.id}/cancel`, { key: 'operator', body: {} });
    const appr = (await h.call('POST', '/v1/runs', { key: 'operator', body: { workflow: 'approval', input: {} } })).body;
    const task = await waitFor(async () => (await h.call('GET', `/v1/tasks?runId=${appr.id}`, { key: 'viewer' })).body.items[0], 5000, 'human task');
    assert.is((await h.call('POST', `/v1/tasks/${task.id}/complete`, { key: 'operator', body: { outcome: 'APPROVE', by: 'ann' } })).status, 200);
    const live = (await h.call('POST', '/v1/runs', { key: 'operator', body: { workflow: 'demo', input: { sleepMs: 60_000 } } })).body;

    const ended = [inc.id, parent.id, child.id, keyed.body.id, appr.id] as string[];
    await waitFor(async () => {
      for (const id of ended) if ((await h.engine.getRun(id)).status === 'running') return false;
      return true;
    }, 5000, 'runs ended');
    // Outboxes flushed, the ended index written.
    await waitFor(async () => (await zcardEvery(h.redis, h.engine.keys, (p) => h.engine.keys.runsEndedByWorkflow(p, 'demo'))) === 3, 5000, 'ended index');
    const before = new Map<string, { run: any; history: any[] }>();
    for (const id of ended) before.set(id, { run: (await h.call('GET', `/v1/runs/${id}`, { key: 'viewer' })).body, history: await all(h, `/v1/runs/${id}/history?limit=500`) });
    const kpisBefore = (await h.call('GET', '/v1/kpis?workflow=incident', { key: 'viewer' })).body;
    assert.ok(kpisBefore.kpis.some((k: any) => k.count > 0), 'the incident recorded KPIs');

    // Two sweepers on one Redis (two engines, each with its own archive client): no run is archived twice.
    const retention = parseRetention('*=1s');
    h.engine.startArchiver({ retention, everyMs: 150, batchSize: 2 });
    second = createEngine({ redis: h.redis, prefix: h.prefix, partitions: h.engine.keys.partitions, workflows: builtInWorkflows, tasks: builtInTasks, archive: store2 });
    second.startArchiver({ retention, everyMs: 150, batchSize: 2 });
    await waitFor(async () => {
      for (const id of ended) if (await h.redis.exists(h.engine.keys.run(id as never))) return false;
      return (await zcardEvery(h.redis, h.engine.keys, (p) => h.engine.keys.runsEndedByWorkflow(p, 'demo'))) === 0;
    }, 15_000, 'runs archived and removed');
    // The last removals (index entries) follow the run's own keys: give them a moment to land.
    const leftovers = await waitFor(async () => {
      const l = await redisLeftovers(h.redis, h.prefix);
      for (const [key, content] of l) for (const id of ended) if (key.includes(id) || content.includes(id)) return null;
      return l;
    }, 5000, 'nothing of an archived run left in Redis but KPI figures');
    assert.ok([...leftovers.keys()].some((k) => k.includes(live.id)), 'the running run stays in Redis');
    assert.is(await s.copies(), ended.length, 'each run written to the archive once');

    // Still readable, from the archive.
    for (const id of ended) {
      const res = await h.call('GET', `/v1/runs/${id}`, { key: 'viewer' });
      assert.is(res.status, 200);
      assert.is(res.body.archived, true);
      const { archived, ...rest } = res.body;
      assert.equal(rest, before.get(id)!.run, `run ${id} as it was`);
      assert.equal(await all(h, `/v1/runs/${id}/history?limit=3`), before.get(id)!.history, `history of ${id} as it was`);
    }
    const listed = await all(h, '/v1/runs?archived=true&limit=2');
    assert.equal(listed.map((r) => r.id).sort(), [...ended].sort(), 'archived=true lists each archived run once');
    assert.ok(listed.every((r) => r.archived === true));
    assert.equal((await all(h, '/v1/runs')).map((r) => r.id), [live.id], 'Redis lists only the running run');
    assert.equal((await all(h, `/v1/runs?archived=true&parentRunId=${parent.id}`)).map((r) => r.id), [child.id], 'children still answerable');
    assert.is((await h.call('GET', `/v1/runs/${child.id}`, { key: 'viewer' })).body.parentRunId, parent.id);
    assert.equal((await all(h, '/v1/runs?archived=true&businessKey=INC-A1')).map((r) => r.id), [inc.id]);
    assert.equal((await all(h, '/v1/runs?archived=true&workflow=demo&status=cancelled')).map((r) => r.id).sort(), [child.id, keyed.body.id].sort());
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    assert.is((await all(h, `/v1/runs?archived=true&workflow=demo&endedSince=${today}&endedUntil=${tomorrow}`)).length, 3);
    assert.is((await all(h, `/v1/runs?archived=true&endedSince=${tomorrow}`)).length, 0);
    assert.is((await h.call('GET', `/v1/runs?endedSince=${today}`, { key: 'viewer' })).status, 422);
    // A repeated start answers the archived run; no second copy appears in Redis.
    const again = await h.call('POST', '/v1/runs', { key: 'operator', body: { workflow: 'demo', input: { sleepMs: 10_000 } }, headers: { 'idempotency-key': 'start-1' } });
    assert.is(again.status, 201);
    assert.is(again.body.id, keyed.body.id);
    assert.is(again.body.duplicate, true);
    assert.is(again.body.archived, true);
    assert.is(await h.redis.exists(h.engine.keys.run(keyed.body.id)), 0);
    // An event for an archived run: it has ended.
    assert.is((await h.call('POST', `/v1/runs/${parent.id}/events`, { key: 'operator', body: { type: 'FINISH' } })).status, 404);
    // The live stream of an archived run sends its history and ends.
    const stream = await fetch(`${h.url}/v1/runs/${inc.id}/stream?after=0`, { headers: { authorization: 'Bearer viewer-key-123456' } });
    const text = await stream.text();
    assert.ok(text.includes('event: archived'));
    assert.is(text.split('event: history').length - 1, before.get(inc.id)!.history.length);
    // KPI figures are kept apart from runs: unchanged.
    assert.equal((await h.call('GET', '/v1/kpis?workflow=incident', { key: 'viewer' })).body, kpisBefore);
    await checkCli(h, ended, s.env);
    await checkConsole(h, parent.id);
    const ready = await h.call('GET', '/readyz', { key: null });
    assert.is(ready.status, 200);
    assert.is(ready.body.archive.status, 'ok');
  } finally {
    await second?.close();
    await h.close();
    await store.close();
    await store2.close();
  }
}
