// Owns the shape of a run as every engine call and the API return it: the JSON Schema the API documents,
// from which the RunView type (types.ts) is derived.
const text = { type: 'string' } as const;
const time = { type: 'string', format: 'date-time' } as const;
const timeOrNull = { type: ['string', 'null'], format: 'date-time' } as const;

export const runViewSchema = {
  type: 'object',
  required: [
    'id', 'workflow', 'version', 'status', 'state', 'context', 'input', 'businessKey', 'parentRunId', 'createdAt', 'updatedAt', 'endedAt',
    'nextEvents', 'tasks', 'timers', 'humanTasks', 'output', 'error',
  ],
  properties: {
    id: text,
    workflow: text,
    version: { type: 'integer' },
    status: { enum: ['running', 'done', 'failed', 'cancelled'] },
    state: { description: 'XState state value: a string, or an object for nested/parallel states' },
    context: { type: 'object' },
    input: { type: 'object' },
    businessKey: { type: ['string', 'null'] },
    parentRunId: { type: ['string', 'null'] },
    createdAt: time,
    updatedAt: time,
    endedAt: timeOrNull,
    archived: { const: true, description: 'present (true) when the run has left Redis and is read from the archive' },
    nextEvents: { type: 'array', items: text },
    tasks: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'name', 'status', 'attempts'],
        properties: { id: text, name: text, status: { enum: ['queued', 'running', 'retrying', 'done', 'failed'] }, attempts: { type: 'integer' } },
        additionalProperties: false,
      },
    },
    timers: {
      type: 'array',
      items: { type: 'object', required: ['id', 'event', 'timer', 'dueAt'], properties: { id: text, event: text, timer: text, dueAt: time }, additionalProperties: false },
    },
    humanTasks: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'role', 'title', 'outcomes', 'dueAt'],
        properties: { id: text, role: text, title: text, outcomes: { type: 'object', additionalProperties: text }, dueAt: timeOrNull },
        additionalProperties: false,
      },
    },
    output: { description: 'what the final state output (null until the run is done)' },
    error: {
      anyOf: [{ type: 'null' }, { type: 'object', required: ['code', 'message'], properties: { code: text, message: text }, additionalProperties: false }],
    },
  },
  additionalProperties: false,
} as const;
