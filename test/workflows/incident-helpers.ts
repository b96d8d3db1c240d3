// Helpers for the incident model's HTTP tests: start, send, read state, history and human tasks, wait.
import * as assert from 'uvu/assert';
import type { Harness } from '../api/harness.ts';
import { waitFor } from '../helpers.ts';
import { getRun, send, sendOk } from './run-helpers.ts';
export { getRun, send, sendOk };

export async function startIncident(h: Harness, input: Record<string, unknown>, businessKey?: string): Promise<any> {
  const res = await h.call('POST', '/v1/runs', { key: 'operator', body: { workflow: 'incident', input, ...(businessKey ? { businessKey } : {}) } });
  assert.is(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

/** The dotted paths of the active leaf states (`{ open: { work: 'new' } }` → `open.work.new`). */
export function paths(value: unknown, prefix = ''): string[] {
  if (typeof value === 'string') return [prefix ? `${prefix}.${value}` : value];
  const out: string[] = [];
  for (const [k, v] of Object.entries((value ?? {}) as Record<string, unknown>)) out.push(...paths(v, prefix ? `${prefix}.${k}` : k));
  return out;
}

/** Whether the run is in the state (a leaf path or a prefix of one). */
export function inState(run: { state: unknown }, path: string): boolean {
  return paths(run.state).some((p) => p === path || p.startsWith(`${path}.`));
}

export async function untilRun(h: Harness, id: string, pred: (run: any) => boolean, what: string, timeoutMs = 8000): Promise<any> {
  return waitFor(async () => {
    const run = await getRun(h, id);
    return pred(run) ? run : null;
  }, timeoutMs, what);
}

export function untilState(h: Harness, id: string, path: string, timeoutMs = 8000): Promise<any> {
  return untilRun(h, id, (r) => inState(r, path), `state ${path}`, timeoutMs);
}

export async function history(h: Harness, id: string): Promise<any[]> {
  const items: any[] = [];
  let cursor: string | null = null;
  do {
    const res: { body: any } = await h.call('GET', `/v1/runs/${id}/history?limit=500${cursor ? `&cursor=${cursor}` : ''}`, { key: 'viewer' });
    items.push(...res.body.items);
    cursor = res.body.nextCursor;
  } while (cursor);
  return items;
}

export async function untilHistory(h: Harness, id: string, pred: (items: any[]) => boolean, what: string, timeoutMs = 8000): Promise<any[]> {
  return waitFor(async () => {
    const items = await history(h, id);
    return pred(items) ? items : null;
  }, timeoutMs, what);
}

/** Measures the run emitted, by name. */
export function measures(items: any[], name: string): any[] {
  return items.filter((e) => e.type === 'measure.recorded' && e.measure === name);
}

/** Tasks of a kind that completed (not ignored), in order. */
export function completed(items: any[], task: string): any[] {
  return items.filter((e) => e.type === 'task.completed' && e.task === task && !e.ignored);
}

export function scheduled(items: any[], task: string): any[] {
  return items.filter((e) => e.type === 'task.scheduled' && e.task === task);
}

export async function openTasks(h: Harness, runId: string): Promise<any[]> {
  const res = await h.call('GET', `/v1/tasks?status=open&runId=${encodeURIComponent(runId)}`, { key: 'viewer' });
  assert.is(res.status, 200);
  return res.body.items;
}

export async function untilTask(h: Harness, runId: string, role: string, timeoutMs = 8000): Promise<any> {
  return waitFor(async () => (await openTasks(h, runId)).find((t) => t.role === role) ?? null, timeoutMs, `an open ${role} task`);
}

export function complete(h: Harness, taskId: string, body: Record<string, unknown>): Promise<{ status: number; body: any }> {
  return h.call('POST', `/v1/tasks/${taskId}/complete`, { key: 'operator', body });
}

/** Scenario time: wait until `t` (epoch ms) has come. Only for "N hours later" in a scaled scenario. */
export async function at(t: number): Promise<void> {
  const left = t - Date.now();
  if (left > 0) await new Promise((r) => setTimeout(r, left));
}

export const ms = (iso: string): number => Date.parse(iso);
