// Schemas of the external task routes: what a worker sends and what it gets back.
import { lockedTaskSchema } from '../../engine/index.ts';

const workerId = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$', description: 'who is asking: a stable name per worker process' };
const taskType = { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_.-]{0,127}$' };
const lockToken = { type: 'string', minLength: 1, maxLength: 100, description: 'the token fetch handed out with the lock' };
const lockMs = { type: 'integer', minimum: 1000, maximum: 3_600_000, description: 'how long the lock holds, in ms' };

export const fetchBody = {
  type: 'object',
  required: ['workerId', 'types'],
  additionalProperties: false,
  properties: {
    workerId,
    types: { type: 'array', minItems: 1, maxItems: 50, uniqueItems: true, items: taskType, description: 'the task types this worker serves' },
    max: { type: 'integer', minimum: 1, maximum: 100, default: 1, description: 'at most this many tasks' },
    lockMs: { ...lockMs, default: 60_000 },
    waitMs: { type: 'integer', minimum: 0, maximum: 60_000, default: 0, description: 'long-poll: wait up to this long for a first task' },
  },
} as const;

/** A locked task as the engine hands it out: the engine's schema, from which its LockedTask type is derived. */
export { lockedTaskSchema };

export const fetchReply = { type: 'object', required: ['tasks'], properties: { tasks: { type: 'array', items: lockedTaskSchema } } } as const;

export const externalTaskParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', pattern: '^r[0-9a-z]{8,40}\\.t[0-9]+\\.[A-Za-z0-9_-]{1,200}$' } },
} as const;

export const completeBody = {
  type: 'object',
  required: ['lockToken', 'output'],
  additionalProperties: false,
  properties: { lockToken, output: { description: "the task's output; checked against its output schema" } },
} as const;

export const failBody = {
  type: 'object',
  required: ['lockToken', 'message', 'retryable'],
  additionalProperties: false,
  properties: {
    lockToken,
    message: { type: 'string', minLength: 1, maxLength: 10_000 },
    retryable: { type: 'boolean', description: 'false: the error goes to the run at once' },
    retryInMs: { type: 'integer', minimum: 0, maximum: 86_400_000, description: "instead of the task's exponential backoff" },
  },
} as const;

export const extendLockBody = { type: 'object', required: ['lockToken', 'lockMs'], additionalProperties: false, properties: { lockToken, lockMs } } as const;

export const settledReply = {
  type: 'object',
  required: ['id', 'runId'],
  properties: { id: { type: 'string' }, runId: { type: 'string' }, retrying: { type: 'boolean' }, nextAttemptAt: { type: ['string', 'null'] } },
} as const;

/** `tasks` of a JSON workflow registration: declarations by task name. */
export const taskDeclarationsSchema = {
  type: 'object',
  maxProperties: 100,
  propertyNames: taskType,
  additionalProperties: {
    type: 'object',
    additionalProperties: false,
    properties: {
      external: { type: 'boolean', description: 'offered to external workers even where an in-process handler exists' },
      description: { type: 'string', maxLength: 2000 },
      input: { type: 'object', description: 'JSON Schema of the task input' },
      output: { type: 'object', description: "JSON Schema a worker's output must match" },
      retry: {
        type: 'object', additionalProperties: false,
        properties: { attempts: { type: 'integer', minimum: 1, maximum: 100 }, backoffMs: { type: 'integer', minimum: 0, maximum: 86_400_000 } },
      },
    },
  },
} as const;

export const taskTypeSchema = {
  type: 'object',
  required: ['name', 'execution', 'workers', 'queue', 'failuresLastHour', 'conflict'],
  properties: {
    name: { type: 'string' },
    description: { type: ['string', 'null'] },
    execution: { enum: ['in-process', 'external'], description: 'where an invocation goes unless its workflow declares the task external' },
    input: { description: 'JSON Schema of the input (code declaration, else a live worker)' },
    output: { description: 'JSON Schema of the output' },
    retry: {},
    timeoutMs: { type: ['integer', 'null'] },
    workers: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          workerId: { type: 'string' }, host: { type: 'string' }, version: { type: 'string' }, kind: { enum: ['in-process', 'package', 'http'] },
          heartbeatAt: { type: 'string', format: 'date-time' }, expiresAt: { type: 'string', format: 'date-time' },
        },
      },
    },
    queue: { type: 'object', properties: { waiting: { type: 'integer' }, delayed: { type: 'integer' }, oldestWaitingMs: { type: ['integer', 'null'] } } },
    failuresLastHour: { type: 'integer' },
    conflict: { type: ['object', 'null'], description: 'live workers that publish different schemas for this name', properties: { workers: { type: 'array', items: { type: 'object' } } } },
  },
} as const;
