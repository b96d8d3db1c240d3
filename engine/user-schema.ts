// Owns compiling the JSON Schemas that arrive from outside (a JSON workflow's inputSchema) so that every
// problem shows when the schema is registered, never when a run starts: ajv's own errors, a `$ref` that
// recurses without descending into the data, and patterns, which run on a linear-time engine (RE2).
import { Ajv, type ValidateFunction } from 'ajv';
import { RE2JS } from 're2js';
import type { Problem } from './errors.ts';

/**
 * JSON Schema patterns on RE2's linear-time engine: `^(a+)+$` cannot backtrack catastrophically on a
 * crafted input, and what RE2 cannot do in linear time (backreferences, lookaround) does not compile.
 */
function linearRegExp(pattern: string): { test(s: string): boolean; toString(): string } {
  const re = RE2JS.compile(RE2JS.translateRegExp(pattern));
  return { test: (s) => re.test(s), toString: () => `re2:${pattern}` };
}
linearRegExp.code = 'linearRegExp';

/** An ajv for outside schemas; one per registry, or a throwaway one (a long-lived one keeps every schema it compiled). */
export function userSchemaAjv(): Ajv {
  return new Ajv({ allErrors: true, strict: false, code: { regExp: linearRegExp } });
}

/** Keywords whose value is one schema applied to the same instance. */
const IN_PLACE_ONE = ['not', 'if', 'then', 'else'];
/** Keywords whose value is a list of schemas applied to the same instance. */
const IN_PLACE_LIST = ['allOf', 'anyOf', 'oneOf'];
/** Keywords whose value is one schema applied to a part of the instance. */
const DESCEND_ONE = ['items', 'additionalItems', 'additionalProperties', 'contains', 'propertyNames', 'unevaluatedItems', 'unevaluatedProperties'];
/** Keywords whose value is a map of schemas: parts of the instance, or definitions to refer to. */
const DESCEND_MAP = ['properties', 'patternProperties', 'definitions', '$defs'];
/** Keywords that move a schema's base URI or refer outside plain JSON pointers: never needed in a self-contained schema. */
const REFUSED = ['$id', 'id', '$anchor', '$dynamicRef', '$dynamicAnchor', '$recursiveRef', '$recursiveAnchor', '$schema'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const seg = (key: string | number) => '/' + String(key).replace(/~/g, '~0').replace(/\//g, '~1');

interface Walked {
  problems: Problem[];
  /** JSON pointer (from the schema's root) of each subschema -> the pointers it applies to the same instance. */
  inPlace: Map<string, string[]>;
}

/** The pointer a local `$ref` names, or null for one that is not `#` or `#/…`. */
function refTarget(ref: string): string | null {
  if (ref === '#') return '';
  if (!ref.startsWith('#/')) return null;
  try {
    return decodeURIComponent(ref.slice(1));
  } catch {
    return null;
  }
}

function walk(schema: unknown, at: string, out: Walked, ptr = ''): void {
  if (!isObject(schema)) return;
  const edges: string[] = [];
  out.inPlace.set(ptr, edges);
  for (const k of REFUSED) {
    if (k in schema) out.problems.push({ path: at + seg(k), message: `"${k}" is not supported: the schema is self-contained, and refers to its parts with "#/definitions/…"` });
  }
  if (typeof schema.pattern === 'string') {
    try {
      linearRegExp(schema.pattern);
    } catch (err) {
      out.problems.push({ path: `${at}/pattern`, message: `not a pattern RE2 runs in linear time: ${(err as Error).message}` });
    }
  }
  if ('$ref' in schema) {
    const target = typeof schema.$ref === 'string' ? refTarget(schema.$ref) : null;
    if (target === null) out.problems.push({ path: `${at}/$ref`, message: 'must be "#" or a JSON pointer "#/…" into this schema' });
    else edges.push(target);
  }
  for (const k of IN_PLACE_ONE) {
    if (isObject(schema[k])) {
      edges.push(ptr + seg(k));
      walk(schema[k], at + seg(k), out, ptr + seg(k));
    }
  }
  for (const k of IN_PLACE_LIST) {
    const list = schema[k];
    if (!Array.isArray(list)) continue;
    list.forEach((s, i) => {
      edges.push(ptr + seg(k) + seg(i));
      walk(s, at + seg(k) + seg(i), out, ptr + seg(k) + seg(i));
    });
  }
  if (isObject(schema.dependencies) || isObject(schema.dependentSchemas)) {
    for (const k of ['dependencies', 'dependentSchemas']) {
      const map = schema[k];
      if (!isObject(map)) continue;
      for (const [name, s] of Object.entries(map)) {
        if (!isObject(s)) continue;
        edges.push(ptr + seg(k) + seg(name));
        walk(s, at + seg(k) + seg(name), out, ptr + seg(k) + seg(name));
      }
    }
  }
  for (const k of DESCEND_ONE) {
    const v = schema[k];
    if (Array.isArray(v)) v.forEach((s, i) => walk(s, at + seg(k) + seg(i), out, ptr + seg(k) + seg(i)));
    else walk(v, at + seg(k), out, ptr + seg(k));
  }
  if (Array.isArray(schema.prefixItems)) schema.prefixItems.forEach((s, i) => walk(s, `${at}/prefixItems${seg(i)}`, out, `${ptr}/prefixItems${seg(i)}`));
  for (const k of DESCEND_MAP) {
    const map = schema[k];
    if (!isObject(map)) continue;
    for (const [name, s] of Object.entries(map)) {
      if (k === 'patternProperties') {
        try {
          linearRegExp(name);
        } catch (err) {
          out.problems.push({ path: at + seg(k) + seg(name), message: `not a pattern RE2 runs in linear time: ${(err as Error).message}` });
        }
      }
      walk(s, at + seg(k) + seg(name), out, ptr + seg(k) + seg(name));
    }
  }
}

/** `$ref` chains that come back to where they started without descending into the data recurse forever. */
function cycleProblems(inPlace: Map<string, string[]>, at: string): Problem[] {
  const state = new Map<string, 'open' | 'done'>();
  const problems: Problem[] = [];
  const visit = (ptr: string): boolean => {
    if (state.get(ptr) === 'done') return false;
    if (state.get(ptr) === 'open') return true;
    state.set(ptr, 'open');
    for (const next of inPlace.get(ptr) ?? []) {
      if (visit(next)) {
        state.set(ptr, 'done');
        return true;
      }
    }
    state.set(ptr, 'done');
    return false;
  };
  for (const ptr of inPlace.keys()) {
    if (!state.has(ptr) && visit(ptr)) {
      problems.push({ path: at + ptr, message: 'its $ref refers back to itself without descending into the data: validating would never end' });
      break;
    }
  }
  return problems;
}

/**
 * Compile an outside schema, or list why it cannot be used (paths under `at`).
 * @example
 * const { validate, problems } = compileUserSchema(userSchemaAjv(), { type: 'object' }, '/inputSchema');
 */
export function compileUserSchema(ajv: Ajv, schema: unknown, at: string): { validate?: ValidateFunction; problems: Problem[] } {
  if (!isObject(schema)) return { problems: [{ path: at, message: 'must be a JSON Schema object' }] };
  const walked: Walked = { problems: [], inPlace: new Map() };
  walk(schema, at, walked);
  const problems = walked.problems.length ? walked.problems : cycleProblems(walked.inPlace, at);
  if (problems.length) return { problems };
  try {
    return { validate: ajv.compile(schema), problems: [] };
  } catch (err) {
    return { problems: [{ path: at, message: `does not compile: ${(err as Error).message}` }] };
  }
}
