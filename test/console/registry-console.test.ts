// The registry pages of the web console in real Chromium against the real app: import (the worked
// example pasted), a CI with its dependency diagram, impact and audit history, a service with the open
// runs touching it, and an admin's edit and refused delete shown with their problems.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startHarness, KEYS, type Harness } from '../api/harness.ts';

interface Ctx { h: Harness; context: BrowserContext; page: Page; profile: string; problems: string[] }
const test = suite<Ctx>('console registry', {} as Ctx);
const example = readFileSync(new URL('../../docs/examples/registry.jsonl', import.meta.url), 'utf8');

test.before(async (ctx) => {
  ctx.h = await startHarness({ consume: false });
  ctx.profile = mkdtempSync(join(tmpdir(), 'sc-chromium-'));
  ctx.context = await chromium.launchPersistentContext(ctx.profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1366, height: 900 },
  });
  ctx.page = ctx.context.pages()[0] ?? (await ctx.context.newPage());
  ctx.problems = [];
  ctx.page.on('pageerror', (err) => ctx.problems.push(`page error: ${err.message}`));
  ctx.page.on('console', (msg) => { if (msg.type() === 'error' && !/status of 4(09|22) /.test(msg.text())) ctx.problems.push(`console: ${msg.text()}`); });
});

test.after(async (ctx) => {
  await ctx.context?.close();
  rmSync(ctx.profile, { recursive: true, force: true });
  await ctx.h.close();
});

test('an admin imports the worked example from the console; a bad line is reported with its line number first', async ({ h, page }) => {
  await page.goto(h.url + '/#/registry');
  await page.getByLabel('API key').fill(KEYS.admin);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Registry import and export', level: 1 }).waitFor();
  const bad = example.split('\n');
  bad[1] = bad[1].replace('"criticality":4', '"criticality":9');
  await page.locator('#import-text').fill(bad.join('\n'));
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await page.locator('#import-out [role=alert]', { hasText: 'line 2' }).waitFor();
  assert.ok((await page.locator('#import-out').textContent())?.includes('/criticality'));
  await page.locator('#import-text').fill(example);
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await page.locator('#import-out [role=status]', { hasText: '13 created' }).waitFor();
});

test('a CI page draws its dependencies and lists the services and open runs it affects, and its audit history', async ({ h, page }) => {
  const run = await h.call('POST', '/v1/runs', { key: 'operator', body: { workflow: 'incident', input: { title: 'Orders slow', ci: 'db-orders', caller: 'cal' } } });
  assert.is(run.status, 201);
  await page.goto(h.url + '/#/cis/san-01');
  await page.getByRole('heading', { name: 'CI san-01', level: 1 }).waitFor();
  await page.locator('#ci-diagram svg g.node.focus[data-node="ci:san-01"]').waitFor();
  assert.ok(await page.locator('#ci-diagram svg g.node[data-node="service:checkout"]').count() === 1);
  const services = await page.locator('#impact-services li').allTextContents();
  assert.equal(services.map((s) => s.split(' ')[0]), ['checkout', 'payments', 'intranet']);
  await page.locator(`tr[data-run="${run.body.id}"]`).first().waitFor();
  assert.ok((await page.locator('#audit').textContent())?.includes('create by admin (import)'));
  await page.goto(h.url + '/#/services/checkout');
  await page.getByRole('heading', { name: 'Service checkout', level: 1 }).waitFor();
  await page.locator(`tr[data-run="${run.body.id}"]`).waitFor();
  assert.ok((await page.locator('main').textContent())?.includes('PD-CHECKOUT'));
});

test('an admin edits a service (problems at their paths), and a refused delete names what refers to it', async ({ h, page }) => {
  await page.goto(h.url + '/#/services/intranet');
  await page.locator('#entry-json').waitFor();
  const doc = JSON.parse(await page.locator('#entry-json').inputValue());
  await page.locator('#entry-json').fill(JSON.stringify({ ...doc, criticality: 0 }));
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('#entry-out [role=alert]', { hasText: '/body/criticality' }).waitFor();
  await page.locator('#entry-json').fill(JSON.stringify({ ...doc, title: 'Staff intranet (new)' }));
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('#entry-out [role=status]', { hasText: 'Saved' }).waitFor();
  assert.is((await h.call('GET', '/v1/services/intranet')).body.title, 'Staff intranet (new)');
  page.once('dialog', (d) => void d.accept());
  await page.getByRole('button', { name: 'Delete' }).click();
  await page.locator('#entry-out [role=alert]', { hasText: 'CONFLICT' }).waitFor();
  assert.ok((await page.locator('#entry-out').textContent())?.includes('ci:db-intranet'));
  // A viewer sees the pages without the editor.
  await page.evaluate(() => sessionStorage.clear());
  await page.goto(h.url + '/#/cis');
  await page.getByLabel('API key').fill(KEYS.viewer);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('tr[data-ci="web-02"]').waitFor();
  assert.is(await page.locator('#entry-editor').count(), 0);
});

test('no page errors', async ({ problems }) => {
  assert.equal(problems, []);
});

test.run();
