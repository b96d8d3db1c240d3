// Schemas shared by several routes: errors, pages, runs, history entries, query paging.
import { historyEntrySchema, runViewSchema } from '../../engine/index.ts';

export const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
    },
  },
} as const;

/** A run as the engine returns it: the engine's schema, from which its RunView type is derived. */
export const runSchema = runViewSchema;

/** A history entry: one of the engine's entry types, or an entry of the process model (the engine's schemas). */
export { historyEntrySchema };

export function pageOf(items: object) {
  return { type: 'object', required: ['items', 'nextCursor'], properties: { items: { type: 'array', items }, nextCursor: { type: ['string', 'null'] } } } as const;
}

export const pagingQuery = {
  limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
  cursor: { type: 'string', minLength: 1, maxLength: 200 },
} as const;

export const idParam = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;

export const nameParam = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: { type: 'string', pattern: '^[a-z][a-z0-9_-]{0,63}$' } },
} as const;

/** Free-form JSON objects (input, payloads): bounded by the body limits, never by shape. */
export const freeObject = { type: 'object', additionalProperties: true } as const;
