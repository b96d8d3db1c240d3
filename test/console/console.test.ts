// The web console in real Chromium against the real app: sign-in, a live run page, the inbox,
// workflow registration problems, and run data shown as text, never as markup.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startHarness, KEYS, type Harness } from '../api/harness.ts';
import { waitFor } from '../helpers.ts';

interface Ctx { h: Harness; context: BrowserContext; page: Page; profile: string; problems: string[] }
const test = suite<Ctx>('console', {} as Ctx);

/** A JSON workflow with one human task (test/fixtures/approval.json). */
const approval = JSON.parse(readFileSync(new URL('../fixtures/approval.json', import.meta.url), 'utf8'));
const noted = {
  initial: 'open',
  context: { note: { $input: 'note', default: '' }, sla: { $input: 'sla', default: {} } },
  states: { open: { on: { CLOSE: 'closed' } }, closed: { type: 'final' } },
};
const XSS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';

test.before(async (ctx) => {
  ctx.h = await startHarness();
  for (const [name, definition] of [['approval', approval], ['noted', noted]] as const) {
    const res = await ctx.h.call('POST', '/v1/workflows', { body: { name, definition } });
    assert.is(res.status, 201);
  }
  ctx.profile = mkdtempSync(join(tmpdir(), 'sc-chromium-'));
  // A persistent context is how Playwright passes a fresh --user-data-dir (it refuses the flag in args).
  ctx.context = await chromium.launchPersistentContext(ctx.profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1366, height: 900 },
  });
  ctx.page = ctx.context.pages()[0] ?? (await ctx.context.newPage());
  ctx.problems = [];
  ctx.page.on('pageerror', (err) => ctx.problems.push(`page error: ${err.message}`));
  ctx.page.on('console', (msg) => { if (msg.type() === 'error') ctx.problems.push(`console: ${msg.text()}`); });
});

test.after(async (ctx) => {
  await ctx.context?.close();
  rmSync(ctx.profile, { recursive: true, force: true });
  await ctx.h.close();
});

test('the page is served with a strict CSP; a wrong key is refused and the right one signs in with its role', async ({ h, page }) => {
  const res = await fetch(h.url + '/');
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  assert.is((await fetch(h.url + '/console/..%2fpackage.json')).status, 422);

  await page.goto(h.url + '/');
  await page.getByLabel('API key').fill('not-a-key-123456');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'UNAUTHENTICATED' }).waitFor();
  await page.getByLabel('API key').fill(KEYS.admin);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Runs', level: 1 }).waitFor();
  assert.ok((await page.locator('#who').textContent())?.includes('admin'));
  assert.is(await page.evaluate(() => localStorage.length), 0, 'the key is not kept in localStorage');
});

test('a run started from the console shows its diagram, and an event sent from outside moves the highlight within a second', async ({ h, page }) => {
  await page.locator('summary', { hasText: 'Start a run' }).click();
  await page.locator('#s-workflow').selectOption('demo');
  await page.locator('#s-input').fill('{"sleepMs": 60000, "coolDownMs": 60000}');
  await page.locator('#s-bk').fill('CONSOLE-1');
  await page.getByRole('button', { name: 'Start run' }).click();
  await page.waitForURL(/#\/runs\/.+/);
  const id = decodeURIComponent(page.url().split('#/runs/')[1]);
  const active = (state: string) => page.locator(`figure.diagram g.state.active[data-state="${state}"][aria-current="true"]`);
  await active('working').waitFor({ timeout: 5000 });
  await page.getByRole('button', { name: 'SKIP', exact: true }).waitFor();
  await page.locator('#stream-state', { hasText: 'live' }).waitFor();

  const sent = await h.call('POST', `/v1/runs/${id}/events`, { body: { type: 'SKIP' } });
  assert.is(sent.status, 200);
  const t0 = Date.now();
  await active('coolingDown').waitFor({ timeout: 1500 });
  assert.ok(Date.now() - t0 < 1500, `highlight moved in ${Date.now() - t0} ms`);
  assert.is(await active('working').count(), 0);
  await page.locator('#timeline li', { hasText: 'coolingDown' }).first().waitFor();
  await page.locator('.countdown').first().waitFor();
  // docs/run-page.png is rewritten only when missing or asked for, so test runs leave the tree clean.
  const shot = await page.screenshot({ fullPage: false });
  assert.is(shot.subarray(1, 4).toString(), 'PNG');
  const docsShot = new URL('../../docs/run-page.png', import.meta.url).pathname;
  if (process.env.UPDATE_SCREENSHOTS === '1' || !existsSync(docsShot)) writeFileSync(docsShot, shot);

  await page.getByRole('button', { name: 'FINISH', exact: true }).click();
  await page.getByRole('button', { name: 'Send FINISH' }).click();
  await active('finished').waitFor({ timeout: 3000 });
  await waitFor(async () => (await h.call('GET', `/v1/runs/${id}`)).body.status === 'done', 3000, 'the run to end');
});

test('an approval completes from the inbox, and a completion the server refuses shows its error', async ({ h, page }) => {
  const first = (await h.call('POST', '/v1/runs', { body: { workflow: 'approval' } })).body;
  const second = (await h.call('POST', '/v1/runs', { body: { workflow: 'approval' } })).body;
  const tasks = (await h.call('GET', '/v1/tasks?workflow=approval')).body.items;
  const taskOf = (run: { id: string }) => tasks.find((t: { runId: string }) => t.runId === run.id);
  await page.goto(`${h.url}/#/inbox?workflow=approval`);
  const card = (run: { id: string }) => page.locator(`li[data-task="${taskOf(run).id}"]`);
  await card(first).waitFor();
  await card(first).getByLabel('Outcome').selectOption('APPROVE');
  await card(first).getByLabel('Your name').fill('Ada Lovelace');
  await card(first).getByLabel('Comment').fill('looks safe');
  await card(first).getByRole('button', { name: 'Complete' }).click();
  await card(first).getByRole('status').waitFor();
  const run = (await h.call('GET', `/v1/runs/${first.id}`)).body;
  assert.is(run.state, 'approved');
  const history = (await h.call('GET', `/v1/runs/${first.id}/history?limit=100`)).body.items;
  assert.ok(JSON.stringify(history).includes('Ada Lovelace'), 'history records who completed it');

  // Someone else completes the second task first; the console shows the contract's refusal.
  await card(second).getByLabel('Your name').waitFor();
  assert.is(await card(second).getByLabel('Your name').inputValue(), 'Ada Lovelace', 'the name is remembered');
  await card(second).getByLabel('Outcome').selectOption('REJECT');
  const other = await h.call('POST', `/v1/tasks/${taskOf(second).id}/complete`, { body: { outcome: 'APPROVE', by: 'bob' } });
  assert.is(other.status, 200);
  await card(second).getByRole('button', { name: 'Complete' }).click();
  await card(second).getByRole('alert').filter({ hasText: 'CONFLICT' }).waitFor();
  assert.is((await h.call('GET', `/v1/runs/${second.id}`)).body.state, 'approved', 'the refused completion changed nothing');
});

test('registering an invalid workflow shows each problem at its path, and nothing is stored', async ({ h, page }) => {
  await page.goto(`${h.url}/#/workflows`);
  await page.getByRole('heading', { name: 'Register a workflow' }).waitFor();
  await page.getByLabel('Name').fill('broken');
  await page.getByLabel(/^Definition/).fill(JSON.stringify({ initial: 'a', states: { a: { on: { GO: 'nowhere' } } } }));
  await page.getByRole('button', { name: 'Register' }).click();
  await page.locator('.problem', { hasText: '/definition/states/a/on/GO' }).waitFor();
  assert.is(await page.getByLabel(/^Definition/).getAttribute('aria-invalid'), 'true');
  assert.is((await h.call('GET', '/v1/workflows/broken')).status, 404);
});

test('markup in a run context and business key is shown as text and no script runs', async ({ h, page }) => {
  const run = (await h.call('POST', '/v1/runs', { body: { workflow: 'noted', input: { note: XSS }, businessKey: XSS } })).body;
  await page.goto(`${h.url}/#/runs/${encodeURIComponent(run.id)}`);
  await page.locator('#run-context').waitFor();
  assert.ok((await page.locator('#run-context').textContent())?.includes('<script>window.__pwned = 1</script>'));
  await page.goto(`${h.url}/#/runs?workflow=noted`);
  await page.locator(`tr[data-run="${run.id}"]`).waitFor();
  assert.ok((await page.locator(`tr[data-run="${run.id}"]`).textContent())?.includes('<img src=x'));
  assert.is(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
  assert.is(await page.locator('main img, main script').count(), 0);
});

test('a viewer signs in from the keyboard, is offered no writes, and sees a run started elsewhere appear in the list', async ({ h, context }) => {
  const page = await context.newPage();
  await page.goto(h.url + '/');
  await page.keyboard.type(KEYS.viewer);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Runs', level: 1 }).waitFor();
  assert.is(await page.locator('summary', { hasText: 'Start a run' }).count(), 0);
  const run = (await h.call('POST', '/v1/runs', { body: { workflow: 'noted', businessKey: 'LIVE-1' } })).body;
  await page.locator(`tr[data-run="${run.id}"]`).waitFor({ timeout: 5000 });
  await page.goto(`${h.url}/#/runs/${encodeURIComponent(run.id)}`);
  await page.getByText('sending events needs the operator role', { exact: false }).waitFor();
  assert.is(await page.getByRole('button', { name: 'CLOSE', exact: true }).count(), 0);
  await page.goto(`${h.url}/#/workflows`);
  await page.getByText('Registering workflows needs the admin role.').waitFor();
  await page.close();
});

test('an admin opens the read-only queue board from the console; without its session cookie it answers 401', async ({ h, context }) => {
  assert.is((await fetch(`${h.url}/admin/queues`)).status, 401);
  assert.is((await fetch(`${h.url}/admin/queues`, { headers: { cookie: 'sc_board=eyJuIjoiYWRtaW4iLCJleHAiOjk5OTk5OTk5OTk5OTl9.forged' } })).status, 401);
  const page = await context.newPage();
  await page.goto(`${h.url}/#/runs`);
  await page.getByLabel('API key').fill(KEYS.admin);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const queues = page.waitForResponse((r) => r.url().includes('/admin/queues/api/queues'), { timeout: 10_000 }).catch(() => null);
  await page.getByRole('button', { name: 'Queue board' }).click();
  await page.waitForURL(/\/admin\/queues/);
  const res = await queues;
  assert.ok(res, 'the board asked for its queues');
  assert.is(res!.status(), 200);
  const body = await res!.json();
  assert.equal(body.queues.map((q: { name: string }) => q.name).sort(), ['tasks', 'timers']);
  await page.close();
});

test('the measures page charts every KPI per day with its run counts, from an incident driven here', async ({ h, page }) => {
  // An incident opened yesterday at noon UTC, acknowledged 5 minutes later (tool times in input and event).
  const DAY = 86_400_000;
  const opened = Math.floor(Date.now() / DAY) * DAY - DAY + 12 * 3600_000;
  const start = await h.call('POST', '/v1/runs', { body: { workflow: 'incident', input: { title: 'checkout slow', impact: 2, urgency: 2, openedAt: new Date(opened).toISOString() } } });
  assert.is(start.status, 201);
  const ack = await h.call('POST', `/v1/runs/${start.body.id}/events`, { body: { type: 'ACKNOWLEDGE', by: 'ana', at: new Date(opened + 5 * 60_000).toISOString() } });
  assert.is(ack.status, 200);
  await waitFor(async () => (await h.call('GET', '/v1/kpis?workflow=incident')).body.kpis.find((k: { name: string }) => k.name === 'mtta').count === 1, 5000, 'the MTTA measure');
  const served = await h.call('GET', '/v1/kpis?workflow=incident');

  await page.goto(`${h.url}/#/measures?workflow=incident&bucket=day&buckets=3`);
  await page.getByRole('heading', { name: 'Measures', level: 1 }).waitFor();
  await page.locator('section.chart').first().waitFor();
  assert.is(await page.locator('section.chart').count(), served.body.kpis.length, 'one chart per KPI');
  const mtta = page.locator('section.chart[data-kpi="mtta"]');
  assert.match((await mtta.locator('h2').textContent()) ?? '', /Mean time to acknowledge/);
  assert.is(await mtta.locator('svg.bar-chart text', { hasText: /^n=\d+$/ }).count(), 3, 'a bar per day, each with its run count');
  const yesterday = mtta.locator('tbody tr', { hasText: new Date(opened).toISOString().slice(5, 10) });
  const cells = await yesterday.locator('td').allTextContents();
  assert.equal(cells.slice(1), ['5m 0s', '1'], 'yesterday: MTTA 5 minutes from one run');
  const today = await mtta.locator('tbody tr').last().locator('td').allTextContents();
  assert.equal(today.slice(1), ['—', '0'], 'today: no run opened, no figure');
});

test('SLA clocks in the context show elapsed against target and whether each is paused, met or breached', async ({ h, page }) => {
  const start = Date.parse('2026-01-01T10:00:00Z');
  const sla = {
    response: { startedAt: new Date(start).toISOString(), dueAt: new Date(start + 15 * 60_000).toISOString(), elapsedMs: 5 * 60_000, pausedMs: 0, paused: true, breached: false, met: false },
    resolution: { startedAt: new Date(start).toISOString(), dueAt: new Date(start + 4 * 3600_000).toISOString(), elapsedMs: 5 * 3600_000, pausedMs: 0, paused: false, breached: true, met: false },
  };
  const run = (await h.call('POST', '/v1/runs', { body: { workflow: 'noted', input: { sla } } })).body;
  await page.goto(`${h.url}/#/runs/${encodeURIComponent(run.id)}`);
  const clock = (name: string) => page.locator('.slas li', { hasText: name });
  await clock('response').waitFor();
  assert.match((await clock('response').textContent()) ?? '', /paused.*elapsed 5m 0s of 15m 0s/);
  assert.ok((await clock('response').getAttribute('class'))?.includes('sla-paused'));
  assert.match((await clock('resolution').textContent()) ?? '', /breached.*elapsed 5h 0m of 4h 0m/);
});

test('the pages raised no script errors', ({ problems }) => {
  assert.equal(problems.filter((p) => !/status of (401|404|409|422)/.test(p)), []);
});

test.run();
