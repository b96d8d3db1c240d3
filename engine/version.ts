// Owns the version string workers publish: this package's version, read once from its package.json
// (one level up from the sources, two from the compiled `dist/`).
import { existsSync, readFileSync } from 'node:fs';

function read(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    const url = new URL(rel, import.meta.url);
    if (!existsSync(url)) continue;
    const pkg = JSON.parse(readFileSync(url, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'servicechart' && pkg.version) return pkg.version;
  }
  return '0.0.0';
}

export const servicechartVersion: string = read();
