// Owns how automated tasks reach the outside world: a recording adapter (the default, so everything
// works on a fresh machine), a signed outbound webhook, and the PagerDuty Events API v2 shape.
import { createHmac } from 'node:crypto';
import { NonRetryableTaskError, type TaskContext } from '../../engine/index.ts';

export type AdapterSpec =
  | { kind: 'record' }
  | { kind: 'webhook'; url: string; secret: string | null }
  | { kind: 'pagerduty'; url: string; routingKey: string };

/**
 * Adapter per task name; tasks not named use `record`. Keys `outbound:<tool>` (jira, github, ...)
 * route the ticket tasks of runs that tool started back to it (`SERVICECHART_OUTBOUND_<TOOL>`).
 */
export type AdapterConfig = Record<string, AdapterSpec>;

/** The adapter for a ticket task: the run's own tool when outbound updates to it are configured. */
export function ticketAdapter(adapters: AdapterConfig, task: string, tool: unknown): AdapterSpec | undefined {
  return (typeof tool === 'string' && adapters[`outbound:${tool}`]) || adapters[task];
}

// A type (not an interface) so that it fits the open output schema (`[field: string]: unknown`) of the tasks.
export type Delivery = {
  adapter: AdapterSpec['kind'];
  delivered: boolean;
  status?: number;
};

const PAGERDUTY_URL = 'https://events.pagerduty.com/v2/enqueue';

/**
 * Read adapters from the environment: `SERVICECHART_ADAPTER_<TASK>` = `record`, `webhook <url>` or
 * `pagerduty <routingKey> [url]`; a webhook's HMAC secret in `SERVICECHART_ADAPTER_<TASK>_SECRET`.
 */
export function adaptersFromEnv(env: Record<string, string | undefined>): AdapterConfig {
  const out: AdapterConfig = {};
  for (const [k, v] of Object.entries(env)) {
    const m = /^SERVICECHART_ADAPTER_([A-Z0-9_]+)$/.exec(k);
    if (!m || !v || m[1].endsWith('_SECRET')) continue;
    const task = m[1].toLowerCase();
    const [kind, a, b] = v.trim().split(/\s+/);
    if (kind === 'record') out[task] = { kind: 'record' };
    else if (kind === 'webhook' && a) out[task] = { kind: 'webhook', url: a, secret: env[`${k}_SECRET`] ?? null };
    else if (kind === 'pagerduty' && a) out[task] = { kind: 'pagerduty', routingKey: a, url: b ?? PAGERDUTY_URL };
    else throw new Error(`${k}: expected "record", "webhook <url>" or "pagerduty <routingKey> [url]"`);
  }
  // Updates back to the tool a run came from: off unless configured per source.
  for (const [k, v] of Object.entries(env)) {
    const m = /^SERVICECHART_OUTBOUND_([A-Z0-9]+)$/.exec(k);
    if (!m || !v) continue;
    const [kind, url] = v.trim().split(/\s+/);
    if (kind !== 'webhook' || !url || !/^https?:\/\//.test(url)) throw new Error(`${k}: expected "webhook <https://...>"`);
    out[`outbound:${m[1].toLowerCase()}`] = { kind: 'webhook', url, secret: env[`${k}_SECRET`] ?? null };
  }
  return out;
}

export function sign(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

async function post(url: string, body: string, headers: Record<string, string>, signal: AbortSignal): Promise<number> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers }, signal });
  } catch (err) {
    // Network errors are worth a retry (the task runtime backs off).
    throw new Error(`POST ${url} failed: ${(err as Error).message}`, { cause: err });
  }
  await res.arrayBuffer().catch(() => undefined);
  if (res.status >= 500 || res.status === 429 || res.status === 408) throw new Error(`POST ${url} answered ${res.status}`);
  if (res.status >= 400) throw new NonRetryableTaskError(`POST ${url} answered ${res.status}`);
  return res.status;
}

/** Deliver one task's effect through the adapter configured for it. */
export async function deliver(spec: AdapterSpec | undefined, task: string, payload: Record<string, unknown>, ctx: TaskContext): Promise<Delivery> {
  const adapter = spec ?? { kind: 'record' as const };
  switch (adapter.kind) {
    case 'record':
      await ctx.services.record(`${task}.recorded`, { idempotencyKey: ctx.idempotencyKey, payload });
      return { adapter: 'record', delivered: true };
    case 'webhook': {
      const body = JSON.stringify({ task, runId: ctx.runId, taskId: ctx.taskId, idempotencyKey: ctx.idempotencyKey, payload });
      const headers: Record<string, string> = { 'Idempotency-Key': ctx.idempotencyKey, 'X-Servicechart-Task': task };
      if (adapter.secret) headers['X-Servicechart-Signature-256'] = sign(adapter.secret, body);
      const status = await post(adapter.url, body, headers, ctx.signal);
      return { adapter: 'webhook', delivered: true, status };
    }
    case 'pagerduty': {
      const body = JSON.stringify({
        routing_key: adapter.routingKey,
        event_action: String(payload.eventAction ?? 'trigger'),
        // The idempotency key as dedup_key: a retried page lands on the same PagerDuty alert.
        dedup_key: String(payload.dedupKey ?? ctx.idempotencyKey),
        payload: {
          summary: String(payload.summary ?? task).slice(0, 1024),
          source: String(payload.source ?? 'servicechart'),
          severity: String(payload.severity ?? 'critical'),
          custom_details: payload,
        },
      });
      const status = await post(adapter.url, body, {}, ctx.signal);
      return { adapter: 'pagerduty', delivered: true, status };
    }
  }
}
