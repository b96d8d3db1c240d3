// Owns what a registry entry may be: the limits, the ajv schemas of a service and a configuration item
// (the conventions of the process models' input, docs/models/conventions.md §0.7), the reserved names,
// every problem with one entry at its path, and the canonical JSON that tells an unchanged entry.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { Problem } from './errors.ts';
import type { CiDoc, EntryKind, ServiceDoc, Windows } from './definition/cmdb-types.ts';

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

/** One change of one entry, as stored in its audit list and answered by the history routes. */
export interface AuditEntry {
  schemaVersion: 1;
  at: string;
  actor: string;
  /** `api` (PUT/DELETE) or `import`. */
  source: string;
  action: 'create' | 'update' | 'delete';
  before: ServiceDoc | CiDoc | null;
  after: ServiceDoc | CiDoc | null;
}

export const ENTRY_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$';
/** Names that are members of every JavaScript object: refused as names, ids, groups and labels. */
export const RESERVED = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

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
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
