#!/usr/bin/env node
// The `servicechart` command: runs the compiled dist/ when it exists (the npm package, or after
// `npm run build`) and is not older than the sources beside it; otherwise the TypeScript sources
// through tsx (a development checkout).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const stamp = `${root}dist/BUILT`;

/** The newest modification time of the sources a build compiles (none in an installed package). */
function newestSource() {
  let newest = 0;
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|lua|json|js|css|svg|html)$/.test(e.name)) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const d of ['engine', 'workflows', 'workers', 'api', 'bin', 'mappings', 'console']) if (existsSync(root + d)) walk(root + d);
  return newest;
}

const useDist = existsSync(stamp) && process.env.SERVICECHART_FROM_SOURCE !== '1' && (!existsSync(`${root}bin/main.ts`) || statSync(stamp).mtimeMs >= newestSource());
if (useDist) {
  await import('../dist/bin/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./main.ts');
}
