// Owns the stored registry of services and configuration items (a small CMDB): writes under one hash tag
// with their audit, reads, impact, import and export, and the snapshot the engine hands a run at start so
// the process models read it without I/O. What an entry may be: cmdb-schema.ts; graph walks: cmdb-graph.ts.
import type { RedisClient } from './clients.ts';
import type { Clock } from './clock.ts';
import { iso } from './clock.ts';
import { ErrorCode, ServicechartError, notFound, validationError, type Problem } from './errors.ts';
import type { Keys } from './keys.ts';
import type { RegistryWrite, Scripts } from './scripts.ts';
import type { StoredRun } from './types.ts';
import type { CiDoc, EntryKind, RegistryRefs, RegistrySnapshot, ServiceDoc } from './definition/cmdb-types.ts';
import { ENTRY_NAME_PATTERN, REGISTRY_LIMITS, RESERVED, canonical, entryProblems, type AuditEntry } from './cmdb-schema.ts';
import { buildState, dependentsOf, findCycle, neighbourhood, relatedTo, servicesOf, type CiGraph, type State } from './cmdb-graph.ts';

export type { CiDoc, EntryKind, RegistryRefs, RegistrySnapshot, ServiceDoc, TimeWindow, Windows, OncallLevel } from './definition/cmdb-types.ts';
export { REGISTRY_LIMITS, serviceSchema, ciSchema, entryProblems, type AuditEntry } from './cmdb-schema.ts';
export type { CiGraph } from './cmdb-graph.ts';

/** A service or CI as stored in its hash. */
interface StoredEntry<T> {
  schemaVersion: 1;
  doc: T;
}

export interface Change {
  kind: EntryKind;
  key: string;
  /** The new document, or null to delete. */
  doc: ServiceDoc | CiDoc | null;
  /** Where the entry came from in a request (`/body`, or an import's line), for problems. */
  path?: string;
  line?: number;
}

export interface ImportItem {
  line: number;
  /** The item's own path in the request (`/3` in an array, `` for a JSON line). */
  path: string;
  value: unknown;
}

export interface ImportProblem extends Problem {
  line: number;
}

export interface ImpactReport {
  ci: string;
  /** The CIs that depend on it, directly (depth 1) or through their own dependsOn. */
  dependents: { id: string; depth: number }[];
  /** The services of the CI and of every dependent CI. */
  services: { name: string; title: string; criticality: number; through: string }[];
  /** Running runs that named any of them at start (newest first, at most `runLimit`). */
  openRuns: { id: string; workflow: string; businessKey: string | null; createdAt: string; touches: string[] }[];
}

export interface CmdbDeps {
  redis: RedisClient;
  keys: Keys;
  scripts: Scripts;
  clock: Clock;
}

const sortedKeys = (m: Map<string, unknown>) => [...m.keys()].sort();

/** The registry's hash names under its one hash tag. */
interface RegistryKeys {
  version: string;
  services: string;
  cis: string;
  audit: (kind: EntryKind, key: string) => string;
}

/** The registry's state: its dependencies, its hash names, and the registry as last read in this process. */
interface CmdbState extends CmdbDeps {
  k: RegistryKeys;
  cached: State | null;
  loading: Promise<State> | null;
}

async function load(db: CmdbState): Promise<State> {
  // One slot, one transaction: the version and both hashes are read at the same moment.
  const res = await db.redis.multi().get(db.k.version).hgetall(db.k.services).hgetall(db.k.cis).exec();
  if (!res) throw new ServicechartError(ErrorCode.UNAVAILABLE, 'the registry could not be read');
  for (const [err] of res) if (err) throw err;
  const version = Number(res[0][1] ?? 0);
  const services = new Map<string, ServiceDoc>();
  for (const [name, raw] of Object.entries(res[1][1] as Record<string, string>)) services.set(name, (JSON.parse(raw) as StoredEntry<ServiceDoc>).doc);
  const cis = new Map<string, CiDoc>();
  for (const [id, raw] of Object.entries(res[2][1] as Record<string, string>)) cis.set(id, (JSON.parse(raw) as StoredEntry<CiDoc>).doc);
  return buildState(version, services, cis);
}

/** The registry as stored now: one GET when nothing changed since the last read in this process. */
async function current(db: CmdbState): Promise<State> {
  const version = Number((await db.redis.get(db.k.version)) ?? 0);
  if (db.cached && db.cached.version === version) return db.cached;
  if (!db.loading) {
    db.loading = load(db).then((s) => {
      if (!db.cached || s.version >= db.cached.version) db.cached = s;
      return s;
    }).finally(() => {
      db.loading = null;
    });
  }
  const s = await db.loading;
  return s.version >= version ? s : load(db);
}

/**
 * Running runs that named any of these services or CIs at start, newest first, from every partition's
 * ref index. One command per key (never a multi-key pipeline: the partitions sit in different Cluster
 * slots); ioredis writes them back to back, so this costs about one round trip per stage.
 */
async function openRunsTouching(db: CmdbState, refs: { kind: EntryKind; name: string }[], limit: number): Promise<ImpactReport['openRuns']> {
  if (!refs.length) return [];
  const reads = refs.flatMap((r) => db.keys.all.map((p) => ({ r, p })));
  const lists = await Promise.all(reads.map(({ r, p }) => db.redis.zrevrange(db.keys.runsByRef(p, r.kind, r.name), 0, 499, 'WITHSCORES')));
  const touches = new Map<string, { score: number; refs: string[] }>();
  lists.forEach((list, i) => {
    for (let j = 0; j < list.length; j += 2) {
      const t = touches.get(list[j]) ?? { score: Number(list[j + 1]), refs: [] };
      t.refs.push(`${reads[i].r.kind}:${reads[i].r.name}`);
      touches.set(list[j], t);
    }
  });
  const ids = [...touches.entries()].sort((a, b) => b[1].score - a[1].score || (a[0] < b[0] ? 1 : -1)).map(([id]) => id);
  const out: ImpactReport['openRuns'] = [];
  for (let i = 0; i < ids.length && out.length < limit; i += 500) {
    // The status index says which are still running before any run record is read: one ZMSCORE per
    // partition, each on its own partition's index.
    const chunk = ids.slice(i, i + 500);
    const byPartition = new Map<number, number[]>();
    chunk.forEach((id, j) => byPartition.set(db.keys.partitionOf(id), [...(byPartition.get(db.keys.partitionOf(id)) ?? []), j]));
    const scores: (string | null)[] = new Array(chunk.length).fill(null);
    await Promise.all([...byPartition].map(async ([p, idx]) => {
      const got = await db.redis.zmscore(db.keys.runsByStatus(p, 'running'), ...idx.map((j) => chunk[j]));
      idx.forEach((j, k) => (scores[j] = got[k]));
    }));
    const running = chunk.filter((_, j) => scores[j] !== null).slice(0, limit - out.length);
    const docs = await Promise.all(running.map((id) => db.redis.hget(db.keys.run(id as never), 'doc')));
    running.forEach((id, j) => {
      const raw = docs[j];
      if (!raw || out.length >= limit) return;
      const run = JSON.parse(raw) as StoredRun;
      if (run.status !== 'running') return;
      out.push({ id, workflow: run.workflow, businessKey: run.businessKey, createdAt: iso(run.createdAt), touches: touches.get(id)!.refs });
    });
  }
  return out;
}

/** Problems and conflicts of applying `changes` to `state`; throws the first kind found (409, then 422). */
async function check(db: CmdbState, state: State, changes: Change[], next: { services: Map<string, ServiceDoc>; cis: Map<string, CiDoc> }, where: (c: Change) => { path: string; line?: number }): Promise<void> {
  const problems: (Problem & { line?: number })[] = [];
  const blocked: { entry: string; referencedBy: string[] }[] = [];
  const deletes = changes.filter((c) => c.doc === null);
  for (const c of deletes) {
    const refs: string[] = [];
    if (c.kind === 'service') {
      for (const id of state.cisOfService.get(c.key) ?? []) if (next.cis.get(id)?.services?.includes(c.key)) refs.push(`ci:${id}`);
    } else {
      for (const id of state.dependents.get(c.key) ?? []) if (next.cis.get(id)?.dependsOn?.includes(c.key)) refs.push(`ci:${id}`);
    }
    const runs = await openRunsTouching(db, [{ kind: c.kind, name: c.key }], 20);
    refs.push(...runs.map((r) => `run:${r.id}`));
    if (refs.length) blocked.push({ entry: `${c.kind}:${c.key}`, referencedBy: refs });
  }
  if (blocked.length) {
    const names = blocked.map((b) => `${b.entry} (referenced by ${b.referencedBy.slice(0, 10).join(', ')}${b.referencedBy.length > 10 ? ', …' : ''})`);
    throw new ServicechartError(ErrorCode.CONFLICT, `still referenced: ${names.join('; ')}`, { details: blocked });
  }
  let graphChanged = false;
  for (const c of changes) {
    if (c.kind !== 'ci' || c.doc === null) continue;
    const ci = c.doc as CiDoc;
    const w = where(c);
    ci.services?.forEach((s, i) => {
      if (!next.services.has(s)) problems.push({ path: `${w.path}/services/${i}`, message: `no service named ${s}`, ...(w.line ? { line: w.line } : {}) });
    });
    ci.dependsOn?.forEach((d, i) => {
      if (!next.cis.has(d)) problems.push({ path: `${w.path}/dependsOn/${i}`, message: `no CI with id ${d}`, ...(w.line ? { line: w.line } : {}) });
    });
    const before = state.cis.get(c.key);
    if (canonical(before?.dependsOn ?? []) !== canonical(ci.dependsOn ?? [])) graphChanged = true;
  }
  if (!problems.length && graphChanged) {
    const cycle = findCycle(next.cis, changes.filter((c) => c.kind === 'ci' && c.doc).map((c) => c.key));
    if (cycle) {
      const first = changes.find((c) => c.kind === 'ci' && c.key === cycle[0])!;
      const w = where(first);
      problems.push({ path: `${w.path}/dependsOn`, message: `dependsOn makes a cycle: ${cycle.join(' → ')}`, ...(w.line ? { line: w.line } : {}) });
    }
  }
  if (problems.length) throw validationError(`${problems.length} problem(s) with the registry entries`, problems);
}

/**
 * Apply changes all or nothing, against the version they were checked on (retried when another writer
 * moved the registry meanwhile). Unchanged entries are skipped. Answers what was written.
 */
async function apply(db: CmdbState, changes: Change[], actor: string, source: string): Promise<{ created: number; updated: number; deleted: number; unchanged: number; version: number }> {
  const where = (c: Change) => ({ path: c.path ?? '/body', line: c.line });
  for (let attempt = 0; attempt < 20; attempt++) {
    const state = await current(db);
    const services = new Map(state.services);
    const cis = new Map(state.cis);
    for (const c of changes) {
      const m = (c.kind === 'service' ? services : cis) as Map<string, unknown>;
      if (c.doc === null) m.delete(c.key);
      else m.set(c.key, c.doc);
    }
    await check(db, state, changes, { services, cis }, where);
    const at = iso(db.clock.now());
    const writes: RegistryWrite[] = [];
    const counts = { created: 0, updated: 0, deleted: 0, unchanged: 0 };
    for (const c of changes) {
      const before = (c.kind === 'service' ? state.services.get(c.key) : state.cis.get(c.key)) ?? null;
      if (c.doc === null && before === null) continue;
      if (c.doc !== null && before !== null && canonical(before) === canonical(c.doc)) {
        counts.unchanged++;
        continue;
      }
      const action: AuditEntry['action'] = c.doc === null ? 'delete' : before === null ? 'create' : 'update';
      counts[action === 'create' ? 'created' : action === 'update' ? 'updated' : 'deleted']++;
      const audit: AuditEntry = { schemaVersion: 1, at, actor, source, action, before, after: c.doc };
      const stored: StoredEntry<ServiceDoc | CiDoc> | null = c.doc === null ? null : { schemaVersion: 1, doc: c.doc };
      writes.push({ kind: c.kind === 'service' ? 's' : 'c', key: c.key, doc: stored ? JSON.stringify(stored) : '', auditKey: db.k.audit(c.kind, c.key), audit: JSON.stringify(audit) });
    }
    if (!writes.length) return { ...counts, version: state.version };
    const res = await db.scripts.registryWrite(db.k, state.version, REGISTRY_LIMITS.auditKeep, writes);
    if (res.ok) {
      if (res.version === state.version + 1) db.cached = buildState(res.version, services, cis);
      return { ...counts, version: res.version };
    }
    await new Promise((r) => setTimeout(r, Math.min(50, attempt * 5)));
  }
  throw new ServicechartError(ErrorCode.CONFLICT, 'the registry is being changed concurrently; try again');
}

function keyOf(kind: EntryKind, doc: ServiceDoc | CiDoc): string {
  return kind === 'service' ? (doc as ServiceDoc).name : (doc as CiDoc).id;
}

function checkName(kind: EntryKind, key: string): void {
  if (!new RegExp(ENTRY_NAME_PATTERN).test(key) || RESERVED.has(key)) {
    throw validationError(`not a ${kind === 'service' ? 'service name' : 'CI id'}`, [{ path: `/params/${kind === 'service' ? 'name' : 'id'}`, message: RESERVED.has(key) ? 'reserved name' : `must match ${ENTRY_NAME_PATTERN}` }]);
  }
}

async function get(db: CmdbState, kind: EntryKind, key: string): Promise<ServiceDoc | CiDoc> {
  const state = await current(db);
  const doc = (kind === 'service' ? state.services : state.cis).get(key);
  if (!doc) throw notFound(`${kind === 'service' ? 'service' : 'CI'} ${key}`);
  return doc;
}

/** Create or replace one entry (PUT): the body's key must be the path's. */
async function put(db: CmdbState, kind: EntryKind, key: string, body: unknown, actor: string): Promise<{ entry: ServiceDoc | CiDoc; created: boolean }> {
  checkName(kind, key);
  const problems = entryProblems(kind, body, '/body');
  if (problems.length) throw validationError(`the ${kind === 'service' ? 'service' : 'CI'} is invalid`, problems);
  const doc = body as ServiceDoc | CiDoc;
  if (keyOf(kind, doc) !== key) throw validationError('the body names another entry', [{ path: `/body/${kind === 'service' ? 'name' : 'id'}`, message: `must be ${key}, as in the path` }]);
  const res = await apply(db, [{ kind, key, doc, path: '/body' }], actor, 'api');
  return { entry: doc, created: res.created === 1 };
}

async function remove(db: CmdbState, kind: EntryKind, key: string, actor: string): Promise<void> {
  await get(db, kind, key);
  await apply(db, [{ kind, key, doc: null }], actor, 'api');
}

/** Entries of a kind in key order, filtered, from after `cursor` (the last key of the previous page). */
async function list(db: CmdbState, kind: EntryKind, filter: Record<string, string | number | undefined>, limit: number, cursor: string | null) {
  const state = await current(db);
  let order: string[];
  if (kind === 'ci' && typeof filter.service === 'string') order = [...(state.cisOfService.get(filter.service) ?? [])].sort();
  else if (kind === 'service') order = state.sortedServices ??= sortedKeys(state.services);
  else order = state.sortedCis ??= sortedKeys(state.cis);
  let i = 0;
  if (cursor) {
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (order[mid] <= cursor) lo = mid + 1;
      else hi = mid;
    }
    i = lo;
  }
  const items: (ServiceDoc | CiDoc)[] = [];
  let last: string | null = null;
  for (; i < order.length && items.length < limit; i++) {
    const doc = (kind === 'service' ? state.services : state.cis).get(order[i]);
    if (!doc) continue;
    last = order[i];
    if (kind === 'service') {
      const s = doc as ServiceDoc;
      if (filter.criticality !== undefined && s.criticality !== Number(filter.criticality)) continue;
      if (filter.ownerGroup !== undefined && s.ownerGroup !== filter.ownerGroup) continue;
      if (filter.supportGroup !== undefined && s.supportGroup !== filter.supportGroup) continue;
      if (typeof filter.label === 'string') {
        const [lk, ...rest] = filter.label.split('=');
        if (!s.labels || !Object.hasOwn(s.labels, lk) || (rest.length && s.labels[lk] !== rest.join('='))) continue;
      }
    } else {
      const c = doc as CiDoc;
      if (filter.type !== undefined && c.type !== filter.type) continue;
      if (filter.environment !== undefined && c.environment !== filter.environment) continue;
      if (filter.dependsOn !== undefined && !c.dependsOn?.includes(String(filter.dependsOn))) continue;
    }
    items.push(doc);
  }
  return { items, nextCursor: i < order.length && last !== null ? last : null };
}

async function history(db: CmdbState, kind: EntryKind, key: string, limit: number, cursor: string | null): Promise<{ items: AuditEntry[]; nextCursor: string | null }> {
  checkName(kind, key);
  const listKey = db.k.audit(kind, key);
  const total = await db.redis.llen(listKey);
  if (total === 0) throw notFound(`${kind === 'service' ? 'service' : 'CI'} ${key}`);
  const offset = cursor && /^\d+$/.test(cursor) ? Number(cursor) : 0;
  // Newest first: offset counts from the end of the list.
  const stop = total - 1 - offset;
  if (stop < 0) return { items: [], nextCursor: null };
  const start = Math.max(0, stop - limit + 1);
  const rows = await db.redis.lrange(listKey, start, stop);
  const items = rows.reverse().map((r) => JSON.parse(r) as AuditEntry);
  return { items, nextCursor: start > 0 ? String(offset + items.length) : null };
}

/** The services that depend on a CI (its own and its dependents'), the dependents, and the open runs touching any of them. */
async function impact(db: CmdbState, id: string, runLimit = 100): Promise<ImpactReport> {
  checkName('ci', id);
  const state = await current(db);
  if (!state.cis.has(id)) throw notFound(`CI ${id}`);
  const depth = dependentsOf(state, id);
  const services = new Map<string, ImpactReport['services'][number]>();
  for (const [name, { service: s, through }] of servicesOf(state, depth.keys())) services.set(name, { name, title: s.title, criticality: s.criticality, through });
  const refs = [...[...depth.keys()].map((name) => ({ kind: 'ci' as const, name })), ...[...services.keys()].map((name) => ({ kind: 'service' as const, name }))];
  return {
    ci: id,
    dependents: [...depth].filter(([c]) => c !== id).map(([c, d]) => ({ id: c, depth: d })).sort((a, b) => a.depth - b.depth || a.id.localeCompare(b.id)),
    services: [...services.values()].sort((a, b) => a.criticality - b.criticality || a.name.localeCompare(b.name)),
    openRuns: await openRunsTouching(db, refs, runLimit),
  };
}

/**
 * A CI's neighbourhood for a diagram: what it depends on (down) and what depends on it (up), breadth
 * first up to `maxNodes` CIs, with the services of each. `truncated` says nodes were left out.
 */
async function graph(db: CmdbState, id: string, maxNodes = 80): Promise<CiGraph> {
  checkName('ci', id);
  const state = await current(db);
  if (!state.cis.has(id)) throw notFound(`CI ${id}`);
  return neighbourhood(state, id, maxNodes);
}

/** The running runs that named a service (or one of its CIs) at start. */
async function serviceRuns(db: CmdbState, name: string, limit = 100): Promise<ImpactReport['openRuns']> {
  checkName('service', name);
  const state = await current(db);
  if (!state.services.has(name)) throw notFound(`service ${name}`);
  const refs = [{ kind: 'service' as const, name }, ...[...(state.cisOfService.get(name) ?? [])].map((id) => ({ kind: 'ci' as const, name: id }))];
  return openRunsTouching(db, refs, limit);
}

/** CIs related to these through dependsOn, either way (what they need and what needs them), these included. */
async function related(db: CmdbState, ids: string[]): Promise<string[]> {
  const state = await current(db);
  return relatedTo(state, ids);
}

/** Everything, services first, each line `{ kind, ...entry }`: what import reads. */
async function exportAll(db: CmdbState): Promise<{ version: number; items: ({ kind: EntryKind } & (ServiceDoc | CiDoc))[] }> {
  const state = await current(db);
  const items: ({ kind: EntryKind } & (ServiceDoc | CiDoc))[] = [];
  for (const name of state.sortedServices ??= sortedKeys(state.services)) items.push({ kind: 'service', ...state.services.get(name)! });
  for (const id of state.sortedCis ??= sortedKeys(state.cis)) items.push({ kind: 'ci', ...state.cis.get(id)! });
  return { version: state.version, items };
}

/** Import services and CIs (create or replace), all or nothing: every problem names its line and path. */
async function importItems(db: CmdbState, items: ImportItem[], actor: string) {
  const problems: ImportProblem[] = [];
  if (items.length > REGISTRY_LIMITS.importItems) {
    throw validationError(`an import holds at most ${REGISTRY_LIMITS.importItems} entries`, [{ path: '', message: `${items.length} entries`, line: 1 } as ImportProblem]);
  }
  const changes: Change[] = [];
  const seen = new Map<string, number>();
  for (const item of items) {
    const v = item.value as Record<string, unknown> | null;
    if (!v || typeof v !== 'object' || Array.isArray(v)) {
      problems.push({ line: item.line, path: item.path, message: 'each entry is an object with kind "service" or "ci"' });
      continue;
    }
    const kind = v.kind;
    if (kind !== 'service' && kind !== 'ci') {
      problems.push({ line: item.line, path: `${item.path}/kind`, message: 'kind must be "service" or "ci"' });
      continue;
    }
    const { kind: _, ...doc } = v;
    const found = entryProblems(kind, doc, item.path);
    if (found.length) {
      problems.push(...found.map((p) => ({ ...p, line: item.line })));
      continue;
    }
    const key = keyOf(kind, doc as unknown as ServiceDoc | CiDoc);
    const id = `${kind}:${key}`;
    if (seen.has(id)) {
      problems.push({ line: item.line, path: `${item.path}/${kind === 'service' ? 'name' : 'id'}`, message: `${id} appears twice (first on line ${seen.get(id)})` });
      continue;
    }
    seen.set(id, item.line);
    changes.push({ kind, key, doc: doc as unknown as ServiceDoc | CiDoc, path: item.path, line: item.line });
  }
  if (problems.length) {
    // Reference problems of the valid entries too, so one answer lists everything: an entry the
    // import names (even an invalid one) counts as present.
    const state = await current(db);
    const inImport = new Set<string>();
    for (const i of items) {
      const v = i.value as Record<string, unknown> | null;
      if (v && typeof v === 'object') inImport.add(`${String(v.kind)}:${String(v.kind === 'service' ? v.name : v.id)}`);
    }
    const named = (kind: EntryKind, key: string) => (kind === 'service' ? state.services : state.cis).has(key) || inImport.has(`${kind}:${key}`);
    for (const c of changes) {
      if (c.kind !== 'ci') continue;
      const ci = c.doc as CiDoc;
      ci.services?.forEach((s, i) => {
        if (!named('service', s)) problems.push({ line: c.line!, path: `${c.path}/services/${i}`, message: `no service named ${s}` });
      });
      ci.dependsOn?.forEach((d, i) => {
        if (!named('ci', d)) problems.push({ line: c.line!, path: `${c.path}/dependsOn/${i}`, message: `no CI with id ${d}` });
      });
    }
    problems.sort((a, b) => a.line - b.line);
    throw validationError(`${problems.length} problem(s) in the import; nothing was imported`, problems);
  }
  return apply(db, changes, actor, 'import');
}

/** What a run named, resolved now: its services, its CIs and their services. */
async function snapshot(db: CmdbState, refs: RegistryRefs): Promise<RegistrySnapshot> {
  const state = await current(db);
  const services: Record<string, ServiceDoc> = {};
  const cis: Record<string, CiDoc> = {};
  const missing: string[] = [];
  for (const id of refs.cis.slice(0, REGISTRY_LIMITS.refsPerRun)) {
    const ci = state.cis.get(id);
    if (!ci) {
      missing.push(`ci:${id}`);
      continue;
    }
    cis[id] = ci;
    for (const name of ci.services ?? []) {
      const s = state.services.get(name);
      if (s) services[name] = s;
    }
  }
  for (const name of refs.services.slice(0, REGISTRY_LIMITS.refsPerRun)) {
    const s = state.services.get(name);
    if (s) services[name] = s;
    else missing.push(`service:${name}`);
  }
  return { version: state.version, readAt: iso(db.clock.now()), services, cis, missing };
}

async function counts(db: CmdbState): Promise<{ services: number; cis: number; version: number }> {
  const state = await current(db);
  return { services: state.services.size, cis: state.cis.size, version: state.version };
}

/** The stored registry of services and CIs: writes with their audit, reads, impact, import and export, run snapshots. */
export function createCmdb(deps: CmdbDeps) {
  const base = deps.keys.registryBase();
  const k: RegistryKeys = {
    version: `${base}:version`,
    services: `${base}:services`,
    cis: `${base}:cis`,
    audit: (kind: EntryKind, key: string) => `${base}:audit:${kind}:${key}`,
  };
  const db: CmdbState = { ...deps, k, cached: null, loading: null };
  return {
    get: (kind: EntryKind, key: string) => get(db, kind, key),
    put: (kind: EntryKind, key: string, body: unknown, actor: string) => put(db, kind, key, body, actor),
    remove: (kind: EntryKind, key: string, actor: string) => remove(db, kind, key, actor),
    list: (kind: EntryKind, filter: Record<string, string | number | undefined>, limit: number, cursor: string | null) => list(db, kind, filter, limit, cursor),
    history: (kind: EntryKind, key: string, limit: number, cursor: string | null) => history(db, kind, key, limit, cursor),
    impact: (id: string, runLimit?: number) => impact(db, id, runLimit),
    graph: (id: string, maxNodes?: number) => graph(db, id, maxNodes),
    serviceRuns: (name: string, limit?: number) => serviceRuns(db, name, limit),
    related: (ids: string[]) => related(db, ids),
    exportAll: () => exportAll(db),
    importItems: (items: ImportItem[], actor: string) => importItems(db, items, actor),
    snapshot: (refs: RegistryRefs) => snapshot(db, refs),
    counts: () => counts(db),
    checkName,
  };
}

export type Cmdb = ReturnType<typeof createCmdb>;
