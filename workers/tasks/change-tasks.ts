// The tasks of the change model (docs/models/change.md §2.7) that no other model provides: risk assessment and
// conflict detection (computed from the input by the rules in change-rules.ts), and the
// approval, CAB agenda and PIR effects, which go out through their adapters.
import { defineTask, type TaskDefinition, type TaskServices } from '../../engine/index.ts';
import type { AdapterConfig } from '../adapters/index.ts';
import { effectTask } from './effect.ts';
import {
  assessChangeRisk, detectChangeConflicts, type ChangeConflict, type ConflictInput, type RiskInput, type RiskResult, type ScheduledChange,
} from './change-rules.ts';

const windowSchema = {
  type: 'object', required: ['start', 'end'], properties: { start: { type: 'string' }, end: { type: 'string' }, name: { type: 'string' } },
} as const;
const scheduleSchema = { anyOf: [{ type: 'array', items: windowSchema }, { type: 'object', additionalProperties: { type: 'array', items: windowSchema } }] } as const;
/** Another change on the calendar (`ScheduledChange`), as the change model's input holds them. */
const scheduledChangeSchema = {
  type: 'object',
  required: ['ref', 'ci', 'plannedStart', 'plannedEnd'],
  properties: {
    ref: { type: 'string' }, runId: { type: 'string' }, ci: { type: 'array', items: { type: 'string' } },
    plannedStart: { type: 'string' }, plannedEnd: { type: 'string' }, implementer: { type: ['string', 'null'] },
  },
} as const;
const conflictSchema = {
  type: 'object',
  required: ['kind', 'ci', 'window', 'otherChange'],
  properties: {
    kind: { type: 'string', enum: ['blackout', 'outside_maintenance_window', 'ci_overlap', 'dependent_ci_overlap', 'assignee_double_booked'] },
    ci: { type: ['string', 'null'] },
    window: { anyOf: [windowSchema, { type: 'null' }] },
    otherChange: { type: ['string', 'null'] },
  },
} as const;

export const assessRisk = defineTask({
  name: 'assess_risk',
  description: 'Classify a change as high, moderate or low risk with the rules of docs/models/change.md §2.5; output risk and riskReasons.',
  input: {
    type: 'object',
    properties: {
      environment: { type: ['string', 'null'] },
      impact: { type: ['integer', 'null'] },
      criticality: { type: ['integer', 'null'] },
      serviceCriticality: { type: 'object', additionalProperties: { type: 'integer' } },
      services: { type: 'array', items: { type: 'string' } },
      backoutPlan: { type: ['string', 'null'] },
      backoutTested: { type: ['boolean', 'null'] },
      conflicts: { type: 'array', items: conflictSchema },
      groupFailureRate: { type: ['number', 'null'] },
      questionnaireRisk: { type: ['string', 'null'], enum: ['high', 'moderate', 'low', null] },
    },
    additionalProperties: true,
  },
  output: {
    type: 'object',
    required: ['risk', 'riskReasons'],
    properties: { risk: { type: 'string', enum: ['high', 'moderate', 'low'] }, riskReasons: { type: 'array', items: { type: 'string' } } },
    additionalProperties: false,
  },
  retry: { attempts: 1 },
  handler: async (input) => assessChangeRisk(input),
});

export interface DetectConflictsOptions {
  /**
   * Other changes scheduled on the same CIs between `from` and `to` (for example the running change
   * runs, or a CMDB change calendar). Without it only the input's `changeSchedule` is checked.
   */
  lookupChanges?: (q: { ci: string[]; from: string; to: string }) => Promise<ScheduledChange[]>;
}

/** `detect_conflicts`: blackout, maintenance window, same-CI overlap and double-booked implementer [S14]. */
export function detectConflictsTask(opts: DetectConflictsOptions = {}) {
  return defineTask({
    name: 'detect_conflicts',
    description: 'List the conflicts of a change window: blackouts, maintenance windows, the same CI already scheduled, the implementer double-booked.',
    input: {
      type: 'object',
      required: ['ci'],
      properties: {
        ci: { type: 'array', items: { type: 'string' } },
        plannedStart: { type: ['string', 'null'] },
        plannedEnd: { type: ['string', 'null'] },
        schedules: { type: 'object', properties: { maintenance: scheduleSchema, blackout: scheduleSchema } },
        changeSchedule: { type: 'array', items: scheduledChangeSchema },
        implementer: { type: ['string', 'null'] },
        self: { type: ['string', 'null'] },
      },
      additionalProperties: true,
    },
    output: {
      type: 'object', required: ['conflicts'], properties: { conflicts: { type: 'array', items: conflictSchema } }, additionalProperties: false,
    },
    retry: { attempts: 3, backoffMs: 500 },
    handler: async (input, ctx) => {
      let changeSchedule: ScheduledChange[] = input.changeSchedule ?? [];
      // Each CI's neighbours through dependsOn (the registry): changes on them conflict too.
      const related: Record<string, string[]> = {};
      for (const ci of input.ci) related[ci] = await ctx.services.registry.related([ci]);
      const near = [...new Set(Object.values(related).flat())];
      if (input.plannedStart && input.ci.length) {
        const q = { ci: near, from: input.plannedStart, to: input.plannedEnd ?? input.plannedStart };
        const found = opts.lookupChanges ? await opts.lookupChanges(q) : await openChangesOn(q, ctx.services);
        // The lookup may return this very change; it never conflicts with itself.
        changeSchedule = [...changeSchedule, ...found.filter((c) => c.runId !== ctx.runId && c.ref !== ctx.runId)];
      }
      return { conflicts: detectChangeConflicts({ ...input, changeSchedule, related }) };
    },
  });
}

/** The running change runs with planned dates on any of these CIs (the default lookup of `detect_conflicts`). */
async function openChangesOn(q: { ci: string[] }, services: TaskServices): Promise<ScheduledChange[]> {
  const out: ScheduledChange[] = [];
  for (const run of await services.listRuns({ workflow: 'change', status: 'running', limit: 500 })) {
    const c = (run.context ?? {}) as { ci?: unknown; plannedStart?: unknown; plannedEnd?: unknown; implementer?: unknown; number?: unknown };
    const cis = Array.isArray(c.ci) ? c.ci.filter((x): x is string => typeof x === 'string') : [];
    if (typeof c.plannedStart !== 'string' || !cis.some((x) => q.ci.includes(x))) continue;
    out.push({
      ref: run.businessKey ?? (typeof c.number === 'string' ? c.number : run.id), runId: run.id, ci: cis,
      plannedStart: c.plannedStart, plannedEnd: typeof c.plannedEnd === 'string' ? c.plannedEnd : c.plannedStart,
      implementer: typeof c.implementer === 'string' ? c.implementer : null,
    });
  }
  return out;
}

/** The change tasks, with their adapters (`record` by default). */
export function changeTasks(adapters: AdapterConfig, opts: DetectConflictsOptions = {}): TaskDefinition<any, any>[] {
  return [
    assessRisk,
    detectConflictsTask(opts),
    effectTask({
      name: 'request_approvals',
      description: 'Create the approval records of one approver group and notify its members; idempotent per (run, group, entry).',
    }, adapters),
    effectTask({
      name: 'withdraw_approvals',
      description: 'Set the pending approvals of the named groups to "no longer required" (ServiceNow "Disregard change approvals").',
    }, adapters),
    effectTask({ name: 'add_to_cab_agenda', description: 'Put the change on the agenda of the next CAB meeting.' }, adapters),
    effectTask({
      name: 'create_pir_task',
      description: 'Open a post-implementation review task for the change management group; output `pirTaskRef`.',
      result: (input, ctx) => ({ pirTaskRef: String(input.pirTaskRef ?? `PIR-${ctx.runId.slice(-8).toUpperCase()}`) }),
    }, adapters),
  ];
}
