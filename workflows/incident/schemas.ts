// The JSON Schemas of an incident: its run input and each event's payload.
import { HOLD_REASONS, CANCEL_REASONS } from './reasons.ts';

const level = { type: 'integer', minimum: 1, maximum: 3 };
const by = { type: 'string', minLength: 1, maxLength: 200 };
const at = { anyOf: [{ type: 'string', maxLength: 64 }, { type: 'integer', minimum: 0 }] };
const ms = { type: 'integer', minimum: 0 };
const nullableMs = { anyOf: [ms, { type: 'null' }] };
const tolerant = (properties: Record<string, unknown>, required: string[] = []) => ({ type: 'object', required, properties, additionalProperties: true });

export const incidentInputSchema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    number: { type: 'string', maxLength: 200 },
    businessKey: { type: 'string', maxLength: 500 },
    title: { type: 'string', maxLength: 1000 },
    description: { type: 'string', maxLength: 60_000 },
    service: { type: 'string', maxLength: 200 },
    ci: { type: 'string', maxLength: 200 },
    category: { type: 'string', maxLength: 200 },
    labels: { type: 'object', additionalProperties: true },
    impact: level,
    urgency: level,
    priority: { anyOf: [{ type: 'integer', minimum: 1, maximum: 5 }, { type: 'string', pattern: '^[Pp]?[1-5]$' }] },
    priorityMatrix: { type: 'array', minItems: 3, maxItems: 3, items: { type: 'array', minItems: 3, maxItems: 3, items: { type: 'integer', minimum: 1, maximum: 5 } } },
    source: tolerant({ tool: { type: 'string', maxLength: 64 }, key: { type: 'string', maxLength: 500 }, url: { type: 'string', maxLength: 2000 }, fingerprint: { type: 'string', maxLength: 500 } }),
    caller: { type: 'string', maxLength: 200 },
    openedBy: { type: 'string', maxLength: 200 },
    assignmentGroup: { type: 'string', maxLength: 200 },
    assignee: { type: 'string', maxLength: 200 },
    groups: { type: 'array', items: { type: 'string' } },
    approvers: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
    oncall: { type: 'string', maxLength: 200 },
    openedAt: at,
    slaTargetsMs: {
      type: 'object', additionalProperties: false,
      patternProperties: { '^[1-5]$': { type: 'object', additionalProperties: false, properties: { responseMs: nullableMs, resolutionMs: nullableMs } } },
    },
    slaWarnAt: { type: 'array', maxItems: 5, items: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 } },
    slaPauseReasons: { type: 'array', items: { enum: [...HOLD_REASONS] } },
    autoCloseAfterMs: ms,
    autoResolveOnAlertClear: { type: 'boolean' },
    pagingPolicy: {
      type: 'object', additionalProperties: true,
      properties: {
        enabled: { type: 'boolean' },
        loops: { type: 'integer', minimum: 1, maximum: 9 },
        escalationTimeoutMs: ms,
        levels: {
          anyOf: [
            { type: 'integer', minimum: 1, maximum: 10 },
            { type: 'array', minItems: 1, maxItems: 10, items: { anyOf: [{ type: 'string' }, tolerant({ target: { type: 'string' }, escalationTimeoutMs: ms }, ['target'])] } },
          ],
        },
      },
    },
    delaysMs: { type: 'object', additionalProperties: ms },
    routingRules: { type: 'array', maxItems: 500, items: { type: 'object' } },
    serviceCatalog: { type: 'object' },
    changes: { type: 'array', maxItems: 1000, items: { type: 'object' } },
    links: tolerant({ causedByChange: { type: 'string' }, causedByDelivery: { type: 'string' }, reopenedFrom: { type: 'string' }, problem: { type: 'string' } }),
    reopenedFrom: { type: 'string' },
    majorIncidentGroup: { type: 'string', maxLength: 200 },
  },
};

export const incidentEventSchemas: Record<string, Record<string, unknown>> = {
  ACKNOWLEDGE: tolerant({ by, at }),
  ASSIGN: tolerant({ group: { type: 'string', minLength: 1, maxLength: 200 }, assignee: { type: 'string', maxLength: 200 }, by }, ['group']),
  PUT_ON_HOLD: tolerant({ reason: { enum: [...HOLD_REASONS] }, comment: { type: 'string', maxLength: 10_000 }, by }, ['reason']),
  CALLER_UPDATED: tolerant({ comment: { type: 'string', maxLength: 10_000 }, by }),
  RESUME: tolerant({ by }),
  UPDATE_PRIORITY: tolerant({ impact: level, urgency: level, by }, ['impact', 'urgency']),
  DECLARE_MAJOR: tolerant({ by }),
  ACCEPT_MAJOR: tolerant({ by, comment: { type: 'string' } }, ['by']),
  REJECT_MAJOR: tolerant({ by, comment: { type: 'string' } }, ['by']),
  REQUEST_CHANGE: tolerant({ changeType: { enum: ['standard', 'normal', 'emergency'] }, summary: { type: 'string', minLength: 1, maxLength: 1000 }, by }, ['summary']),
  CHANGE_CLOSED: tolerant({ childRunId: { type: 'string' }, closeCode: { type: 'string' } }),
  CHANGE_CANCELED: tolerant({ childRunId: { type: 'string' } }),
  LINK_PROBLEM: tolerant({ problemRef: { type: 'string', minLength: 1, maxLength: 200 }, by }),
  ALERT_FIRING: tolerant({ fingerprint: { type: 'string', maxLength: 500 }, at }),
  ALERT_RESOLVED: tolerant({ fingerprint: { type: 'string', maxLength: 500 }, at }),
  RESOLVE: tolerant({ code: { type: 'string', maxLength: 200 }, comment: { type: 'string', maxLength: 10_000 }, by, at, source: { type: 'string', maxLength: 64 } }),
  REOPEN: tolerant({ by, comment: { type: 'string', maxLength: 10_000 }, source: { type: 'string', maxLength: 64 } }, ['by']),
  CONFIRM_CLOSURE: tolerant({ by, comment: { type: 'string' } }, ['by']),
  PIR_COMPLETED: tolerant({ by, comment: { type: 'string', maxLength: 60_000 } }, ['by']),
  CANCEL: tolerant({ reason: { enum: [...CANCEL_REASONS] }, duplicateOf: { type: 'string', minLength: 1, maxLength: 500 }, by }, ['reason']),
  RECLASSIFY_AS_REQUEST: tolerant({ by }),
};
