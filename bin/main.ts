// The process entry point: reads the environment, connects Redis (or starts the embedded one) and runs
// the parts a role asks for: `start` (API + engine + workers), `api`, or `worker`.
import pino from 'pino';
import type { Server } from 'node:http';
import { join } from 'node:path';
import {
  connectRedis, createDirectoryStore, createEngine, createPostgresStore,
  type ArchiveStore, type Logger, type RedisClient,
} from '../engine/index.ts';
import { startEmbeddedRedis, type EmbeddedRedis } from './embedded-redis.ts';
import { readConfig, type Config, type Role } from './config.ts';
import { builtInWorkflows } from '../workflows/index.ts';
import { createBuiltInTasks } from '../workers/tasks/index.ts';
import { adaptersFromEnv } from '../workers/adapters/index.ts';
import { startTaskWorker, type TaskWorker } from '../workers/runtime.ts';
import { createApp } from '../api/app.ts';
import { loadApiKeys } from '../api/auth.ts';
import { hookConfigFromEnv } from '../api/hooks/config.ts';

/** The archive: PostgreSQL by URL, else a directory (given, or `<data dir>/archive` with the embedded Redis), else none. */
function openArchive(cfg: Config, embedded: boolean, logger: Logger): ArchiveStore | null {
  if (cfg.archiveUrl) {
    if (!/^postgres(ql)?:\/\//.test(cfg.archiveUrl)) throw new Error('SERVICECHART_ARCHIVE_URL must be a postgres:// URL');
    return createPostgresStore(cfg.archiveUrl, logger);
  }
  if (cfg.archiveDir) return createDirectoryStore(cfg.archiveDir);
  if (embedded) return createDirectoryStore(join(cfg.dataDir, 'archive'));
  if (cfg.retention.any) throw new Error('SERVICECHART_RETENTION needs an archive: set SERVICECHART_ARCHIVE_DIR or SERVICECHART_ARCHIVE_URL');
  return null;
}

/** Fault injection for the durability tests only: `archive-after-write` kills the process between archive write and removal. */
function archiveHooks(env: NodeJS.ProcessEnv): { afterArchiveWrite?: (ids: string[]) => void } {
  if (env.SERVICECHART_TEST_FAULT !== 'archive-after-write') return {};
  return {
    afterArchiveWrite(ids) {
      process.stderr.write(`fault injected: killed after archiving ${ids.length} runs\n`);
      process.kill(process.pid, 'SIGKILL');
    },
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

  const archive = openArchive(cfg, embedded !== null, logger);
  const engine = createEngine({
    redis, logger, prefix: cfg.prefix, partitions: cfg.partitions, replicaAcks: cfg.replicaAcks,
    workflows: builtInWorkflows, tasks: createBuiltInTasks(adaptersFromEnv(env)), archive: archive ?? undefined,
    workerTtlMs: cfg.workerTtlMs, externalTasks: cfg.externalTasks,
  });
  // A partition count that differs from the installation's stops the process here, before it serves.
  await engine.ready();
  // Runs waiting on a task type no live worker serves get a task.unserved entry (every role watches; once per task).
  engine.startUnservedWatch({ alertMs: cfg.noWorkerAlertMs });

  let taskWorker: TaskWorker | null = null;
  if (role !== 'api') {
    engine.startTimerConsumer({ concurrency: cfg.concurrency });
    taskWorker = await startTaskWorker({ engine, concurrency: cfg.concurrency });
    logger.info('task and timer consumers running');
    if (archive && cfg.retention.any) {
      engine.startArchiver({ retention: cfg.retention, everyMs: cfg.archiveEveryMs, leaseMs: cfg.archiveLeaseMs, hooks: archiveHooks(env) });
      logger.info({ retention: cfg.retention.describe(), store: archive.kind, everyMs: cfg.archiveEveryMs }, 'archive sweeper running');
    }
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
      await archive?.close().catch(() => undefined);
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
