// Owns evaluating mapping expressions and `when` conditions against one payload item.
import type { Condition, Expr, ExprMods, When } from './mapping-schema.ts';

export interface Scope {
  /** The item being mapped (the body itself when the mapping has no `items`). */
  item: unknown;
  /** The whole (normalised) body, for `^/` paths. */
  body: unknown;
  /** Request headers, lower-cased names. */
  headers: Record<string, string | string[] | undefined>;
  /** `@name` path segments resolve through this. */
  fields: Record<string, string>;
}

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

function own(obj: unknown, key: string): unknown {
  if (!obj || typeof obj !== 'object' || FORBIDDEN.has(key)) return undefined;
  return Object.prototype.hasOwnProperty.call(obj, key) ? (obj as Record<string, unknown>)[key] : undefined;
}

/** Resolve a JSON pointer; `*` segments map over arrays and flatten the results. */
export function resolvePath(path: string, scope: Scope): unknown {
  let root = scope.item;
  let p = path;
  if (p.startsWith('^')) {
    root = scope.body;
    p = p.slice(1);
  }
  if (p === '') return root;
  const segments = p.slice(1).split('/').map((s) => {
    const seg = s.replace(/~1/g, '/').replace(/~0/g, '~');
    return seg.startsWith('@') && Object.hasOwn(scope.fields, seg.slice(1)) ? scope.fields[seg.slice(1)] : seg;
  });
  const walk = (value: unknown, i: number): unknown => {
    if (value === undefined) return undefined;
    if (i === segments.length) return value;
    const seg = segments[i];
    if (seg === '*') {
      if (!Array.isArray(value)) return undefined;
      return value.flatMap((v) => {
        const r = walk(v, i + 1);
        return r === undefined ? [] : Array.isArray(r) && segments.slice(i + 1).includes('*') ? r : [r];
      });
    }
    if (Array.isArray(value)) return /^\d+$/.test(seg) ? walk(value[Number(seg)], i + 1) : undefined;
    return walk(own(value, seg), i + 1);
  };
  return walk(root, 0);
}

function isExprForm(e: object): boolean {
  return 'path' in e || 'template' in e || 'first' in e || 'literal' in e;
}

/** ServiceNow raw date-times are `YYYY-MM-DD HH:MM:SS` in UTC; Jira writes offsets as `+0000`. */
function toIso(v: unknown): string | undefined {
  // Past ±8.64e15 ms a Date is invalid and toISOString throws: such a time is left out.
  if (typeof v === 'number' && Number.isFinite(v)) return Math.abs(v) <= 8.64e15 ? new Date(v).toISOString() : undefined;
  if (typeof v !== 'string' || !v.trim()) return undefined;
  let s = v.trim();
  if (/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?$/.test(s)) s = `${s.replace(' ', 'T')}Z`;
  s = s.replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  const t = Date.parse(s);
  return Number.isFinite(t) ? new Date(t).toISOString() : undefined;
}

function applyMods(value: unknown, mods: ExprMods): unknown {
  let v = value;
  if (mods.match !== undefined && v !== undefined) {
    const re = new RegExp(mods.match);
    let found: unknown = undefined;
    for (const x of Array.isArray(v) ? v : [v]) {
      if (typeof x !== 'string' && typeof x !== 'number') continue;
      const m = re.exec(String(x));
      if (m) {
        found = m.slice(1).find((g) => g !== undefined) ?? m[0];
        break;
      }
    }
    v = found;
  }
  if (mods.map !== undefined && v !== undefined) {
    const key = String(v);
    if (Object.prototype.hasOwnProperty.call(mods.map, key)) v = mods.map[key];
    else {
      const hit = Object.keys(mods.map).find((k) => k.toLowerCase() === key.toLowerCase());
      v = hit === undefined ? undefined : mods.map[hit];
    }
  }
  if (mods.as !== undefined && v !== undefined && v !== null) {
    if (mods.as === 'number') {
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
      v = Number.isFinite(n) ? n : undefined;
    } else if (mods.as === 'string') v = typeof v === 'object' ? JSON.stringify(v) : String(v);
    else if (mods.as === 'lower') v = typeof v === 'string' ? v.toLowerCase() : v;
    else v = toIso(v);
  }
  if ((v === undefined || v === null || v === '') && mods.default !== undefined) v = mods.default;
  return v === null || v === '' ? undefined : v;
}

/** Evaluate an expression; undefined means "leave the field out". */
export function evaluate(expr: Expr, scope: Scope): unknown {
  if (expr === null || typeof expr !== 'object') return expr;
  if (Array.isArray(expr)) return expr.map((e) => evaluate(e as Expr, scope));
  const e = expr as Record<string, unknown>;
  if (isExprForm(e)) {
    if ('literal' in e) return e.literal;
    let v: unknown;
    if (typeof e.path === 'string') v = resolvePath(e.path, scope);
    else if (typeof e.template === 'string') {
      let missing = false;
      v = e.template.replace(/\{([^{}]*)\}/g, (_, p: string) => {
        const x = resolvePath(p, scope);
        if (x === undefined || x === null || typeof x === 'object') missing = true;
        return String(x);
      });
      if (missing) v = undefined;
    } else if (Array.isArray(e.first)) {
      for (const alt of e.first as Expr[]) {
        v = evaluate(alt, scope);
        if (v !== undefined) break;
      }
    }
    return applyMods(v, e as ExprMods);
  }
  const out: Record<string, unknown> = {};
  for (const [k, sub] of Object.entries(e)) {
    const v = evaluate(sub as Expr, scope);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

function header(scope: Scope, name: string): string | undefined {
  const v = scope.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

function holds(value: unknown, cond: Condition): boolean {
  if (cond !== null && typeof cond === 'object') {
    const c = cond as Record<string, unknown>;
    if ('exists' in c) return (value !== undefined && value !== null) === c.exists;
    if ('in' in c) return (c.in as unknown[]).some((x) => x === value);
    if ('includes' in c) return Array.isArray(value) ? value.includes(c.includes) : value === c.includes;
    if ('matches' in c) return (typeof value === 'string' || typeof value === 'number') && new RegExp(String(c.matches)).test(String(value));
  }
  return value === cond;
}

/** True when every condition of one `when` (or of any one, for a list) holds. */
export function matches(when: When | When[] | undefined, scope: Scope): boolean {
  if (!when) return true;
  if (Array.isArray(when)) return when.some((w) => matches(w, scope));
  return Object.entries(when).every(([key, cond]) =>
    holds(key.startsWith('header:') ? header(scope, key.slice(7)) : resolvePath(key, scope), cond));
}
