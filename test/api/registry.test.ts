// The service and CI registry through HTTP: entries, roles, audit history, impact, import/export
// round trips, the 409/422 cases, and hostile input.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { startHarness, type Harness } from './harness.ts';

const test = suite<{ h: Harness }>('api registry', {} as { h: Harness });
test.before(async (ctx) => {
  ctx.h = await startHarness({ consume: false });
});
test.after(async (ctx) => {
  await ctx.h.close();
});

const example = readFileSync(new URL('../../docs/examples/registry.jsonl', import.meta.url), 'utf8');
const jsonl = { 'content-type': 'application/x-ndjson' };

/** The export as text (the harness would parse anything called json). */
async function exportText(h: Harness): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(`${h.url}/v1/registry/export`, { headers: { authorization: 'Bearer viewer-key-123456' } });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

test('the worked example imports in one request and exports byte for byte the same', async ({ h }) => {
  const res = await h.call('POST', '/v1/registry/import', { raw: example, headers: jsonl });
  assert.is(res.status, 200, JSON.stringify(res.body));
  assert.equal({ created: res.body.created, updated: res.body.updated, unchanged: res.body.unchanged }, { created: 13, updated: 0, unchanged: 0 });
  const out = await exportText(h);
  assert.is(out.status, 200);
  assert.ok(out.type.includes('application/x-ndjson'));
  assert.is(out.text, example);
  // Importing the export again changes nothing (and writes no audit entry).
  const again = await h.call('POST', '/v1/registry/import', { raw: out.text, headers: jsonl });
  assert.equal({ created: again.body.created, updated: again.body.updated, unchanged: again.body.unchanged }, { created: 0, updated: 0, unchanged: 13 });
  // The JSON array form round-trips as well.
  const arr = await h.call('GET', '/v1/registry/export?format=json', { key: 'viewer' });
  assert.is(arr.body.length, 13);
  const back = await h.call('POST', '/v1/registry/import', { body: arr.body });
  assert.is(back.status, 200);
  assert.is(back.body.unchanged, 13);
});

test('reads for viewers: one entry, filtered pages, 404', async ({ h }) => {
  const svc = await h.call('GET', '/v1/services/checkout', { key: 'viewer' });
  assert.is(svc.status, 200);
  assert.is(svc.body.criticality, 1);
  assert.is(svc.body.approvers.incidentManager[0], 'ian');
  const gold = await h.call('GET', '/v1/services?label=tier%3Dgold', { key: 'viewer' });
  assert.equal(gold.body.items.map((s: { name: string }) => s.name), ['checkout', 'payments']);
  const crit = await h.call('GET', '/v1/services?criticality=4', { key: 'viewer' });
  assert.equal(crit.body.items.map((s: { name: string }) => s.name), ['intranet']);
  const dbs = await h.call('GET', '/v1/cis?type=database&limit=2', { key: 'viewer' });
  assert.equal(dbs.body.items.map((c: { id: string }) => c.id), ['db-intranet', 'db-orders']);
  assert.ok(dbs.body.nextCursor);
  const rest = await h.call('GET', `/v1/cis?type=database&limit=2&cursor=${dbs.body.nextCursor}`, { key: 'viewer' });
  assert.equal(rest.body.items.map((c: { id: string }) => c.id), ['db-payments']);
  const ofCheckout = await h.call('GET', '/v1/cis?service=checkout&environment=production', { key: 'viewer' });
  assert.equal(ofCheckout.body.items.map((c: { id: string }) => c.id), ['cache-01', 'checkout-app', 'db-orders', 'web-01', 'web-02']);
  assert.is((await h.call('GET', '/v1/cis/nope', { key: 'viewer' })).status, 404);
  assert.is((await h.call('GET', '/v1/services/constructor', { key: 'viewer' })).status, 404);
  assert.is((await h.call('GET', '/v1/cis/hasOwnProperty/impact', { key: 'viewer' })).status, 422);
});

test('writes need the admin role', async ({ h }) => {
  const body = { name: 'mail', title: 'Mail', criticality: 3 };
  assert.is((await h.call('PUT', '/v1/services/mail', { key: 'operator', body })).status, 403);
  assert.is((await h.call('DELETE', '/v1/services/intranet', { key: 'viewer' })).status, 403);
  assert.is((await h.call('POST', '/v1/registry/import', { key: 'operator', raw: example, headers: jsonl })).status, 403);
  assert.is((await h.call('GET', '/v1/services', { key: null })).status, 401);
});

test('PUT creates then replaces, and the audit history names who, when, before and after', async ({ h }) => {
  const created = await h.call('PUT', '/v1/services/mail', { body: { name: 'mail', title: 'Mail', criticality: 3, supportGroup: 'messaging' } });
  assert.is(created.status, 201, JSON.stringify(created.body));
  const replaced = await h.call('PUT', '/v1/services/mail', { body: { name: 'mail', title: 'Mail', criticality: 2, supportGroup: 'messaging' } });
  assert.is(replaced.status, 200);
  const hist = await h.call('GET', '/v1/services/mail/history', { key: 'viewer' });
  assert.is(hist.status, 200);
  assert.is(hist.body.items.length, 2);
  const [newest, first] = hist.body.items;
  assert.is(newest.action, 'update');
  assert.is(newest.actor, 'admin');
  assert.is(newest.before.criticality, 3);
  assert.is(newest.after.criticality, 2);
  assert.is(first.action, 'create');
  assert.is(first.before, null);
  assert.ok(Date.parse(newest.at) > 0);
  const ciHist = await h.call('GET', '/v1/cis/db-orders/history', { key: 'viewer' });
  assert.is(ciHist.body.items[0].source, 'import');
  // Deleted: gone from reads, its history kept.
  assert.is((await h.call('DELETE', '/v1/services/mail')).status, 204);
  assert.is((await h.call('GET', '/v1/services/mail')).status, 404);
  const after = await h.call('GET', '/v1/services/mail/history');
  assert.equal(after.body.items.map((e: { action: string }) => e.action), ['delete', 'update', 'create']);
  assert.is((await h.call('DELETE', '/v1/services/mail')).status, 404);
});

test('impact: the services depending on a CI directly or through dependsOn', async ({ h }) => {
  const res = await h.call('GET', '/v1/cis/san-01/impact', { key: 'viewer' });
  assert.is(res.status, 200);
  assert.equal(res.body.services.map((s: { name: string }) => s.name), ['checkout', 'payments', 'intranet']);
  const depth = Object.fromEntries(res.body.dependents.map((d: { id: string; depth: number }) => [d.id, d.depth]));
  assert.equal(depth, { 'db-intranet': 1, 'db-orders': 1, 'db-payments': 1, 'checkout-app': 2, 'intranet-app': 2, 'payments-api': 2, 'web-01': 3, 'web-02': 3 });
  const leaf = await h.call('GET', '/v1/cis/web-01/impact', { key: 'viewer' });
  assert.equal(leaf.body.dependents, []);
  assert.equal(leaf.body.services.map((s: { name: string }) => s.name), ['checkout']);
});

test("a CI's dependency graph as SVG and Mermaid", async ({ h }) => {
  const res = await fetch(`${h.url}/v1/cis/db-orders/diagram`, { headers: { authorization: 'Bearer viewer-key-123456' } });
  assert.is(res.status, 200);
  assert.ok(String(res.headers.get('content-type')).startsWith('image/svg+xml'));
  const svg = await res.text();
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  for (const node of ['ci:db-orders', 'ci:san-01', 'ci:checkout-app', 'ci:web-01', 'service:checkout']) assert.ok(svg.includes(`data-node="${node}"`), node);
  assert.ok(svg.includes('class="node ci focus" data-node="ci:db-orders"'));
  assert.ok(svg.includes('data-from="ci:db-orders" data-to="ci:san-01"'), 'db-orders depends on san-01');
  const mermaid = await h.call('GET', '/v1/cis/db-orders/diagram?format=mermaid&maxNodes=3', { key: 'viewer' });
  assert.match(mermaid.body, /^flowchart TB\n/);
  assert.is((mermaid.body.match(/n\d+\["/g) ?? []).length, 3, 'three CIs at most');
  assert.is((await h.call('GET', '/v1/cis/nope/diagram', { key: 'viewer' })).status, 404);
});

test('DELETE of an entry another entry refers to answers 409 naming them', async ({ h }) => {
  const svc = await h.call('DELETE', '/v1/services/payments');
  assert.is(svc.status, 409);
  assert.is(svc.body.error.code, 'CONFLICT');
  assert.ok(svc.body.error.message.includes('ci:db-payments'), svc.body.error.message);
  assert.equal(svc.body.error.details[0].referencedBy.sort(), ['ci:db-payments', 'ci:payments-api']);
  const ci = await h.call('DELETE', '/v1/cis/db-orders');
  assert.is(ci.status, 409);
  assert.equal(ci.body.error.details[0].referencedBy, ['ci:checkout-app']);
  assert.is((await h.call('GET', '/v1/cis/db-orders')).status, 200);
});

test('a dependsOn cycle answers 422 and writes nothing', async ({ h }) => {
  const cyc = await h.call('PUT', '/v1/cis/san-01', { body: { id: 'san-01', type: 'storage', title: 'Primary storage array', dependsOn: ['web-01'] } });
  assert.is(cyc.status, 422, JSON.stringify(cyc.body));
  assert.ok(cyc.body.error.details[0].message.includes('cycle'), JSON.stringify(cyc.body));
  assert.ok(cyc.body.error.details[0].message.includes('san-01 → web-01'), cyc.body.error.details[0].message);
  assert.equal((await h.call('GET', '/v1/cis/san-01')).body.dependsOn, undefined);
  // Unknown references are 422 as well.
  const unknown = await h.call('PUT', '/v1/cis/x-1', { body: { id: 'x-1', type: 'server', title: 'x', services: ['nope'], dependsOn: ['nope-ci'] } });
  assert.is(unknown.status, 422);
  assert.equal(unknown.body.error.details.map((p: { path: string }) => p.path), ['/body/services/0', '/body/dependsOn/0']);
  // A body naming another entry than the path.
  assert.is((await h.call('PUT', '/v1/cis/x-2', { body: { id: 'x-3', type: 'server', title: 'x' } })).status, 422);
});

test('concurrent writers: each half of a cycle written at once, exactly one is taken; parallel PUTs all land with their audit', async ({ h }) => {
  const put = (id: string, dependsOn: string[]) => h.call('PUT', `/v1/cis/${id}`, { body: { id, type: 'server', title: id, dependsOn } });
  assert.is((await put('ca', [])).status, 201);
  assert.is((await put('cb', [])).status, 201);
  for (let round = 0; round < 5; round++) {
    const [a, b] = await Promise.all([put('ca', ['cb']), put('cb', ['ca'])]);
    assert.equal([a.status, b.status].sort(), [200, 422], `round ${round}: ${a.status} ${b.status}`);
    const docs = [(await h.call('GET', '/v1/cis/ca')).body, (await h.call('GET', '/v1/cis/cb')).body];
    assert.is(docs.filter((d) => d.dependsOn?.length).length, 1, 'never both halves');
    assert.is((await put('ca', [])).status, 200);
    assert.is((await put('cb', [])).status, 200);
  }
  const many = await Promise.all(Array.from({ length: 20 }, (_, i) => put(`par-${i}`, ['ca'])));
  assert.ok(many.every((r) => r.status === 201));
  const impact = await h.call('GET', '/v1/cis/ca/impact');
  assert.is(impact.body.dependents.length, 20);
  for (const id of ['par-0', 'par-19']) assert.is((await h.call('GET', `/v1/cis/${id}/history`)).body.items.length, 1);
  await Promise.all(Array.from({ length: 20 }, (_, i) => h.call('DELETE', `/v1/cis/par-${i}`)));
  assert.is((await h.call('DELETE', '/v1/cis/ca')).status, 204);
  assert.is((await h.call('DELETE', '/v1/cis/cb')).status, 204);
});

test('import is all or nothing and lists every problem with its line and path', async ({ h }) => {
  const lines = [
    JSON.stringify({ kind: 'service', name: 'new-svc', title: 'New', criticality: 2 }),
    JSON.stringify({ kind: 'service', name: 'bad', title: 'Bad', criticality: 9 }),
    '',
    '{not json',
    JSON.stringify({ kind: 'ci', id: 'n-1', type: 'server', title: 'n', services: ['new-svc'], dependsOn: ['n-2'] }),
    JSON.stringify({ kind: 'ci', id: 'n-2', type: 'server', title: 'n', dependsOn: ['n-1'] }),
    JSON.stringify({ kind: 'thing', id: 'z' }),
  ].join('\n');
  const res = await h.call('POST', '/v1/registry/import', { raw: lines, headers: jsonl });
  assert.is(res.status, 422);
  const where = res.body.error.details.map((p: { line: number; path: string }) => `${p.line}:${p.path}`);
  assert.equal(where, ['4:']);
  // Once the JSON is fine, every shape problem is listed at once, with lines.
  const fixed = lines.replace('{not json', '');
  const res2 = await h.call('POST', '/v1/registry/import', { raw: fixed, headers: jsonl });
  assert.is(res2.status, 422);
  assert.equal(res2.body.error.details.map((p: { line: number; path: string }) => `${p.line}:${p.path}`), ['2:/criticality', '7:/kind']);
  // With those fixed too, the cycle between lines 5 and 6 is found; nothing was written meanwhile.
  const res3 = await h.call('POST', '/v1/registry/import', { raw: fixed.split('\n').filter((l) => !l.includes('"bad"') && !l.includes('thing')).join('\n'), headers: jsonl });
  assert.is(res3.status, 422);
  assert.match(res3.body.error.details[0].message, /cycle/);
  assert.ok([3, 4].includes(res3.body.error.details[0].line), JSON.stringify(res3.body));
  assert.is((await h.call('GET', '/v1/services/new-svc')).status, 404);
  // A JSON array: lines are where each item starts.
  const arr = '[\n  {"kind":"service","name":"a1","title":"A","criticality":1},\n  {"kind":"service","name":"a2","title":"A",\n   "criticality":0}\n]';
  const res4 = await h.call('POST', '/v1/registry/import', { raw: arr, headers: { 'content-type': 'application/json' } });
  assert.is(res4.status, 422);
  assert.equal(res4.body.error.details.map((p: { line: number; path: string }) => `${p.line}:${p.path}`), ['3:/1/criticality']);
  // One entry pretty-printed over several lines is one entry.
  const pretty = await h.call('POST', '/v1/registry/import', { raw: `\n${JSON.stringify({ kind: 'service', name: 'pretty', title: 'P', criticality: 9 }, null, 2)}`, headers: jsonl });
  assert.equal(pretty.body.error.details.map((p: { line: number; path: string }) => `${p.line}:${p.path}`), ['2:/criticality']);
});

test('hostile input gets 4xx, never 5xx', async ({ h }) => {
  const huge = Array.from({ length: 5000 }, (_, i) => `c-${i}`);
  const r1 = await h.call('PUT', '/v1/cis/h-1', { body: { id: 'h-1', type: 'server', title: 'h', dependsOn: huge } });
  assert.is(r1.status, 422);
  const r2 = await h.call('PUT', '/v1/cis/h-1', { body: { id: 'h-1', type: 'server', title: 'h', dependsOn: huge.slice(0, 900) } });
  assert.is(r2.status, 422, 'over the dependsOn limit');
  for (const name of ['constructor', 'hasOwnProperty', 'toString', '__proto__', 'prototype']) {
    const r = await h.call('PUT', `/v1/services/${name}`, { body: { name, title: 'x', criticality: 1 } });
    assert.ok(r.status >= 400 && r.status < 500, `${name}: ${r.status}`);
    const imp = await h.call('POST', '/v1/registry/import', { raw: JSON.stringify({ kind: 'ci', id: name, type: 'server', title: 'x' }), headers: jsonl });
    assert.ok(imp.status >= 400 && imp.status < 500, `import ${name}: ${imp.status}`);
    const g = await h.call('GET', `/v1/cis/${name}/history`);
    assert.ok(g.status >= 400 && g.status < 500, `history ${name}: ${g.status}`);
  }
  const proto = await h.call('PUT', '/v1/services/p1', { raw: '{"name":"p1","title":"x","criticality":1,"labels":{"__proto__":{"x":"1"}}}', headers: { 'content-type': 'application/json' } });
  assert.is(proto.status, 422);
  const approvers = await h.call('PUT', '/v1/services/p1', { body: { name: 'p1', title: 'x', criticality: 1, approvers: { constructor: ['a'] } } });
  assert.is(approvers.status, 422);
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  const r3 = await h.call('POST', '/v1/registry/import', { raw: deep, headers: { 'content-type': 'application/json' } });
  assert.ok(r3.status >= 400 && r3.status < 500, `deep array: ${r3.status}`);
  const nested = JSON.stringify({ kind: 'ci', id: 'deep', type: 'server', title: 'x', attributes: JSON.parse('{"a":'.repeat(80) + '1' + '}'.repeat(80)) });
  const r4 = await h.call('POST', '/v1/registry/import', { raw: nested, headers: jsonl });
  assert.is(r4.status, 422);
  const r5 = await h.call('POST', '/v1/registry/import', { raw: '{"kind":"ci"'.repeat(1) + '\n'.repeat(3) + '"x"', headers: jsonl });
  assert.is(r5.status, 422);
  const windows = await h.call('PUT', '/v1/services/w1', { body: { name: 'w1', title: 'x', criticality: 1, windows: { maintenance: [{ start: '2027-01-02T00:00:00Z', end: '2027-01-01T00:00:00Z' }] } } });
  assert.is(windows.status, 422);
  assert.is(windows.body.error.details[0].path, '/body/windows/maintenance/0');
});

test.run();
