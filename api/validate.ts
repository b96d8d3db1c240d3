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

export function compileCheck(schema: object, where: 'body' | 'query' | 'params'): Check {
  const fn: ValidateFunction = (where === 'body' ? bodyAjv : stringsAjv).compile(schema);
  return (data) => {
    if (!fn(data)) throw validationError(`the request ${where} is invalid`, toProblems(where, fn.errors));
  };
}

/** Compile a schema only to prove it compiles (the OpenAPI test uses it). */
export function compiles(schema: object): boolean {
  bodyAjv.compile(schema);
  return true;
}
