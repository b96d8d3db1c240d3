// Owns the JSON Schemas of the change model: its run input (docs/models/change.md §2.1 plus what the §6 webhook
// mappings and parent runs put there) and the payloads of its events (422 when one breaks them).

const window = {
  type: 'object', required: ['start', 'end'], properties: { start: { type: 'string' }, end: { type: 'string' }, name: { type: 'string' } },
};
const schedule = { anyOf: [{ type: 'array', items: window }, { type: 'object', additionalProperties: { type: 'array', items: window } }] };
const policy = {
  type: 'object',
  required: ['waitFor'],
  properties: { waitFor: { enum: ['first_response', 'all', 'percentage'] }, percent: { type: 'number', exclusiveMinimum: 0, maximum: 100 } },
  if: { properties: { waitFor: { const: 'percentage' } } },
  then: { required: ['waitFor', 'percent'] },
};
const changeType = { enum: ['standard', 'normal', 'emergency', 'Standard', 'Normal', 'Emergency'] };
const oneToThree = { anyOf: [{ type: 'integer', minimum: 1, maximum: 3 }, { type: 'string', pattern: '^[1-3]$' }] };
const strings = { type: 'array', items: { type: 'string' } };
const flag = { anyOf: [{ type: 'boolean' }, { enum: ['true', 'false'] }] };

/** Top level open (`additionalProperties: true`): tools and parent runs add fields the model does not read. */
export const changeInputSchema: Record<string, unknown> = {
  type: 'object',
  properties: {
    type: changeType,
    changeType,
    unauthorized: flag,
    autoSubmit: flag,
    templateId: { type: 'string' },
    templates: { type: 'object', additionalProperties: { type: 'object', properties: { active: { type: 'boolean' } } } },
    number: { type: 'string' },
    title: { type: 'string' },
    summary: { type: 'string' },
    description: { type: 'string' },
    justification: { type: 'string' },
    implementationPlan: { type: 'string' },
    backoutPlan: { type: 'string' },
    backoutTested: { type: 'boolean' },
    testPlan: { type: 'string' },
    ci: { anyOf: [strings, { type: 'string' }] },
    services: strings,
    service: { type: 'string' },
    environment: { type: 'string' },
    impact: oneToThree,
    criticality: oneToThree,
    serviceCriticality: { type: 'object', additionalProperties: { type: 'integer', minimum: 1, maximum: 3 } },
    risk: { type: 'string' },
    plannedStart: { type: 'string' },
    plannedEnd: { type: 'string' },
    requestedBy: { type: 'string' },
    assignmentGroup: { type: 'string' },
    implementer: { type: 'string' },
    approvers: { type: 'object', additionalProperties: strings },
    approvalPolicy: { type: 'object', additionalProperties: policy },
    schedules: { type: 'object', properties: { maintenance: schedule, blackout: schedule } },
    changeSchedule: {
      type: 'array',
      items: { type: 'object', required: ['ref', 'ci', 'plannedStart', 'plannedEnd'], properties: { ref: { type: 'string' }, ci: strings, plannedStart: { type: 'string' }, plannedEnd: { type: 'string' } } },
    },
    cab: { type: 'object', properties: { meetingsAt: strings } },
    leadTimeMs: { type: 'integer', minimum: 0 },
    windowExtensionMs: { type: 'integer', minimum: 0 },
    earlyStartToleranceMs: { type: 'integer', minimum: 0 },
    groupFailureRate: { type: 'number', minimum: 0, maximum: 1 },
    freezeOverride: flag,
    freezeOverrideRequested: flag,
    startDelivery: flag,
    links: { type: 'object' },
    delaysMs: { type: 'object', additionalProperties: { type: 'integer', minimum: 0 } },
  },
  additionalProperties: true,
};

const by = { type: 'string', minLength: 1 };
const comment = { type: 'string' };
/** An event that a human-task outcome can send: `{ by, comment? }`. */
const decision = { type: 'object', required: ['by'], properties: { type: { type: 'string' }, by, comment }, additionalProperties: true };
const isoTime = { type: 'string', minLength: 1 };

export const changeEventSchemas: Record<string, Record<string, unknown>> = {
  SUBMIT: decision,
  UPDATE_DETAILS: {
    type: 'object',
    properties: {
      type: { type: 'string' }, by, changeType: { enum: ['standard', 'normal', 'emergency'] }, title: { type: 'string' }, description: { type: 'string' },
      justification: { type: 'string' }, implementationPlan: { type: 'string' }, backoutPlan: { type: 'string' }, testPlan: { type: 'string' },
      backoutTested: { type: 'boolean' }, plannedStart: isoTime, plannedEnd: isoTime, environment: { type: 'string' }, implementer: { type: 'string' },
      ci: strings, services: strings, impact: { type: 'integer', minimum: 1, maximum: 3 }, freezeOverride: { type: 'boolean' },
    },
    additionalProperties: false,
  },
  RISK_ASSESSED: { type: 'object', required: ['risk'], properties: { type: { type: 'string' }, risk: { enum: ['high', 'moderate', 'low'] }, by }, additionalProperties: true },
  ...Object.fromEntries(
    ['TECHNICAL', 'CM', 'CAB', 'ECAB', 'OWNER'].flatMap((a) => [[`APPROVE_${a}`, decision], [`REJECT_${a}`, decision]]),
  ),
  REVERT_TO_NEW: decision,
  RESCHEDULE: { type: 'object', required: ['plannedStart', 'plannedEnd'], properties: { type: { type: 'string' }, plannedStart: isoTime, plannedEnd: isoTime, by }, additionalProperties: true },
  START_IMPLEMENTATION: decision,
  FREEZE_DECLARED: { type: 'object', required: ['from', 'to'], properties: { type: { type: 'string' }, from: isoTime, to: isoTime }, additionalProperties: true },
  IMPLEMENTED_SUCCESSFULLY: decision,
  IMPLEMENTED_WITH_ISSUES: decision,
  IMPLEMENTATION_FAILED: decision,
  WORK_STARTED: decision,
  DEPLOYMENT_RESULT: {
    type: 'object', required: ['result'],
    properties: { type: { type: 'string' }, result: { enum: ['successful', 'completed_with_issues', 'rolled_back'] }, rolledBack: { type: 'boolean' } },
    additionalProperties: true,
  },
  BACKOUT: decision,
  BACKOUT_COMPLETED: decision,
  EXTEND_WINDOW: { type: 'object', required: ['by'], properties: { type: { type: 'string' }, by, comment, plannedEnd: isoTime }, additionalProperties: true },
  PIR_ACCEPTED: decision,
  PUT_ON_HOLD: { type: 'object', required: ['reason'], properties: { type: { type: 'string' }, reason: { type: 'string', minLength: 1 }, by, comment }, additionalProperties: true },
  RELEASE_HOLD: decision,
  CANCEL: { type: 'object', required: ['reason'], properties: { type: { type: 'string' }, reason: { type: 'string', minLength: 1 }, by, comment }, additionalProperties: true },
};
