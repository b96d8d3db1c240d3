// Starts the real Koa app on an ephemeral port with a real engine, for tests that speak HTTP.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { type ArchiveStore, type WorkflowDefinition, type TaskDefinition } from '../../engine/index.ts';
import { createEngineInstance as createEngine, type EngineInstance as Engine } from '../../engine/testing.ts';
import { createApp, type App } from '../../api/app.ts';
import { createAuth, parseApiKeys } from '../../api/auth.ts';
import { startTaskWorker, type TaskWorker } from '../../workers/runtime.ts';
import { builtInTasks, createBuiltInTasks } from '../../workers/tasks/index.ts';
import type { AdapterConfig } from '../../workers/adapters/index.ts';
import { builtInWorkflows } from '../../workflows/index.ts';
import { connect, dropPrefix, newPrefix } from '../helpers.ts';

export const KEYS = { admin: 'admin-key-123456', operator: 'operator-key-123456', viewer: 'viewer-key-123456', worker: 'worker-key-123456' } as const;

export interface Harness {
  url: string;
  redis: Redis;
  engine: Engine;
  prefix: string;
  worker: TaskWorker | null;
  app: App;
  close(): Promise<void>;
  call(method: string, path: string, opts?: { key?: keyof typeof KEYS | null; body?: unknown; raw?: string | Buffer; headers?: Record<string, string> }): Promise<{ status: number; body: any; headers: Headers }>;
}

export async function startHarness(opts: { workflows?: WorkflowDefinition[]; tasks?: TaskDefinition<any, any>[]; consume?: boolean; extensions?: Parameters<typeof createApp>[0]['extensions']; rateLimit?: Parameters<typeof createApp>[0]['rateLimit']; hooks?: Parameters<typeof createApp>[0]['hooks']; adapters?: AdapterConfig; archive?: ArchiveStore; workerTtlMs?: number } = {}): Promise<Harness> {
  const redis = await connect();
  const prefix = newPrefix();
  // TEST_PARTITIONS=4 runs the HTTP tests on a partitioned layout (one node); the processes a test
  // spawns inherit the count.
  const partitions = process.env.TEST_PARTITIONS ? Number(process.env.TEST_PARTITIONS) : undefined;
  if (partitions) process.env.SERVICECHART_PARTITIONS = String(partitions);
  const engine = createEngine({ redis, prefix, partitions, workflows: [...builtInWorkflows, ...(opts.workflows ?? [])], tasks: [...(opts.adapters ? createBuiltInTasks(opts.adapters) : builtInTasks), ...(opts.tasks ?? [])], archive: opts.archive, workerTtlMs: opts.workerTtlMs });
  let worker: TaskWorker | null = null;
  if (opts.consume !== false) {
    engine.startTimerConsumer();
    worker = await startTaskWorker({ engine, lockDurationMs: 2000 });
  }
  const auth = createAuth(parseApiKeys(`admin:${KEYS.admin}:admin,ops:${KEYS.operator}:operator,${KEYS.viewer}:viewer,ext:${KEYS.worker}:worker`));
  const app = createApp({ engine, auth, logger: { info() {}, warn() {}, debug() {}, error: (o: unknown) => console.error(o) }, extensions: opts.extensions, rateLimit: opts.rateLimit, hooks: opts.hooks });
  const server: Server = await new Promise((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url, redis, engine, prefix, worker, app,
    async call(method, path, o = {}) {
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      const key = o.key === undefined ? 'admin' : o.key;
      if (key) headers.authorization = `Bearer ${KEYS[key]}`;
      let body: string | Buffer | undefined;
      if (o.raw !== undefined) body = o.raw;
      else if (o.body !== undefined) {
        body = JSON.stringify(o.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(url + path, { method, headers, body: body as BodyInit | undefined });
      const text = await res.text();
      let parsed: unknown = text;
      if ((res.headers.get('content-type') ?? '').includes('json')) parsed = text ? JSON.parse(text) : null;
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      if (worker) await worker.close(2000);
      await engine.close();
      await dropPrefix(redis, prefix);
      await redis.quit();
    },
  };
}
