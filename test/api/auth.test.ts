// API keys: a first start without SERVICECHART_API_KEYS generates one admin key, keeps it with mode
// 0600 and prints it once; configured keys carry roles and names; unknown keys are refused.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuth, loadApiKeys, parseApiKeys } from '../../api/auth.ts';

const test = suite('auth');
const logger = { info() {}, warn() {}, debug() {}, error() {} };

test('the first start generates an admin key, keeps it with mode 0600 and prints it once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-auth-'));
  const printed: string[] = [];
  const auth = await loadApiKeys({ env: null, dataDir: dir, logger, print: (l) => printed.push(l) });
  const file = join(dir, 'api-key');
  assert.is(statSync(file).mode & 0o777, 0o600);
  const key = readFileSync(file, 'utf8').trim();
  assert.is(printed.length, 1);
  assert.ok(printed[0].includes(key));
  assert.equal(auth.authenticate(key), { name: 'admin', role: 'admin' });
  const again = await loadApiKeys({ env: null, dataDir: dir, logger, print: (l) => printed.push(l) });
  assert.is(printed.length, 1, 'not printed again');
  assert.equal(again.authenticate(key), { name: 'admin', role: 'admin' });
  assert.is(again.authenticate(key + 'x'), null);
});

test('SERVICECHART_API_KEYS: key:role and name:key:role; bad roles and short keys are refused', () => {
  const auth = createAuth(parseApiKeys('ops-team:secret-operator-1:operator, secret-viewer-1:viewer'));
  assert.equal(auth.authenticate('secret-operator-1'), { name: 'ops-team', role: 'operator' });
  const viewer = auth.authenticate('secret-viewer-1');
  assert.is(viewer?.role, 'viewer');
  assert.match(viewer!.name, /^key-[0-9a-f]{8}$/, 'an unnamed key is named by a digest, never by the key');
  assert.is(auth.authenticate('secret-viewer-2'), null);
  assert.throws(() => parseApiKeys('k-12345678:root'), /unknown role/);
  assert.throws(() => parseApiKeys('short:admin'), /8 characters/);
});

test.run();
