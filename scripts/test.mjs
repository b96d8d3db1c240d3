// Runs the whole suite: starts a private redis-server on a free port (never a developer's own),
// runs every test/**/*.test.ts file in its own Node process (two at a time), and ends with
// `tests: N passed, M failed`. Exits non-zero when anything failed.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir, availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { createServer } from 'node:net';

const root = new URL('..', import.meta.url).pathname;
const filter = process.argv.slice(2);

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out.sort();
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

async function startRedis() {
  const dir = mkdtempSync(join(tmpdir(), 'sc-test-redis-'));
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--hz', '100', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
  const { default: net } = await import('node:net');
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => { s.destroy(); r(true); });
      s.on('error', () => r(false));
    });
    if (ok) return { url: `redis://127.0.0.1:${port}`, stop: () => { child.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }); } };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('test redis-server did not start');
}

function runFile(file, env) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const limit = setTimeout(() => {
      out += `\n[runner] ${relative(root, file)} ran past 300 s and was killed\n`;
      child.kill('SIGKILL');
    }, 300_000);
    child.on('exit', (code) => {
      clearTimeout(limit);
      const num = (label) => {
        const m = new RegExp(`^\\s*${label}:\\s+(\\d+)`, 'm').exec(out);
        return m ? Number(m[1]) : null;
      };
      const total = num('Total');
      const passed = num('Passed');
      let failed = total !== null && passed !== null ? total - passed - (num('Skipped') ?? 0) : 0;
      let ok = passed ?? 0;
      if (code !== 0 && failed === 0) failed = 1; // a crash, or a failure uvu could not count
      if (total === null && code === 0) {
        failed = 1;
        out += '\n[runner] no uvu summary: the file ran no test\n';
      }
      resolve({ file, passed: ok, failed, out, ms: Date.now() - started });
    });
  });
}

// The slowest files first (real clusters, spawned servers, whole processes), so the two lanes finish
// together instead of one long file running alone at the end.
const slowFirst = ['test/cluster/', 'test/cli/', 'test/durability/', 'test/archive/', 'test/package/', 'test/workflows/'];
const weight = (f) => {
  const i = slowFirst.findIndex((p) => relative(root, f).startsWith(p));
  return i === -1 ? slowFirst.length : i;
};
const files = findTests(join(root, 'test'))
  .filter((f) => !filter.length || filter.some((x) => f.includes(x)))
  .sort((a, b) => weight(a) - weight(b) || a.localeCompare(b));
const redis = await startRedis();
const env = { ...process.env, TEST_REDIS_URL: redis.url, NO_COLOR: '1', FORCE_COLOR: '0' };
const results = [];
const suiteStarted = Date.now();
const queue = [...files];
const workers = Array.from({ length: Math.max(1, Math.min(2, availableParallelism())) }, async () => {
  while (queue.length) {
    const file = queue.shift();
    const r = await runFile(file, env);
    results.push(r);
    process.stdout.write(`\n=== ${relative(root, file)} (${(r.ms / 1000).toFixed(1)} s): ${r.passed} passed, ${r.failed} failed\n`);
    if (r.failed || process.env.TEST_VERBOSE) process.stdout.write(r.out);
  }
});
await Promise.all(workers);
redis.stop();
const passed = results.reduce((a, r) => a + r.passed, 0);
const failed = results.reduce((a, r) => a + r.failed, 0);
process.stdout.write(`\nwall time ${((Date.now() - suiteStarted) / 1000).toFixed(0)} s\ntests: ${passed} passed, ${failed} failed\n`);
process.exit(failed ? 1 : 0);
