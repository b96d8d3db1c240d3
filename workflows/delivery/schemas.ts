// JSON Schemas of the delivery run input and of its event payloads (ajv).
import { DELIVERY_DELAYS } from './delays.ts';

const ISO = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:\\d{2})$';

const dateTime = { type: 'string', pattern: ISO };
const by = { type: 'string', minLength: 1, maxLength: 200 };
const comment = { type: 'string', maxLength: 10_000 };
const span = { type: 'object', required: ['start', 'end'], properties: { start: dateTime, end: dateTime } };

/** The run input. */
export const inputSchema: Record<string, unknown> = {
  type: 'object',
  required: ['release'],
  properties: {
    release: {
      type: 'object',
      required: ['id', 'version', 'service'],
      properties: {
        id: { type: 'string', minLength: 1 }, version: { type: 'string', minLength: 1 }, service: { type: 'string', minLength: 1 },
        artifacts: { type: 'array', items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, digest: { type: 'string' }, signature: { type: 'string' } } } },
        commits: { type: 'array', items: { type: 'object', required: ['sha', 'committedAt'], properties: { sha: { type: 'string' }, committedAt: dateTime } } },
        scope: { type: 'array' },
      },
    },
    environments: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
    strategy: { enum: ['canary', 'phased', 'bigBang'] },
    canary: {
      type: 'object',
      properties: { stepWeight: { type: 'number', exclusiveMinimum: 0, maximum: 100 }, maxWeight: { type: 'number', exclusiveMinimum: 0, maximum: 100 }, intervalMs: { type: 'integer', minimum: 0 }, threshold: { type: 'integer', minimum: 1 } },
      additionalProperties: false,
    },
    phased: { type: 'object', properties: { waves: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'array', minItems: 1, items: { type: 'string' } }] } } },
    healthChecks: { type: 'array', items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, query: { type: 'string' }, url: { type: 'string' }, min: { type: 'number' }, max: { type: 'number' }, observed: { type: 'number' } } } },
    observed: { type: 'object', additionalProperties: { type: 'number' } },
    smokeTests: { type: 'array', items: { type: 'object', required: ['name', 'url'], properties: { name: { type: 'string' }, url: { type: 'string' } } } },
    bakeMs: { type: 'integer', minimum: 0 },
    elsMs: { type: 'integer', minimum: 0 },
    changePolicy: { type: 'string', pattern: '^(auto-standard|auto-normal|none|existing:.+)$' },
    change: { type: 'object', description: 'Extra input for the child change run (ci, plans, templateId, ...).' },
    scheduledStart: dateTime,
    window: span,
    schedules: { type: 'object', properties: { blackout: { type: 'array', items: span } } },
    reason: { type: 'string', pattern: '^(planned|incident:.+)$' },
    requestedBy: { type: 'string' },
    approvers: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
    previousVersion: { type: 'string' },
    autoRollbackOnIncident: { type: 'boolean' },
    delaysMs: {
      type: 'object',
      properties: Object.fromEntries(Object.keys(DELIVERY_DELAYS).map((k) => [k, { type: 'integer', minimum: 0 }])),
      additionalProperties: { type: 'integer', minimum: 0 },
    },
    simulate: { type: 'object', description: 'Test and dry-run hooks read by health_check, run_smoke_tests and deploy_step.' },
  },
  additionalProperties: true,
};

/** Event payloads, by event type. */
export const eventSchemas: Record<string, Record<string, unknown>> = {
  START: { type: 'object', required: ['by'], properties: { by } },
  GO: { type: 'object', required: ['by'], properties: { by, comment } },
  NO_GO: { type: 'object', required: ['by'], properties: { by, comment } },
  CHANGE_AUTHORIZED: { type: 'object', properties: { childRunId: { type: 'string' }, plannedStart: { type: ['string', 'null'] }, plannedEnd: { type: ['string', 'null'] } } },
  CHANGE_REJECTED: { type: 'object', properties: { childRunId: { type: 'string' }, comments: { type: 'array' } } },
  CHANGE_DEAUTHORIZED: { type: 'object', properties: { childRunId: { type: 'string' }, reason: { type: 'string' } } },
  CHANGE_IMPLEMENT_STARTED: { type: 'object', properties: { childRunId: { type: 'string' }, freezeOverrideApproved: { type: 'boolean' } } },
  CHANGE_CLOSED: { type: 'object', properties: { childRunId: { type: 'string' }, closeCode: { type: 'string' } } },
  PAUSE: { type: 'object', required: ['by'], properties: { by, comment } },
  RESUME: { type: 'object', required: ['by'], properties: { by, comment } },
  PROMOTE: { type: 'object', required: ['by'], properties: { by, comment } },
  ABORT: { type: 'object', required: ['by'], properties: { by, comment } },
  ROLLBACK: { type: 'object', required: ['by'], properties: { by, comment } },
  ELS_SIGNED_OFF: { type: 'object', required: ['by'], properties: { by, comment } },
  INCIDENT_OPENED: { type: 'object', required: ['incidentRunId', 'priority'], properties: { incidentRunId: { type: 'string', minLength: 1 }, priority: { type: 'integer', minimum: 1, maximum: 5 }, service: { type: 'string' } } },
  FREEZE_DECLARED: { type: 'object', required: ['from', 'to'], properties: { from: dateTime, to: dateTime } },
  EXTEND_WINDOW: { type: 'object', required: ['end'], properties: { end: dateTime, by } },
  CANCEL: { type: 'object', required: ['by'], properties: { by, reason: { type: 'string', maxLength: 500 }, comment } },
};
