// /openapi.json is generated from the validating schemas: every served route is in it, every schema compiles.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, type Harness } from './harness.ts';
import { compiles } from '../../api/validate.ts';

const test = suite<{ h: Harness }>('openapi', {} as { h: Harness });

test.before(async (ctx) => {
  ctx.h = await startHarness({ consume: false });
});
test.after(async (ctx) => ctx.h.close());

test('GET /openapi.json is OpenAPI 3.1 and needs no key', async ({ h }) => {
  const res = await h.call('GET', '/openapi.json', { key: null });
  assert.is(res.status, 200);
  assert.is(res.body.openapi, '3.1.0');
});

test('every route the router serves is described with its method, and every described route is served', async ({ h }) => {
  const doc = (await h.call('GET', '/openapi.json', { key: null })).body;
  const described = new Set<string>();
  for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) for (const m of Object.keys(methods)) described.add(`${m.toUpperCase()} ${path}`);
  const served = new Set<string>();
  for (const layer of h.app.router.stack) {
    const path = String(layer.path).replace(/:([A-Za-z]+)/g, '{$1}');
    for (const m of layer.methods) if (m !== 'HEAD') served.add(`${m} ${path}`);
  }
  assert.ok(served.size > 15, `the router serves ${served.size} routes`);
  for (const r of served) assert.ok(described.has(r), `${r} is in the OpenAPI document`);
  for (const r of described) assert.ok(served.has(r), `${r} is served`);
});

test('every schema in the document compiles with ajv', async ({ h }) => {
  const doc = (await h.call('GET', '/openapi.json', { key: null })).body;
  let count = 0;
  const visit = (op: Record<string, any>) => {
    for (const p of op.parameters ?? []) count += Number(compiles(p.schema));
    const body = op.requestBody?.content?.['application/json']?.schema;
    if (body) count += Number(compiles(body));
    for (const r of Object.values(op.responses ?? {}) as Record<string, any>[]) {
      for (const c of Object.values(r.content ?? {}) as { schema?: object }[]) if (c.schema) count += Number(compiles(c.schema));
    }
  };
  for (const methods of Object.values(doc.paths as Record<string, Record<string, any>>)) for (const op of Object.values(methods)) visit(op);
  assert.ok(count > 30, `compiled ${count} schemas`);
});

test.run();
