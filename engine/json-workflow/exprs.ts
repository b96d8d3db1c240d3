// Owns the value expressions of JSON workflows ({"$event": "a.b"}, {"$context": …}, …): checking them,
// resolving them against context and event, and the dotted-path reads and writes they rely on.
import type { Problem } from '../errors.ts';

/** Keys that could reach an object's prototype; refused anywhere in a definition and in every path. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** What a value expression may read: `$input` exists only while the initial context is built. */
export interface ExprEnv {
  context?: unknown;
  event?: unknown;
  input?: unknown;
}

export type RefKind = '$event' | '$context' | '$input' | '$now' | '$literal';
const REF_KINDS: readonly RefKind[] = ['$event', '$context', '$input', '$now', '$literal'];

/** Where an expression sits decides what it may reference. */
export const IN_CONTEXT_INIT: readonly RefKind[] = ['$input', '$now', '$literal'];
export const AT_RUNTIME: readonly RefKind[] = ['$event', '$context', '$now', '$literal'];

/** A JSON pointer segment, escaped as RFC 6901 says. */
export function seg(key: string | number): string {
  return '/' + String(key).replace(/~/g, '~0').replace(/\//g, '~1');
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isRef(v: Record<string, unknown>): boolean {
  return Object.keys(v).some((k) => k.startsWith('$'));
}

/** Problems with a dotted path such as `ticket.assignee`; empty when it is usable. */
export function checkPath(path: unknown, at: string): Problem[] {
  if (typeof path !== 'string' || path.length === 0) return [{ path: at, message: 'must be a non-empty dotted path' }];
  const parts = path.split('.');
  if (parts.some((p) => p.length === 0)) return [{ path: at, message: `"${path}" has an empty segment` }];
  const bad = parts.find((p) => FORBIDDEN_KEYS.has(p));
  return bad ? [{ path: at, message: `"${bad}" is not allowed in a path` }] : [];
}

/** Every problem with a value expression, at any depth; `allowed` says which references it may use. */
export function checkExpr(expr: unknown, at: string, allowed: readonly RefKind[]): Problem[] {
  if (Array.isArray(expr)) return expr.flatMap((item, i) => checkExpr(item, at + seg(i), allowed));
  if (!isPlainObject(expr)) return [];
  if (!isRef(expr)) return Object.entries(expr).flatMap(([k, v]) => checkExpr(v, at + seg(k), allowed));
  const kinds = REF_KINDS.filter((k) => k in expr);
  const unknown = Object.keys(expr).filter((k) => !(REF_KINDS as readonly string[]).includes(k) && k !== 'default');
  if (unknown.length) return [{ path: at, message: `unknown reference key(s) ${unknown.join(', ')}; use one of ${REF_KINDS.join(', ')} with an optional "default"` }];
  if (kinds.length !== 1) return [{ path: at, message: `a reference names exactly one of ${REF_KINDS.join(', ')}` }];
  const kind = kinds[0];
  if (!allowed.includes(kind)) return [{ path: at + seg(kind), message: `${kind} cannot be used here (allowed: ${allowed.join(', ')})` }];
  if (kind === '$literal') return 'default' in expr ? [{ path: at + '/default', message: '$literal takes no default' }] : [];
  if (kind === '$now') return expr.$now === true ? [] : [{ path: at + '/$now', message: 'must be true' }];
  return checkPath(expr[kind], at + seg(kind));
}

/** The value at a dotted path, reading own properties only; `undefined` when any step is missing. */
export function getPath(root: unknown, path: string): unknown {
  let cur = root;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function copyOf(v: unknown): Record<string, unknown> | unknown[] {
  if (Array.isArray(v)) return [...v];
  return isPlainObject(v) ? { ...v } : {};
}

function guardKey(part: string): void {
  // Checked when the definition was compiled; repeated here so no path can ever reach a prototype.
  if (FORBIDDEN_KEYS.has(part)) throw new Error(`"${part}" is not allowed in a path`);
}

/** A copy of `root` with `value` at the dotted path (missing steps become objects); `undefined` removes it. */
export function setPath(root: unknown, path: string, value: unknown): Record<string, unknown> {
  const parts = path.split('.');
  parts.forEach(guardKey);
  const top = copyOf(root) as Record<string, unknown>;
  let cur: Record<string, unknown> = top;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = copyOf(cur[parts[i]]) as Record<string, unknown>;
    cur[parts[i]] = next;
    cur = next;
  }
  const last = parts[parts.length - 1];
  if (value === undefined) delete cur[last];
  else cur[last] = value;
  return top;
}

/** Resolve a value expression checked by `checkExpr`; literal objects and arrays resolve member by member. */
export function resolveExpr(expr: unknown, env: ExprEnv): unknown {
  if (Array.isArray(expr)) return expr.map((item) => resolveExpr(item, env));
  if (!isPlainObject(expr)) return expr;
  if (!isRef(expr)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(expr)) {
      guardKey(k);
      out[k] = resolveExpr(v, env);
    }
    return out;
  }
  if ('$literal' in expr) return expr.$literal;
  let value: unknown;
  // At the start, the event is XState's init event, which carries the run input (and its $at).
  if ('$now' in expr) value = getPath(env.input ?? env.event, '$at') ?? getPath(env.event, 'input.$at');
  else if ('$event' in expr) value = getPath(env.event, String(expr.$event));
  else if ('$context' in expr) value = getPath(env.context, String(expr.$context));
  else if ('$input' in expr) value = getPath(env.input, String(expr.$input));
  return value === undefined ? expr.default : value;
}

/** Structural equality of JSON values. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  }
  if (!isPlainObject(a) || !isPlainObject(b)) return false;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
}
