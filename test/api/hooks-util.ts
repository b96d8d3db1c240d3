// Webhook test plumbing: fixtures in each tool's own format, signatures as each tool computes them.
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Harness } from './harness.ts';

export const SECRETS = {
  alertmanager: 'am-secret-123', pagerduty: 'pd-secret-123', jira: 'jira-secret-123',
  github: 'gh-secret-123', servicenow: 'sn-secret-123', generic: 'generic-secret-123', grafana: 'grafana-secret-123',
} as const;
export type Source = keyof typeof SECRETS;

export function fixture(name: string): any {
  return JSON.parse(readFileSync(new URL(`../fixtures/hooks/${name}.json`, import.meta.url), 'utf8'));
}

export const hmac = (secret: string, raw: string) => createHmac('sha256', secret).update(raw).digest('hex');

/** The headers a tool sends with `raw`, signed with `secret`. */
export function signed(source: Source, raw: string, secret: string = SECRETS[source]): Record<string, string> {
  const h: Record<string, string> = { 'content-type': 'application/json' };
  switch (source) {
    case 'github': h['x-hub-signature-256'] = `sha256=${hmac(secret, raw)}`; break;
    case 'jira': h['x-hub-signature'] = `sha256=${hmac(secret, raw)}`; break;
    case 'pagerduty': h['x-pagerduty-signature'] = `v1=${hmac(secret, raw)}`; break;
    case 'generic': h['x-signature-256'] = `sha256=${hmac(secret, raw)}`; break;
    case 'grafana': h['x-grafana-alerting-signature'] = hmac(secret, raw); break;
    default: h.authorization = `Bearer ${secret}`;
  }
  return h;
}

/** POST a payload to /v1/hooks/:source, signed, with extra headers (delivery ids, event names). */
export function postHook(h: Harness, source: Source, payload: unknown, headers: Record<string, string> = {}) {
  const raw = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return h.call('POST', `/v1/hooks/${source}`, { key: null, raw, headers: { ...signed(source, raw), ...headers } });
}

export async function runsByKey(h: Harness, businessKey: string): Promise<any[]> {
  const res = await h.call('GET', `/v1/runs?businessKey=${encodeURIComponent(businessKey)}&limit=50`, { key: 'viewer' });
  return res.body.items;
}

export const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v));

/** The run as the engine reads it back from Redis, untyped for terse assertions on its context. */
export const getRun = (h: Harness, id: string): Promise<any> => h.engine.getRun(id);
