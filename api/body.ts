// Owns reading request bodies: size cap, media type, safe JSON parsing and the structural limits
// of the contract (depth, string length, array size, forbidden keys).
import type Koa from 'koa';
import { ErrorCode, ServicechartError, validationError, type Problem } from '../engine/index.ts';

export const LIMITS = {
  bodyBytes: 1024 * 1024,
  depth: 64,
  stringBytes: 64 * 1024,
  arrayItems: 1000,
  contextBytes: 256 * 1024,
} as const;

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

/** Read the raw body up to the cap; 413 beyond it. */
export async function readRaw(ctx: Koa.Context, limit = LIMITS.bodyBytes): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limit) throw new ServicechartError(ErrorCode.PAYLOAD_TOO_LARGE, `request body over ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      ctx.req.destroy();
      throw new ServicechartError(ErrorCode.PAYLOAD_TOO_LARGE, `request body over ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Problems with the shape of parsed JSON: forbidden keys, depth, long strings, numbers out of range, large arrays. */
export function structuralProblems(value: unknown, opts: { arrays?: boolean } = {}): Problem[] {
  const problems: Problem[] = [];
  const walk = (v: unknown, path: string, depth: number) => {
    if (problems.length > 50) return;
    if (depth > LIMITS.depth) {
      problems.push({ path, message: `nested deeper than ${LIMITS.depth}` });
      return;
    }
    if (typeof v === 'string') {
      if (Buffer.byteLength(v) > LIMITS.stringBytes) problems.push({ path, message: `string longer than ${LIMITS.stringBytes} bytes` });
    } else if (typeof v === 'number') {
      // JSON.parse reads 1e999 as Infinity, which JSON.stringify would later store as null.
      if (!Number.isFinite(v)) problems.push({ path, message: 'number out of range' });
    } else if (Array.isArray(v)) {
      if (opts.arrays !== false && v.length > LIMITS.arrayItems) problems.push({ path, message: `array longer than ${LIMITS.arrayItems} items` });
      v.forEach((x, i) => walk(x, `${path}/${i}`, depth + 1));
    } else if (v && typeof v === 'object') {
      for (const k of Object.keys(v)) {
        if (FORBIDDEN.has(k)) problems.push({ path: `${path}/${k}`, message: `key "${k}" is not allowed` });
        else {
          if (Buffer.byteLength(k) > LIMITS.stringBytes) problems.push({ path, message: 'key too long' });
          walk((v as Record<string, unknown>)[k], `${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, depth + 1);
        }
      }
    }
  };
  walk(value, '', 0);
  return problems;
}

/**
 * Parse a JSON body. `JSON.parse` makes `__proto__` an own data property (never the prototype), and
 * the structural check then refuses such keys outright.
 */
export function parseJson(raw: Buffer): unknown {
  const text = raw.toString('utf8');
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ServicechartError(ErrorCode.BAD_JSON, `malformed JSON: ${(err as Error).message}`);
  }
}

/** Middleware for our own JSON routes: media type, size, parse, structural limits; sets ctx.request.body. */
export function jsonBody(): Koa.Middleware {
  return async (ctx, next) => {
    if (!['POST', 'PUT', 'PATCH'].includes(ctx.method)) return next();
    const raw = await readRaw(ctx);
    if (raw.length > 0 && !ctx.is('application/json', '+json')) {
      throw new ServicechartError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'send the body as application/json');
    }
    const body = parseJson(raw);
    if (body !== undefined) {
      const problems = structuralProblems(body);
      if (problems.length) throw validationError('the body breaks the request limits', problems);
    }
    (ctx.request as unknown as { body: unknown }).body = body ?? {};
    return next();
  };
}
