// The HTTP calls every model's tests make: send an event (asserting it was applied) and read a run.
import * as assert from 'uvu/assert';
import type { Harness } from '../api/harness.ts';

export function send(h: Harness, id: string, event: Record<string, unknown>, headers?: Record<string, string>): Promise<{ status: number; body: any }> {
  return h.call('POST', `/v1/runs/${id}/events`, { key: 'operator', body: event, headers });
}

export async function sendOk(h: Harness, id: string, event: Record<string, unknown>): Promise<any> {
  const res = await send(h, id, event);
  assert.is(res.status, 200, `${String(event.type)}: ${JSON.stringify(res.body)}`);
  return res.body.run;
}

export async function getRun(h: Harness, id: string): Promise<any> {
  const res = await h.call('GET', `/v1/runs/${id}`, { key: 'viewer' });
  assert.is(res.status, 200);
  return res.body;
}
