// Makes sure the system packages Servicechart needs are present: redis-server (unless REDIS_URL is set),
// with --chromium Debian's chromium for the browser tests, with --postgres Debian's postgresql
// (the archive tests start their own server from its binaries in /usr/lib/postgresql/<version>/bin), and
// with --shell-worker curl and jq for the test that runs the shell worker of docs/external-tasks.md.
// Installs them with apt-get when
// running as root; otherwise stops with a message that says how to get them.
import { existsSync, readdirSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';

const want = new Set(process.argv.slice(2));

function has(bin, paths) {
  if (paths.some((p) => existsSync(p))) return true;
  return spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
}

let updated = false;
function aptInstall(pkg, why) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
  if (!isRoot || !hasApt) {
    process.stderr.write(
      `\nservicechart: ${why} needs the Debian package "${pkg}", which is not installed.\n` +
        (hasApt
          ? `Install it with:  sudo apt-get update && sudo apt-get install -y ${pkg}\n`
          : `Install ${pkg} with your system's package manager (macOS: brew install ${pkg === 'redis-server' ? 'redis' : pkg}).\n`) +
        (pkg === 'redis-server' ? 'Or use a Redis you already run: REDIS_URL=redis://host:port\n' : '') +
        '\n',
    );
    process.exit(1);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  process.stdout.write(`servicechart: installing ${pkg} with apt-get (${why})\n`);
  if (!updated) {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    updated = true;
  }
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', pkg], { stdio: 'inherit', env });
}

if (want.has('--redis') && !process.env.REDIS_URL) {
  if (!has('redis-server', ['/usr/bin/redis-server', '/usr/local/bin/redis-server'])) aptInstall('redis-server', 'the embedded Redis');
  // Debian's package starts a system Redis on 6379; Servicechart never uses it (it runs its own child).
}
if (want.has('--shell-worker')) {
  if (!has('curl', ['/usr/bin/curl'])) aptInstall('curl', 'the shell worker test');
  if (!has('jq', ['/usr/bin/jq'])) aptInstall('jq', 'the shell worker test');
}
if (want.has('--chromium')) {
  if (!has('chromium', ['/usr/bin/chromium'])) aptInstall('chromium', 'the browser tests');
}
if (want.has('--postgres')) {
  const root = '/usr/lib/postgresql';
  const found = existsSync(root) && readdirSync(root).some((v) => existsSync(`${root}/${v}/bin/initdb`));
  if (!found) aptInstall('postgresql', 'the archive tests (a real PostgreSQL)');
}
