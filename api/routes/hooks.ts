// Webhooks: POST /v1/hooks/:source (signature, mapping, runs and events) and the delivery log.
import { createHash } from 'node:crypto';
import { ErrorCode, ServicechartError, notFound, validationError, type Engine } from '../../engine/index.ts';
import type { RouteTable } from '../route.ts';
import { parseJson, structuralProblems } from '../body.ts';
import { statusOf } from '../errors.ts';
import { pageOf, pagingQuery } from '../schemas/common.ts';
import type { HookConfig } from '../hooks/config.ts';
import { applyMapping, type HookResult } from '../hooks/dispatch.ts';
import { evaluate } from '../hooks/expr.ts';
import type { Mapping } from '../hooks/mapping-schema.ts';
import { loadMappings } from '../hooks/mappings.ts';
import { normalize } from '../hooks/normalize.ts';
import { HOOK_SOURCES, verifyHook, type HookSource } from '../hooks/verify.ts';

const resultSchema = {
  type: 'object',
  required: ['action'],
  properties: { action: { enum: ['started', 'event', 'duplicate', 'ignored'] }, runId: { type: 'string' }, reason: { type: 'string' } },
};

const deliverySchema = {
  type: 'object',
  properties: {
    id: { type: 'string' }, source: { type: 'string' }, deliveryId: { type: ['string', 'null'] }, receivedAt: { type: 'string' },
    status: { type: 'integer' }, results: { type: 'array', items: resultSchema }, reason: { type: ['string', 'null'] },
  },
};

/** A delivery id as a key part: printable and short, else its hash. */
function keyPart(id: string): string {
  return /^[\x21-\x7e]{1,200}$/.test(id) ? id : createHash('sha256').update(id).digest('hex');
}

function deliveryIdOf(mapping: Mapping, get: (h: string) => string, body: unknown, headers: Record<string, string | string[] | undefined>): string | null {
  const names = mapping.deliveryIdHeader === undefined ? [] : Array.isArray(mapping.deliveryIdHeader) ? mapping.deliveryIdHeader : [mapping.deliveryIdHeader];
  for (const name of names) {
    const v = get(name).trim();
    if (v) return keyPart(v);
  }
  if (mapping.deliveryId !== undefined) {
    const v = evaluate(mapping.deliveryId, { item: body, body, headers, fields: mapping.fields ?? {} });
    if (typeof v === 'string' && v) return keyPart(v);
  }
  return null;
}

function summary(results: HookResult[]): string {
  const counts = new Map<string, number>();
  for (const r of results) counts.set(r.action, (counts.get(r.action) ?? 0) + 1);
  return [...counts].map(([a, n]) => `${n} ${a}`).join(', ') || 'no items';
}

export function hookRoutes(routes: RouteTable, engine: Engine, config: HookConfig = { secrets: {} }): void {
  const mappings = config.mappings ?? loadMappings(config.mappingsDir);
  const store = engine.deliveries;

  routes.add({
    method: 'get', path: '/v1/hooks/deliveries', summary: 'Webhook deliveries, newest first', tag: 'hooks', access: 'admin',
    query: { type: 'object', additionalProperties: false, properties: { source: { enum: [...HOOK_SOURCES] }, ...pagingQuery, cursor: { type: 'string', pattern: '^[0-9]{1,19}-[0-9]{1,19}-[0-9]{1,3}$', description: 'nextCursor of the previous page' } } },
    responses: { 200: { description: 'page', schema: pageOf(deliverySchema) } },
  }, async (ctx, req) => {
    ctx.body = await store.list({ source: req.query.source, limit: req.query.limit ?? 50, cursor: req.query.cursor ?? null });
  });

  routes.add({
    method: 'post', path: '/v1/hooks/:source', summary: "A tool's webhook: starts runs or sends events per the source's mapping", tag: 'hooks', access: 'signature', rawBody: true,
    params: { type: 'object', required: ['source'], additionalProperties: false, properties: { source: { type: 'string', pattern: '^[a-z]{1,32}$' } } },
    headers: [
      { name: 'X-Hub-Signature-256', description: 'github: sha256=<hex HMAC-SHA256 of the raw body>' },
      { name: 'X-Hub-Signature', description: 'jira: sha256=<hex HMAC-SHA256 of the raw body>' },
      { name: 'X-PagerDuty-Signature', description: 'pagerduty: v1=<hex>[,v1=<hex>…]; one match is enough' },
      { name: 'X-Signature-256', description: 'generic: sha256=<hex HMAC-SHA256 of the raw body>' },
      { name: 'X-Grafana-Alerting-Signature', description: 'grafana: <hex HMAC-SHA256 of the body, or of timestamp:body with X-Grafana-Alerting-Timestamp>' },
      { name: 'Authorization', description: 'alertmanager, servicenow (and grafana without a signature): Bearer <secret>' },
    ],
    responses: {
      202: { description: 'every item mapped and its result durable', schema: { type: 'object', required: ['results'], properties: { results: { type: 'array', items: resultSchema } } } },
      404: { description: 'unknown source' },
    },
  }, async (ctx, req) => {
    const source = req.params.source as HookSource;
    if (!HOOK_SOURCES.includes(source)) throw notFound(`webhook source ${req.params.source}`);
    const receivedAt = engine.now();
    const raw = req.rawBody ?? Buffer.alloc(0);
    const get = (h: string) => ctx.get(h);
    const refuse = async (err: ServicechartError, deliveryId: string | null = null): Promise<never> => {
      await store.log({ source, deliveryId, receivedAt, status: statusOf[err.code] ?? 500, results: [], reason: `${err.code}: ${err.message}` }).catch(() => undefined);
      throw err;
    };

    // The signature covers the exact bytes: nothing is parsed before it is checked.
    const verified = verifyHook(source, config.secrets[source], get, raw, receivedAt);
    if (!verified.ok) await refuse(new ServicechartError(ErrorCode.UNAUTHENTICATED, verified.reason));
    // GitHub's default content type for a new webhook is a form whose `payload` field holds the JSON
    // (the signature still covers the raw form body, checked above).
    const form = source === 'github' && ctx.is('application/x-www-form-urlencoded') !== false;
    if (raw.length > 0 && !form && !ctx.is('application/json', '+json')) await refuse(new ServicechartError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'send the body as application/json'));
    let parsed: unknown;
    try {
      parsed = parseJson(form ? Buffer.from(new URLSearchParams(raw.toString('utf8')).get('payload') ?? '', 'utf8') : raw);
    } catch (err) {
      return refuse(err as ServicechartError);
    }
    if (parsed === undefined) await refuse(new ServicechartError(ErrorCode.BAD_JSON, 'the body is empty'));
    const problems = structuralProblems(parsed);
    if (problems.length) await refuse(validationError('the body breaks the request limits', problems));

    const mapping = mappings[source];
    const body = normalize(mapping.normalize, parsed);
    const headers = ctx.headers as Record<string, string | string[] | undefined>;
    const deliveryId = deliveryIdOf(mapping, get, body, headers);

    let results: HookResult[];
    if (deliveryId) {
      const claim = await store.claim(source, deliveryId);
      if (claim.kind === 'repeat') {
        results = claim.results.map((r) => ({ action: 'duplicate' as const, ...(r.runId ? { runId: r.runId } : {}), reason: `delivery ${deliveryId} was received before (${r.action})` }));
      } else {
        try {
          results = await applyMapping(engine, { source, mapping, body, headers, deliveryId });
        } catch (err) {
          await store.release(source, deliveryId, claim.token).catch(() => undefined);
          throw err;
        }
        await store.finish(source, deliveryId, claim.token, results);
      }
    } else {
      results = await applyMapping(engine, { source, mapping, body, headers, deliveryId: null });
    }
    await store.log({ source, deliveryId, receivedAt, status: 202, results, reason: summary(results) });
    ctx.status = 202;
    ctx.body = { results };
  });
}
