// The console's task types page (the live task catalog, conflicts and unserved types called out) and the
// run page marking a task no live worker serves, in real Chromium against the real app.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startHarness, KEYS, type Harness } from '../api/harness.ts';
import { waitFor } from '../helpers.ts';

interface Ctx { h: Harness; context: BrowserContext; page: Page; profile: string; problems: string[] }
const test = suite<Ctx>('console task types', {} as Ctx);

test.before(async (ctx) => {
  ctx.h = await startHarness({ workerTtlMs: 60_000 });
  ctx.h.engine.startUnservedWatch({ alertMs: 300, everyMs: 100 });
  const res = await ctx.h.call('POST', '/v1/workflows', {
    body: { name: 'waits-cmdb', tasks: { sync_cmdb: { external: true } }, definition: { initial: 'a', states: { a: { invoke: { src: 'sync_cmdb', onDone: 'b' } }, b: { type: 'final' } } } },
  });
  assert.is(res.status, 201, JSON.stringify(res.body));
  ctx.profile = mkdtempSync(join(tmpdir(), 'sc-chromium-'));
  ctx.context = await chromium.launchPersistentContext(ctx.profile, {
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  ctx.page = ctx.context.pages()[0] ?? (await ctx.context.newPage());
  ctx.problems = [];
  ctx.page.on('pageerror', (err) => ctx.problems.push(`page error: ${err.message}`));
});

test.after(async (ctx) => {
  await ctx.context?.close();
  rmSync(ctx.profile, { recursive: true, force: true });
  await ctx.h.close();
});

test('a run waiting on an unserved task says so; the task types page lists workers, unserved types and conflicts', async ({ h, page, problems }) => {
  const run = await h.call('POST', '/v1/runs', { body: { workflow: 'waits-cmdb' } });
  await waitFor(async () => (await h.call('GET', `/v1/runs/${run.body.id}/history`)).body.items.some((e: { type: string }) => e.type === 'task.unserved'), 10_000, 'task.unserved');
  const schema = (required: string) => ({ name: 'open_ticket', output: { type: 'object', required: [required] } });
  await h.engine.publishWorker({ workerId: 'team-a', kind: 'package', version: '1.0.0' }, [schema('ticketId')]);
  await h.engine.publishWorker({ workerId: 'team-b', kind: 'package', version: '1.0.0' }, [schema('key')]);

  await page.goto(h.url + '/');
  await page.getByLabel('API key').fill(KEYS.viewer);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.goto(`${h.url}/#/runs/${run.body.id}`);
  await page.getByText('no live worker serves sync_cmdb').waitFor();
  await page.locator('#timeline').getByText('task.unserved').waitFor();

  await page.getByRole('link', { name: 'Task types' }).click();
  await page.getByRole('heading', { name: 'Task types' }).waitFor();
  assert.match(await page.locator('#tt-unserved').innerText(), /sync_cmdb/);
  assert.match(await page.locator('#tt-conflicts').innerText(), /open_ticket \(team-a, team-b\)/);
  const sleepRow = page.locator('tr[data-type="sleep"]');
  assert.match(await sleepRow.innerText(), /in-process/);
  assert.match(await sleepRow.innerText(), /in-process · /, 'the harness worker is listed live');
  assert.match(await page.locator('tr[data-type="sync_cmdb"]').innerText(), /external\s+none\s+1/);
  assert.equal(problems, []);
});

test.run();
