// Helpers for the change model's HTTP tests: start a change, send events, wait for states, read history and tasks.
import * as assert from 'uvu/assert';
import type { Harness } from '../api/harness.ts';
import { waitFor } from '../helpers.ts';
import { getRun, send, sendOk } from './run-helpers.ts';
export { getRun, send, sendOk };

export const HOUR = 3_600_000;
export const iso = (t: number): string => new Date(t).toISOString();

/** Approver lists used throughout: nobody here requested the change except `rita`. */
export const approvers = {
  technical: ['tom'],
  changeManager: ['carla'],
  cab: ['ann', 'bob', 'cem', 'dia'],
  ecab: ['eve', 'eli'],
  serviceOwner: ['sam'],
};

/** A maintenance window around now for the given CIs, so window rules pass unless a test wants otherwise. */
export function maintenanceAround(ci: string[], now = Date.now()) {
  return Object.fromEntries(ci.map((c) => [c, [{ start: iso(now - HOUR), end: iso(now + 100 * HOUR) }]]));
}

/** A complete normal change planned `startInMs` from now, for one CI in production. */
export function normalChange(over: Record<string, unknown> = {}, startInMs = 80 * HOUR): Record<string, unknown> {
  const now = Date.now();
  return {
    changeType: 'normal', title: 'Upgrade the database', requestedBy: 'rita', implementer: 'ivan', environment: 'production', impact: 2,
    implementationPlan: 'run the upgrade', backoutPlan: 'restore the snapshot', testPlan: 'smoke tests', ci: ['db-01'], services: ['billing'],
    plannedStart: iso(now + startInMs), plannedEnd: iso(now + startInMs + HOUR), approvers,
    schedules: { maintenance: maintenanceAround(['db-01'], now) },
    ...over,
  };
}

export interface Change {
  h: Harness;
  id: string;
}

export async function startChange(h: Harness, input: Record<string, unknown>, businessKey?: string): Promise<any> {
  const res = await h.call('POST', '/v1/runs', { key: 'operator', body: { workflow: 'change', input, ...(businessKey ? { businessKey } : {}) } });
  assert.is(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

/** The dotted paths of a state value (`{ new: 'draft' }` → `new.draft`). */
export function paths(value: unknown, prefix = ''): string[] {
  if (typeof value === 'string') return [prefix ? `${prefix}.${value}` : value];
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => {
    const here = prefix ? `${prefix}.${k}` : k;
    const inner = paths(v, here);
    return inner.length ? inner : [here];
  });
}

/** Wait until the run is in a state whose path starts with `path` (and the run matches `extra`, if given). */
export async function waitState(h: Harness, id: string, path: string, timeoutMs = 8000, extra?: (run: any) => boolean): Promise<any> {
  return waitFor(async () => {
    const run = await getRun(h, id);
    const active = run.status === 'done' ? [String(run.output?.outcome ?? '')] : paths(run.state);
    return active.some((p) => p === path || p.startsWith(`${path}.`)) && (!extra || extra(run)) ? run : null;
  }, timeoutMs, `run ${id} in ${path}`);
}

export async function history(h: Harness, id: string): Promise<any[]> {
  const out: any[] = [];
  let cursor: string | null = null;
  do {
    const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const page: any = (await h.call('GET', `/v1/runs/${id}/history?limit=500${q}`, { key: 'viewer' })).body;
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

export async function openTasks(h: Harness, runId: string, role?: string): Promise<any[]> {
  const res = await h.call('GET', `/v1/tasks?status=open&workflow=change&limit=500${role ? `&role=${role}` : ''}`, { key: 'viewer' });
  return res.body.items.filter((t: any) => t.runId === runId);
}

/** Wait for exactly one open task of the role on the run, and return it. */
export async function waitTask(h: Harness, runId: string, role: string, timeoutMs = 8000): Promise<any> {
  return waitFor(async () => {
    const tasks = await openTasks(h, runId, role);
    return tasks.length === 1 ? tasks[0] : null;
  }, timeoutMs, `an open ${role} task on ${runId}`);
}

export async function complete(h: Harness, taskId: string, outcome: string, by: string, comment?: string): Promise<{ status: number; body: any }> {
  return h.call('POST', `/v1/tasks/${taskId}/complete`, { key: 'operator', body: { outcome, by, ...(comment ? { comment } : {}) } });
}

/** The subjects of the notifications a run recorded (the `notify` task's record adapter). */
export function notifications(hist: any[]): string[] {
  return hist.filter((e) => e.type === 'notify.recorded').map((e) => String(e.payload?.subject ?? ''));
}

export function measures(hist: any[], name: string): any[] {
  return hist.filter((e) => e.type === 'measure.recorded' && e.measure === name);
}
