// Shared test plumbing: a real Redis (the runner's, or a private one), fresh prefixes, waiting with a deadline.
import { Redis } from 'ioredis';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { masters, type RedisClient } from '../engine/index.ts';
import { freePort, startEmbeddedRedis, type EmbeddedRedis } from '../bin/embedded-redis.ts';

/** A free loopback port for a server a test starts. */
export const freePortForTest = freePort;

let own: Promise<EmbeddedRedis> | null = null;

/** The Redis URL tests use: the runner's private server, or one started for this file alone. */
export async function redisUrl(): Promise<string> {
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

export async function connect(): Promise<Redis> {
  return new Redis(await redisUrl(), { maxRetriesPerRequest: 3 });
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
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (keys.length) {
          const pipe = node.pipeline();
          for (const key of keys) pipe.unlink(key);
          await pipe.exec();
        }
      } while (cursor !== '0');
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
