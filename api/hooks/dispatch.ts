// Owns applying a mapping to one delivery: each item picks its first matching rule, which starts a
// run (or finds the open one by business key) or sends an event; refusals become `ignored` results.
import { ErrorCode, type Engine, type HookResult, type JsonObject } from '../../engine/index.ts';
import { evaluate, matches, resolvePath, type Scope } from './expr.ts';
import type { Mapping, Rule } from './mapping-schema.ts';

export type { HookResult };

export interface Delivery {
  source: string;
  mapping: Mapping;
  /** The body after the mapping's normalisation. */
  body: unknown;
  headers: Scope['headers'];
  deliveryId: string | null;
}

/** Refusals that describe the payload or the run's state: answered `ignored`, never an error status. */
const REFUSALS = new Set<string>([ErrorCode.EVENT_NOT_ACCEPTED, ErrorCode.RUN_ENDED, ErrorCode.VALIDATION_FAILED, ErrorCode.NOT_FOUND, ErrorCode.WORKFLOW_ERROR]);

function refusal(err: unknown): HookResult | null {
  const e = err as { code?: string; message?: string; details?: unknown };
  if (!e?.code || !REFUSALS.has(e.code)) return null;
  const problems = Array.isArray(e.details) ? (e.details as { path?: string; message?: string }[]).slice(0, 5).map((p) => `${p.path ?? ''} ${p.message ?? ''}`.trim()) : [];
  return { action: 'ignored', reason: `${e.code}: ${e.message}${problems.length ? ` (${problems.join('; ')})` : ''}` };
}

const ignored = (reason: string): HookResult => ({ action: 'ignored', reason });
const isObject = (v: unknown): v is JsonObject => !!v && typeof v === 'object' && !Array.isArray(v);
const keyOf = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined);

async function send(engine: Engine, runId: string, event: unknown, idempotencyKey: string | undefined, actor: string): Promise<HookResult> {
  if (!isObject(event) || typeof event.type !== 'string') return ignored('the mapping gives no event type for this payload');
  try {
    const res = await engine.sendEvent(runId, event as JsonObject & { type: string }, { idempotencyKey, actor });
    return res.duplicate ? { action: 'duplicate', runId, reason: 'this event was applied before' } : { action: 'event', runId };
  } catch (err) {
    const r = refusal(err);
    if (!r) throw err;
    // The run's own timeline says why the tool's event changed nothing.
    await engine.appendNote(runId, 'hook.ignored', { event: event.type, reason: r.reason ?? '' }, actor).catch(() => undefined);
    return { ...r, runId };
  }
}

async function applyRule(engine: Engine, d: Delivery, rule: Rule, scope: Scope, index: number): Promise<HookResult> {
  if ('ignore' in rule) return ignored(rule.ignore);
  const actor = `hook:${d.source}`;
  const idempotencyKey = d.deliveryId ? `hook:${d.source}:${d.deliveryId}:${index}` : undefined;
  if ('send' in rule) {
    const businessKey = keyOf(evaluate(rule.send.businessKey, scope));
    if (!businessKey) return ignored('the payload has no business key for this event');
    const workflow = rule.send.workflow === undefined ? undefined : keyOf(evaluate(rule.send.workflow, scope));
    const runId = await engine.findOpenRun(businessKey, workflow);
    if (!runId) return ignored(`no open ${workflow ?? 'run'} with business key ${businessKey}`);
    return send(engine, runId, evaluate(rule.send.event, scope), idempotencyKey, actor);
  }
  const start = rule.start;
  const workflow = keyOf(evaluate(start.workflow, scope));
  if (!workflow) return ignored('the payload names no workflow');
  const input = start.input === undefined ? {} : evaluate(start.input, scope);
  if (!isObject(input)) return ignored('the run input the mapping reads is not an object');
  try {
    if (start.businessKey === undefined) {
      const res = await engine.startRun({ workflow, input, idempotencyKey, actor });
      return res.duplicate ? { action: 'duplicate', runId: res.run.id, reason: 'this run was started before' } : { action: 'started', runId: res.run.id };
    }
    const businessKey = keyOf(evaluate(start.businessKey, scope));
    if (!businessKey) return ignored('the payload has no business key for a new run');
    const open = await engine.startOrFindOpen({ workflow, businessKey, input, actor });
    if (open.started) return { action: 'started', runId: open.runId };
    if (!start.ifOpen) return { action: 'duplicate', runId: open.runId, reason: `a ${workflow} run with business key ${businessKey} is open` };
    return send(engine, open.runId, evaluate(start.ifOpen.event, scope), idempotencyKey, actor);
  } catch (err) {
    const r = refusal(err);
    if (r) return r;
    throw err;
  }
}

/**
 * Map every item of one delivery, in order, and apply it. Each result is durable when this returns.
 * @example
 * const results = await applyMapping(engine, { source: 'alertmanager', mapping, body, headers, deliveryId: null });
 */
export async function applyMapping(engine: Engine, d: Delivery): Promise<HookResult[]> {
  const base: Scope = { item: d.body, body: d.body, headers: d.headers, fields: d.mapping.fields ?? {} };
  let items: unknown[] = [d.body];
  if (d.mapping.items !== undefined) {
    const found = resolvePath(d.mapping.items, base);
    if (!Array.isArray(found)) return [ignored(`the payload has no list of items at ${d.mapping.items}`)];
    // An empty list still gets an answer the log and the tool can read.
    if (found.length === 0) return [ignored(`the list of items at ${d.mapping.items} is empty`)];
    items = found;
  }
  const results: HookResult[] = [];
  for (let i = 0; i < items.length; i++) {
    const scope: Scope = { ...base, item: items[i] };
    const rule = d.mapping.rules.find((r) => matches(r.when, scope));
    results.push(rule ? await applyRule(engine, d, rule, scope, i) : ignored(d.mapping.otherwise ?? `no mapping rule matches this ${d.source} payload`));
  }
  return results;
}
