// Owns the route table: each route is declared once with its schemas and role, which both registers
// it on the router (with validation and auth) and describes it in /openapi.json.
import type Koa from 'koa';
import type Router from '@koa/router';
import { ErrorCode, ServicechartError } from '../engine/index.ts';
import { Role, type Auth, type Principal } from './auth.ts';
import { jsonBody, readRaw } from './body.ts';
import { compileCheck } from './validate.ts';
import { errorSchema } from './schemas/common.ts';

export type Access = Role | 'none' | 'signature';

export interface ResponseSpec {
  description: string;
  schema?: object;
  contentType?: string;
}

export interface RouteSpec {
  method: 'get' | 'post' | 'put' | 'delete';
  path: string;
  summary: string;
  tag: string;
  access: Access;
  params?: object;
  query?: object;
  body?: object;
  /** The handler reads the raw body itself (webhooks, signed over the exact bytes). */
  rawBody?: boolean;
  /** The raw body's cap, when it is not the usual 1 MiB (a registry import). */
  maxBodyBytes?: number;
  headers?: { name: string; description: string; required?: boolean }[];
  responses: Record<number, ResponseSpec>;
}

export interface Request<TBody = any, TQuery = any, TParams = any> {
  body: TBody;
  query: TQuery;
  params: TParams;
  /** The exact request bytes, for routes declared with `rawBody` (1 MiB cap, 413 beyond). */
  rawBody?: Buffer;
  principal: Principal | null;
  /** Who history entries name: the API key's name, never the key. */
  actor: string;
}

export type Handler = (ctx: Koa.Context, req: Request) => Promise<void> | void;

function bearer(ctx: Koa.Context): string | null {
  const h = ctx.get('authorization');
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1] : null;
}

export function authenticate(ctx: Koa.Context, auth: Auth, need: Role): Principal {
  const key = bearer(ctx);
  const principal = key ? auth.authenticate(key) : null;
  if (!principal) {
    ctx.set('WWW-Authenticate', 'Bearer');
    throw new ServicechartError(ErrorCode.UNAUTHENTICATED, key ? 'unknown API key' : 'send an API key: Authorization: Bearer <key>');
  }
  // The worker routes (external tasks) take a worker key or an admin key, not a viewer's or an operator's.
  const allowed = need === 'worker' ? principal.role === 'worker' || principal.role === 'admin' : Role[principal.role] >= Role[need];
  if (!allowed) throw new ServicechartError(ErrorCode.FORBIDDEN, `this needs the ${need} role; the key has ${principal.role}`);
  return principal;
}

export interface RateLimit {
  /** Sustained requests per second per API key (or per client address without one). */
  perSecond: number;
  burst: number;
}

/** Token buckets per caller, in this process. */
function rateLimiter(limit: RateLimit) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return (who: string): boolean => {
    const now = Date.now();
    const b = buckets.get(who) ?? { tokens: limit.burst, at: now };
    b.tokens = Math.min(limit.burst, b.tokens + ((now - b.at) / 1000) * limit.perSecond);
    b.at = now;
    buckets.set(who, b);
    if (buckets.size > 10_000) buckets.delete(buckets.keys().next().value!);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  };
}

export class RouteTable {
  readonly specs: RouteSpec[] = [];
  private readonly parse = jsonBody();
  private readonly allow: (who: string) => boolean;

  constructor(private readonly router: Router, private readonly auth: Auth, rateLimit: RateLimit = { perSecond: 200, burst: 400 }) {
    this.allow = rateLimiter(rateLimit);
  }

  add(spec: RouteSpec, handler: Handler): void {
    this.specs.push(spec);
    const checkParams = spec.params ? compileCheck(spec.params, 'params') : null;
    const checkQuery = spec.query ? compileCheck(spec.query, 'query') : null;
    const checkBody = spec.body ? compileCheck(spec.body, 'body') : null;
    const auth = this.auth;
    const parse = this.parse;
    const allow = this.allow;
    this.router[spec.method](spec.path, async (ctx) => {
      let principal: Principal | null = null;
      if (spec.access !== 'none' && spec.access !== 'signature') principal = authenticate(ctx, auth, spec.access);
      if (spec.access !== 'none' && !allow(principal ? `key:${principal.name}` : `addr:${ctx.ip}:${spec.path}`)) {
        throw new ServicechartError(ErrorCode.RATE_LIMITED, 'too many requests; slow down and retry');
      }
      const params = { ...ctx.params };
      checkParams?.(params);
      const query = { ...ctx.query } as Record<string, unknown>;
      checkQuery?.(query);
      let body: unknown = undefined;
      let rawBody: Buffer | undefined;
      const hasBody = spec.method === 'post' || spec.method === 'put';
      if (spec.rawBody && hasBody) rawBody = await readRaw(ctx, spec.maxBodyBytes);
      else if (hasBody) {
        await parse(ctx, async () => undefined);
        body = (ctx.request as unknown as { body: unknown }).body;
        checkBody?.(body);
      }
      await handler(ctx, { body, query, params, rawBody, principal, actor: principal?.name ?? 'anonymous' });
    });
  }

  /** OpenAPI 3.1, generated from the same schemas that validate the requests. */
  openapi(info: { title: string; version: string }): object {
    const paths: Record<string, Record<string, object>> = {};
    for (const s of this.specs) {
      const path = s.path.replace(/:([A-Za-z]+)/g, '{$1}');
      const parameters: object[] = [];
      const props = (schema: object | undefined) => (schema as { properties?: Record<string, object>; required?: string[] } | undefined);
      const params = props(s.params);
      for (const [name, schema] of Object.entries(params?.properties ?? {})) parameters.push({ name, in: 'path', required: true, schema });
      const query = props(s.query);
      for (const [name, schema] of Object.entries(query?.properties ?? {})) parameters.push({ name, in: 'query', required: Boolean(query?.required?.includes(name)), schema });
      for (const h of s.headers ?? []) parameters.push({ name: h.name, in: 'header', required: Boolean(h.required), description: h.description, schema: { type: 'string' } });
      const responses: Record<string, object> = {};
      for (const [status, r] of Object.entries(s.responses)) {
        responses[status] = { description: r.description, ...(r.schema || r.contentType ? { content: { [r.contentType ?? 'application/json']: { schema: r.schema ?? { type: 'string' } } } } : {}) };
      }
      if (s.access !== 'none') {
        responses['401'] ??= { description: 'missing or unknown credentials', content: { 'application/json': { schema: errorSchema } } };
      }
      if (s.access !== 'none' && s.access !== 'signature') responses['403'] ??= { description: 'role too low', content: { 'application/json': { schema: errorSchema } } };
      if (s.body || s.query || s.params) responses['422'] ??= { description: 'validation failed', content: { 'application/json': { schema: errorSchema } } };
      (paths[path] ??= {})[s.method] = {
        summary: s.summary,
        tags: [s.tag],
        ...(s.access === 'none' || s.access === 'signature' ? { security: [] } : { 'x-required-role': s.access }),
        ...(parameters.length ? { parameters } : {}),
        ...(s.body ? { requestBody: { required: true, content: { 'application/json': { schema: s.body } } } } : {}),
        ...(s.rawBody ? { requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', description: "the tool's own payload, unchanged" } } } } } : {}),
        responses,
      };
    }
    return {
      openapi: '3.1.0',
      info,
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } }, schemas: { Error: errorSchema } },
      security: [{ bearer: [] }],
      paths,
    };
  }
}
