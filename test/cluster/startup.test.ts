// Start-up refusals and logins, through the real `servicechart` command: two topologies at once, a
// Sentinel set without its master's name, replica acknowledgements with no replicas, a cluster whose
// slots are not all served, a partition count that differs from the installation's; and an ACL user.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, startRedis } from './harness.ts';
import { startServers } from './e2e.ts';
import { freePortForTest, kill9, newPrefix, spawnReady } from '../helpers.ts';
import { readConfig } from '../../bin/config.ts';

const test = suite('startup');
const repoRoot = new URL('../..', import.meta.url).pathname;

/** Run `servicechart api` until it exits (or is ready, which fails the expectation of a refusal). */
async function refusal(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'sc-startup-'));
  const clean: Record<string, string | undefined> = { ...process.env, REDIS_URL: undefined, REDIS_CLUSTER_NODES: undefined, REDIS_SENTINELS: undefined };
  const child = spawn(process.execPath, ['bin/servicechart.js', 'api'], {
    cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...clean, SERVICECHART_DATA_DIR: dir, PORT: String(await freePortForTest()), SERVICECHART_API_KEYS: 'ops:startup-key-0123:operator', ...env } as NodeJS.ProcessEnv,
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  clearTimeout(timer);
  rmSync(dir, { recursive: true, force: true });
  assert.not.match(out, /listening on/, 'the process must not serve');
  return { code, out };
}

test('two topologies at once: exit 1, naming both variables', async () => {
  const r = await refusal({ REDIS_URL: 'redis://127.0.0.1:1', REDIS_CLUSTER_NODES: '127.0.0.1:2,127.0.0.1:3' });
  assert.is(r.code, 1);
  assert.match(r.out, /REDIS_URL and REDIS_CLUSTER_NODES are both set/);
  const s = await refusal({ REDIS_CLUSTER_NODES: '127.0.0.1:2', REDIS_SENTINELS: '127.0.0.1:3' });
  assert.match(s.out, /REDIS_CLUSTER_NODES and REDIS_SENTINELS are both set/);
});

test('bad settings are refused before anything connects, each naming the variable', () => {
  const refused = (env: Record<string, string>) => assert.throws(() => readConfig(env, 'api'));
  const message = (env: Record<string, string>) => {
    try {
      readConfig(env, 'api');
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error(`accepted ${JSON.stringify(env)}`);
  };
  assert.match(message({ REDIS_URL: 'redis://a:1', REDIS_SENTINELS: 'b:2', REDIS_SENTINEL_MASTER: 'm' }), /REDIS_URL and REDIS_SENTINELS are both set/);
  assert.match(message({ REDIS_SENTINELS: '127.0.0.1:26379' }), /REDIS_SENTINELS needs REDIS_SENTINEL_MASTER/);
  assert.match(message({ REDIS_SENTINEL_MASTER: 'm' }), /REDIS_SENTINEL_MASTER is set without REDIS_SENTINELS/);
  assert.match(message({ SERVICECHART_REPLICA_ACKS: '1' }), /SERVICECHART_REPLICA_ACKS needs replicas/);
  assert.match(message({ REDIS_PASSWORD: 'x' }), /REDIS_PASSWORD set, but no Redis is named/);
  assert.match(message({ REDIS_CLUSTER_NODES: 'nohostport' }), /REDIS_CLUSTER_NODES must be a comma-separated list of host:port/);
  assert.match(message({ REDIS_URL: '127.0.0.1:6379,127.0.0.1:6380' }), /REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL.*REDIS_CLUSTER_NODES/);
  assert.match(message({ REDIS_URL: 'redis://a:1', REDIS_TLS: 'yes' }), /REDIS_TLS must be 1 or 0/);
  assert.match(message({ REDIS_CLUSTER_NODES: 'a:1', SERVICECHART_PARTITIONS: '300' }), /SERVICECHART_PARTITIONS must be a whole number from 0 to 256/);
  refused({ REDIS_URL: 'redis://a:1', SERVICECHART_REPLICA_ACKS: '1', SERVICECHART_REPLICA_ACK_TIMEOUT_MS: '0' });
  const cluster = readConfig({ REDIS_CLUSTER_NODES: 'a:1, b:2', REDIS_USERNAME: 'sc', REDIS_PASSWORD: 'pw', REDIS_TLS: '1', SERVICECHART_REPLICA_ACKS: '1' }, 'api');
  assert.equal(cluster.redis, { topology: 'cluster', nodes: [{ host: 'a', port: 1 }, { host: 'b', port: 2 }], username: 'sc', password: 'pw', tls: true });
  assert.is(cluster.partitions, 16, '16 partitions by default on a cluster');
  assert.equal(cluster.replicaAcks, { replicas: 1, timeoutMs: 1000 });
  assert.equal(readConfig({ REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_MASTER: 'm', REDIS_PASSWORD: 'data', REDIS_SENTINEL_PASSWORD: 'sent' }, 'api').redis, {
    topology: 'sentinel', sentinels: [{ host: 's', port: 26379 }], masterName: 'm', sentinelUsername: undefined, sentinelPassword: 'sent', username: undefined, password: 'data', tls: false,
  });
  assert.is(readConfig({}, 'api').partitions, 1, 'one partition by default on one node');
  assert.is(readConfig({}, 'api').redis, null, 'the embedded Redis by default');
});

test('a cluster with uncovered slots: exit 1, saying how many slots are served', async () => {
  const cluster = await startCluster({ masters: 3, replicasPerMaster: 0, coverSlotsBelow: 10_000 });
  try {
    const r = await refusal({ REDIS_CLUSTER_NODES: cluster.seeds });
    assert.is(r.code, 1);
    assert.match(r.out, /serves 10000 of 16384 hash slots/);
  } finally {
    await cluster.stop();
  }
});

test('a partition count other than the installation\'s: exit 1, naming the stored count', async () => {
  const cluster = await startCluster({ masters: 3, replicasPerMaster: 0 });
  const prefix = newPrefix();
  try {
    const first = await startServers({ REDIS_CLUSTER_NODES: cluster.seeds, SERVICECHART_PREFIX: prefix }, 0);
    assert.is((await first.call('POST', '/v1/runs', { workflow: 'demo', input: { coolDownMs: 0 } })).status, 201);
    await first.stop();
    const r = await refusal({ REDIS_CLUSTER_NODES: cluster.seeds, SERVICECHART_PREFIX: prefix, SERVICECHART_PARTITIONS: '8' });
    assert.is(r.code, 1);
    assert.match(r.out, /created with 16 partitions.*configured with 8.*SERVICECHART_PARTITIONS=16/);
  } finally {
    await cluster.stop();
  }
});

test('an ACL user: REDIS_USERNAME/REDIS_PASSWORD log in; without them the process refuses to start', async () => {
  // The default user may only PING: every command the engine sends needs the `sc` user.
  const server = await startRedis(['--user', 'default', 'on', 'nopass', '-@all', '+ping', '--user', 'sc', 'on', '>sc-secret-pw', '~*', '&*', '+@all']);
  try {
    const url = `redis://${server.address}`;
    const denied = await refusal({ REDIS_URL: url });
    assert.is(denied.code, 1);
    assert.match(denied.out, /NOPERM|NOAUTH|permission/i);
    const env = { REDIS_URL: url, REDIS_USERNAME: 'sc', REDIS_PASSWORD: 'sc-secret-pw', SERVICECHART_PREFIX: newPrefix() };
    const servers = await startServers(env, 0);
    try {
      const worker = await spawnReady(['bin/servicechart.js', 'worker'], { ...env, LOG_LEVEL: 'info' }, /consumers running/, 40_000);
      try {
        const started = await servers.call('POST', '/v1/runs', { workflow: 'demo', input: { sleepMs: 10, coolDownMs: 10 } });
        assert.is(started.status, 201);
        const deadline = Date.now() + 20_000;
        let status = '';
        while (Date.now() < deadline && status !== 'done') {
          status = (await servers.call('GET', `/v1/runs/${started.body.id}`)).body.status;
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.is(status, 'done', 'the run went through its task and timer as the ACL user');
      } finally {
        await kill9(worker);
      }
    } finally {
      await servers.stop();
    }
  } finally {
    await server.stop();
  }
});

test.run();
