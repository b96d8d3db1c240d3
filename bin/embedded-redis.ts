// Owns the embedded Redis: a redis-server child on a free loopback port with AOF on, data in the data dir.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { resolve, join } from 'node:path';
import type { Logger } from '../engine/index.ts';

export interface EmbeddedRedisOptions {
  dataDir: string;
  /** 'always' trades speed for surviving power loss; default 'everysec'. */
  fsync?: 'everysec' | 'always';
  port?: number;
  logger?: Logger;
  /** Reuse a redis-server this data dir already runs (left by a process that was killed). Default true. */
  reuse?: boolean;
  /** Let this process exit while the child still runs (tests kill it themselves). */
  unref?: boolean;
}

export interface EmbeddedRedis {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export function findRedisServer(): string | null {
  for (const p of ['/usr/bin/redis-server', '/usr/local/bin/redis-server', '/usr/sbin/redis-server']) if (existsSync(p)) return p;
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

export const REDIS_MISSING_MESSAGE =
  'redis-server was not found. Install it (Debian/Ubuntu: `sudo apt-get update && sudo apt-get install -y redis-server`; ' +
  'macOS: `brew install redis`), or point Servicechart at a Redis you run with REDIS_URL=redis://host:port.';

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

function ping(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((res) => {
    const sock = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      sock.destroy();
      res(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

/** Whether a process with this pid exists (signal 0 probes without touching it). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Start (or adopt) the data dir's redis-server and wait until it answers. */
export async function startEmbeddedRedis(opts: EmbeddedRedisOptions): Promise<EmbeddedRedis> {
  const dir = resolve(opts.dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stateFile = join(dir, 'redis.json');
  if (opts.reuse !== false && existsSync(stateFile)) {
    try {
      const prior = JSON.parse(readFileSync(stateFile, 'utf8')) as { pid: number; port: number };
      if (alive(prior.pid) && (await ping(prior.port))) {
        opts.logger?.info({ port: prior.port, pid: prior.pid }, 'adopting the embedded redis-server left running in the data dir');
        return handle(null, prior.pid, prior.port, stateFile);
      }
    } catch {
      // An unreadable state file just means a fresh start.
    }
  }
  const bin = findRedisServer();
  if (!bin) throw new Error(REDIS_MISSING_MESSAGE);
  const port = opts.port ?? (await freePort());
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
    '--appendonly', 'yes', '--appendfsync', opts.fsync ?? 'everysec', '--save', '',
    '--hz', '100', '--maxmemory-policy', 'noeviction', '--daemonize', 'no', '--protected-mode', 'yes',
    '--logfile', join(dir, 'redis.log'),
  ];
  const child = spawn(bin, args, { stdio: 'ignore', detached: false });
  if (opts.unref) child.unref();
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const deadline = Date.now() + 15_000;
  while (!(await ping(port, 300))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      let log = '';
      try {
        log = readFileSync(join(dir, 'redis.log'), 'utf8').split('\n').slice(-5).join('\n');
      } catch {
        // no log yet
      }
      throw new Error(`the embedded redis-server did not start on port ${port}: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  writeFileSync(stateFile, JSON.stringify({ pid: child.pid, port }), { mode: 0o600 });
  void exited;
  return handle(child, child.pid!, port, stateFile);
}

function handle(child: ChildProcess | null, pid: number, port: number, stateFile: string): EmbeddedRedis {
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid,
    async stop() {
      if (!alive(pid)) return;
      // SHUTDOWN would also work; SIGTERM makes redis flush the AOF and exit cleanly.
      process.kill(pid, 'SIGTERM');
      const deadline = Date.now() + 10_000;
      while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      if (alive(pid)) process.kill(pid, 'SIGKILL');
      if (child) await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
      rmSync(stateFile, { force: true });
    },
  };
}
