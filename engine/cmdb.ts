// Owns the registry of services and configuration items (a small CMDB): their schemas, their storage
// under one hash tag, the audit of every change, the dependency graph (impact), import and export, and
// the snapshot the engine hands a run at start so the process models read it without I/O.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { Redis } from 'ioredis';
import type { Clock } from './clock.ts';
import { iso } from './clock.ts';
import { ErrorCode, ServicechartError, notFound, validationError, type Problem } from './errors.ts';
import type { Keys } from './keys.ts';
import type { RegistryWrite, Scripts } from './scripts.ts';
import type { StoredRun } from './types.ts';

export const REGISTRY_LIMITS = {
  /** Entries one import may hold. */
  importItems: 50_000,
  dependsOn: 200,
  servicesPerCi: 100,
  windows: 200,
  /** Audit entries kept per service or CI (the newest). */
  auditKeep: 100,
  /** Services and CIs one run may name. */
  refsPerRun: 50,
} as const;

// ---------------------------------------------------------------------------------------------
// Data

export interface TimeWindow {
  start: string;
  end: string;
  name?: string;
}

export interface Windows {
  maintenance?: TimeWindow[];
  blackout?: TimeWindow[];
}

/** One level of an on-call escalation policy: a person or schedule, and how long before the next. */
export type OncallLevel = string | { target: string; escalationTimeoutMs?: number };

export interface ServiceDoc {
  name: string;
  title: string;
  description?: string;
  /** 1 most critical … 4. */
  criticality: 1 | 2 | 3 | 4;
  ownerGroup?: string;
  supportGroup?: string;
  /** Approver groups in camelCase (docs/models/conventions.md §0.7): technical, changeManager, cab, ecab, serviceOwner, incidentManager, releaseManager, ... */
  approvers?: Record<string, string[]>;
  /** The escalation policy: a paging key (`policy`, what `page_oncall` pages) and/or levels of people. */
  oncall?: { policy?: string; levels?: OncallLevel[]; loops?: number; escalationTimeoutMs?: number };
  /** Overrides per priority ("1"–"5") of the incident SLA targets. */
  slaTargetsMs?: Record<string, { responseMs?: number | null; resolutionMs?: number | null }>;
  windows?: Windows;
  labels?: Record<string, string>;
}

export interface CiDoc {
  id: string;
  type: string;
  title: string;
  services?: string[];
  environment?: string;
  owner?: string;
  windows?: Windows;
  /** The CIs this one needs to work (a web server depends on its database). */
  dependsOn?: string[];
  attributes?: Record<string, unknown>;
}

export type EntryKind = 'service' | 'ci';

/** What a run was handed at start (`$registry` in the machine input) and what its history records. */
export interface RegistrySnapshot {
  version: number;
  readAt: string;
  services: Record<string, ServiceDoc>;
  cis: Record<string, CiDoc>;
  /** Names the run gave that the registry does not hold (`service:foo`, `ci:bar`). */
  missing: string[];
}

export interface RegistryRefs {
  services: string[];
  cis: string[];
}

export interface AuditEntry {
  at: string;
  actor: string;
  /** `api` (PUT/DELETE) or `import`. */
  source: string;
  action: 'create' | 'update' | 'delete';
  before: ServiceDoc | CiDoc | null;
  after: ServiceDoc | CiDoc | null;
}

// ---------------------------------------------------------------------------------------------
// Schemas (ajv, strict): the same conventions as the process models' input (docs/models/conventions.md §0.7)

export const ENTRY_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$';
/** Names that are members of every JavaScript object: refused as names, ids, groups and labels. */
const RESERVED = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

const entryName = { type: 'string', pattern: ENTRY_NAME_PATTERN };
const text = (max: number) => ({ type: 'string', minLength: 1, maxLength: max });
const person = text(200);
const ms = { type: 'integer', minimum: 0 };
const nullableMs = { anyOf: [ms, { type: 'null' }] };
const windowSchema = {
  type: 'object', required: ['start', 'end'], additionalProperties: false,
  properties: { start: { type: 'string', format: 'date-time' }, end: { type: 'string', format: 'date-time' }, name: text(200) },
};
const windowsSchema = {
  type: 'object', additionalProperties: false,
  properties: {
    maintenance: { type: 'array', maxItems: REGISTRY_LIMITS.windows, items: windowSchema },
    blackout: { type: 'array', maxItems: REGISTRY_LIMITS.windows, items: windowSchema },
  },
};

export const serviceSchema = {
  type: 'object',
  required: ['name', 'title', 'criticality'],
  additionalProperties: false,
  properties: {
    name: entryName,
    title: text(500),
    description: { type: 'string', maxLength: 10_000 },
    criticality: { type: 'integer', minimum: 1, maximum: 4, description: '1 most critical … 4' },
    ownerGroup: person,
    supportGroup: person,
    approvers: {
      type: 'object', maxProperties: 30,
      propertyNames: { pattern: '^[a-z][A-Za-z0-9]{0,63}$' },
      additionalProperties: { type: 'array', maxItems: 100, uniqueItems: true, items: person },
    },
    oncall: {
      type: 'object', additionalProperties: false,
      properties: {
        policy: text(200),
        levels: {
          type: 'array', minItems: 1, maxItems: 10,
          items: {
            anyOf: [
              person,
              { type: 'object', required: ['target'], additionalProperties: false, properties: { target: person, escalationTimeoutMs: ms } },
            ],
          },
        },
        loops: { type: 'integer', minimum: 1, maximum: 9 },
        escalationTimeoutMs: ms,
      },
    },
    slaTargetsMs: {
      type: 'object', additionalProperties: false,
      patternProperties: { '^[1-5]$': { type: 'object', additionalProperties: false, properties: { responseMs: nullableMs, resolutionMs: nullableMs } } },
    },
    windows: windowsSchema,
    labels: {
      type: 'object', maxProperties: 50,
      propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_.-]{0,63}$' },
      additionalProperties: { type: 'string', maxLength: 500 },
    },
  },
} as const;

export const ciSchema = {
  type: 'object',
  required: ['id', 'type', 'title'],
  additionalProperties: false,
  properties: {
    id: entryName,
    type: { type: 'string', pattern: '^[a-z][a-z0-9_-]{0,63}$', description: 'server, database, load_balancer, application, ...' },
    title: text(500),
    services: { type: 'array', maxItems: REGISTRY_LIMITS.servicesPerCi, uniqueItems: true, items: entryName },
    environment: { type: 'string', pattern: '^[a-z][a-z0-9_-]{0,63}$' },
    owner: person,
    windows: windowsSchema,
    dependsOn: { type: 'array', maxItems: REGISTRY_LIMITS.dependsOn, uniqueItems: true, items: entryName },
    attributes: { type: 'object', maxProperties: 100, propertyNames: { maxLength: 200 } },
  },
} as const;

const ajv = new Ajv({ strict: true, allErrors: true, allowUnionTypes: true });
(addFormats as unknown as (a: Ajv) => void)(ajv);
const validators: Record<EntryKind, ValidateFunction> = { service: ajv.compile(serviceSchema), ci: ajv.compile(ciSchema) };

function problemsOf(base: string, errors: ErrorObject[] | null | undefined): Problem[] {
  return (errors ?? []).map((e) => {
    let path = `${base}${e.instancePath}`;
    if (e.keyword === 'additionalProperties') path += `/${(e.params as { additionalProperty: string }).additionalProperty}`;
    if (e.keyword === 'required') path += `/${(e.params as { missingProperty: string }).missingProperty}`;
    if (e.keyword === 'propertyNames') path += `/${(e.params as { propertyName: string }).propertyName}`;
    return { path, message: e.keyword === 'additionalProperties' ? 'unknown property' : (e.message ?? 'invalid') };
  });
}

/** Every problem with one entry's shape, at paths under `base` (`/body`, `/3`). */
export function entryProblems(kind: EntryKind, value: unknown, base: string): Problem[] {
  const validate = validators[kind];
  if (!validate(value)) return problemsOf(base, validate.errors);
  const problems: Problem[] = [];
  const v = value as Record<string, unknown>;
  const key = kind === 'service' ? 'name' : 'id';
  if (RESERVED.has(v[key] as string)) problems.push({ path: `${base}/${key}`, message: `"${String(v[key])}" is a reserved name` });
  for (const [field, list] of [['services', v.services], ['dependsOn', v.dependsOn]] as const) {
    (list as string[] | undefined)?.forEach((n, i) => {
      if (RESERVED.has(n)) problems.push({ path: `${base}/${field}/${i}`, message: `"${n}" is a reserved name` });
    });
  }
  if (kind === 'ci' && (v.dependsOn as string[] | undefined)?.includes(v.id as string)) problems.push({ path: `${base}/dependsOn`, message: 'a CI cannot depend on itself' });
  for (const k of Object.keys((v.approvers ?? {}) as object)) if (RESERVED.has(k)) problems.push({ path: `${base}/approvers/${k}`, message: 'reserved name' });
  for (const k of Object.keys((v.labels ?? {}) as object)) if (RESERVED.has(k)) problems.push({ path: `${base}/labels/${k}`, message: 'reserved name' });
  const windows = (v.windows ?? {}) as Windows;
  for (const which of ['maintenance', 'blackout'] as const) {
    windows[which]?.forEach((w, i) => {
      if (!(Date.parse(w.start) < Date.parse(w.end))) problems.push({ path: `${base}/windows/${which}/${i}`, message: 'start must be before end' });
    });
  }
  return problems;
}

/** JSON with object keys sorted: equal documents compare equal whatever their key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

// ---------------------------------------------------------------------------------------------
// The registry as one process holds it: reloaded whenever the stored version moves

interface State {
  version: number;
  services: Map<string, ServiceDoc>;
  cis: Map<string, CiDoc>;
  /** id → the CIs whose dependsOn names it. */
  dependents: Map<string, Set<string>>;
  /** service → the CIs that name it. */
  cisOfService: Map<string, Set<string>>;
  sortedServices?: string[];
  sortedCis?: string[];
}

function buildState(version: number, services: Map<string, ServiceDoc>, cis: Map<string, CiDoc>): State {
  const dependents = new Map<string, Set<string>>();
  const cisOfService = new Map<string, Set<string>>();
  for (const ci of cis.values()) {
    for (const d of ci.dependsOn ?? []) {
      let s = dependents.get(d);
      if (!s) dependents.set(d, (s = new Set()));
      s.add(ci.id);
    }
    for (const name of ci.services ?? []) {
      let s = cisOfService.get(name);
      if (!s) cisOfService.set(name, (s = new Set()));
      s.add(ci.id);
    }
  }
  return { version, services, cis, dependents, cisOfService };
}

/** A dependsOn cycle in the graph, as the ids along it (first repeated last), or null. Iterative: no stack limit. */
function findCycle(cis: Map<string, CiDoc>, from: Iterable<string>): string[] | null {
  const colour = new Map<string, 1 | 2>();
  for (const root of from) {
    if (colour.has(root) || !cis.has(root)) continue;
    const stack: { id: string; next: number }[] = [{ id: root, next: 0 }];
    colour.set(root, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const deps = cis.get(top.id)?.dependsOn ?? [];
      if (top.next >= deps.length) {
        colour.set(top.id, 2);
        stack.pop();
        continue;
      }
      const d = deps[top.next++];
      const c = colour.get(d);
      if (c === 1) {
        const at = stack.findIndex((f) => f.id === d);
        return [...stack.slice(at).map((f) => f.id), d];
      }
      if (c === undefined && cis.has(d)) {
        colour.set(d, 1);
        stack.push({ id: d, next: 0 });
      }
    }
  }
  return null;
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

/** A CI's dependency neighbourhood: CIs (`ci:<id>`) and services (`service:<name>`), `dependsOn` and `serves` edges. */
export interface CiGraph {
  ci: string;
  nodes: { id: string; kind: EntryKind; label: string; detail: string; focus: boolean }[];
  edges: { from: string; to: string; kind: 'dependsOn' | 'serves' }[];
  truncated: boolean;
}

export interface CmdbDeps {
  redis: Redis;
  keys: Keys;
  scripts: Scripts;
  clock: Clock;
}

const sortedKeys = (m: Map<string, unknown>) => [...m.keys()].sort();

export function createCmdb(deps: CmdbDeps) {
  const { redis, keys, scripts, clock } = deps;
  const base = keys.registryBase();
  const k = {
    version: `${base}:version`,
    services: `${base}:services`,
    cis: `${base}:cis`,
    audit: (kind: EntryKind, key: string) => `${base}:audit:${kind}:${key}`,
  };
  let cached: State | null = null;
  let loading: Promise<State> | null = null;

  async function load(): Promise<State> {
    // One slot, one transaction: the version and both hashes are read at the same moment.
    const res = await redis.multi().get(k.version).hgetall(k.services).hgetall(k.cis).exec();
    if (!res) throw new ServicechartError(ErrorCode.UNAVAILABLE, 'the registry could not be read');
    for (const [err] of res) if (err) throw err;
    const version = Number(res[0][1] ?? 0);
    const services = new Map<string, ServiceDoc>();
    for (const [name, doc] of Object.entries(res[1][1] as Record<string, string>)) services.set(name, JSON.parse(doc) as ServiceDoc);
    const cis = new Map<string, CiDoc>();
    for (const [id, doc] of Object.entries(res[2][1] as Record<string, string>)) cis.set(id, JSON.parse(doc) as CiDoc);
    return buildState(version, services, cis);
  }

  /** The registry as stored now: one GET when nothing changed since the last read in this process. */
  async function current(): Promise<State> {
    const version = Number((await redis.get(k.version)) ?? 0);
    if (cached && cached.version === version) return cached;
    if (!loading) {
      loading = load().then((s) => {
        if (!cached || s.version >= cached.version) cached = s;
        return s;
      }).finally(() => {
        loading = null;
      });
    }
    const s = await loading;
    return s.version >= version ? s : load();
  }

  /** Running runs that named any of these services or CIs at start, newest first. */
  async function openRunsTouching(refs: { kind: EntryKind; name: string }[], limit: number): Promise<ImpactReport['openRuns']> {
    if (!refs.length) return [];
    const pipe = redis.pipeline();
    for (const r of refs) pipe.zrevrange(keys.runsByRef(r.kind, r.name), 0, 499, 'WITHSCORES');
    const lists = (await pipe.exec()) ?? [];
    const touches = new Map<string, { score: number; refs: string[] }>();
    lists.forEach(([, rows], i) => {
      const list = (rows ?? []) as string[];
      for (let j = 0; j < list.length; j += 2) {
        const t = touches.get(list[j]) ?? { score: Number(list[j + 1]), refs: [] };
        t.refs.push(`${refs[i].kind}:${refs[i].name}`);
        touches.set(list[j], t);
      }
    });
    const ids = [...touches.entries()].sort((a, b) => b[1].score - a[1].score).map(([id]) => id);
    const out: ImpactReport['openRuns'] = [];
    for (let i = 0; i < ids.length && out.length < limit; i += 200) {
      const chunk = ids.slice(i, i + 200);
      const docs = (await redis.pipeline(chunk.map((id) => ['hget', keys.run(id as never), 'doc'])).exec()) ?? [];
      chunk.forEach((id, j) => {
        const raw = docs[j]?.[1] as string | null;
        if (!raw || out.length >= limit) return;
        const run = JSON.parse(raw) as StoredRun;
        if (run.status !== 'running') return;
        out.push({ id, workflow: run.workflow, businessKey: run.businessKey, createdAt: iso(run.createdAt), touches: touches.get(id)!.refs });
      });
    }
    return out;
  }

  /** Problems and conflicts of applying `changes` to `state`; throws the first kind found (409, then 422). */
  async function check(state: State, changes: Change[], next: { services: Map<string, ServiceDoc>; cis: Map<string, CiDoc> }, where: (c: Change) => { path: string; line?: number }): Promise<void> {
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
      const runs = await openRunsTouching([{ kind: c.kind, name: c.key }], 20);
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
  async function apply(changes: Change[], actor: string, source: string): Promise<{ created: number; updated: number; deleted: number; unchanged: number; version: number }> {
    const where = (c: Change) => ({ path: c.path ?? '/body', line: c.line });
    for (let attempt = 0; attempt < 20; attempt++) {
      const state = await current();
      const services = new Map(state.services);
      const cis = new Map(state.cis);
      for (const c of changes) {
        const m = (c.kind === 'service' ? services : cis) as Map<string, unknown>;
        if (c.doc === null) m.delete(c.key);
        else m.set(c.key, c.doc);
      }
      await check(state, changes, { services, cis }, where);
      const at = iso(clock.now());
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
        const audit: AuditEntry = { at, actor, source, action, before, after: c.doc };
        writes.push({ kind: c.kind === 'service' ? 's' : 'c', key: c.key, doc: c.doc === null ? '' : JSON.stringify(c.doc), auditKey: k.audit(c.kind, c.key), audit: JSON.stringify(audit) });
      }
      if (!writes.length) return { ...counts, version: state.version };
      const res = await scripts.registryWrite(k, state.version, REGISTRY_LIMITS.auditKeep, writes);
      if (res.ok) {
        if (res.version === state.version + 1) cached = buildState(res.version, services, cis);
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

  async function get(kind: EntryKind, key: string): Promise<ServiceDoc | CiDoc> {
    const state = await current();
    const doc = (kind === 'service' ? state.services : state.cis).get(key);
    if (!doc) throw notFound(`${kind === 'service' ? 'service' : 'CI'} ${key}`);
    return doc;
  }

  /** Create or replace one entry (PUT): the body's key must be the path's. */
  async function put(kind: EntryKind, key: string, body: unknown, actor: string): Promise<{ entry: ServiceDoc | CiDoc; created: boolean }> {
    checkName(kind, key);
    const problems = entryProblems(kind, body, '/body');
    if (problems.length) throw validationError(`the ${kind === 'service' ? 'service' : 'CI'} is invalid`, problems);
    const doc = body as ServiceDoc | CiDoc;
    if (keyOf(kind, doc) !== key) throw validationError('the body names another entry', [{ path: `/body/${kind === 'service' ? 'name' : 'id'}`, message: `must be ${key}, as in the path` }]);
    const res = await apply([{ kind, key, doc, path: '/body' }], actor, 'api');
    return { entry: doc, created: res.created === 1 };
  }

  async function remove(kind: EntryKind, key: string, actor: string): Promise<void> {
    await get(kind, key);
    await apply([{ kind, key, doc: null }], actor, 'api');
  }

  /** Entries of a kind in key order, filtered, from after `cursor` (the last key of the previous page). */
  async function list(kind: EntryKind, filter: Record<string, string | number | undefined>, limit: number, cursor: string | null) {
    const state = await current();
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

  async function history(kind: EntryKind, key: string, limit: number, cursor: string | null): Promise<{ items: AuditEntry[]; nextCursor: string | null }> {
    checkName(kind, key);
    const listKey = k.audit(kind, key);
    const total = await redis.llen(listKey);
    if (total === 0) throw notFound(`${kind === 'service' ? 'service' : 'CI'} ${key}`);
    const offset = cursor && /^\d+$/.test(cursor) ? Number(cursor) : 0;
    // Newest first: offset counts from the end of the list.
    const stop = total - 1 - offset;
    if (stop < 0) return { items: [], nextCursor: null };
    const start = Math.max(0, stop - limit + 1);
    const rows = await redis.lrange(listKey, start, stop);
    const items = rows.reverse().map((r) => JSON.parse(r) as AuditEntry);
    return { items, nextCursor: start > 0 ? String(offset + items.length) : null };
  }

  /** The services that depend on a CI (its own and its dependents'), the dependents, and the open runs touching any of them. */
  async function impact(id: string, runLimit = 100): Promise<ImpactReport> {
    checkName('ci', id);
    const state = await current();
    if (!state.cis.has(id)) throw notFound(`CI ${id}`);
    const depth = new Map<string, number>([[id, 0]]);
    let frontier = [id];
    for (let d = 1; frontier.length; d++) {
      const nextFrontier: string[] = [];
      for (const f of frontier) {
        for (const dep of state.dependents.get(f) ?? []) {
          if (depth.has(dep)) continue;
          depth.set(dep, d);
          nextFrontier.push(dep);
        }
      }
      frontier = nextFrontier;
    }
    const services = new Map<string, ImpactReport['services'][number]>();
    for (const [ci] of depth) {
      for (const name of state.cis.get(ci)?.services ?? []) {
        const s = state.services.get(name);
        if (s && !services.has(name)) services.set(name, { name, title: s.title, criticality: s.criticality, through: ci });
      }
    }
    const refs = [...[...depth.keys()].map((name) => ({ kind: 'ci' as const, name })), ...[...services.keys()].map((name) => ({ kind: 'service' as const, name }))];
    return {
      ci: id,
      dependents: [...depth].filter(([c]) => c !== id).map(([c, d]) => ({ id: c, depth: d })).sort((a, b) => a.depth - b.depth || a.id.localeCompare(b.id)),
      services: [...services.values()].sort((a, b) => a.criticality - b.criticality || a.name.localeCompare(b.name)),
      openRuns: await openRunsTouching(refs, runLimit),
    };
  }

  /**
   * A CI's neighbourhood for a diagram: what it depends on (down) and what depends on it (up), breadth
   * first up to `maxNodes` CIs, with the services of each. `truncated` says nodes were left out.
   */
  async function graph(id: string, maxNodes = 80): Promise<CiGraph> {
    checkName('ci', id);
    const state = await current();
    if (!state.cis.has(id)) throw notFound(`CI ${id}`);
    const nodes = new Map<string, CiGraph['nodes'][number]>();
    const edges: CiGraph['edges'] = [];
    let truncated = false;
    const addCi = (cid: string) => {
      const ci = state.cis.get(cid)!;
      nodes.set(`ci:${cid}`, { id: `ci:${cid}`, kind: 'ci', label: cid, detail: [ci.type, ci.environment].filter(Boolean).join(' · '), focus: cid === id });
    };
    addCi(id);
    const queue = [id];
    const seen = new Set([id]);
    while (queue.length) {
      const cur = queue.shift()!;
      const next = [...(state.cis.get(cur)?.dependsOn ?? []).map((d) => [cur, d] as const), ...[...(state.dependents.get(cur) ?? [])].map((d) => [d, cur] as const)];
      for (const [from, to] of next) {
        const other = from === cur ? to : from;
        if (!seen.has(other)) {
          if (seen.size >= maxNodes) {
            truncated = true;
            continue;
          }
          seen.add(other);
          addCi(other);
          queue.push(other);
        }
        if (!edges.some((e) => e.from === `ci:${from}` && e.to === `ci:${to}`)) edges.push({ from: `ci:${from}`, to: `ci:${to}`, kind: 'dependsOn' });
      }
    }
    for (const cid of seen) {
      for (const name of state.cis.get(cid)?.services ?? []) {
        const svc = state.services.get(name);
        if (!svc) continue;
        if (!nodes.has(`service:${name}`)) nodes.set(`service:${name}`, { id: `service:${name}`, kind: 'service', label: name, detail: `criticality ${svc.criticality}`, focus: false });
        edges.push({ from: `ci:${cid}`, to: `service:${name}`, kind: 'serves' });
      }
    }
    return { ci: id, nodes: [...nodes.values()], edges, truncated };
  }

  /** The running runs that named a service (or one of its CIs) at start. */
  async function serviceRuns(name: string, limit = 100): Promise<ImpactReport['openRuns']> {
    checkName('service', name);
    const state = await current();
    if (!state.services.has(name)) throw notFound(`service ${name}`);
    const refs = [{ kind: 'service' as const, name }, ...[...(state.cisOfService.get(name) ?? [])].map((id) => ({ kind: 'ci' as const, name: id }))];
    return openRunsTouching(refs, limit);
  }

  /** CIs related to these through dependsOn, either way (what they need and what needs them), these included. */
  async function related(ids: string[]): Promise<string[]> {
    const state = await current();
    const out = new Set<string>();
    for (const start of ids) {
      out.add(start);
      for (const edges of [(c: string) => state.cis.get(c)?.dependsOn ?? [], (c: string) => state.dependents.get(c) ?? []]) {
        const seen = new Set([start]);
        const queue = [start];
        while (queue.length) {
          for (const n of edges(queue.shift()!)) {
            if (seen.has(n)) continue;
            seen.add(n);
            out.add(n);
            queue.push(n);
          }
        }
      }
    }
    return [...out];
  }

  /** Everything, services first, each line `{ kind, ...entry }`: what import reads. */
  async function exportAll(): Promise<{ version: number; items: ({ kind: EntryKind } & (ServiceDoc | CiDoc))[] }> {
    const state = await current();
    const items: ({ kind: EntryKind } & (ServiceDoc | CiDoc))[] = [];
    for (const name of state.sortedServices ??= sortedKeys(state.services)) items.push({ kind: 'service', ...state.services.get(name)! });
    for (const id of state.sortedCis ??= sortedKeys(state.cis)) items.push({ kind: 'ci', ...state.cis.get(id)! });
    return { version: state.version, items };
  }

  /** Import services and CIs (create or replace), all or nothing: every problem names its line and path. */
  async function importItems(items: ImportItem[], actor: string) {
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
      const state = await current();
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
    return apply(changes, actor, 'import');
  }

  /** What a run named, resolved now: its services, its CIs and their services. */
  async function snapshot(refs: RegistryRefs): Promise<RegistrySnapshot> {
    const state = await current();
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
    return { version: state.version, readAt: iso(clock.now()), services, cis, missing };
  }

  async function counts(): Promise<{ services: number; cis: number; version: number }> {
    const state = await current();
    return { services: state.services.size, cis: state.cis.size, version: state.version };
  }

  return { get, put, remove, list, history, impact, graph, serviceRuns, related, exportAll, importItems, snapshot, counts, checkName };
}

export type Cmdb = ReturnType<typeof createCmdb>;
