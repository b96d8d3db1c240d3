// The directory archive end to end: retention moves ended runs out of Redis into gzipped JSON Lines
// files per day, and the API still serves them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDirectoryStore, parseRetention } from '../../engine/index.ts';
import { archiveScenario } from './scenario.ts';

const test = suite('archive: directory store');

test('runs past retention leave Redis for day files, once each, and stay readable through the API', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-archive-'));
  try {
    await archiveScenario({
      open: () => createDirectoryStore(dir),
      env: { SERVICECHART_ARCHIVE_DIR: dir },
      async copies() {
        let n = 0;
        for (const name of readdirSync(dir)) {
          if (!name.endsWith('.jsonl.gz')) continue;
          assert.match(name, /^\d{4}-\d{2}-\d{2}\./, 'segments are named by their UTC day');
          for (const line of gunzipSync(readFileSync(join(dir, name))).toString('utf8').split('\n').filter(Boolean)) {
            const rec = JSON.parse(line);
            assert.is(rec.format, 'servicechart.archived-run');
            assert.is(rec.v, 1);
            n++;
          }
        }
        assert.not.ok(readdirSync(dir).some((n) => n.endsWith('.tmp')), 'no temp file left');
        return n;
      },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('retention rules: per workflow, a fallback, units, keep, and refusals', () => {
  const r = parseRetention('incident=180d,change=1y,*=30d');
  assert.is(r.of('incident'), 180 * 86_400_000);
  assert.is(r.of('change'), 365 * 86_400_000);
  assert.is(r.of('demo'), 30 * 86_400_000);
  assert.is(parseRetention('a=90s,b=15m,c=2h,d=1w').of('b'), 900_000);
  assert.is(parseRetention('').of('incident'), null);
  assert.is(parseRetention('').any, false);
  assert.is(parseRetention('incident=keep,*=1d').of('incident'), null);
  assert.throws(() => parseRetention('incident=10x'), /not a duration/);
  assert.throws(() => parseRetention('incident'), /workflow=duration/);
  assert.throws(() => parseRetention('a=1d,a=2d'), /twice/);
});

test.run();
