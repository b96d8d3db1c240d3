// The incident model's own tasks (docs/models/incident.md §1.7): context enrichment and routing compute answers
// the model needs; notify_deliveries is the link to deliveries in bake or ELS (§1.9); paging, alert
// resolution, bridges, status updates, problem records and surveys are single outbound effects through adapters.
import { createHash } from 'node:crypto';
import { defineTask, type TaskDefinition, type TaskServices } from '../../engine/index.ts';
import type { AdapterConfig } from '../adapters/index.ts';
import { effectTask } from './effect.ts';

// ---------------------------------------------------------------------------------------------
// route_assignment: routing rules are data

export interface RoutingRule {
  /** Every field given must match (strings exactly, case-insensitive). */
  when: { service?: string; category?: string; team?: string; priorityAtMost?: number };
  group: string;
}

/**
 * The default rules, tried after any rules in the task input and after a `team` label. A process
 * owner replaces them by passing `routingRules` in the incident's input.
 */
export const DEFAULT_ROUTING_RULES: RoutingRule[] = [
  { when: { category: 'network' }, group: 'network-operations' },
  { when: { category: 'database' }, group: 'database-administration' },
  { when: { category: 'security' }, group: 'security-operations' },
  { when: { category: 'hardware' }, group: 'end-user-computing' },
  { when: { category: 'software' }, group: 'application-support' },
  { when: { category: 'inquiry' }, group: 'service-desk' },
  { when: { service: 'email' }, group: 'messaging' },
  { when: { service: 'vpn' }, group: 'network-operations' },
];
export const FALLBACK_GROUP = 'service-desk';

interface RouteInput {
  service?: string | null;
  category?: string | null;
  priority?: number;
  labels?: Record<string, unknown>;
  rules?: RoutingRule[];
}

const same = (a: unknown, b: unknown) => typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase();

function matches(rule: RoutingRule, input: RouteInput): boolean {
  const w = rule.when ?? {};
  if (w.service !== undefined && !same(w.service, input.service)) return false;
  if (w.category !== undefined && !same(w.category, input.category)) return false;
  if (w.team !== undefined && !same(w.team, input.labels?.team)) return false;
  if (w.priorityAtMost !== undefined && !(typeof input.priority === 'number' && input.priority <= w.priorityAtMost)) return false;
  return true;
}

/** The group for an incident: input rules, then the `team` label, then the defaults, then the service desk. */
export function routeAssignment(input: RouteInput): { assignmentGroup: string; matched: string } {
  const own = input.rules ?? [];
  const i = own.findIndex((r) => matches(r, input));
  if (i >= 0) return { assignmentGroup: own[i].group, matched: `rules[${i}]` };
  const team = input.labels?.team;
  if (typeof team === 'string' && team.length > 0) return { assignmentGroup: team, matched: 'label:team' };
  const d = DEFAULT_ROUTING_RULES.findIndex((r) => matches(r, input));
  if (d >= 0) return { assignmentGroup: DEFAULT_ROUTING_RULES[d].group, matched: `default[${d}]` };
  return { assignmentGroup: FALLBACK_GROUP, matched: 'fallback' };
}

const routeAssignmentTask = defineTask({
  name: 'route_assignment',
  description: 'Pick the assignment group from category, service, labels (team) and priority; rules are data (input `rules` first).',
  input: {
    type: 'object',
    properties: {
      service: { type: ['string', 'null'] }, category: { type: ['string', 'null'] }, priority: { type: 'integer' }, labels: { type: 'object' },
      rules: {
        type: 'array',
        items: {
          type: 'object', required: ['when', 'group'],
          properties: {
            when: { type: 'object', properties: { service: { type: 'string' }, category: { type: 'string' }, team: { type: 'string' }, priorityAtMost: { type: 'integer' } }, additionalProperties: false },
            group: { type: 'string', minLength: 1 },
          },
        },
      },
    },
    additionalProperties: true,
  },
  output: {
    type: 'object', required: ['assignmentGroup', 'matched'],
    properties: { assignmentGroup: { type: 'string' }, matched: { type: 'string' } }, additionalProperties: false,
  },
  retry: { attempts: 3, backoffMs: 200 },
  handler: async (input) => routeAssignment(input),
});

// ---------------------------------------------------------------------------------------------
// enrich_context: owner, criticality and the changes on the CI in the last 24 h

interface CatalogEntry {
  owner?: string;
  criticality?: string;
}

interface KnownChange {
  ref: string;
  ci?: string;
  service?: string;
  at?: string | number;
  [k: string]: unknown;
}

interface EnrichInput {
  service?: string | null;
  ci?: string | null;
  openedAt?: number;
  /** Owner and criticality by CI or service name (the CI wins). */
  catalog?: Record<string, CatalogEntry>;
  /** Changes known to the caller (a CMDB or change calendar export). */
  changes?: KnownChange[];
  windowMs?: number;
}

export interface EnrichOutput {
  owner: string | null;
  criticality: string | null;
  recentChanges: { ref: string; ci: string | null; service: string | null; at: string | null }[];
  suggestedCausedByChange: string | null;
}

const DAY = 24 * 60 * 60 * 1000;

const toTime = (v: unknown): number | null => {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    const t = Date.parse(v);
    return Number.isFinite(t) ? t : null;
  }
  return null;
};

/** Change correlation: changes on the same CI (or service) in the window before the incident opened. */
export function enrichContext(input: EnrichInput): EnrichOutput {
  // Own entries only: a CI named after an Object.prototype member ("toString") is just an unknown CI.
  const lookup = (name: string | null | undefined) => (name && input.catalog && Object.hasOwn(input.catalog, name) ? input.catalog[name] : undefined);
  const entry = lookup(input.ci) ?? lookup(input.service) ?? {};
  const opened = input.openedAt ?? Date.now();
  const window = input.windowMs ?? DAY;
  const recent = (input.changes ?? [])
    .map((c) => ({ c, t: toTime(c.at) }))
    .filter(({ c }) => (!!input.ci && c.ci === input.ci) || (!!input.service && c.service === input.service))
    .filter(({ t }) => t !== null && t <= opened && opened - t <= window)
    .sort((a, b) => (b.t ?? 0) - (a.t ?? 0));
  return {
    owner: typeof entry.owner === 'string' ? entry.owner : null,
    criticality: typeof entry.criticality === 'string' ? entry.criticality : null,
    recentChanges: recent.map(({ c, t }) => ({ ref: String(c.ref), ci: c.ci ?? null, service: c.service ?? null, at: t === null ? null : new Date(t).toISOString() })),
    suggestedCausedByChange: recent.length ? String(recent[0].c.ref) : null,
  };
}

const enrichContextTask = defineTask({
  name: 'enrich_context',
  description: 'Owner and criticality of the service/CI, and the changes on the CI in the last 24 h (suggests links.causedByChange).',
  input: {
    type: 'object',
    properties: {
      service: { type: ['string', 'null'] }, ci: { type: ['string', 'null'] }, openedAt: { type: 'integer' }, windowMs: { type: 'integer', minimum: 0 },
      catalog: { type: 'object', additionalProperties: { type: 'object' } },
      changes: { type: 'array', items: { type: 'object', required: ['ref'], properties: { ref: { type: 'string' } } } },
    },
    additionalProperties: true,
  },
  output: {
    type: 'object', required: ['owner', 'criticality', 'recentChanges', 'suggestedCausedByChange'],
    properties: {
      owner: { type: ['string', 'null'] }, criticality: { type: ['string', 'null'] }, recentChanges: { type: 'array' }, suggestedCausedByChange: { type: ['string', 'null'] },
    },
    additionalProperties: false,
  },
  retry: { attempts: 3, backoffMs: 200 },
  handler: async (input, ctx) => {
    // Without a catalog or change list in the input, the registry and the change runs themselves answer.
    const catalog = input.catalog ?? (await catalogFromRegistry(input, ctx.services));
    const changes = input.changes ?? (await changesFromRuns(input, ctx.services));
    return enrichContext({ ...input, catalog, changes });
  },
});

/** Owner and criticality of the incident's CI and service, as the registry holds them now. */
async function catalogFromRegistry(input: EnrichInput, services: TaskServices): Promise<Record<string, CatalogEntry>> {
  const snap = await services.registry.snapshot({ services: input.service ? [input.service] : [], cis: input.ci ? [input.ci] : [] });
  const out: Record<string, CatalogEntry> = Object.create(null);
  for (const s of Object.values(snap.services)) out[s.name] = { owner: s.ownerGroup, criticality: String(s.criticality) };
  for (const c of Object.values(snap.cis)) {
    const svc = c.services?.map((n) => snap.services[n]).find(Boolean);
    out[c.id] = { owner: c.owner ?? svc?.ownerGroup, criticality: svc ? String(svc.criticality) : undefined };
  }
  return out;
}

/**
 * The change runs on the incident's CI (or, without a CI, its service) that started implementing: each
 * is a change at its implementation time, referred to by its run id (what `links.causedByChange` holds).
 */
async function changesFromRuns(input: EnrichInput, services: TaskServices): Promise<KnownChange[]> {
  if (!input.ci && !input.service) return [];
  const out: KnownChange[] = [];
  for (const run of await services.listRuns({ workflow: 'change', limit: 500 })) {
    const c = (run.context ?? {}) as { ci?: unknown; services?: unknown; implementStartedAt?: unknown; workStartedAt?: unknown };
    const cis = Array.isArray(c.ci) ? c.ci : [];
    const svcs = Array.isArray(c.services) ? c.services : [];
    const onIt = input.ci ? cis.includes(input.ci) : svcs.includes(input.service);
    const at = typeof c.implementStartedAt === 'number' ? c.implementStartedAt : typeof c.workStartedAt === 'number' ? c.workStartedAt : null;
    if (!onIt || at === null) continue;
    out.push({ ref: run.id, ci: input.ci && cis.includes(input.ci) ? input.ci : undefined, service: typeof svcs[0] === 'string' ? svcs[0] : undefined, at });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// notify_deliveries: the incident → delivery link (docs/models/incident.md §1.9, §3.9)

/** The delivery model's top-level states in which a new incident on its service concerns it. */
export const DELIVERY_WATCH_STATES = ['bake', 'earlyLifeSupport'] as const;

interface NotifyDeliveriesInput {
  service: string;
  priority: number;
  incidentRunId: string;
}

interface NotifyDeliveriesOutput {
  notified: string[];
}

const serviceOf = (context: unknown): unknown => {
  const c = (context ?? {}) as { service?: unknown; release?: { service?: unknown } };
  return c.service ?? c.release?.service;
};

const notifyDeliveriesTask = defineTask({
  name: 'notify_deliveries',
  description: 'Send INCIDENT_OPENED {incidentRunId, priority, service} to every running delivery of the service in bake or earlyLifeSupport; output the runs that took it.',
  input: {
    type: 'object', required: ['service', 'priority', 'incidentRunId'],
    properties: { service: { type: 'string', minLength: 1 }, priority: { type: 'integer', minimum: 1, maximum: 5 }, incidentRunId: { type: 'string', minLength: 1 } },
    additionalProperties: false,
  },
  output: {
    type: 'object', required: ['notified'],
    properties: { notified: { type: 'array', items: { type: 'string' } } }, additionalProperties: false,
  },
  retry: { attempts: 5, backoffMs: 200 },
  handler: async (input, ctx) => {
    const targets = new Map<string, unknown>();
    for (const state of DELIVERY_WATCH_STATES) {
      for (const run of await ctx.services.listRuns({ workflow: 'delivery', status: 'running', state, limit: 500 })) targets.set(run.id, run.context);
    }
    const notified: string[] = [];
    for (const [runId, context] of targets) {
      if (!same(serviceOf(context), input.service)) continue;
      // Keyed by this invocation and the target: a retried task is applied once per delivery. A delivery
      // that left bake/ELS since the listing refuses the event, and is not counted.
      const res = await ctx.services.sendEvent(
        runId,
        { type: 'INCIDENT_OPENED', incidentRunId: input.incidentRunId, priority: input.priority, service: input.service },
        `incident-opened:${ctx.idempotencyKey}:${runId}`,
      );
      if (res.applied) notified.push(runId);
    }
    return { notified };
  },
});

// ---------------------------------------------------------------------------------------------
// report_change_failure: an incident caused by a change feeds the change's KPIs (docs/models/change.md §2.11)

/** A change closed at most this long before a P1/P2 incident it caused counts as failed (§2.11, a choice). */
export const CHANGE_FAILURE_WINDOW_MS = 7 * 24 * 3600_000;
/** The change success score's penalty per incident caused, by priority (ServiceNow-style, §2.11). */
export const CHANGE_SCORE_PENALTY: Record<number, number> = { 1: -10, 2: -5, 3: -2 };

interface ReportChangeFailureInput {
  changeRunId: string;
  priority: number;
  openedAt: number;
}

interface ReportChangeFailureOutput {
  failureCounted: boolean;
  penalty: number;
}

const reportChangeFailureTask = defineTask({
  name: 'report_change_failure',
  description: 'An incident caused by a change: a P1/P2 opened within 7 days of the change\'s close makes it count as failed in changeFailureRate; P1–P3 take 10/5/2 off its change success score.',
  input: {
    type: 'object', required: ['changeRunId', 'priority', 'openedAt'],
    properties: { changeRunId: { type: 'string', minLength: 1 }, priority: { type: 'integer', minimum: 1, maximum: 5 }, openedAt: { type: 'number' } },
    additionalProperties: false,
  },
  output: {
    type: 'object', required: ['failureCounted', 'penalty'],
    properties: { failureCounted: { type: 'boolean' }, penalty: { type: 'number' } }, additionalProperties: false,
  },
  retry: { attempts: 5, backoffMs: 200 },
  handler: async (input, ctx) => {
    const change = await ctx.services.getRun(input.changeRunId);
    // Only a change that closed (implemented, with its measures recorded) can have failed afterwards.
    const state = typeof change?.state === 'string' ? change.state : null;
    if (!change || change.workflow !== 'change' || state !== 'closed' || !change.endedAt) return { failureCounted: false, penalty: 0 };
    const within = input.openedAt >= Date.parse(change.endedAt) && input.openedAt - Date.parse(change.endedAt) <= CHANGE_FAILURE_WINDOW_MS;
    // Keyed by the incident (the engine adds the calling run): a retry corrects once.
    const failureCounted = input.priority <= 2 && within
      ? await ctx.services.amendMeasure(input.changeRunId, 'changeFailureRate', { set: 1 }, 'failure')
      : false;
    const penalty = CHANGE_SCORE_PENALTY[input.priority] ?? 0;
    const penalised = penalty !== 0 && await ctx.services.amendMeasure(input.changeRunId, 'changeSuccessScore', { add: penalty }, 'score');
    return { failureCounted, penalty: penalised ? penalty : 0 };
  },
});

// ---------------------------------------------------------------------------------------------
// Effects

const shortRef = (prefix: string, seed: string) => `${prefix}${createHash('sha256').update(seed).digest('hex').slice(0, 8).toUpperCase()}`;

/** The incident's tasks, with their adapters (`record` unless configured). */
export function incidentTasks(adapters: AdapterConfig): TaskDefinition<any, any>[] {
  return [
    enrichContextTask,
    routeAssignmentTask,
    notifyDeliveriesTask,
    reportChangeFailureTask,
    effectTask({
      name: 'page_oncall',
      description: 'Page the on-call of an escalation level: PagerDuty Events API v2 `trigger`, dedup_key = the business key, so a retry never pages twice.',
      input: {
        type: 'object',
        properties: {
          dedupKey: { type: 'string' }, summary: { type: 'string' }, severity: { enum: ['critical', 'error', 'warning', 'info'] },
          level: { type: 'integer' }, loop: { type: 'integer' }, target: { type: 'string' },
        },
        additionalProperties: true,
      },
      retry: { attempts: 8, backoffMs: 500 },
    }, adapters),
    effectTask({
      name: 'resolve_external_alert',
      description: 'Resolve the alert behind the incident: PagerDuty `resolve` with the same dedup_key; a comment on a GitHub issue (back to the tool that started the run when SERVICECHART_OUTBOUND_<TOOL> is set).',
      toSourceTool: true,
    }, adapters),
    effectTask({
      name: 'open_bridge',
      description: 'Open the major-incident bridge: a chat channel and a conference link.',
      result: (input, ctx) => {
        const ref = String(input.businessKey ?? input.number ?? ctx.runId).toLowerCase().replace(/[^a-z0-9-]+/g, '-');
        return { channel: `#inc-${ref}`.slice(0, 80), conferenceUrl: `https://meet.example.invalid/${shortRef('', ctx.idempotencyKey).toLowerCase()}` };
      },
    }, adapters),
    effectTask({ name: 'publish_status_update', description: 'Publish a status update to the status page and stakeholder list.' }, adapters),
    effectTask({
      name: 'create_problem_record',
      description: 'Create a problem record for root-cause analysis from the incident summary; output `problemRef`.',
      // Keyed by the invocation: a retry names the same record.
      result: (input, ctx) => ({ problemRef: String(input.problemRef ?? shortRef('PRB', ctx.idempotencyKey)) }),
    }, adapters),
    effectTask({ name: 'send_survey', description: 'Send the caller a satisfaction survey about the closed incident.' }, adapters),
  ];
}
