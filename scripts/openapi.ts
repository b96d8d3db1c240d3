// `npm run openapi`: writes docs/openapi.json, the document the server serves at GET /openapi.json.
// It starts the real app (on a throwaway redis-server in a temp dir) and saves what it answers,
// so the committed file is exactly what a running server describes.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { connectRedis, createEngine } from '../engine/index.ts';
import { startEmbeddedRedis } from '../bin/embedded-redis.ts';
import { createApp } from '../api/app.ts';
import { createAuth, parseApiKeys } from '../api/auth.ts';
import { builtInTasks } from '../workers/tasks/index.ts';
import { builtInWorkflows } from '../workflows/index.ts';

export const OPENAPI_FILE = new URL('../docs/openapi.json', import.meta.url);

/** The file's text for a document: two-space JSON with a final newline. */
export function openapiText(doc: unknown): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sc-openapi-'));
  const embedded = await startEmbeddedRedis({ dataDir: dir, reuse: false });
  const redis = await connectRedis(embedded.url);
  const engine = createEngine({ redis, prefix: `openapi-${randomUUID().slice(0, 8)}`, workflows: builtInWorkflows, tasks: builtInTasks });
  const silent = { info() {}, warn() {}, debug() {}, error() {} };
  const app = createApp({ engine, auth: createAuth(parseApiKeys(`openapi:${randomUUID()}:viewer`)), logger: silent });
  const server: Server = await new Promise((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/openapi.json`);
    if (res.status !== 200) throw new Error(`GET /openapi.json answered ${res.status}`);
    writeFileSync(OPENAPI_FILE, openapiText(await res.json()));
    console.log('wrote docs/openapi.json');
  } finally {
    await new Promise((r) => server.close(r));
    await engine.close();
    await redis.quit();
    await embedded.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
