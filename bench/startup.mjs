// Start-up time and memory of `servicechart`, compiled (dist/) against from source (tsx): the CLI's
// `--help`, and `servicechart start` until it listens (RSS read from /proc once it does). Needs
// `npm run build` first and a Redis at REDIS_URL. Usage: REDIS_URL=redis://… node bench/startup.mjs [rounds]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const bin = new URL('../bin/servicechart.js', import.meta.url).pathname;
const rounds = Number(process.argv[2] ?? 5);
const redisUrl = process.env.REDIS_URL;
if (!redisUrl) throw new Error('set REDIS_URL');

function run(args, env, until) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const onData = (d) => {
      out += d;
      if (until && until.test(out)) {
        const ms = performance.now() - t0;
        const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) / 1024;
        child.kill('SIGKILL');
        resolve({ ms, rss });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', () => (until ? (out.match(until) ? null : reject(new Error(out))) : resolve({ ms: performance.now() - t0, rss: null })));
  });
}

const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [label, env] of [['compiled (dist/)', {}], ['source (tsx)', { SERVICECHART_FROM_SOURCE: '1' }]]) {
  const help = [];
  const start = [];
  const rss = [];
  for (let i = 0; i < rounds; i++) {
    help.push((await run(['--help'], env)).ms);
    const s = await run(['start'], { ...env, REDIS_URL: redisUrl, PORT: '0', SERVICECHART_API_KEYS: 'bench-key-123456:admin', SERVICECHART_PREFIX: `bench${i}`, LOG_LEVEL: 'info' }, /listening on/);
    start.push(s.ms);
    rss.push(s.rss);
  }
  console.log(`${label}: --help ${median(help).toFixed(0)} ms, start until listening ${median(start).toFixed(0)} ms, RSS when listening ${median(rss).toFixed(0)} MiB (median of ${rounds})`);
}
