// Owns the JSON Schema of a JSON workflow definition and the shape problems ajv finds with one.
import { Ajv, type ErrorObject } from 'ajv';
import type { Problem } from '../errors.ts';
import { seg } from './exprs.ts';

/** A hundred years in ms: the longest delay or due time a JSON workflow may ask for. */
export const MAX_DELAY_MS = 100 * 365 * 24 * 3600 * 1000;

const ref = (name: string) => ({ $ref: `#/definitions/${name}` });
/** `if`/`then`/`else` rather than `anyOf`, so that ajv reports the problem of the form actually written. */
const byType = (type: string, then: object, otherwise: object) => ({ if: { type }, then, else: otherwise });

const valueExpr = {
  description:
    'A literal JSON value, or a reference: {"$event": "path"}, {"$context": "path"}, {"$input": "path"} (initial context only), ' +
    '{"$now": true} or {"$literal": value}, with an optional "default".',
};
const stateKey = { type: 'string', pattern: '^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$' };
const delayName = { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]{0,63}$' };
const stringList = { type: 'array', items: { type: 'string' } };

function nodeProperties(): Record<string, unknown> {
  return {
    id: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_-]{0,63}$', description: 'Target this state from anywhere as "#id".' },
    description: { type: 'string' },
    type: { enum: ['atomic', 'compound', 'parallel', 'final', 'history'] },
    initial: stateKey,
    states: { type: 'object', propertyNames: stateKey, additionalProperties: ref('stateNode') },
    history: { enum: ['shallow', 'deep'], description: 'For a history state.' },
    target: { type: 'string', description: 'For a history state: where to go when there is no history yet.' },
    on: { type: 'object', propertyNames: { type: 'string', minLength: 1, maxLength: 128 }, additionalProperties: ref('transitions') },
    always: ref('transitions'),
    after: {
      type: 'object',
      description: 'Keys are delays in ms ("5000") or names from the top-level `delays`.',
      propertyNames: { type: 'string', pattern: '^([0-9]{1,10}|[A-Za-z_][A-Za-z0-9_]{0,63})$' },
      additionalProperties: ref('transitions'),
    },
    onDone: ref('transitions'),
    invoke: byType('array', { type: 'array', items: ref('invoke') }, ref('invoke')),
    entry: ref('actions'),
    exit: ref('actions'),
    output: { ...valueExpr, description: 'On a final state (or the root): the output, resolved from the context.' },
    meta: ref('meta'),
    tags: stringList,
  };
}

/** The shape of `definition` in `POST /v1/workflows` (draft-07; also valid in OpenAPI 3.1). Embed it as is. */
export const jsonWorkflowSchema = {
  // The $id makes the "#/definitions/…" references resolve inside this schema wherever it is embedded
  // (a request body schema, OpenAPI components), not against the document that embeds it.
  $id: 'urn:servicechart:json-workflow-definition',
  title: 'JSON workflow definition',
  description: 'An XState v5 machine config as JSON, using only the built-in actions, guards and registered tasks.',
  type: 'object',
  properties: {
    ...nodeProperties(),
    type: { enum: ['compound', 'parallel'] },
    context: { type: 'object', description: 'The initial context; values are value expressions and may use $input.', additionalProperties: valueExpr },
    delays: {
      type: 'object',
      description: 'Named delays in ms; input or context `delaysMs.<name>` overrides one for a run.',
      propertyNames: delayName,
      additionalProperties: byType(
        'object',
        { type: 'object', description: 'A reference with a default, e.g. {"$context": "slaMs", "default": 60000}; a referenced value outside 0..100 years falls back to the default.', required: ['default'], properties: { default: { type: 'integer', minimum: 0, maximum: MAX_DELAY_MS } } },
        { type: 'integer', minimum: 0, maximum: MAX_DELAY_MS },
      ),
    },
  },
  required: ['states'],
  additionalProperties: false,
  definitions: {
    stateNode: { type: 'object', properties: nodeProperties(), additionalProperties: false },
    transitions: byType('string', { type: 'string', minLength: 1 }, byType('array', { type: 'array', items: ref('transition') }, ref('transitionObject'))),
    transition: byType('string', { type: 'string', minLength: 1 }, ref('transitionObject')),
    transitionObject: {
      type: 'object',
      properties: {
        target: byType('array', { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } }, { type: 'string', minLength: 1 }),
        guard: ref('guard'),
        actions: ref('actions'),
        reenter: { type: 'boolean' },
        description: { type: 'string' },
      },
      additionalProperties: false,
    },
    actions: byType('array', { type: 'array', items: ref('action') }, ref('action')),
    action: byType('string', { type: 'string', minLength: 1 }, {
      type: 'object',
      properties: { type: { type: 'string', minLength: 1 }, params: { type: 'object' } },
      required: ['type'],
      additionalProperties: false,
    }),
    guard: byType('string', { type: 'string', minLength: 1 }, {
      type: 'object',
      description: 'A built-in guard {type, params}, or exactly one of {and: [...]}, {or: [...]}, {not: guard}.',
      properties: {
        type: { type: 'string', minLength: 1 },
        params: { type: 'object' },
        and: { type: 'array', minItems: 1, items: ref('guard') },
        or: { type: 'array', minItems: 1, items: ref('guard') },
        not: ref('guard'),
      },
      minProperties: 1,
      additionalProperties: false,
    }),
    invoke: {
      type: 'object',
      properties: {
        id: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_-]{0,63}$' },
        src: { type: 'string', minLength: 1, description: 'The name of a registered task.' },
        input: { type: 'object', description: 'The task input; values are value expressions.', additionalProperties: valueExpr },
        onDone: ref('transitions'),
        onError: ref('transitions'),
      },
      required: ['src'],
      additionalProperties: false,
    },
    meta: {
      type: 'object',
      properties: {
        humanTask: {
          type: 'object',
          properties: {
            role: { type: 'string', minLength: 1 },
            title: { type: 'string', minLength: 1 },
            outcomes: {
              type: 'object',
              description: 'OUTCOME -> EVENT_TYPE sent to the run; an outcome is what POST /v1/tasks/:id/complete names (at most 64 characters).',
              minProperties: 1,
              propertyNames: { type: 'string', minLength: 1, maxLength: 64 },
              // The event types POST /v1/runs/:id/events accepts: no xstate.* event can be forged through a task.
              additionalProperties: { type: 'string', pattern: '^(?!xstate\\.)[A-Za-z][A-Za-z0-9_.:-]{0,127}$' },
            },
            dueInMs: { type: 'integer', minimum: 0, maximum: MAX_DELAY_MS },
          },
          required: ['role', 'title', 'outcomes'],
          additionalProperties: false,
        },
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(jsonWorkflowSchema);

function toProblem(err: ErrorObject, base: string): Problem {
  let path = base + err.instancePath;
  let message = err.message ?? 'is not valid';
  const extra = (err.params as { additionalProperty?: string }).additionalProperty;
  if (err.keyword === 'additionalProperties' && extra !== undefined) {
    path += seg(extra);
    message = 'unknown property';
  }
  const name = (err as ErrorObject & { propertyName?: string }).propertyName;
  if (name !== undefined) {
    path += seg(name);
    message = `is not a valid name: ${message}`;
  }
  return { path, message };
}

/** Ajv's errors as problems under `base`, without the summaries that only repeat them. */
export function ajvProblems(errors: ErrorObject[] | null | undefined, base: string): Problem[] {
  const out: Problem[] = [];
  const seen = new Set<string>();
  for (const err of errors ?? []) {
    // `if` and `propertyNames` only summarise the errors that ajv reports next to them.
    if (err.keyword === 'if' || err.keyword === 'propertyNames') continue;
    const p = toProblem(err, base);
    const key = `${p.path}\u0000${p.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(p);
    }
  }
  return out;
}

/** Every shape problem ajv finds in a definition, with paths under `base`. */
export function schemaProblems(definition: unknown, base: string): Problem[] {
  return validate(definition) ? [] : ajvProblems(validate.errors, base);
}
