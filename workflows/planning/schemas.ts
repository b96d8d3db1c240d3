// JSON Schemas of the planning run input and of its event payloads (ajv).
import { AREA_NAMES, MAX_RELEASES } from './parallel-regions.ts';
import { PLANNING_DELAYS } from './delays.ts';

const by = { type: 'string', minLength: 1, maxLength: 200 };
const comment = { type: 'string', maxLength: 10_000 };
const dateTime = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:\\d{2}))?$' };
const span = { type: 'object', required: ['start', 'end'], properties: { start: dateTime, end: dateTime } };
const decision = { type: 'object', required: ['by'], properties: { by, comment } };
const assessed = (extra: Record<string, unknown> = {}) => ({
  type: 'object', required: ['by'], properties: { by, comment, score: { type: 'number', minimum: 0, maximum: 10 }, ...extra },
});
const people = { type: 'array', items: { type: 'string' } };

/** The run input. */
export const inputSchema: Record<string, unknown> = {
  type: 'object',
  required: ['demand'],
  properties: {
    demand: {
      type: 'object',
      properties: {
        id: { type: 'string' }, title: { type: 'string' }, businessCase: { type: 'string' }, requestedBy: { type: 'string' },
        services: { type: 'array', items: { type: 'string' } }, targetDate: dateTime, size: { enum: ['XS', 'S', 'M', 'L', 'XL'] },
        costEstimate: { type: 'number', minimum: 0 }, strategicGoal: { type: 'string' },
      },
    },
    assessments: { type: 'array', items: { enum: AREA_NAMES } },
    approvers: {
      type: 'object',
      properties: { demandManager: people, portfolioBoard: people, releaseManager: people, capacityManager: people, serviceOwner: people, finance: people, businessOwner: people },
      additionalProperties: people,
    },
    board: { type: 'object', properties: { meetingsAt: { type: 'array', items: dateTime } } },
    capacity: {
      type: 'object',
      properties: {
        headroomThreshold: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
        current: { type: 'object', additionalProperties: { type: 'number', minimum: 0 } },
        expectedLoad: { anyOf: [{ type: 'number', minimum: 0 }, { type: 'object', additionalProperties: { type: 'number', minimum: 0 } }] },
        metricQueries: { type: 'array', items: { type: 'object', required: ['service', 'query'] } },
        prometheusUrl: { type: 'string' },
      },
    },
    schedules: { type: 'object', properties: { blackout: { type: 'array', items: span }, releaseWindows: { type: 'array', items: span }, busy: { type: 'array' } } },
    scoring: { type: 'object', additionalProperties: { type: 'number', minimum: 0 } },
    budget: { type: 'number', minimum: 0 },
    releases: {
      type: 'array', minItems: 1, maxItems: MAX_RELEASES,
      items: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1 }, service: { type: 'string' }, version: { type: 'string' }, deliveryInput: { type: 'object' } } },
    },
    delivery: { type: 'object', description: 'Input shared by every child delivery run (strategy, environments, delaysMs, ...).' },
    requestedBy: { type: 'string' },
    delaysMs: {
      type: 'object',
      properties: Object.fromEntries(Object.keys(PLANNING_DELAYS).map((k) => [k, { type: 'integer', minimum: 0 }])),
      additionalProperties: { type: 'integer', minimum: 0 },
    },
  },
  additionalProperties: true,
};

/** Event payloads, by event type. */
export const eventSchemas: Record<string, Record<string, unknown>> = {
  UPDATE_DEMAND: {
    type: 'object',
    properties: { by, title: { type: 'string' }, businessCase: { type: 'string' }, services: { type: 'array', items: { type: 'string' } }, targetDate: dateTime, size: { enum: ['XS', 'S', 'M', 'L', 'XL'] }, costEstimate: { type: 'number', minimum: 0 }, strategicGoal: { type: 'string' } },
  },
  SUBMIT: decision,
  MOVE_TO_SCREENING: decision,
  VALUE_ASSESSED: assessed({ alignment: { type: 'number', minimum: 0, maximum: 10 } }),
  CAPACITY_ASSESSED: assessed({ capacityRisk: { type: 'boolean' }, peakUtilisation: { type: 'number', minimum: 0 } }),
  SLA_ASSESSED: assessed(),
  COST_ASSESSED: assessed({ cost: { type: 'number', minimum: 0 } }),
  QUALIFY: decision,
  APPROVE: decision,
  APPROVE_WITH_CAPACITY_ACTION: decision,
  DEFER: { type: 'object', required: ['by'], properties: { by, comment, until: dateTime } },
  REJECT: decision,
  CONFIRM_PLAN: decision,
  REVISE_PLAN: { type: 'object', required: ['by'], properties: { by, comment, constraints: { type: 'object', properties: { notBefore: dateTime, excludeWindows: { type: 'array', items: { type: 'string' } } } } } },
  DELIVERY_COMPLETED: { type: 'object', properties: { childRunId: { type: 'string' }, outcome: { type: ['string', 'null'] }, deployedAt: { type: ['string', 'null'] } } },
  DELIVERY_FAILED: { type: 'object', properties: { childRunId: { type: 'string' }, outcome: { type: ['string', 'null'] } } },
  DELIVERY_CANCELED: { type: 'object', properties: { childRunId: { type: 'string' }, outcome: { type: ['string', 'null'] } } },
  FREEZE_DECLARED: { type: 'object', required: ['from', 'to'], properties: { from: dateTime, to: dateTime } },
  RESCHEDULE: decision,
  DESCOPE: { type: 'object', required: ['by'], properties: { by, comment, releaseIds: { type: 'array', minItems: 1, items: { type: 'string' } } } },
  CANCEL: { type: 'object', required: ['by'], properties: { by, comment, reason: { type: 'string', maxLength: 500 } } },
};
