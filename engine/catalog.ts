// Owns the live task catalog: which worker serves which task type, with the schemas and settings it
// published, kept alive by heartbeats (a worker that stops beating drops out after its time to live).
import { createHash } from 'node:crypto';
import type { RedisClient } from './clients.ts';
import type { Clock } from './clock.ts';
import type { Keys } from './keys.ts';
import type { Logger } from './types.ts';

export type WorkerKind = 'in-process' | 'package' | 'http';

export interface WorkerIdentity {
  workerId: string;
  host: string;
  version: string;
  kind: WorkerKind;
}

/** What a worker says about one task it serves. */
export interface PublishedTask {
  name: string;
  description?: string;
  input?: unknown;
  output?: unknown;
  retry?: unknown;
  timeoutMs?: number;
  external?: boolean;
}

export interface Publication extends WorkerIdentity {
  task: PublishedTask;
  heartbeatAt: number;
  expiresAt: number;
}

/** Schemas two live workers disagree on, for one task name. */
export interface SchemaConflict {
  workers: { workerId: string; host: string; input: unknown; output: unknown }[];
}

const HOUR = 3600_000;

/** Whether a publication says anything about schemas (HTTP workers publish none). */
const hasSchemas = (p: Publication) => p.task.input !== undefined || p.task.output !== undefined;
const schemaKey = (p: Publication) => JSON.stringify([p.task.input ?? null, p.task.output ?? null]);

export interface CatalogDeps { redis: RedisClient; keys: Keys; clock: Clock; logger: Logger; ttlMs: number }

/** The catalog's state: its dependencies and the task names each worker has had its schemas checked for. */
interface CatalogState extends CatalogDeps {
  checked: Set<string>;
}

/** Heartbeat: (re)publish what one worker serves, alive for the catalog's time to live. */
async function publish(s: CatalogState, worker: WorkerIdentity, tasks: PublishedTask[]): Promise<void> {
  const now = s.clock.now();
  const pipe = s.redis.pipeline();
  for (const task of tasks) {
    const pub: Publication = { ...worker, task, heartbeatAt: now, expiresAt: now + s.ttlMs };
    pipe.hset(s.keys.catalogType(task.name), worker.workerId, JSON.stringify(pub));
    // A type whose every worker is gone disappears on its own, fields and all.
    pipe.pexpire(s.keys.catalogType(task.name), s.ttlMs * 10);
    pipe.zadd(s.keys.catalogTypes(), now, task.name);
  }
  await pipe.exec();
  // A worker checks its schemas against the live ones when it first publishes a name: the one that
  // starts second logs the conflict (the API reports it on every read). One round trip for all names.
  const fresh = tasks.filter((t) => (t.input !== undefined || t.output !== undefined) && !s.checked.has(`${t.name}:${worker.workerId}`));
  if (!fresh.length) return;
  for (const t of fresh) s.checked.add(`${t.name}:${worker.workerId}`);
  const read = s.redis.pipeline();
  for (const t of fresh) read.hgetall(s.keys.catalogType(t.name));
  const replies = (await read.exec()) ?? [];
  fresh.forEach((t, i) => {
    const all = (replies[i]?.[1] ?? {}) as Record<string, string>;
    const pubs = Object.values(all).map((json) => JSON.parse(json) as Publication).filter((p) => p.expiresAt > now);
    const conflict = conflictOf(pubs);
    if (conflict) s.logger.warn({ task: t.name, workers: conflict.workers.map((w) => w.workerId) }, `workers publish different schemas for task ${t.name}`);
  });
}

/** A worker stopping says so at once rather than waiting out its time to live. */
async function unpublish(s: CatalogState, workerId: string, names: string[]): Promise<void> {
  if (!names.length) return;
  const pipe = s.redis.pipeline();
  for (const name of names) pipe.hdel(s.keys.catalogType(name), workerId);
  await pipe.exec();
}

/** The live publications of a type; dead ones are dropped as they are found. */
async function live(s: CatalogState, name: string): Promise<Publication[]> {
  const now = s.clock.now();
  const all = await s.redis.hgetall(s.keys.catalogType(name));
  const out: Publication[] = [];
  const dead: string[] = [];
  for (const [workerId, json] of Object.entries(all)) {
    const p = JSON.parse(json) as Publication;
    if (p.expiresAt > now) out.push(p);
    else dead.push(workerId);
  }
  if (dead.length) await s.redis.hdel(s.keys.catalogType(name), ...dead);
  return out.sort((a, b) => a.workerId.localeCompare(b.workerId));
}

function conflictOf(pubs: Publication[]): SchemaConflict | null {
  const withSchemas = pubs.filter(hasSchemas);
  if (new Set(withSchemas.map(schemaKey)).size < 2) return null;
  return { workers: withSchemas.map((p) => ({ workerId: p.workerId, host: p.host, input: p.task.input, output: p.task.output })) };
}

/** Every type ever published (live or not) in the last day. */
async function types(s: CatalogState): Promise<string[]> {
  await s.redis.zremrangebyscore(s.keys.catalogTypes(), '-inf', s.clock.now() - 24 * HOUR);
  return s.redis.zrange(s.keys.catalogTypes(), '0', '-1');
}

async function failed(s: CatalogState, type: string, taskId: string): Promise<void> {
  const now = s.clock.now();
  // The member only has to be distinct: a digest of the task id, so the count names no run (an archived
  // run leaves nothing in Redis that names it).
  const member = `${now}:${createHash('sha1').update(taskId).digest('hex').slice(0, 16)}`;
  await s.redis.pipeline()
    .zadd(s.keys.taskFailures(type), now, member)
    .zremrangebyscore(s.keys.taskFailures(type), '-inf', now - HOUR)
    .pexpire(s.keys.taskFailures(type), 2 * HOUR)
    .exec();
}

function failuresLastHour(s: CatalogState, type: string): Promise<number> {
  const now = s.clock.now();
  return s.redis.zcount(s.keys.taskFailures(type), String(now - HOUR), '+inf');
}

/** The live task catalog over Redis: publications kept alive by heartbeats, and recent failures per type. */
export function createCatalog(deps: CatalogDeps) {
  const s: CatalogState = { ...deps, checked: new Set() };
  return {
    publish: (worker: WorkerIdentity, tasks: PublishedTask[]) => publish(s, worker, tasks),
    unpublish: (workerId: string, names: string[]) => unpublish(s, workerId, names),
    live: (name: string) => live(s, name),
    conflictOf,
    types: () => types(s),
    failed: (type: string, taskId: string) => failed(s, type, taskId),
    failuresLastHour: (type: string) => failuresLastHour(s, type),
    ttlMs: deps.ttlMs,
  };
}

export type Catalog = ReturnType<typeof createCatalog>;
