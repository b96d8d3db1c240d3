// Owns how the engine's Redis connections are opened, for every topology: one node (a URL), a Redis
// Cluster (a seed list) or a Sentinel-managed master; with ACL credentials and TLS for each.
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { endRefreshWithClient, type RedisClient } from './clients.ts';

export interface HostPort {
  host: string;
  port: number;
}

/** Where Redis is and how to log in. */
export type RedisTarget = (
  | { topology: 'single'; url: string }
  | { topology: 'cluster'; nodes: HostPort[] }
  | { topology: 'sentinel'; sentinels: HostPort[]; masterName: string; sentinelUsername?: string; sentinelPassword?: string }
) & {
  /** ACL user; with no username Redis's `default` user is meant. */
  username?: string;
  password?: string;
  /** TLS to every node (and to the sentinels). A `rediss://` URL turns it on too. */
  tls?: boolean;
};

export interface ConnectOptions {
  /** How long to wait for the first ready connection. Default 15 s. */
  readyTimeoutMs?: number;
  /**
   * Upper bound for one command, WAIT included; a Redis that hangs fails the command instead.
   * Default 5 s.
   */
  commandTimeoutMs?: number;
}

/** Parse `host:port,host:port` (a seed or sentinel list); `name` is the variable named in errors. */
export function parseHostList(value: string, name: string): HostPort[] {
  const out: HostPort[] = [];
  for (const part of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(part);
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65535) throw new Error(`${name} must be a comma-separated list of host:port, got "${part}"`);
    out.push({ host: m[1].replace(/^\[|\]$/g, ''), port });
  }
  if (!out.length) throw new Error(`${name} is empty: give at least one host:port`);
  return out;
}

/** Options shared by every node connection: credentials, TLS, fail-fast timeouts. */
function nodeOptions(target: RedisTarget, opts: ConnectOptions): RedisOptions {
  return {
    username: target.username,
    password: target.password,
    ...(target.tls ? { tls: {} } : {}),
    connectTimeout: 5000,
    commandTimeout: opts.commandTimeoutMs ?? 5000,
    maxRetriesPerRequest: 1,
  };
}

/**
 * Open the connection a server process borrows to the engine. Without an offline queue a write fails
 * at once while Redis (or the master of its slot) is unreachable, and the API answers 503, instead of
 * being replayed later after its caller was told it failed; the command timeout bounds a Redis that
 * hangs. On a Cluster, refused commands (CLUSTERDOWN, TRYAGAIN, MOVED) are retried for a bounded
 * time, but a command whose connection dropped is never resent: it may have been applied.
 */
export async function connectRedis(url: string, opts?: ConnectOptions): Promise<Redis>;
export async function connectRedis(target: RedisTarget, opts?: ConnectOptions): Promise<RedisClient>;
export async function connectRedis(target: string | RedisTarget, opts: ConnectOptions = {}): Promise<RedisClient> {
  const t: RedisTarget = typeof target === 'string' ? { topology: 'single', url: target } : target;
  let redis: RedisClient;
  let where: string;
  switch (t.topology) {
    case 'single': {
      const base = nodeOptions({ ...t, tls: t.tls || t.url.startsWith('rediss://') }, opts);
      // Credentials in the URL win over REDIS_USERNAME/REDIS_PASSWORD.
      redis = new Redis(t.url, { ...base, enableOfflineQueue: false });
      where = t.url.replace(/\/\/[^@/]*@/, '//');
      break;
    }
    case 'sentinel': {
      redis = new Redis({
        ...nodeOptions(t, opts),
        sentinels: t.sentinels,
        name: t.masterName,
        role: 'master',
        enableOfflineQueue: false,
        // Sentinels often run without a password while the data nodes have one: their own credentials.
        sentinelUsername: t.sentinelUsername,
        sentinelPassword: t.sentinelPassword,
        ...(t.tls ? { enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
        sentinelCommandTimeout: 2000,
        // Reconnect through the sentinels as soon as they announce a new master.
        failoverDetector: true,
        // A write that reaches a demoted master: find the new one (the command itself fails, 503).
        reconnectOnError: (err) => /^READONLY/.test(err.message),
      });
      where = `Sentinel master "${t.masterName}" via ${t.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`;
      break;
    }
    case 'cluster': {
      await checkSlotCoverage(t, opts);
      redis = endRefreshWithClient(new Cluster(t.nodes, clusterOptions(t, opts)));
      where = `Redis Cluster via ${t.nodes.map((s) => `${s.host}:${s.port}`).join(',')}`;
      break;
    }
  }
  const readyTimeoutMs = opts.readyTimeoutMs ?? 15_000;
  await new Promise<void>((resolve, reject) => {
    let last = '';
    const onError = (err: Error) => (last = err.message);
    redis.on('error', onError);
    const timer = setTimeout(() => {
      redis.off('error', onError);
      redis.disconnect();
      reject(new Error(`${where} did not answer within ${readyTimeoutMs} ms${last ? ` (${last})` : ''}`));
    }, readyTimeoutMs);
    redis.once('ready', () => {
      clearTimeout(timer);
      redis.off('error', onError);
      resolve();
    });
  });
  if (redis instanceof Cluster) {
    // The client is ready once it knows the slots; its connection to each master opens lazily, and
    // without an offline queue a command to a master still connecting would fail: open them all now.
    await Promise.all(redis.nodes('master').map((node) => node.ping()));
  }
  return redis;
}

function clusterOptions(t: RedisTarget, opts: ConnectOptions): ClusterOptions {
  const { maxRetriesPerRequest, ...redisOptions } = nodeOptions(t, opts);
  return {
    redisOptions: { ...redisOptions, maxRetriesPerRequest },
    enableOfflineQueue: false,
    scaleReads: 'master',
    // Refusals the cluster sends while it reconfigures are safe to retry (nothing ran): bounded to
    // maxRedirections × delay ≈ 2.4 s, then the API answers 503.
    maxRedirections: 8,
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 200,
    retryDelayOnMoved: 50,
    // A command whose connection dropped may have run: never resend it; the caller retries with its Idempotency-Key.
    retryDelayOnFailover: 0,
    slotsRefreshTimeout: 2000,
    slotsRefreshInterval: 2000,
    clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
    // Managed services hand out hostnames their certificates name: keep them for TLS.
    ...(t.tls ? { dnsLookup: (address: string, callback: (err: null, address: string) => void) => callback(null, address) } : {}),
  };
}

/**
 * Refuse a cluster whose slots are not all served: the engine would fail on every key of a missing
 * slot at run time. Asks the first seed that answers.
 */
async function checkSlotCoverage(t: RedisTarget & { topology: 'cluster' }, opts: ConnectOptions): Promise<void> {
  const errors: string[] = [];
  for (const seed of t.nodes) {
    const probe = new Redis({ ...nodeOptions(t, opts), host: seed.host, port: seed.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: true });
    probe.on('error', () => {});
    try {
      await probe.connect();
      let slots: [number, number][];
      try {
        slots = (await probe.call('CLUSTER', 'SLOTS')) as [number, number][];
      } catch (err) {
        if (/cluster support disabled/i.test((err as Error).message)) {
          throw new Error(`REDIS_CLUSTER_NODES names ${seed.host}:${seed.port}, which is not a Redis Cluster node (cluster support disabled); use REDIS_URL for a single node`);
        }
        throw err;
      }
      const covered = slots.reduce((n, [from, to]) => n + (to - from + 1), 0);
      if (covered < 16384) {
        throw new Error(
          `the Redis Cluster at ${seed.host}:${seed.port} serves ${covered} of 16384 hash slots: every slot must have a master before ` +
            `Servicechart starts (check it with \`redis-cli --cluster check ${seed.host}:${seed.port}\`, fix it with \`redis-cli --cluster fix\`)`,
        );
      }
      return;
    } catch (err) {
      const msg = (err as Error).message;
      if (/hash slots|not a Redis Cluster node/.test(msg)) throw err;
      errors.push(`${seed.host}:${seed.port}: ${msg}`);
    } finally {
      probe.disconnect();
    }
  }
  throw new Error(`no Redis Cluster seed in REDIS_CLUSTER_NODES answered (${errors.join('; ')})`);
}
