// The npm package from the outside: `npm pack` (which builds dist/), installed offline into a copy of
// examples/ticket-worker with no TypeScript tooling, then the example serves a task of the built-in incident
// workflow and a task of a JSON workflow registered through an `api`-only process, both run from the tarball.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePortForTest, kill9, newPrefix, redisUrl, spawnReady, waitFor } from '../helpers.ts';

const repo = new URL('../../', import.meta.url).pathname;
const KEY = 'package-admin-key-1';
const work = mkdtempSync(join(tmpdir(), 'sc-pkg-'));
const children: ChildProcess[] = [];
let url = '';

const npm = (args: string[], cwd: string) => execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });

/** A copy of the sources (not node_modules, not a dist/ someone built) to pack from, so the repo is left alone. */
function copyOfRepo(): string {
  const src = join(work, 'src');
  const skip = new Set(['node_modules', '.git', 'dist', '.servicechart', '.test-redis']);
  cpSync(repo, src, { recursive: true, filter: (p) => !skip.has(p.slice(repo.length).split('/')[0]) || p === repo || p === repo.slice(0, -1) });
  symlinkSync(join(repo, 'node_modules'), join(src, 'node_modules'), 'dir');
  return src;
}

/**
 * `npm ci --offline` needs a lockfile: an install resolves version ranges from registry metadata, which
 * `npm ci` never caches. This one pins the tarball and this repo's own production dependency tree (their
 * tarballs are in the npm cache since the repo's `npm ci`).
 */
function lockFor(project: string, tarball: string): void {
  const lock = JSON.parse(readFileSync(join(repo, 'package-lock.json'), 'utf8'));
  const pkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8'));
  const root = lock.packages[''];
  const spec = `file:${tarball}`;
  pkg.dependencies.servicechart = spec;
  writeFileSync(join(project, 'package.json'), JSON.stringify(pkg, null, 2));
  const packages: Record<string, unknown> = {
    '': { name: pkg.name, version: pkg.version, dependencies: { servicechart: spec } },
    'node_modules/servicechart': { version: root.version, resolved: spec, license: root.license, dependencies: root.dependencies, bin: root.bin, engines: root.engines },
  };
  for (const [path, entry] of Object.entries(lock.packages as Record<string, { dev?: boolean; devOptional?: boolean }>)) {
    if (path && !entry.dev && !entry.devOptional) packages[path] = entry;
  }
  writeFileSync(join(project, 'package-lock.json'), JSON.stringify({ name: pkg.name, version: pkg.version, lockfileVersion: 3, requires: true, packages }, null, 2));
}

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url + path, { method, headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

test.after(async () => {
  for (const c of children) await kill9(c);
  rmSync(work, { recursive: true, force: true });
});

test('the packed tarball installs offline without TypeScript tooling, and its worker serves built-in and JSON workflows', async () => {
  const src = copyOfRepo();
  const packed = npm(['pack', '--pack-destination', work], src).trim().split('\n').pop()!;
  const tarball = join(work, packed);
  assert.ok(existsSync(tarball), `npm pack made ${tarball}`);

  const project = join(work, 'ticket-worker');
  cpSync(join(repo, 'examples', 'ticket-worker'), project, { recursive: true });
  lockFor(project, tarball);
  npm(['ci', '--offline'], project);
  const installed = readdirSync(join(project, 'node_modules'));
  assert.not.ok(installed.includes('tsx') || installed.includes('typescript'), 'no TypeScript tooling installed');
  const sc = join(project, 'node_modules', 'servicechart');
  assert.ok(existsSync(join(sc, 'dist', 'workers', 'package.d.ts')), 'declarations shipped');
  assert.not.ok(existsSync(join(sc, 'bin', 'main.ts')), 'no TypeScript sources shipped');

  // The installation: an api-only process and a built-in worker process, both from the tarball; the
  // incident's ticket step goes to external workers.
  const prefix = newPrefix();
  const port = await freePortForTest();
  url = `http://127.0.0.1:${port}`;
  const env = {
    REDIS_URL: await redisUrl(), SERVICECHART_PREFIX: prefix, SERVICECHART_API_KEYS: `${KEY}:admin`, PORT: String(port),
    SERVICECHART_EXTERNAL_TASKS: 'create_external_ticket', LOG_LEVEL: 'info', SERVICECHART_FROM_SOURCE: '',
  };
  const bin = join(sc, 'bin', 'servicechart.js');
  children.push(await spawnReady([bin, 'api'], env, /listening on/, 60_000));
  children.push(await spawnReady([bin, 'worker'], env, /consumers running/, 60_000));

  // The example project's worker, run by plain node from its own directory.
  const before = await call('POST', '/v1/workflows', { name: 'assign-flow', definition: { initial: 'a', states: { a: { invoke: { src: 'assign_ticket' } } } } });
  assert.is(before.status, 422, 'assign_ticket is unknown until its worker is live');
  children.push(await spawnReady([join(project, 'worker.js')], { REDIS_URL: env.REDIS_URL, SERVICECHART_PREFIX: prefix }, /ticket-worker .* ready/, 60_000));

  // A JSON workflow registered through the api-only process, using the example's task.
  const reg = await call('POST', '/v1/workflows', {
    name: 'assign-flow',
    definition: {
      initial: 'assign',
      context: { component: { $input: 'component' }, assignee: null },
      states: {
        assign: { invoke: { src: 'assign_ticket', input: { component: { $context: 'component' } }, onDone: { target: 'done', actions: { type: 'assign', params: { set: { assignee: { $event: 'output.assignee' } } } } } } },
        done: { type: 'final' },
      },
    },
  });
  assert.is(reg.status, 201, JSON.stringify(reg.body));
  const json = await call('POST', '/v1/runs', { workflow: 'assign-flow', input: { component: 'billing' } });
  const jsonRun = await waitFor(async () => {
    const r = await call('GET', `/v1/runs/${json.body.id}`);
    return r.body.status === 'done' ? r.body : null;
  }, 30_000, 'the JSON workflow run to end');
  assert.is(jsonRun.context.assignee, 'billing-oncall');

  // The built-in incident workflow: its ticket is opened by the example worker, not the built-in handler.
  const inc = await call('POST', '/v1/runs', { workflow: 'incident', input: { title: 'checkout down', impact: 2, urgency: 2, pagingPolicy: { enabled: false } } });
  assert.is(inc.status, 201, JSON.stringify(inc.body));
  const done = await waitFor(async () => {
    const h = await call('GET', `/v1/runs/${inc.body.id}/history?limit=500`);
    return h.body.items.find((e: any) => e.type === 'task.completed' && e.task === 'create_external_ticket');
  }, 30_000, 'the incident ticket step');
  assert.is(done.output.adapter, 'ticket-worker');
  assert.match(done.output.ticketRef, /^TW-/);

  // Both show in the catalog as the example's: a package worker.
  const types = (await call('GET', '/v1/task-types')).body.items;
  for (const name of ['create_external_ticket', 'assign_ticket']) {
    const t = types.find((x: any) => x.name === name);
    assert.is(t.execution, 'external', name);
    assert.ok(t.workers.some((w: any) => w.kind === 'package'), `${name} served by the package worker`);
  }
});

test.run();
