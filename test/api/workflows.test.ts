// Workflow definitions through HTTP: JSON workflows with nested and parallel states, timers, tasks and
// human tasks; validation with every problem listed; versions; built-ins protected; diagrams.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { startHarness, type Harness } from './harness.ts';
import { waitFor } from '../helpers.ts';

const triage = JSON.parse(readFileSync(new URL('../fixtures/triage.json', import.meta.url), 'utf8'));
const test = suite<{ h: Harness }>('api workflows', {} as { h: Harness });

test.before(async (ctx) => {
  ctx.h = await startHarness();
});
test.after(async (ctx) => ctx.h.close());

test('POST /v1/workflows stores a JSON workflow as version 1 (admin only) and it runs end to end', async ({ h }) => {
  const denied = await h.call('POST', '/v1/workflows', { key: 'operator', body: { name: 'triage', definition: triage } });
  assert.is(denied.status, 403);
  const res = await h.call('POST', '/v1/workflows', { body: { name: 'triage', description: 'incident triage', definition: triage, inputSchema: { type: 'object', required: ['title'] } } });
  assert.is(res.status, 201);
  assert.equal(res.body, { name: 'triage', version: 1 });
  const listed = await h.call('GET', '/v1/workflows', { key: 'viewer' });
  const item = listed.body.items.find((w: { name: string }) => w.name === 'triage');
  assert.equal(item, { name: 'triage', version: 1, description: 'incident triage', builtIn: false });
  assert.ok(listed.body.items.some((w: { name: string; builtIn: boolean }) => w.name === 'demo' && w.builtIn));

  assert.is((await h.call('POST', '/v1/runs', { body: { workflow: 'triage', input: {} } })).status, 422, 'the stored input schema applies');
  const { body: run } = await h.call('POST', '/v1/runs', { body: { workflow: 'triage', input: { title: 'db down', severity: 'high', cooldownMs: 20, delaysMs: { ackSla: 150 } } } });
  assert.equal(run.state, { open: { work: 'new', sla: 'running' } });
  assert.is(run.timers.length, 1);
  // The named delay fires as a durable timer and the parallel region moves on its own.
  await waitFor(async () => (await h.call('GET', `/v1/runs/${run.id}`)).body.state.open.sla === 'breached', 5000, 'the SLA timer');
  const tasks = await h.call('GET', `/v1/tasks?workflow=triage&runId=${run.id}`, { key: 'viewer' });
  assert.is(tasks.body.items.length, 1);
  const done = await h.call('POST', `/v1/tasks/${tasks.body.items[0].id}/complete`, { key: 'operator', body: { outcome: 'ACK', by: 'ana' } });
  assert.is(done.status, 200);
  assert.equal(done.body.run.state, { open: { work: 'investigating', sla: 'met' } });
  await h.call('POST', `/v1/runs/${run.id}/events`, { body: { type: 'RESOLVE', rootCause: 'disk full' } });
  const ended = await waitFor(async () => {
    const r = (await h.call('GET', `/v1/runs/${run.id}`)).body;
    return r.status === 'done' ? r : null;
  }, 5000, 'the sleep task and the final state');
  assert.equal(ended.output.assignee, 'ana');
  assert.is(ended.output.rootCause, 'disk full');
  assert.is(ended.output.breached, 1);
  const hist = (await h.call('GET', `/v1/runs/${run.id}/history?limit=500`)).body.items;
  assert.ok(hist.some((e: { type: string }) => e.type === 'sla.breached'));
});

test('an invalid definition answers 422 listing every problem with its path, and stores nothing', async ({ h }) => {
  const bad = {
    initial: 'a',
    states: {
      a: { on: { GO: 'nowhere', RUN: { target: 'b', guard: { type: 'noSuchGuard' } } }, after: { missingDelay: 'b' } },
      b: { invoke: { src: 'no_such_task' }, entry: [{ type: 'launchMissiles' }] },
    },
  };
  const res = await h.call('POST', '/v1/workflows', { body: { name: 'broken', definition: bad } });
  assert.is(res.status, 422);
  assert.is(res.body.error.code, 'VALIDATION_FAILED');
  const paths = res.body.error.details.map((d: { path: string }) => d.path).join('\n');
  for (const p of ['/definition/states/a/on/GO', '/definition/states/a/after/missingDelay', '/definition/states/b/invoke', '/definition/states/b/entry']) {
    assert.ok(paths.includes(p), `a problem at ${p} in:\n${paths}`);
  }
  assert.ok(res.body.error.details.some((d: { message: string }) => /noSuchGuard/.test(d.message)));
  assert.is((await h.call('GET', '/v1/workflows/broken', { key: 'viewer' })).status, 404);
  const proto = await h.call('POST', '/v1/workflows', { raw: '{"name":"p","definition":{"initial":"a","states":{"a":{}},"__proto__":{"x":1}}}', headers: { 'content-type': 'application/json' } });
  assert.is(proto.status, 422);
  const extra = await h.call('POST', '/v1/workflows', { body: { name: 'x', definition: triage, colour: 'red' } });
  assert.is(extra.status, 422);
});

test('posting a name again stores the next version; a running run keeps its version', async ({ h }) => {
  const v1 = { initial: 'waiting', states: { waiting: { on: { GO: 'done' } }, done: { type: 'final', output: { version: 1 } } } };
  const v2 = { initial: 'waiting', states: { waiting: { on: { GO: 'middle' } }, middle: { on: { GO: 'done' } }, done: { type: 'final', output: { version: 2 } } } };
  assert.is((await h.call('POST', '/v1/workflows', { body: { name: 'versioned', definition: v1 } })).body.version, 1);
  const { body: old } = await h.call('POST', '/v1/runs', { body: { workflow: 'versioned' } });
  assert.is((await h.call('POST', '/v1/workflows', { body: { name: 'versioned', definition: v2 } })).body.version, 2);
  const { body: fresh } = await h.call('POST', '/v1/runs', { body: { workflow: 'versioned' } });
  assert.is(old.version, 1);
  assert.is(fresh.version, 2);
  const a = await h.call('POST', `/v1/runs/${old.id}/events`, { body: { type: 'GO' } });
  assert.equal(a.body.run.output, { version: 1 });
  const b = await h.call('POST', `/v1/runs/${fresh.id}/events`, { body: { type: 'GO' } });
  assert.is(b.body.run.state, 'middle');
  const got = await h.call('GET', '/v1/workflows/versioned/versions/1', { key: 'viewer' });
  assert.is(got.status, 200);
  assert.equal(got.body.definition, v1);
  assert.equal((await h.call('GET', '/v1/workflows/versioned', { key: 'viewer' })).body.versions, [1, 2]);
  assert.is((await h.call('GET', '/v1/workflows/versioned/versions/9', { key: 'viewer' })).status, 404);
  const pinned = await h.call('POST', '/v1/runs', { body: { workflow: 'versioned', version: 1 } });
  assert.is(pinned.body.version, 1);
});

test('a built-in workflow cannot be replaced through the API', async ({ h }) => {
  const res = await h.call('POST', '/v1/workflows', { body: { name: 'demo', definition: { initial: 'a', states: { a: {} } } } });
  assert.is(res.status, 409);
  assert.is(res.body.error.code, 'CONFLICT');
  assert.is((await h.call('GET', '/v1/workflows/demo', { key: 'viewer' })).body.builtIn, true);
});

test('diagrams: SVG and Mermaid of a workflow, and a run with its current states marked', async ({ h }) => {
  const svg = await h.call('GET', '/v1/workflows/demo/diagram', { key: 'viewer' });
  assert.is(svg.status, 200);
  assert.match(svg.headers.get('content-type') ?? '', 'image/svg+xml');
  assert.match(svg.body, '<svg');
  const mermaid = await h.call('GET', '/v1/workflows/demo/diagram?format=mermaid', { key: 'viewer' });
  assert.match(mermaid.body, 'stateDiagram-v2');
  assert.is((await h.call('GET', '/v1/workflows/demo/diagram?format=png', { key: 'viewer' })).status, 422);
  const { body: run } = await h.call('POST', '/v1/runs', { body: { workflow: 'demo', input: { sleepMs: 5000 } } });
  const runSvg = (await h.call('GET', `/v1/runs/${run.id}/diagram`, { key: 'viewer' })).body as string;
  assert.match(runSvg, /data-state="working"[^>]*aria-current="true"|aria-current="true"[^>]*data-state="working"/);
  assert.not.match(runSvg, /data-state="finished"[^>]*aria-current/);
  await h.call('POST', `/v1/runs/${run.id}/cancel`, { body: {} });
});

test.run();
