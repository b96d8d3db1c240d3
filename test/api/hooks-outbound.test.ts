// Updates back to the tool a run came from: an incident opened from a GitHub issue writes its closing
// state and priority back through the signed outbound webhook configured for GitHub; a run from any
// other source, or with nothing configured, only records what it would have sent.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, type Harness } from './harness.ts';
import { SECRETS, fixture, postHook } from './hooks-util.ts';
import { adaptersFromEnv } from '../../workers/adapters/index.ts';
import { waitFor } from '../helpers.ts';

interface Received {
  headers: Record<string, string | string[] | undefined>;
  raw: string;
}
const OUT_SECRET = 'outbound-github-secret';
const test = suite<{ h: Harness; receiver: Server; received: Received[] }>('hooks outbound', {} as { h: Harness; receiver: Server; received: Received[] });

test.before(async (ctx) => {
  ctx.received = [];
  ctx.receiver = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      ctx.received.push({ headers: req.headers, raw });
      res.writeHead(200).end('{}');
    });
  });
  await new Promise<void>((r) => ctx.receiver.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(ctx.receiver.address() as AddressInfo).port}/github-bridge`;
  // Configured the way the process reads it from the environment.
  const adapters = adaptersFromEnv({ SERVICECHART_OUTBOUND_GITHUB: `webhook ${url}`, SERVICECHART_OUTBOUND_GITHUB_SECRET: OUT_SECRET });
  ctx.h = await startHarness({ hooks: { secrets: { ...SECRETS } }, adapters });
});
test.after(async (ctx) => {
  await ctx.h.close();
  await new Promise((r) => ctx.receiver.close(r));
});

async function close(h: Harness, runId: string, caller: string): Promise<void> {
  for (const body of [{ type: 'RESOLVE', by: 'ana', comment: 'rolled back the bad config' }, { type: 'CONFIRM_CLOSURE', by: caller }]) {
    const r = await h.call('POST', `/v1/runs/${runId}/events`, { key: 'operator', body });
    assert.is(r.status, 200, JSON.stringify(r.body));
  }
  await waitFor(async () => (await h.engine.getRun(runId)).status === 'done', 10_000, 'the incident closed');
}

test('an incident from a GitHub issue writes its closing state and priority back to GitHub, signed, once', async ({ h, received }) => {
  const issue = fixture('github-issues-opened');
  issue.issue.number = 77;
  const res = await postHook(h, 'github', issue, { 'x-github-event': 'issues', 'x-github-delivery': 'outbound-1' });
  assert.is(res.status, 202, JSON.stringify(res.body));
  const runId = res.body.results[0].runId as string;
  const run = await h.engine.getRun(runId);
  await close(h, runId, String((run.context as { caller: string }).caller));

  const got = await waitFor(() => (received.length >= 2 ? received : null), 10_000, 'the resolve and the closing update at the GitHub bridge');
  await new Promise((r) => setTimeout(r, 300));
  assert.is(got.length, 2, 'one POST per effect, none repeated');
  const resolvedBody = JSON.parse(got[0].raw);
  assert.is(resolvedBody.task, 'resolve_external_alert');
  assert.is(resolvedBody.payload.key, `${issue.repository.full_name}#77`);
  assert.match(resolvedBody.payload.summaryText, /is resolved/);
  const [, { headers, raw }] = got;
  assert.is(headers['x-servicechart-signature-256'], `sha256=${createHmac('sha256', OUT_SECRET).update(raw).digest('hex')}`, 'signed over the exact body');
  assert.ok(String(headers['idempotency-key']).length > 8, 'the task idempotency key travels with it');
  const body = JSON.parse(raw);
  assert.is(body.task, 'update_external_ticket');
  assert.is(body.runId, runId);
  assert.is(body.payload.tool, 'github');
  assert.is(body.payload.ticketRef, `${issue.repository.full_name}#77`);
  assert.is(body.payload.state, 'closed');
  assert.is(body.payload.priority, (run.context as { priority: number }).priority);
  assert.match(body.payload.summaryText, /is closed \(priority P\d\)/);
});

test('an incident started through the API closes without calling GitHub: the update is recorded in its history', async ({ h, received }) => {
  const before = received.length;
  const start = await h.call('POST', '/v1/runs', { key: 'operator', body: { workflow: 'incident', input: { title: 'disk full', impact: 3, urgency: 3, caller: 'cal' } } });
  assert.is(start.status, 201);
  await close(h, start.body.id, 'cal');
  const history = await h.call('GET', `/v1/runs/${start.body.id}/history?limit=500`, { key: 'viewer' });
  assert.ok(history.body.items.some((e: { type: string }) => e.type === 'update_external_ticket.recorded'), 'recorded, not sent');
  assert.is(received.length, before, 'nothing reached the GitHub bridge');
});

test('a malformed outbound setting stops the process with a clear message', () => {
  assert.throws(() => adaptersFromEnv({ SERVICECHART_OUTBOUND_JIRA: 'email ops@example.com' }), /SERVICECHART_OUTBOUND_JIRA: expected "webhook <https:\/\/...>"/);
});

test.run();
