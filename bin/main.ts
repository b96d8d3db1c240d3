// The process entry point: reads the environment, connects Redis (or starts the embedded one) and runs
// the parts a role asks for: `start` (API + engine + workers), `api`, or `worker`.
import pino from 'pino';
import type { Server } from 'node:http';
import { createEngine, startEmbeddedRedis, type EmbeddedRedis, type Logger } from '../engine/index.ts';
import { connectRedis, parseHostList, type RedisTarget } from '../engine/connection.ts';
import type { ReplicaAcks } from '../engine/replication.ts';
import type { RedisClient } from '../engine/clients.ts';
import { builtInWorkflows } from '../workflows/index.ts';
import { createBuiltInTasks } from '../workers/tasks/index.ts';
import { adaptersFromEnv } from '../workers/adapters/index.ts';
import { startTaskWorker, type TaskWorker } from '../workers/runtime.ts';
import { createApp } from '../api/app.ts';
import { loadApiKeys } from '../api/auth.ts';
import { hookConfigFromEnv } from '../api/hooks/config.ts';

type Role = 'start' | 'api' | 'worker';

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
  return { topology: 'sentinel', sentinels: parseHostList(env.REDIS_SENTINELS!, 'REDIS_SENTINELS'), masterName: env.REDIS_SENTINEL_MASTER, ...login };
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
  };
}

/** Warn where a Redis we are pointed at would evict keys or forget them on restart. */
async function checkRedisDurability(redis: RedisClient, logger: Logger): Promise<void> {
  try {
    const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as [string, string];
    if (policy !== 'noeviction') {
      logger.warn({ policy }, `Redis evicts keys (maxmemory-policy ${policy}): runs and queued jobs can be lost. Set maxmemory-policy noeviction.`);
    }
    const [, aof] = (await redis.config('GET', 'appendonly')) as [string, string];
    const [, save] = (await redis.config('GET', 'save')) as [string, string];
    if (aof !== 'yes' && !save) logger.warn('Redis persists nothing (no AOF, no RDB snapshots): a Redis restart loses every run. Turn on appendonly yes.');
    else if (aof !== 'yes') logger.warn('Redis has AOF off: a crash loses what changed since the last RDB snapshot. Turn on appendonly yes.');
  } catch (err) {
    logger.warn({ err }, 'could not read the Redis configuration (CONFIG GET refused?); check eviction and persistence yourself');
  }
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const role = (argv[0] ?? 'start') as Role;
  if (!['start', 'api', 'worker'].includes(role)) {
    process.stderr.write(`usage: servicechart start|api|worker, or runs|workflows|tasks|kpis (servicechart --help)\n`);
    process.exit(2);
  }
  const cfg = readConfig(env, role);
  const logger = pino({ level: cfg.logLevel, base: { role } }) as unknown as Logger;
  // Webhook secrets and mapping files: a bad mapping file stops the process here, before anything starts.
  const hooks = role !== 'worker' ? hookConfigFromEnv(env) : undefined;

  let embedded: EmbeddedRedis | null = null;
  let target = cfg.redis;
  if (!target) {
    embedded = await startEmbeddedRedis({ dataDir: cfg.dataDir, fsync: cfg.fsync, logger });
    target = { topology: 'single', url: embedded.url };
    logger.info({ url: embedded.url, dataDir: cfg.dataDir }, 'embedded redis-server running (AOF on)');
  }
  // A WAIT must fit inside one command's time limit.
  const redis: RedisClient = await connectRedis(target, { commandTimeoutMs: Math.max(5000, cfg.replicaAcks.timeoutMs + 2000) });
  redis.on('error', (err: Error) => logger.warn({ err: err.message }, 'redis connection error'));
  if (cfg.redis) await checkRedisDurability(redis, logger);
  logger.info({ topology: target.topology, partitions: cfg.partitions, replicaAcks: cfg.replicaAcks.replicas }, 'connected to Redis');

  const engine = createEngine({
    redis, logger, prefix: cfg.prefix, partitions: cfg.partitions, replicaAcks: cfg.replicaAcks,
    workflows: builtInWorkflows, tasks: createBuiltInTasks(adaptersFromEnv(env)),
  });
  // A partition count that differs from the installation's stops the process here, before it serves.
  await engine.ready();

  let taskWorker: TaskWorker | null = null;
  if (role !== 'api') {
    engine.startTimerConsumer({ concurrency: cfg.concurrency });
    taskWorker = await startTaskWorker({ engine, concurrency: cfg.concurrency });
    logger.info('task and timer consumers running');
  }

  let server: Server | null = null;
  if (role !== 'worker') {
    const auth = await loadApiKeys({ env: cfg.apiKeys, dataDir: cfg.dataDir, logger });
    const app = createApp({ engine, auth, logger, rateLimit: cfg.rateLimit, hooks });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(cfg.port, cfg.host, () => resolve(s));
    });
    const addr = server.address();
    logger.info({ host: cfg.host, port: typeof addr === 'object' && addr ? addr.port : cfg.port }, `servicechart ${role} listening on http://${cfg.host}:${typeof addr === 'object' && addr ? addr.port : cfg.port}`);
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: no new work, finishing what is in flight');
    const hardStop = setTimeout(() => process.exit(1), cfg.shutdownDeadlineMs + 10_000);
    hardStop.unref();
    try {
      if (server) {
        const closed = new Promise((r) => server!.close(() => r(null)));
        server.closeIdleConnections();
        // Live streams (SSE) never end on their own: give answers in flight a moment, then cut.
        const cut = setTimeout(() => server!.closeAllConnections(), 2000);
        await closed;
        clearTimeout(cut);
      }
      if (taskWorker) await taskWorker.close(cfg.shutdownDeadlineMs);
      await engine.close();
      await redis.quit().catch(() => undefined);
      if (embedded) await embedded.stop();
      logger.info('stopped');
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

// Anything but a server role (runs, workflows, tasks, kpis, --help, global flags) is the HTTP client.
const first = process.argv[2];
if (first !== undefined && !['start', 'api', 'worker'].includes(first)) {
  const { runCli } = await import('./cli.ts');
  const code = await runCli(process.argv.slice(2));
  process.stdout.write('', () => process.exit(code));
} else {
  main(process.argv.slice(2), process.env).catch((err) => {
    process.stderr.write(`servicechart: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
