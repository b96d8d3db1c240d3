// Property-based fuzzing of every route the app declares (read from its route table, not a hand list):
// random methods, paths, headers, query strings and bodies, with Object.prototype member names,
// unicode and very long values. Invariants: no 5xx; every 4xx in the error shape; a refused request
// writes nothing to Redis; the server is healthy afterwards.
// Replay a failure with FUZZ_SEED=<the seed it printed> node scripts/test.mjs test/api/fuzz.
import { request } from 'node:http';
import type { Redis } from 'ioredis';
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, KEYS, type Harness } from './harness.ts';
import { testTasks, testWorkflows } from '../fixtures/workflows.ts';
import { connect, scanNode } from '../helpers.ts';
import type { RouteSpec } from '../../api/route.ts';
import { masters } from '../../engine/index.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261206);
const TIME_LIMIT_MS = 25_000;

interface Ctx {
  h: Harness;
  side: Redis;
  runId: string;
  humanTaskId: string;
}
const test = suite<Ctx>('api fuzz', {} as Ctx);

test.before(async (ctx) => {
  ctx.h = await startHarness({ workflows: testWorkflows, tasks: testTasks(ctx.side = await connect(), 'side'), consume: false, rateLimit: { perSecond: 1e6, burst: 1e6 } });
  const definition = {
    initial: 'ask',
    states: {
      ask: { meta: { humanTask: { role: 'operator', title: 'Answer {toString}', outcomes: { YES: 'valueOf', toString: 'hasOwnProperty' } } }, on: { valueOf: 'done', hasOwnProperty: 'done' } },
      done: { type: 'final' },
    },
  };
  assert.is((await ctx.h.call('POST', '/v1/workflows', { body: { name: 'asking', definition } })).status, 201);
  const { body: run } = await ctx.h.call('POST', '/v1/runs', { body: { workflow: 'asking', businessKey: 'constructor' } });
  ctx.runId = run.id;
  ctx.humanTaskId = run.humanTasks[0].id;
});
test.after(async (ctx) => {
  await ctx.h.close();
  await ctx.side.quit();
});

const PROTO = ['hasOwnProperty', 'valueOf', 'toString', 'constructor', '__proto__', 'prototype', 'isPrototypeOf', '__defineGetter__', 'toLocaleString'];
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'PROPFIND', 'FROBNICATE'];

/** Strings hostile in many ways: prototype names, unicode, numbers that are not quite numbers, very long. */
const nasty = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...PROTO) },
  { weight: 8, arbitrary: fc.constantFrom('', ' ', '0', '-1', '1e999', 'Infinity', 'NaN', '0x10', '1.5', '99999999999999999999', '9007199254740993', '-0', '1_0', 'null', 'true', '[]', '{}') },
  { weight: 8, arbitrary: fc.constantFrom('counter', 'asking', 'timed', 'tasky', 'INC', 'ADD', 'DONE', 'YES', 'running', 'open', 'svg', 'mermaid', 'generic', '2026-01-01', '2026-01-01T00:00:00Z', '2026-12-31T23:59:60Z', '0000-01-01', '9999-12-31T23:59:59.999999999Z') },
  { weight: 8, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 8, arbitrary: fc.string({ unit: 'binary', maxLength: 10 }) },
  { weight: 8, arbitrary: fc.constantFrom('x'.repeat(300), '../../etc/passwd', 'a/b', '%', '%E0%A4%A', 'r0000000000000000000', '\u0000', '\ud800') },
  { weight: 1, arbitrary: fc.constant('é'.repeat(5000)) },
);

/** Percent-encoded; a lone surrogate (which encodeURIComponent refuses) goes as its raw UTF-8 bytes. */
function enc(s: string, component = true): string {
  try {
    return component ? encodeURIComponent(s) : encodeURI(s).replace(/[?#]/g, '%3F');
  } catch {
    return [...Buffer.from(s)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  }
}

/** A path parameter value: a real id now and then, else something nasty. */
function paramValue(ctx: Ctx) {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(ctx.runId, ctx.humanTaskId, 'counter', 'asking', '1', 'generic', 'app.js') },
    { weight: 4, arbitrary: fc.tuple(nasty, fc.boolean()).map(([s, component]) => enc(s, component)) },
  );
}

function pathOf(ctx: Ctx, spec: RouteSpec) {
  const names = [...spec.path.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]);
  return fc.tuple(fc.array(paramValue(ctx), { minLength: names.length, maxLength: names.length }), fc.oneof({ weight: 8, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom('/', '/extra', '//') }))
    .map(([values, tail]) => names.reduce((p, n, i) => p.replace(`:${n}`, values[i] || 'x'), spec.path) + tail);
}

/** Edge values of a query property's kind: numbers at and past their bounds, odd date-times, the enum's values. */
function edgesOf(schema: { type?: string; enum?: string[]; anyOf?: unknown[]; format?: string; minimum?: number; maximum?: number }, name: string) {
  // Names the server knows, so a request gets past its lookups to the code behind them.
  if (name === 'workflow') return fc.constantFrom('incident', 'counter', 'asking', 'constructor');
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.type === 'integer') {
    const { minimum = 0, maximum = 1000 } = schema;
    return fc.oneof(fc.integer({ min: minimum - 2, max: Math.min(maximum + 2, minimum + 1000) }).map(String), fc.constantFrom(String(maximum), String(maximum + 1), `${maximum}0`, '1e3', '01', '+1'));
  }
  if (schema.anyOf || schema.format) {
    return fc.oneof(
      fc.date({ min: new Date('1900-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
      fc.constantFrom('2026-12-31T23:59:60Z', '2026-06-30T23:59:60+01:00', '0000-01-01', '9999-12-31', '2026-02-30', '2026-01-01T24:00:00Z', '2026-01-01t00:00:00z'),
    );
  }
  return nasty;
}

function queryOf(spec: RouteSpec) {
  const props = (spec.query as { properties?: Record<string, object> } | undefined)?.properties ?? {};
  const required = (spec.query as { required?: string[] } | undefined)?.required ?? [];
  const known = Object.keys(props);
  const pair = fc.oneof(
    { weight: 4, arbitrary: known.length ? fc.constantFrom(...known).chain((k) => fc.tuple(fc.constant(k), fc.oneof({ weight: 3, arbitrary: edgesOf(props[k], k) }, { weight: 1, arbitrary: nasty }))) : fc.tuple(fc.constant('limit'), nasty) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...PROTO, 'limit', 'cursor', 'x'), nasty) },
  );
  // Required keys are there most of the time, so the other keys reach the handler.
  const base = fc.oneof({ weight: 4, arbitrary: fc.tuple(...required.map((k) => fc.tuple(fc.constant(k), edgesOf(props[k], k)))) }, { weight: 1, arbitrary: fc.constant([]) });
  // Each key once, mostly; now and then one given twice (?limit=1&limit=2).
  const extras = fc.uniqueArray(pair, { selector: (p) => p[0], maxLength: 3 });
  const twice = fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });
  return fc.tuple(base, extras, twice).map(([must, extra, dup]) => {
    const pairs = [...must, ...extra.filter(([k]) => !must.some(([m]) => m === k))];
    return dup && pairs.length ? [...pairs, [pairs[0][0], '1']] : pairs;
  }).map((pairs) => {
    if (!pairs.length) return '';
    return '?' + pairs.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&');
  });
}

const jsonish = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, nasty, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(tie('value'), { maxLength: 3 }), tie('object')),
  object: fc.dictionary(fc.oneof(fc.constantFrom(...PROTO, 'type', 'workflow', 'input', 'businessKey', 'version', 'outcome', 'by', 'reason', 'name', 'definition', 'inputSchema'), fc.string({ maxLength: 8 })), tie('value'), { maxKeys: 5 }),
})).value;

/** Bodies that get past the first checks now and then, so the deeper code sees hostile values too. */
function bodyOf(ctx: Ctx, spec: RouteSpec) {
  const workflow = fc.constantFrom('counter', 'asking', 'timed', 'constructor', 'hasOwnProperty', 'nope');
  const byRoute: Record<string, fc.Arbitrary<object>> = {
    '/v1/runs': fc.record({ workflow, input: fc.oneof(fc.constant({}), fc.dictionary(fc.constantFrom(...PROTO, 'start', 'delayMs'), jsonish, { maxKeys: 3 })), businessKey: nasty }, { requiredKeys: ['workflow'] }),
    '/v1/runs/:id/events': fc.record({ type: fc.oneof(fc.constantFrom(...PROTO, 'INC', 'ADD', 'DONE', 'valueOf'), nasty), amount: jsonish }, { requiredKeys: ['type'] }),
    '/v1/tasks/:id/complete': fc.record({ outcome: fc.oneof(fc.constantFrom('YES', 'toString', ...PROTO), nasty), by: nasty, comment: nasty }, { requiredKeys: ['outcome', 'by'] }),
    '/v1/runs/:id/cancel': fc.record({ reason: nasty }),
    '/v1/workflows': fc.record({
      name: fc.constantFrom('fz', 'constructor', 'valueof', 'counter'),
      definition: fc.constantFrom(
        { initial: 'a', states: { a: { on: { hasOwnProperty: 'b' } }, b: { type: 'final' } } },
        { initial: 'a', states: { a: { after: { toString: 'a' } } } },
        { states: {} },
        { initial: 'a', states: { a: { invoke: { src: 'constructor' } } } },
      ),
      inputSchema: fc.constantFrom({ $ref: '#' }, { type: 'string', pattern: '^(a+)+$' }, { type: 'string', pattern: '(?=a)' }, { type: 'objekt' }, { allOf: [{ $ref: '#' }] }, { type: 'object' }),
    }, { requiredKeys: ['name', 'definition'] }),
  };
  // The route's own body shape most of the time, so the deeper code sees hostile values too.
  const templates = Object.hasOwn(byRoute, spec.path) ? byRoute[spec.path] : fc.oneof(...Object.values(byRoute));
  return fc.oneof(
    { weight: 6, arbitrary: templates.map((b) => JSON.stringify(b)) },
    { weight: 2, arbitrary: jsonish.map((b) => JSON.stringify(b) ?? 'null') },
    { weight: 1, arbitrary: fc.constantFrom('', '{', '[]', 'null', '"x"', '{"workflow":"counter","version":1e999}', '{"type":"INC","__proto__":{"x":1}}', '{"a":1,"a":2}', '\u0000', 'x'.repeat(2 * 1024 * 1024)) },
    { weight: 1, arbitrary: nasty },
  ).map((b) => b.replace('$RUN', ctx.runId));
}

const headersArb = fc.record({
  'content-type': fc.oneof(
    { weight: 6, arbitrary: fc.constant('application/json') },
    { weight: 2, arbitrary: fc.constantFrom(undefined, 'text/plain', 'application/x-www-form-urlencoded', 'application/merge-patch+json', 'application/json; charset=utf-16', 'multipart/form-data; boundary=x', '') },
  ),
  authorization: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(`Bearer ${KEYS.admin}`, `Bearer ${KEYS.admin}`, `Bearer ${KEYS.operator}`, `Bearer ${KEYS.viewer}`, 'bearer   admin-key-123456  ') },
    { weight: 1, arbitrary: fc.constantFrom(undefined, 'Bearer nope', 'Basic YWRtaW46YWRtaW4=', 'Bearer', `Bearer ${'k'.repeat(5000)}`) },
  ),
  'idempotency-key': fc.constantFrom(undefined, undefined, 'k1', 'hasOwnProperty', 'é', 'k'.repeat(300), ' '),
  'last-event-id': fc.constantFrom(undefined, '1', '99999999999999999999', '-1', 'constructor'),
}, { requiredKeys: [] });

interface Answer {
  status: number;
  type: string;
  text: string;
}

/** One request over node:http (fetch refuses TRACE and made-up methods); a stream is cut after its head. */
function send(h: Harness, method: string, path: string, headers: Record<string, string>, body: string | null): Promise<Answer> {
  const u = new URL(h.url);
  return new Promise((resolve, reject) => {
    // A body always goes with its length: Node sends a GET's body unframed otherwise, which is malformed HTTP.
    const framed = body === null ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) };
    const req = request({ host: u.hostname, port: u.port, method, path, headers: framed }, (res) => {
      const type = String(res.headers['content-type'] ?? '');
      if (type.includes('event-stream')) {
        res.destroy();
        return resolve({ status: res.statusCode!, type, text: '' });
      }
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, type, text }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path} did not answer in 10 s`)));
    // A body over the cap may be cut off mid-upload when the server answers 413 first.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? resolve({ status: 413, type: 'cut', text: '' }) : reject(err)));
    if (body !== null) req.end(body);
    else req.end();
  });
}

/** Every key under the test's prefix with its serialized value, except the webhook delivery log (it records refusals by design). */
async function keyspace(h: Harness): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  // Every master of a cluster (one node otherwise): the prefix's own keys and the hash-tagged ones
  // (partitions, queues, external tasks, catalog).
  for (const node of masters(h.redis)) {
    const names = [...(await scanNode(node, `${h.prefix}*`)), ...(await scanNode(node, `{${h.prefix}-*`))];
    const kept = names.filter((k) => !k.endsWith(':hook-deliveries'));
    const dumps = kept.length ? await node.pipeline(kept.map((k) => ['dumpBuffer', k])).exec() : [];
    kept.forEach((k, i) => out.set(k, ((dumps?.[i]?.[1] as Buffer | null) ?? Buffer.alloc(0)).toString('base64')));
  }
  return out;
}

function diff(a: Map<string, string>, b: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of b) if (a.get(k) !== v) out.push(a.has(k) ? `changed ${k}` : `added ${k}`);
  for (const k of a.keys()) if (!b.has(k)) out.push(`removed ${k}`);
  return out;
}

test('no request to any route answers 5xx, every 4xx is in the error shape, and a refused request writes nothing', async (ctx) => {
  const { h } = ctx;
  const specs = h.app.routeTable.specs;
  assert.ok(specs.length >= 25, `the route table lists ${specs.length} routes`);
  const extraPaths = fc.constantFrom('/', '/v1', '/v1/', '/v1/runs/', '/admin/queues', '/admin/queues/api/queues', '/v1/constructor', '/v1/__proto__', '/nothing', `/${'a'.repeat(6000)}`, '/%E0%A4%A', '/v1/runs/%2e%2e/history');
  const requestArb = fc.record({
    // Writes count double: they are where a refused request could leave something behind.
    spec: fc.oneof(...specs.map((s) => ({ weight: s.method === 'post' ? 2 : 1, arbitrary: fc.constant(s) }))),
    methodChoice: fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom(...METHODS) }),
    pathChoice: fc.oneof({ weight: 12, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: extraPaths }),
    headers: headersArb,
    withBody: fc.boolean(),
  }).chain((r) => fc.record({
    r: fc.constant(r),
    path: r.pathChoice === null ? pathOf(ctx, r.spec) : fc.constant(r.pathChoice),
    query: queryOf(r.spec),
    body: bodyOf(ctx, r.spec),
  }));

  let count = 0;
  const statuses = new Map<number, number>();
  const property = fc.asyncProperty(requestArb, async ({ r, path, query, body }) => {
    const method = r.methodChoice ?? r.spec.method.toUpperCase();
    const headers = Object.fromEntries(Object.entries(r.headers).filter(([, v]) => v !== undefined)) as Record<string, string>;
    const sendsBody = r.withBody || (r.methodChoice === null && r.spec.method !== 'get');
    const before = await keyspace(h);
    const res = await send(h, method, path + query, headers, sendsBody && method !== 'HEAD' ? body : null);
    count++;
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    const what = `${method} ${`${path}${query}`.slice(0, 300)} -> ${res.status} ${res.text.slice(0, 300)}`;
    if (res.status >= 500) throw new Error(`5xx: ${what}`);
    if (res.status >= 400 && method !== 'HEAD' && res.type !== 'cut') {
      if (!res.type.includes('application/json')) throw new Error(`a ${res.status} that is not JSON: ${what}`);
      const parsed = JSON.parse(res.text) as { error?: { code?: unknown; message?: unknown } };
      if (typeof parsed.error?.code !== 'string' || typeof parsed.error?.message !== 'string') throw new Error(`a ${res.status} outside the error shape: ${what}`);
    }
    if (res.status >= 400) {
      const changes = diff(before, await keyspace(h));
      if (changes.length) throw new Error(`a refused request wrote to Redis (${changes.slice(0, 5).join(', ')}): ${what}`);
    }
  });
  // fc.check rather than fc.assert: a counterexample can be megabytes long; the seed and the error say enough.
  const run = await fc.check(property, { seed: SEED, numRuns: 2000, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false, endOnFailure: true });
  if (run.failed) {
    const error = run.errorInstance instanceof Error ? run.errorInstance.message : String(run.errorInstance);
    assert.unreachable(`fuzz failed after ${run.numRuns} requests; replay with FUZZ_SEED=${SEED} (counterexample path ${run.counterexamplePath}): ${error.slice(0, 2000)}`);
  }
  assert.ok(count >= 100, `only ${count} requests in ${TIME_LIMIT_MS} ms`);
  console.log(`fuzz: ${count} requests with seed ${SEED}; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`);
});

test('the server is healthy afterwards: ready, and a valid run starts and takes an event', async ({ h }) => {
  assert.is((await h.call('GET', '/readyz', { key: null })).status, 200);
  const started = await h.call('POST', '/v1/runs', { body: { workflow: 'counter' } });
  assert.is(started.status, 201);
  const ev = await h.call('POST', `/v1/runs/${started.body.id}/events`, { body: { type: 'INC' } });
  assert.is(ev.status, 200);
  assert.is(ev.body.run.context.count, 1);
});

test.run();
