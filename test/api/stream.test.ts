// GET /v1/runs/:id/stream: new history entries arrive as Server-Sent Events, whichever process applied them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Redis } from 'ioredis';
import { startHarness, type Harness } from './harness.ts';
import { testTasks, testWorkflows } from '../fixtures/workflows.ts';
import { connect, waitFor } from '../helpers.ts';
import { createEngine } from '../../engine/index.ts';
import { builtInTasks } from '../../workers/tasks/index.ts';

const test = suite<{ h: Harness; side: Redis }>('stream', {} as { h: Harness; side: Redis });

test.before(async (ctx) => {
  ctx.side = await connect();
  ctx.h = await startHarness({ workflows: testWorkflows, tasks: testTasks(ctx.side, 'side') });
});
test.after(async (ctx) => {
  await ctx.h.close();
  await ctx.side.quit();
});

async function readEvents(res: Response, count: number, timeoutMs: number): Promise<{ id: number; data: any }[]> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const events: { id: number; data: any }[] = [];
  let buf = '';
  const deadline = Date.now() + timeoutMs;
  while (events.length < count && Date.now() < deadline) {
    const chunk = await Promise.race([reader.read(), new Promise<{ done: true; value: undefined }>((r) => setTimeout(() => r({ done: true, value: undefined }), deadline - Date.now()))]);
    if (chunk.done) break;
    buf += decoder.decode(chunk.value, { stream: true });
    let idx: number;
    while ((idx = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, idx);
      buf = buf.slice(idx + 2);
      const id = /^id: (\d+)$/m.exec(block);
      const data = /^data: (.*)$/m.exec(block);
      if (id && data) events.push({ id: Number(id[1]), data: JSON.parse(data[1]) });
    }
  }
  await reader.cancel();
  return events;
}

test('events applied by another process arrive on the stream as history entries, in order', async ({ h }) => {
  const { body: run } = await h.call('POST', '/v1/runs', { body: { workflow: 'counter' } });
  const res = await fetch(`${h.url}/v1/runs/${run.id}/stream`, { headers: { authorization: 'Bearer viewer-key-123456' } });
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', 'text/event-stream');
  // Another engine on its own connection plays the part of another API process.
  const other = await connect();
  const engine2 = createEngine({ redis: other, prefix: h.prefix, partitions: h.engine.keys.partitions, workflows: testWorkflows, tasks: [...builtInTasks, ...testTasks(other, 'x')] });
  const reading = readEvents(res, 3, 5000);
  await new Promise((r) => setTimeout(r, 100));
  await engine2.sendEvent(run.id, { type: 'INC' });
  await engine2.sendEvent(run.id, { type: 'PAUSE' });
  const events = await reading;
  assert.equal(events.map((e) => e.data.type), ['event.received', 'event.received', 'state.entered']);
  assert.equal(events.map((e) => e.data.event ?? e.data.state), ['INC', 'PAUSE', 'paused']);
  assert.ok(events[0].id < events[1].id && events[1].id < events[2].id);
  await engine2.close();
  await other.quit();
});

test('Last-Event-ID resumes after the given entry', async ({ h }) => {
  const { body: run } = await h.call('POST', '/v1/runs', { body: { workflow: 'counter' } });
  await h.call('POST', `/v1/runs/${run.id}/events`, { body: { type: 'INC' } });
  const res = await fetch(`${h.url}/v1/runs/${run.id}/stream`, { headers: { authorization: 'Bearer viewer-key-123456', 'last-event-id': '1' } });
  const events = await readEvents(res, 2, 3000);
  assert.equal(events.map((e) => e.id), [2, 3]);
});

test('the stream needs a key and answers 404 for an unknown run', async ({ h }) => {
  assert.is((await fetch(`${h.url}/v1/runs/rnope0000000/stream`)).status, 401);
  assert.is((await fetch(`${h.url}/v1/runs/rnope0000000/stream`, { headers: { authorization: 'Bearer viewer-key-123456' } })).status, 404);
  await waitFor(() => true);
});

test.run();
