// Reads the process's settings from the environment it is given (the entry point passes process.env):
// the role, where to listen, which Redis topology, partitions, replica acknowledgements, limits, task
// workers, retention and the archive.
import { parseDuration, parseHostList, parseRetention, type RedisTarget, type ReplicaAcks, type Retention } from '../engine/index.ts';

export type Role = 'start' | 'api' | 'worker';

export interface Config {
  role: Role;
  host: string;
  port: number;
  /** The Redis to run on; null starts the embedded redis-server in the data dir. */
  redis: RedisTarget | null;
  /** Partitions of a new installation (an existing one keeps its own; a different value refuses to start). */
  partitions: number;
  replicaAcks: ReplicaAcks;
  dataDir: string;
  fsync: 'everysec' | 'always';
  prefix: string;
  apiKeys: string | null;
  concurrency: number;
  shutdownDeadlineMs: number;
  logLevel: string;
  rateLimit: { perSecond: number; burst: number };
  workerTtlMs: number;
  noWorkerAlertMs: number;
  externalTasks: string[];
  retention: Retention;
  archiveDir: string | null;
  archiveUrl: string | null;
  archiveEveryMs: number;
  archiveLeaseMs: number;
}

/** `perSecond[:burst]` per API key; default 200:400. */
function parseRateLimit(value: string | undefined): { perSecond: number; burst: number } {
  if (!value) return { perSecond: 200, burst: 400 };
  const [rate, burst] = value.split(':').map(Number);
  if (!(rate > 0)) throw new Error(`SERVICECHART_RATE_LIMIT must be "perSecond[:burst]", got "${value}"`);
  return { perSecond: rate, burst: burst > 0 ? burst : rate * 2 };
}

function nonNegativeInt(env: NodeJS.ProcessEnv, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new Error(`${name} must be a whole number from 0 to ${max}, got "${raw}"`);
  return n;
}

/**
 * Which Redis: REDIS_URL (one node), REDIS_CLUSTER_NODES (a Redis Cluster seed list) or
 * REDIS_SENTINELS + REDIS_SENTINEL_MASTER; none of them means the embedded redis-server.
 */
export function readRedisTarget(env: NodeJS.ProcessEnv): RedisTarget | null {
  const set = ['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'].filter((name) => env[name]);
  if (set.length > 1) throw new Error(`${set.join(' and ')} are both set: name one Redis topology (REDIS_URL for one node, REDIS_CLUSTER_NODES for a cluster, REDIS_SENTINELS for Sentinel)`);
  const tlsRaw = env.REDIS_TLS ?? '';
  if (!['', '0', '1', 'true', 'false'].includes(tlsRaw)) throw new Error(`REDIS_TLS must be 1 or 0, got "${tlsRaw}"`);
  const login = { username: env.REDIS_USERNAME || undefined, password: env.REDIS_PASSWORD || undefined, tls: tlsRaw === '1' || tlsRaw === 'true' };
  if (env.REDIS_SENTINEL_MASTER && !env.REDIS_SENTINELS) throw new Error('REDIS_SENTINEL_MASTER is set without REDIS_SENTINELS (the sentinels\' host:port list)');
  if (!set.length) {
    const stray = ['REDIS_USERNAME', 'REDIS_PASSWORD', 'REDIS_TLS'].filter((name) => env[name]);
    if (stray.length) throw new Error(`${stray.join(', ')} set, but no Redis is named: set REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS (the embedded redis-server needs no login)`);
    return null;
  }
  if (env.REDIS_URL) {
    if (!/^rediss?:\/\//.test(env.REDIS_URL)) {
      throw new Error(`REDIS_URL must be a redis:// or rediss:// URL (got "${env.REDIS_URL}"); for a Redis Cluster give its nodes in REDIS_CLUSTER_NODES=host:port,host:port`);
    }
    return { topology: 'single', url: env.REDIS_URL, ...login };
  }
  if (env.REDIS_CLUSTER_NODES) return { topology: 'cluster', nodes: parseHostList(env.REDIS_CLUSTER_NODES, 'REDIS_CLUSTER_NODES'), ...login };
  if (!env.REDIS_SENTINEL_MASTER) throw new Error('REDIS_SENTINELS needs REDIS_SENTINEL_MASTER, the name of the master the sentinels monitor');
  return {
    topology: 'sentinel', sentinels: parseHostList(env.REDIS_SENTINELS!, 'REDIS_SENTINELS'), masterName: env.REDIS_SENTINEL_MASTER,
    sentinelUsername: env.REDIS_SENTINEL_USERNAME || undefined, sentinelPassword: env.REDIS_SENTINEL_PASSWORD || undefined, ...login,
  };
}

export function readConfig(env: NodeJS.ProcessEnv, role: Role): Config {
  const redis = readRedisTarget(env);
  const replicaAcks = { replicas: nonNegativeInt(env, 'SERVICECHART_REPLICA_ACKS', 0, 16), timeoutMs: nonNegativeInt(env, 'SERVICECHART_REPLICA_ACK_TIMEOUT_MS', 1000, 60_000) };
  if (replicaAcks.replicas > 0 && !redis) {
    throw new Error('SERVICECHART_REPLICA_ACKS needs replicas, and the embedded redis-server has none: run on a Redis with replicas (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES)');
  }
  if (replicaAcks.replicas > 0 && replicaAcks.timeoutMs === 0) throw new Error('SERVICECHART_REPLICA_ACK_TIMEOUT_MS must be above 0 (0 would make WAIT block until the replicas answer)');
  return {
    role,
    host: env.HOST || '127.0.0.1',
    port: Number(env.PORT || 3000),
    redis,
    partitions: nonNegativeInt(env, 'SERVICECHART_PARTITIONS', redis?.topology === 'cluster' ? 16 : 1, 256) || 1,
    replicaAcks,
    dataDir: env.SERVICECHART_DATA_DIR || './.servicechart',
    fsync: env.SERVICECHART_FSYNC === 'always' ? 'always' : 'everysec',
    prefix: env.SERVICECHART_PREFIX || 'sc',
    apiKeys: env.SERVICECHART_API_KEYS || null,
    concurrency: Number(env.SERVICECHART_CONCURRENCY || 50),
    shutdownDeadlineMs: Number(env.SERVICECHART_SHUTDOWN_MS || 10_000),
    logLevel: env.LOG_LEVEL || 'info',
    rateLimit: parseRateLimit(env.SERVICECHART_RATE_LIMIT),
    workerTtlMs: Number(env.SERVICECHART_WORKER_TTL_MS || 15_000),
    noWorkerAlertMs: Number(env.SERVICECHART_NO_WORKER_ALERT_MS || 300_000),
    externalTasks: (env.SERVICECHART_EXTERNAL_TASKS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    retention: parseRetention(env.SERVICECHART_RETENTION),
    archiveDir: env.SERVICECHART_ARCHIVE_DIR || null,
    archiveUrl: env.SERVICECHART_ARCHIVE_URL || null,
    archiveEveryMs: parseInterval('SERVICECHART_ARCHIVE_INTERVAL', env.SERVICECHART_ARCHIVE_INTERVAL, 60_000),
    archiveLeaseMs: parseInterval('SERVICECHART_ARCHIVE_LEASE', env.SERVICECHART_ARCHIVE_LEASE, 60_000),
  };
}

function parseInterval(name: string, value: string | undefined, fallback: number): number {
  if (!value) return fallback;
  const ms = parseDuration(value);
  if (ms === null) throw new Error(`${name} must be a duration such as 30s or 5m, got "${value}"`);
  return ms;
}

