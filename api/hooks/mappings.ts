// Owns loading webhook mappings: the built-in files in mappings/, replaced per source by the files
// of SERVICECHART_MAPPINGS_DIR, each checked against the mapping schema when it is loaded.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject } from 'ajv';
import { mappingSchema, type Mapping } from './mapping-schema.ts';
import { HOOK_SOURCES, type HookSource } from './verify.ts';

export const DEFAULT_MAPPINGS_DIR = fileURLToPath(new URL('../../mappings/', import.meta.url));

const ajv = new Ajv({ strict: true, strictRequired: false, allErrors: true, allowUnionTypes: true });
const validate = ajv.compile(mappingSchema);

export class MappingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MappingError';
  }
}

/** The most telling ajv error: the deepest path, a specific keyword before anyOf's summary. */
function worst(errors: ErrorObject[]): string {
  const sorted = [...errors].sort((a, b) => b.instancePath.length - a.instancePath.length || Number(a.keyword === 'anyOf') - Number(b.keyword === 'anyOf'));
  const e = sorted[0];
  let path = e.instancePath || '/';
  if (e.keyword === 'additionalProperties') path += `/${(e.params as { additionalProperty: string }).additionalProperty}`;
  if (e.keyword === 'required') path += `/${(e.params as { missingProperty: string }).missingProperty}`;
  const message = e.keyword === 'additionalProperties' ? 'unknown property' : (e.message ?? 'invalid');
  return `${path.replace(/^\/\//, '/')}: ${message}`;
}

/** Checks the schema cannot make: regular expressions compile and every `@name` is in `fields`. */
function semanticProblems(value: unknown, fields: Record<string, string>, path = ''): string[] {
  const out: string[] = [];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...semanticProblems(v, fields, `${path}/${i}`)));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const here = `${path}/${k}`;
      if ((k === 'match' || k === 'matches') && typeof v === 'string') {
        try {
          new RegExp(v);
        } catch (err) {
          out.push(`${here}: not a regular expression (${(err as Error).message})`);
        }
      }
      const refs = [k, ...(typeof v === 'string' && ['path', 'template', 'items'].includes(k) ? [v] : [])];
      for (const r of refs) {
        for (const m of r.matchAll(/\/@([A-Za-z0-9_-]+)/g)) if (!fields[m[1]]) out.push(`${here}: @${m[1]} is not named in "fields"`);
      }
      out.push(...semanticProblems(v, fields, here));
    }
  }
  return out;
}

/** Parse and check one mapping file; throws a MappingError naming the file and the JSON path. */
export function parseMapping(file: string, text: string, source?: HookSource): Mapping {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new MappingError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  if (!validate(data)) throw new MappingError(`${file}: invalid mapping at ${worst(validate.errors ?? [])}`);
  const mapping = data as unknown as Mapping;
  if (source && mapping.source !== source) throw new MappingError(`${file}: /source: must be "${source}" (the file's name)`);
  const problems = semanticProblems(mapping, mapping.fields ?? {});
  if (problems.length) throw new MappingError(`${file}: invalid mapping at ${problems[0]}`);
  return mapping;
}

/**
 * The mapping of every source: `<dir>/<source>.json` where `dir` has one, else the built-in file.
 * @example
 * const mappings = loadMappings(process.env.SERVICECHART_MAPPINGS_DIR);
 */
export function loadMappings(overrideDir?: string | null): Record<HookSource, Mapping> {
  if (overrideDir && !existsSync(overrideDir)) throw new MappingError(`SERVICECHART_MAPPINGS_DIR ${overrideDir} does not exist`);
  const out = {} as Record<HookSource, Mapping>;
  for (const source of HOOK_SOURCES) {
    const override = overrideDir ? join(overrideDir, `${source}.json`) : null;
    const file = override && existsSync(override) ? override : join(DEFAULT_MAPPINGS_DIR, `${source}.json`);
    out[source] = parseMapping(file, readFileSync(file, 'utf8'), source);
  }
  return out;
}
