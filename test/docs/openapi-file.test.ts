// docs/openapi.json is what the server serves at GET /openapi.json: regenerate it with `npm run openapi`.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { startHarness, type Harness } from '../api/harness.ts';

const test = suite<{ h: Harness }>('docs/openapi.json', {} as { h: Harness });

test.before(async (ctx) => {
  ctx.h = await startHarness({ consume: false });
});
test.after(async (ctx) => {
  await ctx.h.close();
});

test('the committed docs/openapi.json equals the document the server serves at GET /openapi.json', async ({ h }) => {
  const served = await h.call('GET', '/openapi.json', { key: null });
  assert.is(served.status, 200);
  const committed = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8'));
  // Compared as text of the same formatting, so the message can name the first differing path.
  const diff = firstDifference(committed, served.body);
  assert.ok(diff === null, `docs/openapi.json is out of date (first difference at ${diff}): run npm run openapi and commit the file`);
});

/** The JSON path of the first place two values differ, or null when they are equal. */
function firstDifference(a: unknown, b: unknown, path = ''): string | null {
  if (a === b) return null;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return path || '/';
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
    if (d !== null) return d;
  }
  return null;
}

test.run();
