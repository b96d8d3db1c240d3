// Webhook signatures (published test vectors), mapping files (validation, expressions, overrides
// through SERVICECHART_MAPPINGS_DIR) and the process refusing to start with a bad mapping file.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startHarness, type Harness } from './harness.ts';
import { SECRETS, fixture, postHook, getRun } from './hooks-util.ts';
import { hmacHex, safeEqual, verifyHook } from '../../api/hooks/verify.ts';
import { DEFAULT_MAPPINGS_DIR, loadMappings, parseMapping } from '../../api/hooks/mappings.ts';
import { evaluate, matches, type Scope } from '../../api/hooks/expr.ts';

const test = suite<{ h: Harness | null; dir: string }>('hooks mappings', { h: null, dir: '' });

test.after(async (ctx) => {
  await ctx.h?.close();
});

const headersOf = (h: Record<string, string>) => (name: string) => h[name.toLowerCase()] ?? '';

test("signatures: GitHub's published test vector, and each source's header", () => {
  assert.is(`sha256=${hmacHex("It's a Secret to Everybody", Buffer.from('Hello, World!'))}`, 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17');
  const raw = Buffer.from('Hello, World!');
  const good = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
  assert.ok(verifyHook('github', "It's a Secret to Everybody", headersOf({ 'x-hub-signature-256': good }), raw).ok);
  assert.not.ok(verifyHook('github', "It's a Secret to Everybody", headersOf({ 'x-hub-signature-256': good.replace('7571', '7572') }), raw).ok);
  assert.not.ok(verifyHook('github', "It's a Secret to Everybody", headersOf({ 'x-hub-signature': good }), raw).ok, 'GitHub uses the -256 header');
  assert.ok(verifyHook('jira', "It's a Secret to Everybody", headersOf({ 'x-hub-signature': good }), raw).ok);
  assert.ok(verifyHook('generic', "It's a Secret to Everybody", headersOf({ 'x-signature-256': good }), raw).ok);
  assert.ok(verifyHook('pagerduty', "It's a Secret to Everybody", headersOf({ 'x-pagerduty-signature': `v1=00ff, ${good.replace('sha256=', 'v1=')}` }), raw).ok);
  assert.ok(verifyHook('alertmanager', 's3cret', headersOf({ authorization: 'Bearer s3cret' }), raw).ok);
  assert.not.ok(verifyHook('servicenow', 's3cret', headersOf({ authorization: 'Bearer s3cret-longer' }), raw).ok);
  const unset = verifyHook('jira', undefined, headersOf({}), raw);
  assert.ok(!unset.ok && /SERVICECHART_HOOK_SECRET_JIRA/.test(unset.reason));
  assert.ok(safeEqual('a', 'a'));
  assert.not.ok(safeEqual('a', 'ab'));
});

test('every built-in mapping file loads', () => {
  const all = loadMappings();
  assert.equal(Object.keys(all).sort(), ['alertmanager', 'generic', 'github', 'grafana', 'jira', 'pagerduty', 'servicenow']);
});

test('an invalid mapping file is refused with the file and the JSON path', () => {
  const text = readFileSync(join(DEFAULT_MAPPINGS_DIR, 'jira.json'), 'utf8');
  const broken = JSON.parse(text);
  broken.rules[1].start.workflow = { path: '/x', as: 'date' };
  try {
    parseMapping('custom/jira.json', JSON.stringify(broken), 'jira');
    assert.unreachable();
  } catch (err) {
    assert.match((err as Error).message, /custom\/jira\.json/);
    assert.match((err as Error).message, /\/rules\/1\/start\/workflow/);
  }
  const unknownField = JSON.parse(text);
  unknownField.rules[0].start.input.impact.path = '/issue/fields/@severity/value';
  assert.throws(() => parseMapping('j.json', JSON.stringify(unknownField), 'jira'), /@severity is not named in "fields"/);
  assert.throws(() => parseMapping('j.json', '{"source": "jira", "rules": [', 'jira'), /j\.json: not valid JSON/);
  assert.throws(() => parseMapping('j.json', JSON.stringify({ source: 'jira', rules: [{ when: { '/a': 1 } }] }), 'jira'), /j\.json: invalid mapping at \/rules\/0/);
});

test('expressions: paths with * and @name, templates, match, map, first, as iso; conditions', () => {
  const scope: Scope = {
    item: { labels: [{ name: 'bug' }, { name: 'sev3' }], n: 7, sn: '2026-02-10 22:00:00', jira: '2026-03-10T22:00:00.000+0000', f: { customfield_1: { value: 'High' } } },
    body: { repo: 'acme/shop' }, headers: { 'x-github-event': 'issues' }, fields: { sev: 'customfield_1' },
  };
  assert.equal(evaluate({ path: '/labels/*/name' }, scope), ['bug', 'sev3']);
  assert.is(evaluate({ path: '/labels/*/name', match: '^(?:sev|[Pp])([1-5])$', as: 'number' }, scope), 3);
  assert.is(evaluate({ template: '{^/repo}#{/n}' }, scope), 'acme/shop#7');
  assert.is(evaluate({ template: '{^/repo}#{/missing}' }, scope), undefined);
  assert.is(evaluate({ path: '/f/@sev/value', map: { high: 1 } }, scope), 1, 'map falls back to a case-insensitive key');
  assert.is(evaluate({ first: [{ path: '/nope' }, { literal: 'x' }] }, scope), 'x');
  assert.is(evaluate({ path: '/sn', as: 'iso' }, scope), '2026-02-10T22:00:00.000Z');
  assert.is(evaluate({ path: '/jira', as: 'iso' }, scope), '2026-03-10T22:00:00.000Z');
  assert.is(evaluate({ path: '/nope', default: 2 }, scope), 2);
  assert.equal(evaluate({ a: { path: '/n' }, b: { path: '/nope' } }, scope), { a: 7 });
  assert.ok(matches({ 'header:X-GitHub-Event': 'issues', '/labels/*/name': { includes: 'bug' }, '/n': { in: [6, 7] } }, scope));
  assert.not.ok(matches({ '/nope': { exists: true } }, scope));
  assert.ok(matches([{ '/n': 1 }, { '/n': 7 }], scope));
});

test('SERVICECHART_MAPPINGS_DIR: a jira.json with the site\'s custom field ids replaces the default', async (ctx) => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-mappings-'));
  const jira = JSON.parse(readFileSync(join(DEFAULT_MAPPINGS_DIR, 'jira.json'), 'utf8'));
  jira.fields = { ...jira.fields, impact: 'customfield_20001', urgency: 'customfield_20002' };
  writeFileSync(join(dir, 'jira.json'), JSON.stringify(jira));
  ctx.h = await startHarness({ consume: false, hooks: { secrets: { jira: SECRETS.jira }, mappingsDir: dir } });
  const body = fixture('jira-incident-created');
  body.issue.key = `SITE-${Date.now()}`;
  body.issue.fields.customfield_20001 = { value: 'Minor / Localized', id: '1' };
  body.issue.fields.customfield_20002 = { value: 'Low', id: '2' };
  const res = await postHook(ctx.h, 'jira', body, { 'x-atlassian-webhook-identifier': `site-${Date.now()}` });
  assert.is(res.body.results[0].action, 'started');
  const run = await getRun(ctx.h, res.body.results[0].runId);
  assert.is(run.context.impact, 3, 'read from customfield_20001, not the default id');
  assert.is(run.context.urgency, 3);
  assert.is(run.context.priority, 5);
});

test('the process refuses to start with an invalid mapping file and names it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-mappings-bad-'));
  writeFileSync(join(dir, 'github.json'), JSON.stringify({ source: 'github', rules: [{ when: { '/action': 'opened' }, start: { workflow: 'incident', extra: 1 } }] }));
  const res = spawnSync(process.execPath, ['--import', 'tsx', 'bin/main.ts', 'api'], {
    cwd: new URL('../..', import.meta.url).pathname, env: { ...process.env, SERVICECHART_MAPPINGS_DIR: dir, REDIS_URL: 'redis://127.0.0.1:1', PORT: '0' }, encoding: 'utf8', timeout: 20_000,
  });
  assert.is(res.status, 1);
  assert.match(res.stderr, /github\.json: invalid mapping at \/rules\/0\/start\/extra: unknown property/);
});

test.run();
