// Hostile input through HTTP: names of Object.prototype members as ordinary names, numeric query
// parameters, methods a path does not serve, and schemas in JSON workflows that could only fail later.
import { request, type IncomingMessage } from 'node:http';
import type { Redis } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, KEYS, type Harness } from './harness.ts';
import { testTasks, testWorkflows } from '../fixtures/workflows.ts';
import { connect, keysEvery } from '../helpers.ts';
import { SECRETS, fixture, postHook } from './hooks-util.ts';

const test = suite<{ h: Harness; side: Redis }>('api hostile input', {} as { h: Harness; side: Redis });

test.before(async (ctx) => {
  ctx.h = await startHarness({ workflows: testWorkflows, tasks: testTasks(ctx.side = await connect(), 'side'), consume: false, hooks: { secrets: { alertmanager: SECRETS.alertmanager } } });
});
test.after(async (ctx) => {
  await ctx.h.close();
  await ctx.side.quit();
});

const PROTO_NAMES = ['hasOwnProperty', 'valueOf', 'toString', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString', 'constructor'];

/** Any method, even ones fetch refuses to send (TRACE, CONNECT, made-up ones). */
function raw(h: Harness, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: any }> {
  const u = new URL(h.url);
  return new Promise((resolve, reject) => {
    const done = (res: IncomingMessage, text: string) => {
      let body: unknown = text;
      if ((res.headers['content-type'] ?? '').includes('json') && text) body = JSON.parse(text);
      resolve({ status: res.statusCode!, headers: res.headers, body });
    };
    const req = request({ host: u.hostname, port: u.port, method, path, headers: { authorization: `Bearer ${KEYS.admin}`, ...headers } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => done(res, text));
    });
    // Node's client hands the answer to a CONNECT as a tunnel: the body is what follows the head.
    req.on('connect', (res, socket, head) => {
      let text = head.toString();
      socket.on('data', (d) => (text += d));
      socket.on('end', () => done(res, text));
    });
    req.on('error', reject);
    req.end();
  });
}

async function keyCount(h: Harness): Promise<number> {
  let n = 0;
  // The prefix's own keys and the hash-tagged ones (partitions, queues, external tasks, catalog), on
  // every master of a cluster.
  for (const pattern of [`${h.prefix}*`, `{${h.prefix}-*`]) n += (await keysEvery(h.redis, pattern)).length;
  return n;
}

test('an event named after an Object.prototype member is an ordinary event: 409 when not accepted, never 500', async ({ h }) => {
  const { body: run } = await h.call('POST', '/v1/runs', { body: { workflow: 'counter' } });
  for (const type of PROTO_NAMES) {
    const res = await h.call('POST', `/v1/runs/${run.id}/events`, { body: { type } });
    assert.is(res.status, 409, type);
    assert.is(res.body.error.code, 'EVENT_NOT_ACCEPTED', type);
  }
  const after = await h.call('GET', `/v1/runs/${run.id}/history?limit=500`);
  assert.not.ok(after.body.items.some((e: { type: string }) => e.type === 'event.received'), 'a refused event leaves no entry');
});

test('a JSON workflow may use prototype-member names for events, outcomes, business keys and its own name', async ({ h }) => {
  const taskNamed = await h.call('POST', '/v1/workflows', { body: { name: 'tasknames', definition: { initial: 'a', states: { a: { invoke: { src: 'hasOwnProperty' } } } } } });
  assert.is(taskNamed.status, 422, 'a task named after a prototype member is an unknown task');
  assert.is(taskNamed.body.error.details[0].message, 'unknown task "hasOwnProperty"');
  const definition = {
    initial: 'a',
    states: {
      a: { on: { hasOwnProperty: 'b', valueOf: { target: 'b', actions: { type: 'assign', params: { set: { 'seen.toString': { $event: 'note' } } } } } } },
      b: {
        meta: { humanTask: { role: 'operator', title: 'Decide {toString}{valueOf}', outcomes: { toString: 'isPrototypeOf', valueOf: 'valueOf' } } },
        on: { isPrototypeOf: 'c', valueOf: 'a' },
      },
      c: { type: 'final' },
    },
  };
  const reg = await h.call('POST', '/v1/workflows', { body: { name: 'constructor', definition } });
  assert.is(reg.status, 201, JSON.stringify(reg.body));
  assert.is((await h.call('GET', '/v1/workflows/constructor')).status, 200);
  assert.is((await h.call('GET', '/v1/kpis?workflow=constructor')).status, 200);

  const started = await h.call('POST', '/v1/runs', { body: { workflow: 'constructor', businessKey: 'hasOwnProperty' } });
  assert.is(started.status, 201);
  const run = started.body;
  const byKey = await h.call('GET', '/v1/runs?businessKey=hasOwnProperty');
  assert.equal(byKey.body.items.map((r: { id: string }) => r.id), [run.id]);
  assert.is((await h.call('GET', '/v1/runs?workflow=constructor&state=valueOf')).body.items.length, 0);

  assert.is((await h.call('POST', `/v1/runs/${run.id}/events`, { body: { type: 'toString' } })).status, 409);
  const moved = await h.call('POST', `/v1/runs/${run.id}/events`, { body: { type: 'valueOf', note: 'n1' } });
  assert.is(moved.status, 200, JSON.stringify(moved.body));
  assert.is(moved.body.run.state, 'b');
  assert.equal(moved.body.run.context.seen, { toString: 'n1' });
  const [task] = moved.body.run.humanTasks;
  assert.is(task.title, 'Decide ', 'a title field that is not in the context is empty, not a prototype function');

  for (const outcome of ['hasOwnProperty', 'constructor', '__proto__']) {
    const res = await h.call('POST', `/v1/tasks/${task.id}/complete`, { body: { outcome, by: 'ana' } });
    assert.is(res.status, 422, outcome);
    assert.is(res.body.error.code, 'VALIDATION_FAILED');
  }
  const done = await h.call('POST', `/v1/tasks/${task.id}/complete`, { body: { outcome: 'toString', by: 'ana' } });
  assert.is(done.status, 200, JSON.stringify(done.body));
  assert.is(done.body.run.status, 'done');
});

test('a webhook whose labels and fingerprint are prototype-member names starts an ordinary run', async ({ h }) => {
  const body = fixture('alertmanager-firing');
  body.alerts = [{ ...body.alerts[0], fingerprint: 'hasOwnProperty', labels: { alertname: 'toString', severity: 'valueOf', service: 'constructor', priority: 'isPrototypeOf' } }];
  delete body.alerts[0].annotations.summary;
  const res = await postHook(h, 'alertmanager', body);
  assert.is(res.status, 202, JSON.stringify(res.body));
  assert.equal(res.body.results.map((r: { action: string }) => r.action), ['started']);
  const run = (await h.call('GET', `/v1/runs/${res.body.results[0].runId}`)).body;
  assert.is(run.businessKey, 'hasOwnProperty');
  assert.is(run.context.title, 'toString');
  assert.is(run.context.urgency, 2, 'a severity that the map does not list falls back to the default');
  // A time no Date can hold (1e20 ms) is left out, not a 500.
  const far = fixture('alertmanager-firing');
  far.alerts = [{ ...far.alerts[0], fingerprint: 'far-future', startsAt: 1e20 }];
  const farRes = await postHook(h, 'alertmanager', far);
  assert.is(farRes.status, 202, JSON.stringify(farRes.body));
  // Reading the open run of that business key finds it, not a prototype member.
  const again = await postHook(h, 'alertmanager', body);
  assert.equal(again.body.results.map((r: { action: string }) => r.action), ['event']);
});

test('numeric query and path parameters accept only decimal integers in range (422 otherwise), once each', async ({ h }) => {
  const { body: run } = await h.call('POST', '/v1/runs', { body: { workflow: 'counter' } });
  const bad = [
    '/v1/runs?limit=1e999', '/v1/runs?limit=Infinity', '/v1/runs?limit=1e2', '/v1/runs?limit=0x10', '/v1/runs?limit=%205', '/v1/runs?limit=1.0',
    '/v1/runs?limit=1&limit=2', '/v1/runs?limit=0', '/v1/runs?limit=501', '/v1/runs?limit=-1', '/v1/runs?limit=',
    '/v1/tasks?limit=1e999', '/v1/hooks/deliveries?limit=1e999', `/v1/runs/${run.id}/history?limit=1e999`,
    `/v1/runs/${run.id}/history?cursor=99999999999999999999999999`, `/v1/runs/${run.id}/history?cursor=-1`,
    '/v1/tasks?cursor=5', '/v1/tasks?cursor=1:r123', `/v1/tasks?cursor=1:${run.id}`, `/v1/tasks?cursor=1:${run.id}.h1x0${'9'.repeat(200)}`,
    '/v1/hooks/deliveries?cursor=1-2', '/v1/hooks/deliveries?cursor=1-2-x', '/v1/hooks/deliveries?cursor=1-2-999',
    `/v1/runs/${run.id}/stream?after=1e999`, `/v1/runs/${run.id}/stream?after=-1`, `/v1/runs/${run.id}/stream?after=99999999999999999999`,
    '/v1/workflows/counter/versions/1e999', '/v1/workflows/counter/versions/99999999999999999999', '/v1/workflows/counter/versions/0x1',
    '/v1/runs?workflow=a&workflow=b', '/v1/kpis?workflow=counter&workflow=timed',
    '/v1/kpis?workflow=counter&since=2026-12-31T23:59:60Z', '/v1/kpis?workflow=counter&until=2026-06-30T23:59:60%2B01:00',
  ];
  for (const path of bad) {
    const res = await h.call('GET', path);
    assert.is(res.status, 422, path);
    assert.is(res.body.error.code, 'VALIDATION_FAILED', path);
  }
  const ok = await h.call('GET', '/v1/runs?limit=500');
  assert.is(ok.status, 200);
  assert.is((await h.call('GET', '/v1/workflows/counter/versions/1')).status, 200);
  // Cursors in the shapes these lists return pass (human tasks `<ms>:<task id>`, deliveries `<ms>-<seq>-<partition>`).
  assert.is((await h.call('GET', `/v1/tasks?cursor=1:${run.id}.h1x0`)).status, 200);
  assert.is((await h.call('GET', '/v1/hooks/deliveries?cursor=1-2-0')).status, 200);
});

test('a number JSON cannot hold (1e999) answers 422 instead of being stored as null', async ({ h }) => {
  const before = await keyCount(h);
  for (const raw of ['{"workflow":"counter","input":{"start":1e999}}', '{"workflow":"counter","input":{"x":[-1e400]}}', '{"workflow":"counter","version":1e999}']) {
    const res = await h.call('POST', '/v1/runs', { raw, headers: { 'content-type': 'application/json' } });
    assert.is(res.status, 422, raw);
    assert.is(res.body.error.code, 'VALIDATION_FAILED', raw);
  }
  assert.is(await keyCount(h), before, 'nothing was written');
});

test('a method a known path does not serve answers 405 METHOD_NOT_ALLOWED with an Allow header', async ({ h }) => {
  const { body: run } = await h.call('POST', '/v1/runs', { body: { workflow: 'counter' } });
  const before = await keyCount(h);
  const cases: [string, string, string][] = [
    ['DELETE', `/v1/runs/${run.id}`, 'GET, HEAD'],
    ['PUT', '/v1/workflows/counter', 'GET, HEAD'],
    ['PATCH', '/v1/runs', 'GET, HEAD, POST'],
    ['TRACE', '/v1/runs', 'GET, HEAD, POST'],
    ['PROPFIND', '/healthz', 'GET, HEAD'],
    ['GET', `/v1/runs/${run.id}/events`, 'POST'],
    ['FROBNICATE', '/v1/runs', 'GET, HEAD, POST'],
    ['FROBNICATE', `/v1/runs/${run.id}/cancel`, 'POST'],
    ['CONNECT', '/v1/workflows', 'GET, HEAD, POST'],
  ];
  for (const [method, path, allow] of cases) {
    const res = await raw(h, method, path);
    assert.is(res.status, 405, `${method} ${path}`);
    assert.is(res.body.error.code, 'METHOD_NOT_ALLOWED', `${method} ${path}`);
    assert.is(typeof res.body.error.message, 'string');
    assert.is(res.headers.allow, allow, `${method} ${path}`);
  }
  const unknownPath = await raw(h, 'FROBNICATE', '/v1/nothing-here');
  assert.is(unknownPath.status, 404);
  assert.is(unknownPath.body.error.code, 'NOT_FOUND');
  const options = await raw(h, 'OPTIONS', `/v1/runs/${run.id}/events`);
  assert.is(options.status, 204);
  assert.is(options.headers.allow, 'POST');
  const head = await raw(h, 'HEAD', '/healthz');
  assert.is(head.status, 200);
  assert.is(await keyCount(h), before, 'nothing was written');
});

test('a schema that does not compile, or whose $ref refers to itself, answers 422 at registration', async ({ h }) => {
  const definition = { initial: 'a', states: { a: { on: { GO: 'b' } }, b: { type: 'final' } } };
  const before = await keyCount(h);
  const schemas: [string, object][] = [
    ['self $ref', { $ref: '#' }],
    ['self $ref through allOf', { type: 'object', allOf: [{ $ref: '#' }] }],
    ['$ref cycle through definitions', { definitions: { a: { $ref: '#/definitions/b' }, b: { anyOf: [{ $ref: '#/definitions/a' }] } }, $ref: '#/definitions/a' }],
    ['unknown type', { type: 'objekt' }],
    ['a $ref to nothing', { $ref: '#/definitions/missing' }],
    ['a pattern that is not a regular expression', { type: 'object', properties: { a: { type: 'string', pattern: '(' } } }],
  ];
  for (const [what, inputSchema] of schemas) {
    const res = await h.call('POST', '/v1/workflows', { body: { name: 'schemas', definition, inputSchema } });
    assert.is(res.status, 422, `${what}: ${JSON.stringify(res.body)}`);
    assert.is(res.body.error.code, 'VALIDATION_FAILED', what);
    assert.ok(res.body.error.details.some((p: { path: string }) => p.path.startsWith('/inputSchema')), what);
  }
  assert.is(await keyCount(h), before, 'nothing was stored');
  assert.is((await h.call('POST', '/v1/runs', { body: { workflow: 'schemas' } })).status, 404);

  // A recursive schema that descends into the data is fine: it ends where the data ends.
  const tree = { type: 'object', properties: { children: { type: 'array', items: { $ref: '#' } } }, additionalProperties: false };
  assert.is((await h.call('POST', '/v1/workflows', { body: { name: 'tree', definition, inputSchema: tree } })).status, 201);
  assert.is((await h.call('POST', '/v1/runs', { body: { workflow: 'tree', input: { children: [{ children: [] }] } } })).status, 201);
  assert.is((await h.call('POST', '/v1/runs', { body: { workflow: 'tree', input: { children: [{ nope: 1 }] } } })).status, 422);
});

test('a pattern in a JSON workflow schema never backtracks catastrophically: validation stays linear', async ({ h }) => {
  const definition = { initial: 'a', states: { a: { on: { GO: 'b' } }, b: { type: 'final' } } };
  const inputSchema = { type: 'object', properties: { s: { type: 'string', pattern: '^(a+)+$' }, t: { type: 'string', pattern: '^(\\w|\\d)*x$' } } };
  const reg = await h.call('POST', '/v1/workflows', { body: { name: 'redos', definition, inputSchema } });
  assert.is(reg.status, 201, JSON.stringify(reg.body));
  const started = Date.now();
  // With a backtracking engine each of these takes hours (2^40 steps).
  const r1 = await h.call('POST', '/v1/runs', { body: { workflow: 'redos', input: { s: `${'a'.repeat(40)}!` } } });
  const r2 = await h.call('POST', '/v1/runs', { body: { workflow: 'redos', input: { t: '1'.repeat(40) } } });
  assert.is(r1.status, 422);
  assert.is(r2.status, 422);
  assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  assert.is((await h.call('POST', '/v1/runs', { body: { workflow: 'redos', input: { s: 'aaa', t: '1x' } } })).status, 201);
  // What a linear-time engine cannot do (backreferences, lookaround) is refused when the workflow is registered.
  for (const pattern of ['^(a)\\1$', '^(?=a)a$', '(?<!a)b']) {
    const res = await h.call('POST', '/v1/workflows', { body: { name: 'redos', definition, inputSchema: { type: 'string', pattern } } });
    assert.is(res.status, 422, pattern);
    assert.is(res.body.error.details[0].path, '/inputSchema/pattern', pattern);
  }
});

test('a delay or due time no Date can hold is refused at registration, or falls back to its default at run start', async ({ h }) => {
  const definition = { initial: 'a', context: { wait: { $input: 'wait', default: 10 } }, delays: { d: { $context: 'wait', default: 60_000 } }, states: { a: { after: { d: 'b' } }, b: { type: 'final' } } };
  assert.is((await h.call('POST', '/v1/workflows', { body: { name: 'delays', definition } })).status, 201);
  // An override out of range is skipped for the reference (context.wait, 10 by default), and a reference out of range for the default.
  for (const [input, ms] of [[{ wait: 1e300 }, 60_000], [{ wait: 8.64e15 }, 60_000], [{ delaysMs: { d: 1e300 } }, 10]] as const) {
    const res = await h.call('POST', '/v1/runs', { body: { workflow: 'delays', input } });
    assert.is(res.status, 201, `${JSON.stringify(input)}: ${JSON.stringify(res.body)}`);
    assert.is(Date.parse(res.body.timers[0].dueAt) - Date.parse(res.body.createdAt), ms, JSON.stringify(input));
  }
  const huge = [
    { ...definition, delays: { d: 1e300 } },
    { ...definition, delays: { d: { $context: 'wait', default: 1e300 } } },
    { initial: 'a', states: { a: { meta: { humanTask: { role: 'r', title: 't', outcomes: { OK: 'OK' }, dueInMs: 1e300 } }, on: { OK: 'b' } }, b: { type: 'final' } } },
  ];
  for (const def of huge) assert.is((await h.call('POST', '/v1/workflows', { body: { name: 'delays', definition: def } })).status, 422, JSON.stringify(def));
});

test('a built-in workflow whose input asks for a timer no Date can hold answers 422 and starts nothing', async ({ h }) => {
  const before = await keyCount(h);
  const targets = Object.fromEntries(['1', '2', '3', '4', '5'].map((p) => [p, { responseMs: 1e300, resolutionMs: 1e300 }]));
  const res = await h.call('POST', '/v1/runs', { body: { workflow: 'incident', input: { title: 'far', slaTargetsMs: targets } } });
  assert.is(res.status, 422, JSON.stringify(res.body));
  assert.is(res.body.error.code, 'WORKFLOW_ERROR', 'the workflow asked for a time no Date can hold');
  assert.is(await keyCount(h), before, 'nothing was written');
});

test('human task outcomes are checked at registration: names a completion can send, event types a client could send', async ({ h }) => {
  const withOutcomes = (outcomes: object) => ({ initial: 'a', states: { a: { meta: { humanTask: { role: 'operator', title: 'Decide', outcomes } }, on: { OK: 'b' } }, b: { type: 'final' } } });
  const before = await keyCount(h);
  const cases: [string, object][] = [
    ['an internal XState event', { forge: 'xstate.done.actor.task' }],
    ['an event type no client could send', { ok: 'not an event' }],
    ['an outcome longer than a completion may name', { ['o'.repeat(65)]: 'OK' }],
    ['no outcome at all', {}],
  ];
  for (const [what, outcomes] of cases) {
    const res = await h.call('POST', '/v1/workflows', { body: { name: 'outcomes', definition: withOutcomes(outcomes) } });
    assert.is(res.status, 422, what);
    assert.ok(res.body.error.details.some((p: { path: string }) => p.path.includes('/definition/states/a/meta/humanTask/outcomes')), `${what}: ${JSON.stringify(res.body.error.details)}`);
  }
  assert.is(await keyCount(h), before, 'nothing was stored');
});

test.run();
