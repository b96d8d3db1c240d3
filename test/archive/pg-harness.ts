// A real PostgreSQL server for the archive tests: Debian's binaries (scripts/ensure-system.mjs
// --postgres installs them), a cluster made by initdb in a temp dir on a free port, its socket in
// that dir too, run as the postgres user when the tests run as root (PostgreSQL refuses root).
// Stopped and removed when the test process exits, whatever happened: an exit handler, and for a
// test process killed outright (SIGKILL leaves no handler to run) a detached watchdog that waits for
// the test process to be gone, then stops the server and removes its directory.
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../bin/embedded-redis.ts';

export interface PgServer {
  url: string;
  /** Stop at once, as a crash would (pg_ctl -m immediate). */
  stop(): void;
  /** Start again on the same port and data. */
  start(): void;
  /** Stop and remove everything. */
  destroy(): void;
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a)) : [];
  if (!versions.length) throw new Error('PostgreSQL is not installed: run node scripts/ensure-system.mjs --postgres (Debian package postgresql)');
  return join(root, versions[0], 'bin');
}

export async function startPostgres(): Promise<PgServer> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'sc-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  let uid = 0;
  let gid = 0;
  if (asRoot) {
    uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const run = (cmd: string, args: string[]) =>
    execFileSync(asRoot ? 'runuser' : cmd, asRoot ? ['-u', 'postgres', '--', cmd, ...args] : args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  run(join(bin, 'initdb'), ['-D', data, '-U', 'sc', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  const port = await freePort();
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
  let up = false;
  const start = () => {
    run(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '60', '-o', opts, 'start']);
    up = true;
  };
  const stop = () => {
    if (!up) return;
    up = false;
    try {
      run(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // already gone
    }
  };
  const destroy = () => {
    stop();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', destroy);
  const pgCtl = `${asRoot ? 'runuser -u postgres -- ' : ''}${join(bin, 'pg_ctl')}`;
  const watchdog = spawn('sh', ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ${pgCtl} -D '${data}' -m immediate stop >/dev/null 2>&1; rm -rf '${dir}'`], {
    detached: true, stdio: 'ignore',
  });
  watchdog.unref();
  start();
  return { url: `postgres://sc@127.0.0.1:${port}/postgres`, stop, start, destroy };
}
