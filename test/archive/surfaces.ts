// The console (real Chromium) and the CLI (the real binary) showing archived runs.
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { KEYS, type Harness } from '../api/harness.ts';

const bin = new URL('../../bin/servicechart.js', import.meta.url).pathname;

export function cli(args: string[], env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const limit = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(limit);
      resolve({ code: code ?? -1, out, err });
    });
  });
}

/** `runs get`, `runs list --archived` and `archive export` (straight from the store `storeEnv` names). */
export async function checkCli(h: Harness, ids: string[], storeEnv: Record<string, string>): Promise<void> {
  const env = { SERVICECHART_URL: h.url, SERVICECHART_API_KEY: KEYS.viewer };
  const got = await cli(['runs', 'get', ids[0]], env);
  assert.is(got.code, 0, got.err);
  assert.match(got.out, /archived\s+yes/);
  const listed = await cli(['--json', 'runs', 'list', '--archived', '--limit', '500'], env);
  assert.is(listed.code, 0, listed.err);
  assert.equal(JSON.parse(listed.out).items.map((r: any) => r.id).sort(), [...ids].sort());
  const day = new Date().toISOString().slice(0, 10);
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  const exported = await cli(['archive', 'export', '--since', day, '--until', tomorrow], storeEnv);
  assert.is(exported.code, 0, exported.err);
  const lines = exported.out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  assert.equal(lines.map((l) => l.run.id).sort(), [...ids].sort(), 'export writes each archived run once');
  assert.ok(lines.every((l) => l.format === 'servicechart.archived-run' && l.v === 1 && l.history.length > 0));
  const none = await cli(['archive', 'export', '--since', tomorrow], storeEnv);
  assert.is(none.code, 0, none.err);
  assert.is(none.out, '');
}

/** The archived list and an archived run's page, with its history, in the console. */
export async function checkConsole(h: Harness, id: string): Promise<void> {
  const profile = mkdtempSync(join(tmpdir(), 'sc-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const problems: string[] = [];
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => problems.push(err.message));
    await page.goto(h.url + '/');
    await page.getByLabel('API key').fill(KEYS.viewer);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Runs', level: 1 }).waitFor();
    assert.is(await page.locator(`tr[data-run="${id}"]`).count(), 0, 'the live list no longer has it');
    await page.getByLabel('Archived (past retention)').check();
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.locator(`tr[data-run="${id}"]`).waitFor({ timeout: 5000 });
    await page.locator(`tr[data-run="${id}"] a`).click();
    await page.locator('#run-archived').waitFor({ timeout: 5000 });
    await page.locator('#timeline li').first().waitFor({ timeout: 5000 });
    assert.ok((await page.locator('#timeline li').count()) > 1, 'the archived history is shown');
    assert.is(await page.locator('#stream-state').textContent(), '(archived)');
    assert.equal(problems, []);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
