// Schemas shared by several routes: errors, pages, runs, history entries, query paging.
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

export const runSchema = {
  type: 'object',
  required: ['id', 'workflow', 'version', 'status', 'state', 'context', 'input', 'businessKey', 'parentRunId', 'createdAt', 'updatedAt', 'endedAt', 'nextEvents', 'tasks', 'timers', 'output'],
  properties: {
    id: { type: 'string' },
    workflow: { type: 'string' },
    version: { type: 'integer' },
    status: { enum: ['running', 'done', 'failed', 'cancelled'] },
    state: { description: 'XState state value: a string, or an object for nested/parallel states' },
    context: { type: 'object' },
    input: { type: 'object' },
    businessKey: { type: ['string', 'null'] },
    parentRunId: { type: ['string', 'null'] },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
    endedAt: { type: ['string', 'null'], format: 'date-time' },
    archived: { type: 'boolean', description: 'present (true) when the run has left Redis and is read from the archive' },
    nextEvents: { type: 'array', items: { type: 'string' } },
    tasks: {
      type: 'array',
      items: {
        type: 'object',
        properties: { id: { type: 'string' }, name: { type: 'string' }, status: { enum: ['queued', 'running', 'retrying', 'done', 'failed'] }, attempts: { type: 'integer' } },
      },
    },
    timers: {
      type: 'array',
      items: { type: 'object', properties: { id: { type: 'string' }, event: { type: 'string' }, timer: { type: 'string' }, dueAt: { type: 'string', format: 'date-time' } } },
    },
    humanTasks: { type: 'array', items: { type: 'object' } },
    output: {},
    error: {},
  },
} as const;

export const historyEntrySchema = {
  type: 'object',
  required: ['seq', 'at', 'type', 'actor'],
  properties: { seq: { type: 'integer' }, at: { type: 'string', format: 'date-time' }, type: { type: 'string' }, actor: { type: 'string' } },
  additionalProperties: true,
} as const;

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
