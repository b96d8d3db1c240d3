// The shell worker of docs/external-tasks.md (curl + jq, a separate process) drives a JSON workflow's run from
// start to end; a worker SIGKILLed while it holds a lock loses the task to another after the lock expires.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startHarness, KEYS, type Harness } from './harness.ts';
import { waitFor } from '../helpers.ts';

const root = new URL('../../', import.meta.url).pathname;
const script = `${root}examples/shell-worker/worker.sh`;
let h: Harness;
const children: ChildProcess[] = [];

const workflow = {
  name: 'page-owner',
  tasks: {
    lookup_owner: { output: { type: 'object', required: ['owner'], properties: { owner: { type: 'string' } } } },
    page_owner: { output: { type: 'object', required: ['paged'], properties: { paged: { type: 'string' } } } },
  },
  definition: {
    initial: 'lookup',
    context: { service: { $input: 'service' }, owner: null, paged: null },
    states: {
      lookup: {
        invoke: {
          src: 'lookup_owner', input: { service: { $context: 'service' } },
          onDone: { target: 'page', actions: { type: 'assign', params: { set: { owner: { $event: 'output.owner' } } } } },
        },
      },
      page: {
        invoke: {
          src: 'page_owner', input: { owner: { $context: 'owner' } },
          onDone: { target: 'paged', actions: { type: 'assign', params: { set: { paged: { $event: 'output.paged' } } } } },
        },
      },
      paged: { type: 'final' },
    },
  },
};

/** SIGKILL a shell worker with its curl and jq children (its own process group), and wait for it. */
async function killGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // gone already
  }
  await gone;
}

function shellWorker(): ChildProcess {
  const child = spawn('sh', [script], { env: { ...process.env, SERVICECHART_URL: h.url, SERVICECHART_KEY: KEYS.worker }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  child.stderr!.on('data', (d) => process.env.TEST_VERBOSE && process.stderr.write(d));
  children.push(child);
  return child;
}

async function history(runId: string): Promise<{ type: string; worker?: string; ignored?: boolean }[]> {
  return (await h.call('GET', `/v1/runs/${runId}/history?limit=500`)).body.items;
}

test.before(async () => {
  h = await startHarness();
  // Neither task has a handler anywhere: a live worker must serve it first, or the workflow declares it.
  const res = await h.call('POST', '/v1/workflows', { body: workflow });
  assert.is(res.status, 201, JSON.stringify(res.body));
});

test.after(async () => {
  for (const c of children) await killGroup(c);
  await h.close();
});

test('the documentation shows this very worker, and its workflow example registers', async () => {
  const doc = readFileSync(`${root}docs/external-tasks.md`, 'utf8');
  assert.ok(doc.includes(readFileSync(script, 'utf8').trim()), 'docs/external-tasks.md embeds examples/shell-worker/worker.sh verbatim');
  const example = JSON.parse(/```json\n([\s\S]*?)\n```/.exec(doc)![1]);
  const res = await h.call('POST', '/v1/workflows', { body: { ...example, name: 'doc-example' } });
  assert.is(res.status, 201, JSON.stringify(res.body));
});

test('a shell worker drives a run from start to end over HTTP', async () => {
  const worker = shellWorker();
  const start = await h.call('POST', '/v1/runs', { body: { workflow: 'page-owner', input: { service: 'payments' } } });
  assert.is(start.status, 201);
  const runId = start.body.id;
  const run = await waitFor(async () => {
    const r = await h.call('GET', `/v1/runs/${runId}`);
    return r.body.status === 'done' ? r.body : null;
  }, 20_000, 'the run to end');
  assert.is(run.context.owner, 'team-payments');
  assert.is(run.context.paged, 'team-payments');
  const types = (await history(runId)).map((e) => e.type);
  assert.equal(types.filter((t) => t === 'task.completed').length, 2);
  await killGroup(worker);
});

test('a worker SIGKILLed holding a lock: the task is delivered again after the lock expires, applied once', async () => {
  const start = await h.call('POST', '/v1/runs', { body: { workflow: 'page-owner', input: { service: 'billing' } } });
  const runId = start.body.id;
  // A worker that takes the task with a short lock, prints it, then hangs in its "work" until killed.
  const body = JSON.stringify({ workerId: 'doomed', types: ['lookup_owner'], max: 1, lockMs: 1500, waitMs: 10_000 });
  const doomed = spawn('sh', ['-c', `curl -sf -X POST "$URL/v1/external-tasks/fetch" -H "authorization: Bearer $KEY" -H 'content-type: application/json' -d '${body}'; echo; sleep 600`], {
    env: { ...process.env, URL: h.url, KEY: KEYS.worker }, stdio: ['ignore', 'pipe', 'inherit'], detached: true,
  });
  children.push(doomed);
  let out = '';
  doomed.stdout!.on('data', (d) => (out += d));
  await waitFor(() => out.includes('lockToken'), 10_000, 'the doomed worker to hold the task');
  const held = JSON.parse(out).tasks[0];
  assert.is(held.runId, runId);
  await killGroup(doomed);
  shellWorker();
  const run = await waitFor(async () => {
    const r = await h.call('GET', `/v1/runs/${runId}`);
    return r.body.status === 'done' ? r.body : null;
  }, 20_000, 'the run to end');
  assert.is(run.context.owner, 'team-billing');
  const entries = await history(runId);
  const starts = entries.filter((e) => e.type === 'task.started' && e.worker);
  assert.is(starts[0].worker, 'doomed');
  assert.ok(starts.some((e) => e.worker!.startsWith('sh-')), 'delivered again to the shell worker');
  assert.is(entries.filter((e) => e.type === 'task.completed').length, 2, 'each task applied once');
  // The doomed worker's token is dead.
  const late = await h.call('POST', `/v1/external-tasks/${held.id}/complete`, { key: 'worker', body: { lockToken: held.lockToken, output: { owner: 'ghost' } } });
  assert.is(late.status, 409);
});

test.run();
