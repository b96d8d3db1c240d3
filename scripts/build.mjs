// `npm run build`: compiles the project to dist/ (JavaScript and .d.ts declarations) with tsc, and copies
// the files the code reads at run time beside it (Lua scripts, webhook mappings, the console). The npm
// package ships dist/; `servicechart` runs dist/ when it is there and not older than the sources.
import { cpSync, rmSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'dist');
const tsc = join(root, 'node_modules', '.bin', 'tsc');
if (!existsSync(tsc)) {
  process.stderr.write('build: tsc not found; run `npm ci` first (typescript is a dev dependency)\n');
  process.exit(1);
}
// Built aside, then swapped in: a `servicechart` starting meanwhile finds the old dist/ or none, never half of one.
const next = join(root, `dist-building-${process.pid}`);
rmSync(next, { recursive: true, force: true });
execFileSync(tsc, ['-p', join(root, 'tsconfig.build.json'), '--outDir', next], { cwd: root, stdio: 'inherit' });
cpSync(join(root, 'engine', 'lua'), join(next, 'engine', 'lua'), { recursive: true });
cpSync(join(root, 'mappings'), join(next, 'mappings'), { recursive: true });
cpSync(join(root, 'console'), join(next, 'console'), { recursive: true });
// bin/servicechart.js trusts dist/ only when this stamp is newer than every source file.
writeFileSync(join(next, 'BUILT'), `${new Date().toISOString()}\n`);
rmSync(dist, { recursive: true, force: true });
renameSync(next, dist);
process.stdout.write('build: dist/ ready\n');
