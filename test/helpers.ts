// Shared test plumbing: a real Redis (the runner's, or a private one), fresh prefixes, waiting with a deadline.
import { Redis } from 'ioredis';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { masters, type RedisClient } from '../engine/index.ts';
import { connectRedis, parseHostList } from '../engine/connection.ts';
import { freePort, startEmbeddedRedis, type EmbeddedRedis } from '../bin/embedded-redis.ts';

/** A free loopback port for a server a test starts. */
export const freePortForTest = freePort;

let own: Promise<EmbeddedRedis> | null = null;

/**
 * TEST_REDIS_CLUSTER_NODES=host:port,... runs a test file against a Redis Cluster instead of one node
 * (test/cluster/suites.test.ts sets it): `connect()` opens a Cluster client and `redisEnv()` hands the
 * seed list to child processes as REDIS_CLUSTER_NODES.
 */
export function clusterSeeds(): string | null {
  return process.env.TEST_REDIS_CLUSTER_NODES || null;
}

/** The Redis URL tests use: the runner's private server, or one started for this file alone. */
export async function redisUrl(): Promise<string> {
  if (clusterSeeds()) throw new Error('redisUrl(): this file runs on a Redis Cluster (TEST_REDIS_CLUSTER_NODES); use redisEnv() for a child process');
  if (process.env.TEST_REDIS_URL) return process.env.TEST_REDIS_URL;
  if (!own) {
    own = startEmbeddedRedis({ dataDir: mkdtempSync(join(tmpdir(), 'sc-test-')), reuse: false, unref: true });
    const r = await own;
    process.once('exit', () => {
      try {
        process.kill(r.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    });
  }
  return (await own).url;
}

/**
 * A client of the test Redis. On a cluster (TEST_REDIS_CLUSTER_NODES) it is an ioredis Cluster, opened as
 * a server process opens it, and typed as a Redis for the files written against one node: the commands
 * they send are the same, except the node-wide ones (KEYS, SCAN, FLUSHDB), which reach one node only, so
 * a file that runs on the cluster goes through `masters()` for those.
 */
export async function connect(): Promise<Redis> {
  const seeds = clusterSeeds();
  if (seeds) return (await connectRedis({ topology: 'cluster', nodes: parseHostList(seeds, 'TEST_REDIS_CLUSTER_NODES') })) as unknown as Redis;
  return new Redis(await redisUrl(), { maxRetriesPerRequest: 3 });
}

/** Where a child process finds the test Redis: `{ REDIS_URL }`, or `{ REDIS_CLUSTER_NODES }` on a cluster. */
export async function redisEnv(): Promise<{ REDIS_URL: string } | { REDIS_CLUSTER_NODES: string }> {
  const seeds = clusterSeeds();
  return seeds ? { REDIS_CLUSTER_NODES: seeds } : { REDIS_URL: await redisUrl() };
}

/** Every key matching `pattern` on one node: SCAN to the end. */
export async function scanNode(node: ReturnType<typeof masters>[number], pattern: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    out.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return out;
}

/** Every key matching `pattern` on every master (KEYS or SCAN on one connection sees one node of a cluster). */
export async function keysEvery(redis: RedisClient, pattern: string): Promise<string[]> {
  const out: string[] = [];
  for (const node of masters(redis)) out.push(...(await scanNode(node, pattern)));
  return out;
}

export function newPrefix(): string {
  return `t${randomUUID().slice(0, 8)}`;
}

/** Poll until `fn` returns a truthy value, or fail after `timeoutMs`. */
export async function waitFor<T>(fn: () => Promise<T> | T, timeoutMs = 10_000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A clock tests can set. */
export function manualClock(start = Date.UTC(2026, 0, 1)) {
  let now = start;
  return { now: () => now, set: (t: number) => (now = t), advance: (ms: number) => (now += ms) };
}

/**
 * Delete every key under a prefix: `<prefix>:*` and every partition's `{<prefix>-p...}` keys (queues and
 * external tasks included). On a cluster every master is scanned, and keys are deleted one by one (they sit in
 * different slots).
 */
export async function dropPrefix(redis: RedisClient, prefix: string): Promise<void> {
  for (const node of masters(redis)) {
    for (const pattern of [`${prefix}:*`, `{${prefix}-*`]) {
      const keys = await scanNode(node, pattern);
      if (keys.length) await node.pipeline(keys.map((key) => ['unlink', key])).exec();
    }
  }
}

const repoRoot = new URL('..', import.meta.url).pathname;

/** Start a Node process of this repo (or `command`) and resolve once its output matches `ready`. */
export function spawnReady(args: string[], env: Record<string, string>, ready: RegExp, timeoutMs = 20_000, command = process.execPath): Promise<ChildProcess> {
  const child = spawn(command, args, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`process did not get ready: ${out}`)), timeoutMs);
    const onData = (d: Buffer) => {
      out += d;
      if (ready.test(out)) {
        clearTimeout(t);
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(t);
      if (process.env.TEST_VERBOSE) process.stderr.write(`[child ${args.join(' ')} exited ${code}]\n${out}\n`);
      if (!ready.test(out)) reject(new Error(`process exited ${code}: ${out}`));
    });
  });
}

/** SIGKILL a child process and wait until it is gone (at once when it already is). */
export function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    child.once('exit', () => r());
    child.kill('SIGKILL');
  });
}

/** ZCARD of one sorted set per partition (`key(p)`), summed: an index over every partition. */
export async function zcardEvery(redis: RedisClient, keys: { all: readonly number[] }, key: (p: number) => string): Promise<number> {
  let n = 0;
  for (const p of keys.all) n += await redis.zcard(key(p));
  return n;
}
