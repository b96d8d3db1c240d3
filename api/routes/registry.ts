// The service and CI registry over HTTP: entries (admin writes, viewer reads), their audit history,
// a CI's impact, and import/export as a JSON array or JSON Lines of `{ kind, ...entry }`.
import type { Cmdb, Engine, EntryKind, ImportItem } from '../../engine/index.ts';
import { ciGraphMermaid, ciGraphSvg, ciSchema, serviceSchema, validationError } from '../../engine/index.ts';
import type { RouteTable } from '../route.ts';
import { parseJson, structuralProblems } from '../body.ts';
import { pageOf, pagingQuery } from '../schemas/common.ts';

const ENTRY_NAME = { type: 'string', minLength: 1, maxLength: 128 };
const serviceParam = { type: 'object', required: ['name'], additionalProperties: false, properties: { name: ENTRY_NAME } };
const ciParam = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: ENTRY_NAME } };
/** An import may be large: 10,000 CIs and 1,000 services are a few MiB. */
export const IMPORT_MAX_BYTES = 64 * 1024 * 1024;

const auditSchema = {
  type: 'object',
  required: ['at', 'actor', 'source', 'action', 'before', 'after'],
  properties: {
    at: { type: 'string', format: 'date-time' }, actor: { type: 'string' }, source: { enum: ['api', 'import'] },
    action: { enum: ['create', 'update', 'delete'] }, before: { type: ['object', 'null'] }, after: { type: ['object', 'null'] },
  },
};
const openRunSchema = {
  type: 'object',
  properties: { id: { type: 'string' }, workflow: { type: 'string' }, businessKey: { type: ['string', 'null'] }, createdAt: { type: 'string' }, touches: { type: 'array', items: { type: 'string' } } },
};
const importResult = {
  type: 'object',
  required: ['created', 'updated', 'deleted', 'unchanged', 'version'],
  properties: { created: { type: 'integer' }, updated: { type: 'integer' }, deleted: { type: 'integer' }, unchanged: { type: 'integer' }, version: { type: 'integer' } },
};

/** The line each top-level item of a JSON array starts on (1-based), by a scan that skips strings. */
export function arrayItemLines(text: string): number[] {
  const lines: number[] = [];
  let line = 1;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let expectItem = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\n') line++;
    if (inString) {
      if (escaped) escaped = false;
      else if (ch === '\\') escaped = true;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n') continue;
    if (depth === 1 && expectItem && ch !== ']') {
      lines.push(line);
      expectItem = false;
    }
    if (ch === '"') inString = true;
    else if (ch === '[' || ch === '{') {
      depth++;
      if (depth === 1) expectItem = true;
    } else if (ch === ']' || ch === '}') depth--;
    else if (ch === ',' && depth === 1) expectItem = true;
  }
  return lines;
}

/** True when the whole text is one JSON object (not JSON Lines of several). */
function wholeObject(text: string): boolean {
  if (!text.trimStart().startsWith('{')) return false;
  try {
    const v = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  } catch {
    return false;
  }
}

/**
 * The items of an import body: a JSON array, or JSON Lines (one object per line, blank lines skipped).
 * Each item carries its line and path; a line that is not JSON, or an item past the structural limits
 * (depth, string size, forbidden keys), is a problem on its line. All problems are reported at once.
 */
export function parseImport(raw: Buffer): ImportItem[] {
  const text = raw.toString('utf8');
  const items: ImportItem[] = [];
  const problems: { line: number; path: string; message: string }[] = [];
  if (text.trimStart().startsWith('[')) {
    const parsed = parseJson(raw);
    if (!Array.isArray(parsed)) throw validationError('an import is a JSON array or JSON Lines', [{ path: '', message: 'not an array' }]);
    const lines = arrayItemLines(text);
    parsed.forEach((value, i) => items.push({ line: lines[i] ?? 1, path: `/${i}`, value }));
  } else if (wholeObject(text)) {
    // One entry written over several lines (pretty-printed) is one item, not a line per fragment.
    items.push({ line: text.slice(0, text.length - text.trimStart().length).split('\n').length, path: '', value: JSON.parse(text) });
  } else {
    text.split('\n').forEach((row, i) => {
      if (!row.trim()) return;
      try {
        items.push({ line: i + 1, path: '', value: JSON.parse(row) });
      } catch (err) {
        problems.push({ line: i + 1, path: '', message: `malformed JSON: ${(err as Error).message}` });
      }
    });
  }
  if (!items.length && !problems.length) throw validationError('the import is empty', [{ path: '', message: 'no entries' }]);
  for (const item of items) {
    for (const p of structuralProblems(item.value)) problems.push({ line: item.line, path: `${item.path}${p.path}`, message: p.message });
  }
  if (problems.length) throw validationError(`${problems.length} problem(s) in the import; nothing was imported`, problems);
  return items;
}

/** How one registry kind's entry routes read: its path, parameter, schema and wording. */
interface EntryRoutes {
  kind: EntryKind;
  /** `/v1/services/:name` */
  path: string;
  param: 'name' | 'id';
  params: object;
  schema: object;
  noun: string;
  /** The listing: `/v1/services`, its filters (beside paging) and wording. */
  list: { path: string; filters: Record<string, object>; summary: string; description: string };
  summaries: { get: string; put: string; remove: string; history: string };
  putResponses?: Record<number, { description: string }>;
}

const SERVICE_ROUTES: EntryRoutes = {
  kind: 'service', path: '/v1/services/:name', param: 'name', params: serviceParam, schema: serviceSchema, noun: 'service',
  list: {
    path: '/v1/services', summary: 'Services in name order, filtered and paged', description: 'a page of services',
    filters: {
      criticality: { type: 'integer', minimum: 1, maximum: 4 },
      ownerGroup: { type: 'string', maxLength: 200 },
      supportGroup: { type: 'string', maxLength: 200 },
      label: { type: 'string', maxLength: 600, description: '`key` (the label is set) or `key=value`' },
    },
  },
  summaries: { get: 'One service', put: 'Create or replace a service', remove: 'Delete a service no CI or open run refers to', history: "A service's audit history, newest first (who, when, before/after)" },
};

const CI_ROUTES: EntryRoutes = {
  kind: 'ci', path: '/v1/cis/:id', param: 'id', params: ciParam, schema: ciSchema, noun: 'CI',
  list: {
    path: '/v1/cis', summary: 'Configuration items in id order, filtered and paged', description: 'a page of CIs',
    filters: {
      type: { type: 'string', maxLength: 64 }, service: { type: 'string', maxLength: 128 }, environment: { type: 'string', maxLength: 64 },
      dependsOn: { type: 'string', maxLength: 128 },
    },
  },
  summaries: { get: 'One configuration item', put: 'Create or replace a configuration item', remove: 'Delete a CI no other CI or open run refers to', history: "A CI's audit history, newest first (who, when, before/after)" },
  putResponses: { 422: { description: 'invalid, an unknown service or CI, or a dependsOn cycle' } },
};

/** The routes every registry kind has alike: the filtered listing, read one, create or replace, delete, audit history. */
function entryRoutes(routes: RouteTable, cmdb: Cmdb, r: EntryRoutes): void {
  const { kind, path, param, params, schema, noun, summaries } = r;
  routes.add({
    method: 'get', path: r.list.path, summary: r.list.summary, tag: 'registry', access: 'viewer',
    query: { type: 'object', additionalProperties: false, properties: { ...r.list.filters, ...pagingQuery } },
    responses: { 200: { description: r.list.description, schema: pageOf(schema) } },
  }, async (ctx, req) => {
    const { limit, cursor, ...filter } = req.query;
    ctx.body = await cmdb.list(kind, filter, limit, cursor ?? null);
  });

  routes.add({
    method: 'get', path, summary: summaries.get, tag: 'registry', access: 'viewer', params,
    responses: { 200: { description: `the ${noun}`, schema }, 404: { description: `no such ${noun}` } },
  }, async (ctx, req) => {
    ctx.body = await cmdb.get(kind, req.params[param]);
  });

  routes.add({
    method: 'put', path, summary: summaries.put, tag: 'registry', access: 'admin', params, body: schema,
    responses: { 200: { description: 'replaced', schema }, 201: { description: 'created', schema }, ...r.putResponses },
  }, async (ctx, req) => {
    const res = await cmdb.put(kind, req.params[param], req.body, req.actor);
    ctx.status = res.created ? 201 : 200;
    ctx.body = res.entry;
  });

  routes.add({
    method: 'delete', path, summary: summaries.remove, tag: 'registry', access: 'admin', params,
    responses: { 204: { description: 'deleted' }, 404: { description: `no such ${noun}` }, 409: { description: 'CIs or open runs refer to it; details name them' } },
  }, async (ctx, req) => {
    await cmdb.remove(kind, req.params[param], req.actor);
    ctx.status = 204;
  });

  routes.add({
    method: 'get', path: `${path}/history`, summary: summaries.history, tag: 'registry', access: 'viewer',
    params, query: { type: 'object', additionalProperties: false, properties: { ...pagingQuery } },
    responses: { 200: { description: 'audit entries', schema: pageOf(auditSchema) }, 404: { description: 'never existed' } },
  }, async (ctx, req) => {
    ctx.body = await cmdb.history(kind, req.params[param], req.query.limit, req.query.cursor ?? null);
  });
}

export function registryRoutes(routes: RouteTable, engine: Engine): void {
  const cmdb = engine.cmdb;

  entryRoutes(routes, cmdb, SERVICE_ROUTES);

  routes.add({
    method: 'get', path: '/v1/services/:name/runs', summary: 'The open runs that named the service or one of its CIs', tag: 'registry', access: 'viewer', params: serviceParam,
    responses: { 200: { description: 'open runs', schema: { type: 'object', properties: { items: { type: 'array', items: openRunSchema } } } } },
  }, async (ctx, req) => {
    ctx.body = { items: await cmdb.serviceRuns(req.params.name) };
  });

  entryRoutes(routes, cmdb, CI_ROUTES);

  routes.add({
    method: 'get', path: '/v1/cis/:id/impact', summary: 'The services that depend on a CI (directly or through dependsOn) and the open runs touching any of them', tag: 'registry', access: 'viewer',
    params: ciParam, query: { type: 'object', additionalProperties: false, properties: { runLimit: { type: 'integer', minimum: 0, maximum: 1000, default: 100 } } },
    responses: {
      200: {
        description: 'the impact',
        schema: {
          type: 'object', required: ['ci', 'dependents', 'services', 'openRuns'],
          properties: {
            ci: { type: 'string' },
            dependents: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, depth: { type: 'integer' } } } },
            services: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, title: { type: 'string' }, criticality: { type: 'integer' }, through: { type: 'string' } } } },
            openRuns: { type: 'array', items: openRunSchema },
          },
        },
      },
      404: { description: 'no such CI' },
    },
  }, async (ctx, req) => {
    ctx.body = await cmdb.impact(req.params.id, req.query.runLimit);
  });

  routes.add({
    method: 'get', path: '/v1/cis/:id/diagram', summary: "A CI's dependency graph (what it needs, what needs it, their services) as SVG or Mermaid", tag: 'registry', access: 'viewer',
    params: ciParam, query: { type: 'object', additionalProperties: false, properties: { format: { enum: ['svg', 'mermaid'], default: 'svg' }, maxNodes: { type: 'integer', minimum: 1, maximum: 300, default: 80 } } },
    responses: { 200: { description: 'the diagram', contentType: 'image/svg+xml' }, 404: { description: 'no such CI' } },
  }, async (ctx, req) => {
    const graph = await cmdb.graph(req.params.id, req.query.maxNodes);
    if (req.query.format === 'mermaid') {
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = ciGraphMermaid(graph);
    } else {
      ctx.type = 'image/svg+xml';
      ctx.body = await ciGraphSvg(graph);
    }
  });

  routes.add({
    method: 'post', path: '/v1/registry/import', summary: 'Import services and CIs (create or replace), all or nothing', tag: 'registry', access: 'admin',
    rawBody: true, maxBodyBytes: IMPORT_MAX_BYTES,
    responses: {
      200: { description: 'what changed', schema: importResult },
      400: { description: 'the JSON array is malformed' },
      409: { description: 'the import deletes nothing, but a concurrent writer kept moving the registry' },
      422: { description: 'every problem, each with its line and path; nothing was imported' },
    },
  }, async (ctx, req) => {
    ctx.body = await cmdb.importItems(parseImport(req.rawBody ?? Buffer.alloc(0)), req.actor);
  });

  routes.add({
    method: 'get', path: '/v1/registry/export', summary: 'Every service and CI as JSON Lines (or a JSON array): what import reads', tag: 'registry', access: 'viewer',
    query: { type: 'object', additionalProperties: false, properties: { format: { enum: ['jsonl', 'json'], default: 'jsonl' } } },
    responses: {
      200: { description: 'one `{ kind, ...entry }` per line (services first), or the same as an array', contentType: 'application/x-ndjson' },
    },
  }, async (ctx, req) => {
    const { version, items } = await cmdb.exportAll();
    ctx.set('X-Registry-Version', String(version));
    if (req.query.format === 'json') {
      ctx.type = 'application/json';
      // One entry per line, so an import's problems point at readable lines.
      ctx.body = items.length ? `[\n${items.map((i) => JSON.stringify(i)).join(',\n')}\n]\n` : '[]\n';
      return;
    }
    ctx.type = 'application/x-ndjson';
    ctx.body = items.map((i) => JSON.stringify(i)).join('\n') + (items.length ? '\n' : '');
  });
}
