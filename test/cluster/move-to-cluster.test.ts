// Moving an installation from one Redis to a Redis Cluster, as docs/production.md describes: with the
// processes stopped, `redis-cli --cluster import --cluster-copy` copies every key into the cluster
// (each partition's keys share a hash tag, so each lands whole on one master), and the processes start
// again on REDIS_CLUSTER_NODES with the same SERVICECHART_PARTITIONS. Runs, their pending timers and
// human tasks, indexes and business keys carry over.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startCluster, startRedis } from './harness.ts';
import { history, openTask, completeTask, startServers } from './e2e.ts';
import { newPrefix, waitFor } from '../helpers.ts';

const test = suite('move to cluster');
const run = promisify(execFile);

test('runs started on one node go on after the keys are imported into a 3-master cluster', async () => {
  const single = await startRedis(['--appendonly', 'yes']);
  const cluster = await startCluster({ masters: 3, replicasPerMaster: 0 });
  const prefix = newPrefix();
  try {
    const before = await startServers({ REDIS_URL: `redis://${single.address}`, SERVICECHART_PARTITIONS: '16', SERVICECHART_PREFIX: prefix }, 1);
    const ids: string[] = [];
    let demo = '';
    let change = '';
    try {
      for (let i = 0; i < 8; i++) {
        const res = await before.call('POST', '/v1/runs', { workflow: 'incident', businessKey: `INC-MOVE-${i}`, input: { title: `t${i}`, impact: 3, urgency: 3, category: 'network', caller: 'c', service: 's', autoCloseAfterMs: 200 } });
        assert.is(res.status, 201);
        ids.push(res.body.id);
      }
      demo = (await before.call('POST', '/v1/runs', { workflow: 'demo', input: { sleepMs: 10, coolDownMs: 15_000 } })).body.id;
      const now = Date.now();
      change = (await before.call('POST', '/v1/runs', {
        workflow: 'change', businessKey: 'CHG-MOVE', input: {
          changeType: 'standard', templateId: 'r', requestedBy: 'rita', implementer: 'ivan', ci: ['web-1'],
          templates: { r: { active: true, implementationPlan: 'p', backoutPlan: 'b', testPlan: 't' } },
          plannedStart: new Date(now + 1000).toISOString(), plannedEnd: new Date(now + 3_600_000).toISOString(),
          schedules: { maintenance: { 'web-1': [{ start: new Date(now - 3_600_000).toISOString(), end: new Date(now + 360_000_000).toISOString() }] } },
        },
      })).body.id;
      await openTask(before, change, 'change_requester');
      await waitFor(async () => (await before.call('GET', `/v1/runs/${demo}`)).body.state === 'coolingDown', 20_000, 'the demo run to wait on its timer');
    } finally {
      await before.stop();
    }

    const { stdout } = await run('redis-cli', ['--cluster', 'import', cluster.nodes[0].address, '--cluster-from', single.address, '--cluster-copy'], { timeout: 60_000 });
    assert.match(stdout, /Migrating/);
    let keys = 0;
    for (const m of await cluster.masters()) {
      const n = Number(await m.node.command('DBSIZE'));
      assert.ok(n > 0, `master ${m.node.address} holds keys after the import`);
      keys += n;
    }
    assert.is(keys, Number(await single.command('DBSIZE')), 'every key was copied');

    const after = await startServers({ REDIS_CLUSTER_NODES: cluster.seeds, SERVICECHART_PARTITIONS: '16', SERVICECHART_PREFIX: prefix }, 1);
    try {
      const listed = await after.call('GET', '/v1/runs?workflow=incident&limit=50');
      assert.equal(listed.body.items.map((r: any) => r.id).sort(), [...ids].sort(), 'the run index carried over');
      const byKey = await after.call('GET', '/v1/runs?businessKey=INC-MOVE-3');
      assert.equal(byKey.body.items.map((r: any) => r.id), [ids[3]], 'the business-key index carried over');
      for (const id of ids) {
        for (const type of ['ACKNOWLEDGE', 'RESOLVE']) {
          const res = await after.call('POST', `/v1/runs/${id}/events`, { type, by: 'dora', ...(type === 'RESOLVE' ? { code: 'fixed', comment: 'ok' } : {}) });
          assert.is(res.status, 200, JSON.stringify(res.body));
        }
      }
      const submit = await openTask(after, change, 'change_requester');
      await completeTask(after, submit.id, 'SUBMIT', 'rita');
      await completeTask(after, (await openTask(after, change, 'implementer')).id, 'SUCCESS', 'ivan');
      for (const id of [...ids, demo, change]) {
        await waitFor(async () => (await after.call('GET', `/v1/runs/${id}`)).body.status === 'done', 40_000, `run ${id} to end on the cluster`);
      }
      assert.is((await history(after, demo)).filter((e) => e.type === 'timer.fired').length, 1, 'the timer armed on one node fired once, on the cluster');
    } finally {
      await after.stop();
    }
  } finally {
    await cluster.stop();
    await single.stop();
  }
});

test.run();
