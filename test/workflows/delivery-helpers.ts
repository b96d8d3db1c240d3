// Shared plumbing for the delivery and planning scenario tests: HTTP shortcuts over the harness, and
// stand-in `change` / `incident` / parent runs that record what the models under test send them.
import { assign, setup, type AnyEventObject } from 'xstate';
import * as assert from 'uvu/assert';
import type { Harness } from '../api/harness.ts';
import { waitFor } from '../helpers.ts';
import { defineWorkflow, taskActors, type WorkflowDefinition } from '../../engine/index.ts';
import { getRun, send, sendOk } from './run-helpers.ts';
export { getRun, send, sendOk };

/** Version of the stand-ins: above any real model's, so `start_run({ workflow: 'change' })` reaches them. */
export const STUB_VERSION = 9000;

interface StubContext { input: Record<string, unknown>; received: AnyEventObject[] }

/**
 * A passive run under a real model's name: it records every event it is sent and ends on CANCEL.
 * It lets a test play the other side of §5's event contract (and assert what it was told).
 */
export function recorderWorkflow(name: string): WorkflowDefinition {
  const record: any = assign({ received: ({ context, event }: { context: StubContext; event: AnyEventObject }) => [...context.received, event] });
  const machine = setup({ types: {} as { context: StubContext; input: Record<string, unknown> } }).createMachine({
    id: `${name}Recorder`,
    context: ({ input }) => ({ input, received: [] }),
    initial: 'open',
    states: {
      open: { on: { CANCEL: { target: 'canceled', actions: record }, '*': { actions: record } } },
      canceled: { type: 'final' },
    },
  });
  return defineWorkflow({ name, version: STUB_VERSION, description: `test recorder standing in for ${name}`, machine });
}

/** A parent that starts one child (`workflow`, `input`) and records what the child tells it. */
export const parentRecorder: WorkflowDefinition = defineWorkflow({
  name: 'parent-recorder',
  version: 1,
  description: 'test parent: starts a child and records its events',
  machine: setup({
    types: {} as { context: StubContext & { childRunId: string | null }; input: Record<string, unknown> },
    actors: taskActors('start_run'),
  }).createMachine({
    id: 'parent-recorder',
    context: ({ input }) => ({ input, received: [], childRunId: null }),
    initial: 'starting',
    states: {
      starting: {
        invoke: {
          id: 'child', src: 'start_run',
          input: ({ context }: { context: StubContext }) => ({ workflow: String(context.input.workflow), input: context.input.input as Record<string, unknown> }),
          onDone: { target: 'waiting', actions: assign({ childRunId: ({ event }) => (event.output as { runId: string }).runId }) },
        },
      },
      waiting: { on: { '*': { actions: assign({ received: ({ context, event }) => [...context.received, event] }) } } },
    },
  }),
});

export type Call = Harness['call'];

export async function startRun(h: Harness, workflow: string, input: Record<string, unknown>, businessKey?: string): Promise<any> {
  const res = await h.call('POST', '/v1/runs', { key: 'operator', body: { workflow, input, ...(businessKey ? { businessKey } : {}) } });
  assert.is(res.status, 201, `start ${workflow}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Every active leaf as a dotted path (`production.running.canary.analyzing.waiting`). */
export function paths(state: unknown, prefix = ''): string[] {
  if (typeof state === 'string') return [prefix + state];
  if (!state || typeof state !== 'object') return [];
  return Object.entries(state as Record<string, unknown>).flatMap(([k, v]) => paths(v, `${prefix}${k}.`));
}

export function inState(run: any, path: string): boolean {
  return paths(run.state).some((p) => p === path || p.startsWith(path + '.'));
}

/** Wait until the run is in `path` (a prefix of an active leaf path), or has a status. */
export async function waitForState(h: Harness, id: string, path: string, timeoutMs = 10_000): Promise<any> {
  let last: any = null;
  try {
    return await waitFor(async () => {
      last = await getRun(h, id);
      return inState(last, path) ? last : null;
    }, timeoutMs, `run ${id} in ${path}`);
  } catch (err) {
    throw new Error(`${(err as Error).message}; last state ${JSON.stringify(last?.state)} status ${last?.status}`);
  }
}

export async function waitForStatus(h: Harness, id: string, status: string, timeoutMs = 10_000): Promise<any> {
  let last: any = null;
  try {
    return await waitFor(async () => {
      last = await getRun(h, id);
      return last.status === status ? last : null;
    }, timeoutMs, `run ${id} ${status}`);
  } catch (err) {
    throw new Error(`${(err as Error).message}; last state ${JSON.stringify(last?.state)} status ${last?.status}`);
  }
}

export async function history(h: Harness, id: string): Promise<any[]> {
  const out: any[] = [];
  let cursor: string | null = null;
  do {
    const res: any = await h.call('GET', `/v1/runs/${id}/history?limit=500${cursor ? `&cursor=${cursor}` : ''}`, { key: 'viewer' });
    assert.is(res.status, 200);
    out.push(...res.body.items);
    cursor = res.body.nextCursor ?? null;
  } while (cursor);
  return out;
}

/** The open human task of a run in a state (waits for it). */
export async function openTask(h: Harness, runId: string, state?: string, timeoutMs = 10_000): Promise<any> {
  return waitFor(async () => {
    const res = await h.call('GET', `/v1/tasks?status=open&limit=200`, { key: 'viewer' });
    return (res.body.items as any[]).find((t) => t.runId === runId && (!state || t.state === state)) ?? null;
  }, timeoutMs, `open task of ${runId}`);
}

export async function completeTask(h: Harness, taskId: string, outcome: string, by: string, comment?: string): Promise<{ status: number; body: any }> {
  return h.call('POST', `/v1/tasks/${taskId}/complete`, { key: 'operator', body: { outcome, by, ...(comment ? { comment } : {}) } });
}

export async function children(h: Harness, parentRunId: string, workflow?: string): Promise<any[]> {
  const res = await h.call('GET', `/v1/runs?parentRunId=${parentRunId}&limit=100${workflow ? `&workflow=${workflow}` : ''}`, { key: 'viewer' });
  assert.is(res.status, 200);
  return res.body.items;
}

export async function waitForChild(h: Harness, parentRunId: string, workflow: string, count = 1, timeoutMs = 10_000): Promise<any[]> {
  return waitFor(async () => {
    const items = await children(h, parentRunId, workflow);
    return items.length >= count ? items : null;
  }, timeoutMs, `${count} ${workflow} children of ${parentRunId}`);
}

export function measures(entries: any[], name: string): any[] {
  return entries.filter((e) => e.type === 'measure.recorded' && e.measure === name);
}

export const iso = (ms: number): string => new Date(ms).toISOString();
