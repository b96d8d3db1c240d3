// Real Redis topologies for tests: a Redis Cluster (masters with replicas) and a Sentinel set, each
// started from `redis-server`/`redis-cli` on free loopback ports in temp dirs, with the faults tests
// inject (SIGKILL a node, restart it, wait for the failover). Everything started here is killed at
// `stop()`, at process exit, and, through a watchdog shell that holds a pipe from this process, even
// when this process itself is SIGKILLed.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../../bin/embedded-redis.ts';

const HOST = '127.0.0.1';

/** One redis-server (a cluster node, a sentinel's master or replica, or a sentinel). */
export interface RedisNode {
  readonly host: string;
  readonly port: number;
  /** `host:port`, as in a seed list. */
  readonly address: string;
  /** The redis-server's pid while it runs (changes on restart). */
  pid: number;
  /** SIGKILL the server and wait until it no longer answers. */
  kill(): Promise<void>;
  /** Start it again on the same port and data dir (a cluster node rejoins with its nodes.conf). */
  restart(): Promise<void>;
  /** Whether it was started and not killed since. */
  readonly running: boolean;
  /** A short-lived command on this node. */
  command(...args: (string | number)[]): Promise<unknown>;
}

const everyPid = new Set<number>();
/** Nodes that speak TLS only, by port, with the CA that signed their certificate. */
const tlsByPort = new Map<number, { ca: string }>();
const everyDir = new Set<string>();
let exitHook = false;

function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const pid of everyPid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const dir of everyDir) rmSync(dir, { recursive: true, force: true });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Run one command on host:port over a fresh connection that gives up quickly. */
export async function nodeCommand(port: number, ...args: (string | number)[]): Promise<unknown> {
  const tls = tlsByPort.get(port);
  const r = new Redis({
    host: HOST, port, lazyConnect: true, enableReadyCheck: false, connectTimeout: 1000, commandTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null,
    ...(tls ? { tls: { ca: readFileSync(tls.ca) } } : {}),
  });
  r.on('error', () => {});
  try {
    await r.connect();
    return await r.call(String(args[0]), ...args.slice(1).map(String));
  } finally {
    r.disconnect();
  }
}

async function answers(port: number): Promise<boolean> {
  try {
    return (await nodeCommand(port, 'PING')) === 'PONG';
  } catch {
    return false;
  }
}

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | false | null | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`harness: timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(50);
  }
}

/** Parse an INFO reply (or one section of it) into fields. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

export async function info(port: number, section: string): Promise<Record<string, string>> {
  return parseInfo(String(await nodeCommand(port, 'INFO', section)));
}

/**
 * Start redis-server with `args` (the port and dir are added) behind a watchdog shell: the shell
 * reads its stdin, a pipe from this process, and SIGKILLs the server when the pipe closes, which
 * happens when this process dies in any way.
 */
function startServer(port: number, dir: string, args: string[], sentinel = false): Promise<{ pid: number; watchdog: ChildProcess }> {
  const all = [...(sentinel ? ['--sentinel'] : []), '--port', String(port), '--bind', HOST, '--dir', dir, '--daemonize', 'no', '--logfile', join(dir, 'redis.log'), ...args];
  const watchdog = spawn('sh', ['-c', 'redis-server "$@" & p=$!; echo $p; read _ ; kill -9 $p 2>/dev/null', 'sh', ...(sentinel ? [join(dir, 'sentinel.conf')] : []), ...all], {
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    watchdog.stdout!.on('data', (d) => {
      out += d;
      const m = /^(\d+)\n/.exec(out);
      if (!m) return;
      // From here on the watchdog must not keep this process alive.
      watchdog.unref();
      (watchdog.stdout as unknown as { unref(): void }).unref();
      (watchdog.stdin as unknown as { unref(): void }).unref();
      resolve({ pid: Number(m[1]), watchdog });
    });
    watchdog.once('exit', () => reject(new Error('harness: the watchdog shell exited before redis-server started')));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A node whose ports are free and whose dir is fresh; `extra(port)` gives the server's own arguments. */
async function launchNode(root: string, name: string, extra: (port: number) => string[], opts: { sentinel?: string; tls?: { ca: string } } = {}): Promise<RedisNode> {
  installExitHook();
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  let port = 0;
  let pid = 0;
  let watchdog: ChildProcess | null = null;
  let running = false;

  const boot = async (): Promise<boolean> => {
    if (opts.sentinel !== undefined) writeFileSync(join(dir, 'sentinel.conf'), opts.sentinel.replaceAll('$PORT', String(port)));
    const started = await startServer(port, dir, extra(port), opts.sentinel !== undefined);
    pid = started.pid;
    watchdog = started.watchdog;
    everyPid.add(pid);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (await answers(port)) {
        running = true;
        return true;
      }
      if (!alive(pid)) break;
      await sleep(30);
    }
    stopWatchdog();
    return false;
  };
  const stopWatchdog = () => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
    everyPid.delete(pid);
    watchdog?.stdin?.end();
    watchdog = null;
  };

  // Another test process may take a port between freePort() and the bind: pick again then.
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    if (opts.tls) tlsByPort.set(port, opts.tls);
    if (await boot()) break;
    if (attempt === 4) throw new Error(`harness: redis-server ${name} did not start (see ${dir}/redis.log)`);
  }

  const node: RedisNode = {
    host: HOST,
    port,
    address: `${HOST}:${port}`,
    get pid() {
      return pid;
    },
    set pid(v: number) {
      pid = v;
    },
    get running() {
      return running;
    },
    async kill() {
      running = false;
      stopWatchdog();
      await until(`${name} to stop`, 5000, async () => !alive(pid) && !(await answers(port)));
    },
    async restart() {
      if (running) throw new Error(`harness: ${name} is running`);
      if (!(await boot())) throw new Error(`harness: redis-server ${name} did not restart on port ${port} (see ${dir}/redis.log)`);
    },
    command: (...args) => nodeCommand(port, ...args),
  };
  return node;
}

/** Start the nodes one by one (each picks its ports); on failure stop those already started. */
async function launchAll(count: number, start: (i: number) => Promise<RedisNode>): Promise<RedisNode[]> {
  const nodes: RedisNode[] = [];
  try {
    for (let i = 0; i < count; i++) nodes.push(await start(i));
  } catch (err) {
    await Promise.all(nodes.map((n) => n.kill().catch(() => {})));
    throw err;
  }
  return nodes;
}

function redisCli(args: string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-cli ${args.join(' ')} failed: ${stderr || stdout || err.message}`));
      else resolve(stdout);
    });
  });
}

/** One standalone redis-server (no persistence) with extra arguments, e.g. ACL users. */
export async function startRedis(args: string[] = []): Promise<RedisNode & { stop(): Promise<void> }> {
  const root = mkdtempSync(join(tmpdir(), 'sc-redis-'));
  everyDir.add(root);
  const node = await launchNode(root, 'server', () => ['--save', '', '--appendonly', 'no', ...args]);
  return Object.assign(node, {
    async stop() {
      if (node.running) await node.kill();
      rmSync(root, { recursive: true, force: true });
      everyDir.delete(root);
    },
  });
}

// ---------------------------------------------------------------------------------------------------
// Redis Cluster

export interface ClusterMaster {
  node: RedisNode;
  id: string;
  /** Slot ranges [from, to] this master serves. */
  slots: [number, number][];
}

export interface TestCluster {
  readonly nodes: RedisNode[];
  /** The seed list for REDIS_CLUSTER_NODES. */
  readonly seeds: string;
  /** The masters as the running nodes see them now. */
  masters(): Promise<ClusterMaster[]>;
  /** The master holding the most keys (DBSIZE). */
  busiestMaster(): Promise<RedisNode>;
  /** SIGKILL a master and wait until one of its replicas has taken over and the cluster is ok again. */
  killMaster(node: RedisNode): Promise<void>;
  /** Wait until every running node reports cluster_state:ok and every running replica its link up. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  masters?: number;
  replicasPerMaster?: number;
  /** cluster-node-timeout: how long a silent node takes to be declared failed. Default 1000 ms. */
  nodeTimeoutMs?: number;
  /** Only assign slots 0..(this-1) to the masters (no `redis-cli --cluster create`): a cluster with uncovered slots. */
  coverSlotsBelow?: number;
  /** Extra redis-server arguments for every node (e.g. ACL users). */
  serverArgs?: string[];
  /** Speak TLS only (clients, cluster bus, replication), with this certificate, key and CA (paths). */
  tls?: { cert: string; key: string; ca: string };
}

/** Start a Redis Cluster: `masters` masters with `replicasPerMaster` replicas each (3 and 1 by default). */
export async function startCluster(opts: ClusterOptions = {}): Promise<TestCluster> {
  const masters = opts.masters ?? 3;
  const replicas = opts.replicasPerMaster ?? 1;
  const nodeTimeout = opts.nodeTimeoutMs ?? 1000;
  const root = mkdtempSync(join(tmpdir(), 'sc-cluster-'));
  everyDir.add(root);
  // A fixed bus port per node (cluster-port), picked free like the client port.
  const busPorts = new Map<string, number>();
  const nodes = await launchAll(masters * (1 + replicas), async (i) => {
    const name = `node${i}`;
    const bus = await freePort();
    busPorts.set(name, bus);
    const tls = opts.tls;
    return launchNode(root, name, (port) => [
      ...(tls ? ['--port', '0', '--tls-port', String(port), '--tls-cluster', 'yes', '--tls-replication', 'yes', '--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-ca-cert-file', tls.ca, '--tls-auth-clients', 'no'] : []),
      '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(nodeTimeout),
      '--cluster-port', String(bus), '--cluster-replica-validity-factor', '0', '--cluster-require-full-coverage', 'yes',
      '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--hz', '100', '--maxmemory-policy', 'noeviction',
      '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0', ...(opts.serverArgs ?? []),
    ], tls ? { tls: { ca: tls.ca } } : {});
  });

  const stop = async () => {
    await Promise.all(nodes.map((n) => (n.running ? n.kill().catch(() => {}) : undefined)));
    rmSync(root, { recursive: true, force: true });
    everyDir.delete(root);
  };

  const masters_ = async (): Promise<ClusterMaster[]> => {
    const byId = new Map<string, ClusterMaster>();
    for (const n of nodes.filter((x) => x.running)) {
      const shards = (await n.command('CLUSTER', 'SLOTS').catch(() => null)) as [number, number, [string, number, string]][] | null;
      if (!shards) continue;
      for (const [from, to, [, port, id]] of shards) {
        const node = nodes.find((x) => x.port === Number(port));
        if (!node) continue;
        const m = byId.get(id) ?? { node, id, slots: [] };
        m.slots.push([from, to]);
        byId.set(id, m);
      }
      break;
    }
    return [...byId.values()];
  };

  const waitHealthy = async (timeoutMs = 30_000) => {
    await until('every cluster node ok and every replica linked', timeoutMs, async () => {
      for (const n of nodes.filter((x) => x.running)) {
        const c = parseInfo(String(await n.command('CLUSTER', 'INFO')));
        if (c.cluster_state !== 'ok' || Number(c.cluster_known_nodes) < nodes.length) return false;
        const r = await info(n.port, 'replication');
        if (r.role === 'slave' && r.master_link_status !== 'up') return false;
      }
      // Every node agrees on who serves each slot.
      const views = await Promise.all(nodes.filter((x) => x.running).map(async (n) => JSON.stringify(((await n.command('CLUSTER', 'SLOTS')) as [number, number, [string, number]][]).map(([a, b, [, p]]) => [a, b, p]).sort((x, y) => x[0] - y[0]))));
      return views.every((v) => v === views[0]);
    });
  };

  try {
    if (opts.coverSlotsBelow !== undefined) {
      // Join the nodes by hand and assign only part of the slot space.
      const [first, ...rest] = nodes;
      for (const n of rest) await first.command('CLUSTER', 'MEET', HOST, n.port, busPorts.get(`node${nodes.indexOf(n)}`)!);
      await until('the nodes to meet', 15_000, async () => Number(parseInfo(String(await first.command('CLUSTER', 'INFO'))).cluster_known_nodes) === nodes.length);
      const per = Math.ceil(opts.coverSlotsBelow / nodes.length);
      for (let i = 0; i < nodes.length; i++) {
        const from = i * per;
        const to = Math.min(opts.coverSlotsBelow, from + per) - 1;
        if (from <= to) await nodes[i].command('CLUSTER', 'ADDSLOTSRANGE', from, to);
      }
      await until('the slot assignment to spread', 15_000, async () => {
        for (const n of nodes) if (Number(parseInfo(String(await n.command('CLUSTER', 'INFO'))).cluster_slots_assigned) !== opts.coverSlotsBelow) return false;
        return true;
      });
    } else {
      await redisCli([...(opts.tls ? ['--tls', '--cacert', opts.tls.ca] : []), '--cluster', 'create', ...nodes.map((n) => n.address), '--cluster-replicas', String(replicas), '--cluster-yes']);
      await waitHealthy(60_000);
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    nodes,
    seeds: nodes.map((n) => n.address).join(','),
    masters: masters_,
    async busiestMaster() {
      let best: RedisNode | null = null;
      let most = -1;
      for (const m of await masters_()) {
        const size = Number(await m.node.command('DBSIZE'));
        if (size > most) [best, most] = [m.node, size];
      }
      return best!;
    },
    async killMaster(node) {
      const before = (await masters_()).find((m) => m.node === node);
      if (!before) throw new Error(`harness: ${node.address} is not a master`);
      await node.kill();
      await until(`a replica to take over ${node.address}'s slots`, 30_000, async () => {
        const now = await masters_();
        const owner = now.find((m) => m.slots.some(([a]) => a === before.slots[0][0]));
        if (!owner || owner.node === node) return false;
        for (const n of nodes.filter((x) => x.running)) if (parseInfo(String(await n.command('CLUSTER', 'INFO'))).cluster_state !== 'ok') return false;
        return true;
      });
    },
    waitHealthy,
    stop,
  };
}

// ---------------------------------------------------------------------------------------------------
// Sentinel

export interface TestSentinels {
  readonly masterName: string;
  /** The data nodes: [0] starts as the master, [1] as its replica. */
  readonly servers: RedisNode[];
  readonly sentinels: RedisNode[];
  /** The seed list for REDIS_SENTINELS. */
  readonly seeds: string;
  /** The data node the sentinels name as master now. */
  master(): Promise<RedisNode>;
  /** SIGKILL the current master and wait until the sentinels have promoted the replica and it accepts writes. */
  killMaster(): Promise<RedisNode>;
  /** Wait until the master has `replicas` linked replicas and every sentinel agrees on it. */
  waitHealthy(replicas?: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface SentinelOptions {
  masterName?: string;
  /** down-after-milliseconds; default 1000. */
  downAfterMs?: number;
  /** failover-timeout; default 3000. */
  failoverTimeoutMs?: number;
}

/** Start one master, one replica and three sentinels watching them. */
export async function startSentinels(opts: SentinelOptions = {}): Promise<TestSentinels> {
  const name = opts.masterName ?? 'scmaster';
  const root = mkdtempSync(join(tmpdir(), 'sc-sentinel-'));
  everyDir.add(root);
  const dataArgs = ['--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--hz', '100', '--maxmemory-policy', 'noeviction', '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0'];
  const all: RedisNode[] = [];
  const stop = async () => {
    await Promise.all(all.map((n) => (n.running ? n.kill().catch(() => {}) : undefined)));
    rmSync(root, { recursive: true, force: true });
    everyDir.delete(root);
  };
  try {
    const master = await launchNode(root, 'server0', () => dataArgs);
    all.push(master);
    const replica = await launchNode(root, 'server1', () => [...dataArgs, '--replicaof', HOST, String(master.port)]);
    all.push(replica);
    const conf = [
      'port $PORT',
      `bind ${HOST}`,
      `sentinel monitor ${name} ${HOST} ${master.port} 2`,
      `sentinel down-after-milliseconds ${name} ${opts.downAfterMs ?? 1000}`,
      `sentinel failover-timeout ${name} ${opts.failoverTimeoutMs ?? 3000}`,
      `sentinel parallel-syncs ${name} 1`,
      '',
    ].join('\n');
    const sentinels = await launchAll(3, (i) => launchNode(root, `sentinel${i}`, () => [], { sentinel: conf }));
    all.push(...sentinels);
    const servers = [master, replica];

    const masterNow = async (): Promise<RedisNode> => {
      for (const s of sentinels.filter((x) => x.running)) {
        const addr = (await s.command('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name).catch(() => null)) as [string, string] | null;
        const node = addr && servers.find((n) => n.port === Number(addr[1]));
        if (node) return node;
      }
      throw new Error('harness: no sentinel names a master');
    };

    const waitHealthy = async (wantReplicas = 1, timeoutMs = 30_000) => {
      await until('the sentinel set to agree on a master with linked replicas', timeoutMs, async () => {
        const views = await Promise.all(sentinels.filter((x) => x.running).map((s) => s.command('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)));
        const ports = new Set(views.map((v) => (v as [string, string])[1]));
        if (ports.size !== 1) return false;
        const m = servers.find((n) => n.port === Number([...ports][0]));
        if (!m || !m.running) return false;
        const r = await info(m.port, 'replication');
        if (r.role !== 'master' || Number(r.connected_slaves) < wantReplicas) return false;
        for (let i = 0; i < wantReplicas; i++) if (!/state=online/.test(r[`slave${i}`] ?? '')) return false;
        for (const s of sentinels.filter((x) => x.running)) {
          const fields = (await s.command('SENTINEL', 'MASTER', name)) as string[];
          const f: Record<string, string> = {};
          for (let i = 0; i < fields.length; i += 2) f[fields[i]] = fields[i + 1];
          if (Number(f['num-other-sentinels']) < sentinels.length - 1 || Number(f['num-slaves']) < wantReplicas || /down/.test(f.flags)) return false;
        }
        return true;
      });
    };
    await waitHealthy(1, 60_000);

    return {
      masterName: name,
      servers,
      sentinels,
      seeds: sentinels.map((s) => s.address).join(','),
      master: masterNow,
      async killMaster() {
        const old = await masterNow();
        await old.kill();
        return until('the sentinels to promote a new master', 30_000, async () => {
          const now = await masterNow();
          if (now === old) return false;
          const r = await info(now.port, 'replication');
          return r.role === 'master' ? now : false;
        });
      },
      waitHealthy,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
