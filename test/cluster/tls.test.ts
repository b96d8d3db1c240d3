// REDIS_TLS=1 with an ACL user, as managed services require: a redis-server, then a Redis Cluster, that
// speak TLS (certificates signed by a test CA the process trusts through NODE_EXTRA_CA_CERTS), logged
// into as the `sc` user. The fixtures in test/fixtures/tls are for tests only; the CA's key was discarded.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { startCluster, startRedis } from './harness.ts';
import { startServers } from './e2e.ts';
import { freePortForTest, newPrefix, spawnReady, kill9, waitFor } from '../helpers.ts';

const test = suite('tls');
const tls = (name: string) => fileURLToPath(new URL(`../fixtures/tls/${name}`, import.meta.url));

test('REDIS_TLS=1 with REDIS_USERNAME/REDIS_PASSWORD: a run goes through its task and timer over TLS', async () => {
  const tlsPort = await freePortForTest();
  const server = await startRedis([
    '--tls-port', String(tlsPort), '--tls-cert-file', tls('server.crt'), '--tls-key-file', tls('server.key'), '--tls-ca-cert-file', tls('ca.crt'),
    '--tls-auth-clients', 'no',
    '--user', 'default', 'on', 'nopass', '-@all', '+ping', '--user', 'sc', 'on', '>sc-tls-secret', '~*', '&*', '+@all',
  ]);
  try {
    const env = {
      REDIS_URL: `redis://localhost:${tlsPort}`, REDIS_TLS: '1', REDIS_USERNAME: 'sc', REDIS_PASSWORD: 'sc-tls-secret',
      NODE_EXTRA_CA_CERTS: tls('ca.crt'), SERVICECHART_PREFIX: newPrefix(),
    };
    const servers = await startServers(env, 0);
    const worker = await spawnReady(['bin/servicechart.js', 'worker'], { ...env, LOG_LEVEL: 'info' }, /consumers running/, 40_000);
    try {
      const started = await servers.call('POST', '/v1/runs', { workflow: 'demo', input: { sleepMs: 10, coolDownMs: 10 } });
      assert.is(started.status, 201);
      // REDIS_URL names the TLS port, where a plaintext client gets no answer; the default user may only PING.
      await waitFor(async () => (await servers.call('GET', `/v1/runs/${started.body.id}`)).body.status === 'done', 20_000, 'the run to end');
    } finally {
      await kill9(worker);
      await servers.stop();
    }
  } finally {
    await server.stop();
  }
});

test('a Redis Cluster over TLS only (clients, bus, replication) with an ACL user: processes start, runs go through, every master sees the sc user', async () => {
  const cluster = await startCluster({
    masters: 3, replicasPerMaster: 1, tls: { cert: tls('server.crt'), key: tls('server.key'), ca: tls('ca.crt') },
    serverArgs: ['--user', 'sc', 'on', '>sc-cluster-secret', '~*', '&*', '+@all'],
  });
  try {
    const env = {
      REDIS_CLUSTER_NODES: cluster.seeds, REDIS_TLS: '1', REDIS_USERNAME: 'sc', REDIS_PASSWORD: 'sc-cluster-secret',
      NODE_EXTRA_CA_CERTS: tls('ca.crt'), SERVICECHART_PREFIX: newPrefix(), SERVICECHART_REPLICA_ACKS: '1',
    };
    const servers = await startServers(env, 1);
    try {
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) {
        const res = await servers.call('POST', '/v1/runs', { workflow: 'demo', input: { sleepMs: 10, coolDownMs: 10 } });
        assert.is(res.status, 201, JSON.stringify(res.body));
        ids.push(res.body.id);
      }
      for (const id of ids) await waitFor(async () => (await servers.call('GET', `/v1/runs/${id}`)).body.status === 'done', 20_000, `run ${id} to end`);
      for (const m of await cluster.masters()) {
        const clients = String(await m.node.command('CLIENT', 'LIST'));
        assert.ok(/ user=sc /.test(clients), `master ${m.node.address} serves the sc user`);
      }
    } finally {
      await servers.stop();
    }
  } finally {
    await cluster.stop();
  }
});

test.run();
