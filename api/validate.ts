// Owns request validation: one strict ajv for bodies, one that coerces query and path strings.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { validationError, type Problem } from '../engine/index.ts';

function make(coerce: boolean): Ajv {
  const ajv = new Ajv({ strict: true, allErrors: true, coerceTypes: coerce, useDefaults: coerce, allowUnionTypes: true });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  ajv.addKeyword({ keyword: 'example' });
  return ajv;
}

const bodyAjv = make(false);
const stringsAjv = make(true);

export function toProblems(where: string, errors: ErrorObject[] | null | undefined): Problem[] {
  return (errors ?? []).map((e) => {
    let path = `/${where}${e.instancePath}`;
    if (e.keyword === 'additionalProperties') path += `/${(e.params as { additionalProperty: string }).additionalProperty}`;
    if (e.keyword === 'required') path += `/${(e.params as { missingProperty: string }).missingProperty}`;
    const message = e.keyword === 'additionalProperties' ? 'unknown property' : (e.message ?? 'invalid');
    return { path, message };
  });
}

export type Check = (data: unknown) => void;

/** A number in a query or path: plain decimal digits, at most 15 of them (ajv alone would take `1e999`, `0x10`, ` 5`). */
const DECIMAL_INTEGER = /^-?(0|[1-9][0-9]{0,14})$/;

/** The properties of a query or path schema that are integers; each must declare its range. */
function integerNames(schema: object, where: string): string[] {
  const props = (schema as { properties?: Record<string, { type?: unknown; minimum?: unknown; maximum?: unknown }> }).properties ?? {};
  const names = Object.keys(props).filter((k) => props[k].type === 'integer');
  for (const k of names) {
    if (typeof props[k].minimum !== 'number' || typeof props[k].maximum !== 'number') throw new Error(`the ${where} integer "${k}" needs a minimum and a maximum`);
  }
  return names;
}

/** Problems ajv's coercion would hide: a key given more than once, a number that is not plain decimal digits. */
function stringProblems(data: unknown, where: string, integers: string[]): Problem[] {
  const problems: Problem[] = [];
  if (!data || typeof data !== 'object') return problems;
  for (const [k, v] of Object.entries(data)) {
    if (Array.isArray(v)) problems.push({ path: `/${where}/${k}`, message: 'given more than once' });
    else if (integers.includes(k) && !(typeof v === 'string' && DECIMAL_INTEGER.test(v))) problems.push({ path: `/${where}/${k}`, message: 'must be a decimal integer' });
  }
  return problems;
}

export function compileCheck(schema: object, where: 'body' | 'query' | 'params'): Check {
  const fn: ValidateFunction = (where === 'body' ? bodyAjv : stringsAjv).compile(schema);
  const integers = where === 'body' ? [] : integerNames(schema, where);
  return (data) => {
    const early = where === 'body' ? [] : stringProblems(data, where, integers);
    if (early.length) throw validationError(`the request ${where} is invalid`, early);
    if (!fn(data)) throw validationError(`the request ${where} is invalid`, toProblems(where, fn.errors));
  };
}

/** Compile a schema only to prove it compiles (the OpenAPI test uses it). */
export function compiles(schema: object): boolean {
  bodyAjv.compile(schema);
  return true;
}
