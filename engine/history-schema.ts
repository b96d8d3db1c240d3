// Owns what a run's history holds: one JSON Schema per entry type. The TypeScript types (types.ts) are
// derived from these schemas, and the API documents history entries with them (api/schemas/common.ts).
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';

const text = { type: 'string' } as const;
const textOrNull = { type: ['string', 'null'] } as const;
const integer = { type: 'integer' } as const;
const time = { type: 'string', format: 'date-time' } as const;
const texts = { type: 'array', items: text } as const;
const json = {} as const;
const errorData = {
  type: 'object', required: ['code', 'message'], properties: { code: text, message: text }, additionalProperties: true,
} as const;

/**
 * The schema of one entry type: its `type`, when (`at`) and who (`actor`), and its own fields. An engine
 * entry holds exactly these fields (`additionalProperties: false`).
 */
function entry<const T extends string, const P extends { [field: string]: JSONSchema }, const R extends readonly (keyof P & string)[]>(
  type: T, description: string, properties: P, required: R,
) {
  return {
    type: 'object',
    description,
    required: ['type', 'at', 'actor', ...required],
    properties: { type: { const: type }, at: time, actor: text, ...properties },
    additionalProperties: false,
  } as const;
}

const taskRef = { task: text, taskId: text } as const;
const timerRef = { timer: text, timerId: text, event: text, dueAt: time } as const;
const humanRef = { humanTaskId: text, role: text, title: text } as const;

/** The entries the engine writes, by type. */
export const engineHistorySchemas = {
  'run.started': entry('run.started', 'the run started', {
    workflow: text, version: integer, input: { type: 'object' }, businessKey: textOrNull, parentRunId: textOrNull,
  }, ['workflow', 'version', 'input', 'businessKey', 'parentRunId']),
  'registry.read': entry('registry.read', 'the registry snapshot a step handed the machine', {
    version: integer, readAt: textOrNull, services: texts, cis: texts, missing: texts, snapshot: { type: 'object' },
  }, ['version', 'readAt', 'services', 'cis', 'missing', 'snapshot']),
  'event.received': entry('event.received', 'an event the run took (self: one it sent itself)', {
    event: text, payload: json, self: { const: true },
  }, ['event']),
  'event.sent': entry('event.sent', 'an event the run sent to another run', { to: text, event: text, payload: json }, ['to', 'event']),
  'event.undelivered': entry('event.undelivered', 'an event the run sent that its target refused', { to: text, event: text, reason: text }, ['to', 'event', 'reason']),
  'state.entered': entry('state.entered', 'a state the run entered (a dotted path)', { state: text }, ['state']),
  'task.scheduled': entry('task.scheduled', 'a task invoked', { ...taskRef, input: json }, ['task', 'taskId']),
  'task.started': entry('task.started', 'an attempt of a task started (worker: the external worker that locked it)', {
    ...taskRef, attempt: integer, worker: text,
  }, ['task', 'taskId', 'attempt']),
  'task.retrying': entry('task.retrying', 'an attempt failed and the task will be tried again', {
    ...taskRef, attempt: integer, error: errorData, retryAt: time,
  }, ['task', 'taskId', 'attempt', 'error']),
  'task.completed': entry('task.completed', 'a task returned its output (ignored: the run no longer waited for it)', {
    ...taskRef, output: json, ignored: { type: 'boolean' }, reason: text,
  }, ['task', 'taskId']),
  'task.failed': entry('task.failed', 'a task failed for good (ignored: the run no longer waited for it)', {
    ...taskRef, error: errorData, ignored: { type: 'boolean' }, reason: text,
  }, ['task', 'taskId', 'error']),
  'task.withdrawn': entry('task.withdrawn', 'the run left the state that invoked the task', taskRef, ['task', 'taskId']),
  'task.unserved': entry('task.unserved', 'no live worker has served the task type for a while; the run keeps waiting', {
    ...taskRef, waitingMs: { type: 'number' }, message: text,
  }, ['task', 'taskId', 'waitingMs', 'message']),
  'timer.scheduled': entry('timer.scheduled', 'a delayed event armed (to: another run it goes to)', { ...timerRef, to: text }, ['timer', 'timerId', 'event', 'dueAt']),
  'timer.fired': entry('timer.fired', 'a delayed event came due', { ...timerRef, latenessMs: { type: 'number' } }, ['timer', 'timerId', 'event', 'dueAt', 'latenessMs']),
  'timer.cancelled': entry('timer.cancelled', 'a delayed event withdrawn before it came due', timerRef, ['timer', 'timerId', 'event', 'dueAt']),
  'human.opened': entry('human.opened', 'a human task opened', { ...humanRef, state: text }, ['humanTaskId', 'role', 'title', 'state']),
  'human.completed': entry('human.completed', 'a human task completed', {
    ...humanRef, outcome: text, by: text, comment: textOrNull,
  }, ['humanTaskId', 'outcome', 'by', 'comment']),
  'human.withdrawn': entry('human.withdrawn', 'the run left the state of an open human task', humanRef, ['humanTaskId', 'role', 'title']),
  'workflow.emitted': entry('workflow.emitted', 'an event the workflow emitted that is not a history entry of its own', { emitted: { type: 'object' } }, ['emitted']),
  'workflow.logged': entry('workflow.logged', 'a log action of the workflow', { label: json, value: json }, ['label', 'value']),
  'run.done': entry('run.done', 'the run reached a final state', { output: json, state: json }, ['state']),
  'run.failed': entry('run.failed', 'the run failed', { reason: text, error: errorData }, ['reason', 'error']),
  'run.cancelled': entry('run.cancelled', 'the run was cancelled', { reason: textOrNull }, ['reason']),
  'hook.ignored': entry('hook.ignored', 'a webhook event the run refused', { event: text, reason: text }, ['event', 'reason']),
} as const;

/**
 * An entry a process model adds: a dotted type the workflow emits (`incident.assigned`, `sla.breached`,
 * `measure.recorded`, …) or a task records; its fields are the model's.
 */
export const modelHistorySchema = {
  type: 'object',
  description: 'an entry of the process model (a dotted type it emits, or a task records); measure.recorded carries measure, value, openedAt and dims',
  required: ['type', 'at', 'actor'],
  properties: { type: text, at: time, actor: text },
  additionalProperties: true,
} as const;

type EngineSchemas = typeof engineHistorySchemas;
export type EngineHistoryType = keyof EngineSchemas;
/** An entry the engine writes, discriminated by `type`. */
export type EngineHistoryDraft = { [T in EngineHistoryType]: FromSchema<EngineSchemas[T]> }[EngineHistoryType];
export type ModelHistoryDraft = FromSchema<typeof modelHistorySchema>;

/** The schema of an entry as the API serves it: numbered (`seq`). */
export function numbered(schema: { required: readonly string[]; properties: object }) {
  return { ...schema, required: ['seq', ...schema.required], properties: { seq: integer, ...schema.properties } };
}

/** Any history entry as the API serves it. */
export const historyEntrySchema = {
  anyOf: [...Object.values(engineHistorySchemas).map(numbered), numbered(modelHistorySchema)],
};
