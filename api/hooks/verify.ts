// Owns webhook authentication: each source's documented signature or bearer secret, checked over the
// raw body bytes in constant time, before anything parses the body.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const HOOK_SOURCES = ['alertmanager', 'pagerduty', 'jira', 'github', 'servicenow', 'generic', 'grafana'] as const;
export type HookSource = (typeof HOOK_SOURCES)[number];

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/** The environment variable that holds a source's secret. */
export function secretEnvName(source: HookSource): string {
  return `SERVICECHART_HOOK_SECRET_${source.toUpperCase()}`;
}

/** Constant-time equality of two strings of any length: both sides are hashed first. */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

export function hmacHex(secret: string, raw: Buffer | string): string {
  return createHmac('sha256', secret).update(raw).digest('hex');
}

type Header = (name: string) => string;

function prefixedHmac(header: string, prefix: string, secret: string, raw: Buffer): VerifyResult {
  const value = header.trim();
  if (!value) return { ok: false, reason: 'the signature header is missing' };
  // Every candidate is compared, so the time taken does not depend on which one matched.
  let ok = false;
  const expected = prefix + hmacHex(secret, raw);
  for (const part of value.split(',')) if (safeEqual(part.trim().toLowerCase(), expected)) ok = true;
  return ok ? { ok: true } : { ok: false, reason: 'the signature does not match the body' };
}

function bearer(header: string, secret: string): VerifyResult {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) return { ok: false, reason: 'send Authorization: Bearer <secret>' };
  return safeEqual(m[1], secret) ? { ok: true } : { ok: false, reason: 'the bearer secret does not match' };
}

/** How far a Grafana signature timestamp may be from our clock: older deliveries are replays. */
export const GRAFANA_TIMESTAMP_SKEW_MS = 5 * 60_000;

/**
 * Grafana's webhook contact point (12+): `X-Grafana-Alerting-Signature`, hex HMAC-SHA256 over the body,
 * or over `timestamp:body` when its timestamp header is configured as `X-Grafana-Alerting-Timestamp`
 * (then a timestamp more than 5 minutes off is refused). Without a signature header, an
 * `Authorization: Bearer <secret>` header (older Grafana) is accepted instead.
 */
function grafana(get: Header, secret: string, raw: Buffer, now: number): VerifyResult {
  const signature = get('x-grafana-alerting-signature').trim();
  if (!signature) return get('authorization') ? bearer(get('authorization'), secret) : { ok: false, reason: 'send X-Grafana-Alerting-Signature (or Authorization: Bearer <secret>)' };
  const timestamp = get('x-grafana-alerting-timestamp').trim();
  if (!timestamp) return prefixedHmac(signature, '', secret, raw);
  const seconds = Number(timestamp);
  const at = /^\d{9,11}$/.test(timestamp) ? seconds * 1000 : Date.parse(timestamp);
  if (!Number.isFinite(at) || Math.abs(now - at) > GRAFANA_TIMESTAMP_SKEW_MS) return { ok: false, reason: 'the signature timestamp is missing, malformed or more than 5 minutes off' };
  return prefixedHmac(signature, '', secret, Buffer.concat([Buffer.from(`${timestamp}:`), raw]));
}

/**
 * Check one delivery. `get` reads a request header (case-insensitive).
 * @example
 * verifyHook('github', secret, (h) => ctx.get(h), rawBody) // { ok: true } or { ok: false, reason }
 */
export function verifyHook(source: HookSource, secret: string | undefined, get: Header, raw: Buffer, now = Date.now()): VerifyResult {
  if (!secret) return { ok: false, reason: `webhooks from ${source} are refused: set ${secretEnvName(source)}` };
  switch (source) {
    case 'github': return prefixedHmac(get('x-hub-signature-256'), 'sha256=', secret, raw);
    case 'jira': return prefixedHmac(get('x-hub-signature'), 'sha256=', secret, raw);
    case 'pagerduty': return prefixedHmac(get('x-pagerduty-signature'), 'v1=', secret, raw);
    case 'generic': return prefixedHmac(get('x-signature-256'), 'sha256=', secret, raw);
    case 'grafana': return grafana(get, secret, raw, now);
    case 'alertmanager':
    case 'servicenow': return bearer(get('authorization'), secret);
  }
}
