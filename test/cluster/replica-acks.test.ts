// SERVICECHART_REPLICA_ACKS through the API, in process: a write is answered 2xx once a replica holds
// it; with the replica gone it is answered 503 UNAVAILABLE with Retry-After after the ack timeout (the
// write may still apply), and its retry with the same Idempotency-Key applies it once. On a cluster the
// WAIT goes to the master that owns the run's slot: losing one master's replica refuses only the
// writes to that master's partitions.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Command } from 'ioredis';
import { createEngineInstance as createEngine, type EngineInstance as Engine } from '../../engine/testing.ts';
import { connectRedis } from '../../engine/connection.ts';
import type { RedisClient } from '../../engine/clients.ts';
import { createApp } from '../../api/app.ts';
import { createAuth, parseApiKeys } from '../../api/auth.ts';
import { builtInTasks } from '../../workers/tasks/index.ts';
import { builtInWorkflows } from '../../workflows/index.ts';
import { info, startCluster, startRedis, type RedisNode } from './harness.ts';
import { newPrefix, waitFor } from '../helpers.ts';
import { parentRecorder } from '../workflows/delivery-helpers.ts';
import { startTaskWorker } from '../../workers/runtime.ts';

const test = suite('replica acks');
const KEY = 'acks-operator-key-0123';
const quiet = { info() {}, warn() {}, debug() {}, error() {} };

async function serve(redis: RedisClient, acks: { replicas: number; timeoutMs: number }, partitions?: number) {
  const engine: Engine = createEngine({ redis, prefix: newPrefix(), partitions, replicaAcks: acks, workflows: builtInWorkflows, tasks: builtInTasks });
  await engine.ready();
  const app = createApp({ engine, auth: createAuth(parseApiKeys(`ops:${KEY}:operator`)), logger: quiet });
  const http: Server = await new Promise((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const call = async (path: string, body: unknown, idem?: string) => {
    const started = Date.now();
    const res = await fetch(url + path, {
      method: 'POST', body: JSON.stringify(body),
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', ...(idem ? { 'idempotency-key': idem } : {}) },
    });
    return { status: res.status, body: await res.json(), retryAfter: res.headers.get('retry-after'), ms: Date.now() - started };
  };
  const events = async (id: string, type: string) => (await engine.getHistory(id, { limit: 200 })).items.filter((e) => e.type === 'event.received' && (e as { event?: string }).event === type).length;
  return {
    engine, call, events,
    async close() {
      http.closeAllConnections();
      await new Promise((r) => http.close(r));
      await engine.close();
    },
  };
}

async function linked(master: RedisNode, replicas: number): Promise<void> {
  await waitFor(async () => {
    const r = await info(master.port, 'replication');
    return Number(r.connected_slaves) >= replicas && /state=online/.test(r.slave0 ?? '');
  }, 20_000, 'the replica to link');
}

test('one master, one replica: 2xx once replicated; 503 with Retry-After when the replica is gone; the retry applies once', async () => {
  const master = await startRedis();
  const replica = await startRedis(['--replicaof', '127.0.0.1', String(master.port)]);
  const redis = await connectRedis(`redis://${master.address}`);
  redis.on('error', () => undefined);
  const s = await serve(redis, { replicas: 1, timeoutMs: 600 });
  try {
    await linked(master, 1);
    const started = await s.call('/v1/runs', { workflow: 'demo', input: { sleepMs: 60_000 } }, 'start-1');
    assert.is(started.status, 201, JSON.stringify(started.body));
    const id = started.body.id as string;

    await replica.kill();
    await waitFor(async () => Number((await info(master.port, 'replication')).connected_slaves) === 0, 20_000, 'the master to see its replica gone');
    const refused = await s.call(`/v1/runs/${id}/events`, { type: 'SKIP' }, 'skip-1');
    assert.is(refused.status, 503);
    assert.is(refused.body.error.code, 'UNAVAILABLE');
    assert.is(refused.retryAfter, '1');
    assert.ok(refused.ms >= 550 && refused.ms < 5000, `answered after the ack timeout, within 5 s (${refused.ms} ms)`);
    assert.is(await s.events(id, 'SKIP'), 1, 'the unconfirmed write is on the master (it may still apply)');

    await replica.restart();
    await linked(master, 1);
    const retried = await s.call(`/v1/runs/${id}/events`, { type: 'SKIP' }, 'skip-1');
    assert.is(retried.status, 200, JSON.stringify(retried.body));
    assert.is(await s.events(id, 'SKIP'), 1, 'the retry with the same Idempotency-Key applied nothing twice');
  } finally {
    await s.close();
    redis.disconnect();
    await replica.stop();
    await master.stop();
  }
});

test("an external worker's result is acknowledged only once a replica holds it; its retry then applies nothing twice", async () => {
  const master = await startRedis();
  const replica = await startRedis(['--replicaof', '127.0.0.1', String(master.port)]);
  const redis = await connectRedis(`redis://${master.address}`);
  redis.on('error', () => undefined);
  const engine = createEngine({ redis, prefix: newPrefix(), replicaAcks: { replicas: 1, timeoutMs: 2000 }, workflows: builtInWorkflows, tasks: builtInTasks, externalTasks: ['sleep'] });
  try {
    await engine.ready();
    await linked(master, 1);
    const { run } = await engine.startRun({ workflow: 'demo', idempotencyKey: 'ext-1', input: { sleepMs: 1, coolDownMs: 60_000 } });
    const [task] = await waitFor(async () => {
      const got = await engine.externalTasks.fetch({ workerId: 'w1', types: ['sleep'], max: 1, lockMs: 30_000, waitMs: 0, announce: false });
      return got.length ? got : null;
    }, 10_000, 'the external task');

    await replica.kill();
    await waitFor(async () => Number((await info(master.port, 'replication')).connected_slaves) === 0, 20_000, 'the master to see its replica gone');
    const refused = await engine.externalTasks.complete(task.id, task.lockToken, { sleptMs: 1 }).then(() => null, (err: unknown) => err as { code?: string });
    assert.is(refused?.code, 'UNAVAILABLE', 'not acknowledged while no replica holds the result');

    await replica.restart();
    await linked(master, 1);
    const retried = await engine.externalTasks.complete(task.id, task.lockToken, { sleptMs: 1 }).then(() => 'ok', (err: { code?: string; details?: { reason?: string } }) => `${err.code}:${err.details?.reason}`);
    assert.ok(['ok', 'CONFLICT:done'].includes(retried), `the retry settles the task (${retried})`);
    const h = (await engine.getHistory(run.id, { limit: 100 })).items;
    assert.is(h.filter((e) => e.type === 'task.completed' && !e.ignored).length, 1, 'the result applied once');
    assert.is((await engine.getRun(run.id)).state, 'coolingDown');
  } finally {
    await engine.close();
    redis.disconnect();
    await replica.stop();
    await master.stop();
  }
});

test("cluster: the WAIT goes to the master owning the run's slot; losing one master's replica refuses only its partitions' writes", async () => {
  const cluster = await startCluster({ masters: 3, replicasPerMaster: 1 });
  const redis = await connectRedis({ topology: 'cluster', nodes: [{ host: cluster.nodes[0].host, port: cluster.nodes[0].port }] });
  redis.on('error', () => undefined);
  const s = await serve(redis, { replicas: 1, timeoutMs: 600 }, 16);
  try {
    const masters = await cluster.masters();
    const ownerOf = (id: string) => {
      const slot = new Command('exists', [s.engine.keys.run(id as never)]).getSlot()!;
      return masters.find((m) => m.slots.some(([a, b]) => slot >= a && slot <= b))!.node;
    };
    const byMaster = new Map<RedisNode, string[]>();
    for (let i = 0; i < 24; i++) {
      const res = await s.call('/v1/runs', { workflow: 'demo', input: { sleepMs: 60_000 } }, `c-start-${i}`);
      assert.is(res.status, 201);
      const owner = ownerOf(res.body.id);
      byMaster.set(owner, [...(byMaster.get(owner) ?? []), res.body.id]);
    }
    assert.is(byMaster.size, 3, 'runs landed on every master');

    const [victim, other] = [masters[0].node, masters[1].node];
    const replicaOf = async (m: RedisNode) => {
      for (const n of cluster.nodes) {
        const r = await info(n.port, 'replication');
        if (r.role === 'slave' && Number(r.master_port) === m.port) return n;
      }
      throw new Error(`no replica of ${m.address}`);
    };
    const gone = await replicaOf(victim);
    await gone.kill();
    await waitFor(async () => Number((await info(victim.port, 'replication')).connected_slaves) === 0, 20_000, 'the master to see its replica gone');

    const refused = await s.call(`/v1/runs/${byMaster.get(victim)![0]}/events`, { type: 'SKIP' }, 'c-skip-victim');
    assert.is(refused.status, 503, JSON.stringify(refused.body));
    const fine = await s.call(`/v1/runs/${byMaster.get(other)![0]}/events`, { type: 'SKIP' }, 'c-skip-other');
    assert.is(fine.status, 200, JSON.stringify(fine.body));
    assert.ok(fine.ms < 500, `the other master's write was confirmed at once (${fine.ms} ms)`);

    await gone.restart();
    await cluster.waitHealthy();
    const retried = await s.call(`/v1/runs/${byMaster.get(victim)![0]}/events`, { type: 'SKIP' }, 'c-skip-victim');
    assert.is(retried.status, 200, JSON.stringify(retried.body));
    assert.is(await s.events(byMaster.get(victim)![0], 'SKIP'), 1);
  } finally {
    await s.close();
    redis.disconnect();
    await cluster.stop();
  }
});

test("cluster: a run a task starts on another master counts as started only once that master's replica holds it", async () => {
  const cluster = await startCluster({ masters: 3, replicasPerMaster: 1 });
  const redis = await connectRedis({ topology: 'cluster', nodes: [{ host: cluster.nodes[0].host, port: cluster.nodes[0].port }] });
  redis.on('error', () => undefined);
  const prefix = newPrefix();
  const workflows = [...builtInWorkflows, parentRecorder];
  // The worker's engine waits for one replica; the test starts the parent through one that does not.
  const engine = createEngine({ redis, prefix, partitions: 16, replicaAcks: { replicas: 1, timeoutMs: 300 }, workflows, tasks: builtInTasks });
  const starter = createEngine({ redis, prefix, partitions: 16, workflows, tasks: builtInTasks });
  await engine.ready();
  engine.startTimerConsumer();
  const worker = await startTaskWorker({ engine, concurrency: 4 });
  try {
    const replicas: RedisNode[] = [];
    for (const n of cluster.nodes) if ((await info(n.port, 'replication')).role === 'slave') replicas.push(n);
    assert.is(replicas.length, 3);
    // No master has a replica now: whichever master the child lands on cannot confirm it.
    for (const r of replicas) await r.kill();
    for (const m of await cluster.masters()) {
      await waitFor(async () => Number((await info(m.node.port, 'replication')).connected_slaves) === 0, 20_000, 'the masters to see their replicas gone');
    }
    const { run: parent } = await starter.startRun({ workflow: 'parent-recorder', input: { workflow: 'demo', input: { sleepMs: 10, coolDownMs: 60_000 } } });
    await waitFor(async () => (await engine.getHistory(parent.id, { limit: 50 })).items.some((e) => e.type === 'task.scheduled'), 10_000, 'the start_run task');
    // Longer than the task's three attempts with their backoff (1 s, 2 s): an outage spends none.
    await new Promise((r) => setTimeout(r, 4000));
    let h = (await engine.getHistory(parent.id, { limit: 50 })).items;
    assert.is((await engine.getRun(parent.id)).state, 'starting', 'the parent has not taken the unconfirmed child');
    assert.equal(h.filter((e) => ['task.completed', 'task.failed', 'task.retrying'].includes(e.type)), [], 'no result, failure or spent attempt');

    for (const r of replicas) await r.restart();
    await cluster.waitHealthy();
    const moved = await waitFor(async () => {
      const r = await engine.getRun(parent.id);
      return r.state === 'waiting' ? r : null;
    }, 20_000, 'the parent to take its child once replicated');
    const childId = (moved.context as { childRunId: string }).childRunId;
    assert.is((await engine.getRun(childId)).parentRunId, parent.id, 'the child exists and names its parent');
    h = (await engine.getHistory(parent.id, { limit: 50 })).items;
    assert.is(h.filter((e) => e.type === 'task.completed' && !e.ignored).length, 1, 'the task result applied once');
    assert.is(h.filter((e) => e.type === 'task.retrying' || e.type === 'task.failed').length, 0);
    assert.is((await engine.listRuns({ parentRunId: parent.id, limit: 10 })).items.length, 1, 'one child, however often the task ran');
  } finally {
    await worker.close(2000).catch(() => undefined);
    await engine.close().catch(() => undefined);
    await starter.close().catch(() => undefined);
    redis.disconnect();
    await cluster.stop();
  }
});

test.run();
