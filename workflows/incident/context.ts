// The initial context of an incident run, read from its input (tolerant: hooks add fields; the schema
// checks the ones that matter).
import { timeOf } from '../../engine/definition/index.ts';
import { derivePriority, isPriorityMatrix, type Priority } from './priority.ts';
import { newSlaClock } from './sla.ts';
import { newPagingState, type PagingLevel, type PagingPolicy } from './escalation.ts';
import type { IncidentConfig, IncidentContext, IncidentInput } from './types.ts';
import { DEFAULT_SLA_TARGETS_MS, INCIDENT_DELAYS_MS } from './defaults.ts';
import { obj, str } from './fields.ts';
import { incidentRegistryValues, incidentSnapshot } from './registry.ts';

function pagingPolicyOf(v: unknown, oncall: string | null): PagingPolicy & { enabled: boolean } {
  const p = obj(v);
  const raw = Array.isArray(p.levels) ? p.levels : typeof p.levels === 'number' ? Array.from({ length: p.levels }, (_, i) => `level-${i + 1}`) : null;
  const levels: PagingLevel[] = raw
    ? raw.map((l, i) => (typeof l === 'string' ? { target: l } : { target: str(obj(l).target) ?? `level-${i + 1}`, escalationTimeoutMs: typeof obj(l).escalationTimeoutMs === 'number' ? (obj(l).escalationTimeoutMs as number) : undefined }))
    : [{ target: oncall ?? 'primary' }, { target: 'secondary' }];
  return {
    levels: levels.length ? levels : [{ target: oncall ?? 'primary' }],
    loops: typeof p.loops === 'number' && p.loops >= 1 ? p.loops : 3,
    escalationTimeoutMs: typeof p.escalationTimeoutMs === 'number' ? p.escalationTimeoutMs : undefined,
    enabled: p.enabled !== false,
  };
}

function slaTargetsOf(v: unknown): IncidentConfig['slaTargetsMs'] {
  const given = obj(v);
  const out: IncidentConfig['slaTargetsMs'] = {};
  for (const p of [1, 2, 3, 4, 5] as Priority[]) {
    const g = obj(given[String(p)]);
    out[String(p)] = {
      responseMs: 'responseMs' in g ? (g.responseMs as number | null) : DEFAULT_SLA_TARGETS_MS[p].responseMs,
      resolutionMs: 'resolutionMs' in g ? (g.resolutionMs as number | null) : DEFAULT_SLA_TARGETS_MS[p].resolutionMs,
    };
  }
  return out;
}

function approversOf(v: unknown): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, list] of Object.entries(obj(v))) if (Array.isArray(list)) out[k] = list.filter((x): x is string => typeof x === 'string');
  return out;
}

export function initialContext(input: IncidentInput): IncidentContext {
  const now = input.$at;
  const source = obj(input.source);
  // Input fields win over what the registry holds for the service or CI (engine-resolved, `$registry`).
  const reg = incidentRegistryValues(input, incidentSnapshot(input.$registry));
  const matrix = isPriorityMatrix(input.priorityMatrix) ? input.priorityMatrix : null;
  const { priority, impact, urgency } = derivePriority({ ...(input as { urgency?: unknown; priority?: unknown }), impact: input.impact ?? reg.impact ?? undefined }, matrix ?? undefined);
  const opened = timeOf(input.openedAt);
  const links = obj(input.links);
  const oncall = str(input.oncall) ?? reg.oncall;
  const number = str(input.number);
  const sourceKey = str(source.key);
  const group = str(input.assignmentGroup) ?? reg.assignmentGroup;
  return {
    number,
    // The run's own business key first (§0.7): child business keys derive from it.
    businessKey: str(input.$businessKey) ?? str(input.businessKey) ?? sourceKey ?? number,
    runId: str(input.$runId),
    title: str(input.title) ?? 'Untitled incident',
    description: str(input.description),
    service: str(input.service) ?? reg.service,
    ci: str(input.ci),
    category: str(input.category),
    labels: Object.fromEntries(Object.entries(obj(input.labels)).filter(([, v]) => typeof v === 'string')) as Record<string, string>,
    impact, urgency, priority,
    source: { tool: str(source.tool) ?? 'api', key: sourceKey, url: str(source.url), fingerprint: str(source.fingerprint) },
    caller: str(input.caller),
    openedBy: str(input.openedBy) ?? str(input.caller),
    assignmentGroup: group,
    assignee: str(input.assignee),
    assignedBy: str(input.assignmentGroup) ? 'input' : group ? 'registry' : null,
    reassignmentCount: 0,
    approvers: approversOf(reg.approvers),
    oncall,
    config: {
      slaTargetsMs: slaTargetsOf(input.slaTargetsMs ?? reg.slaTargetsMs),
      slaWarnAt: Array.isArray(input.slaWarnAt) ? (input.slaWarnAt as number[]) : null,
      slaPauseReasons: Array.isArray(input.slaPauseReasons) ? (input.slaPauseReasons as string[]) : ['awaiting_caller'],
      autoCloseAfterMs: typeof input.autoCloseAfterMs === 'number' ? input.autoCloseAfterMs : INCIDENT_DELAYS_MS.autoCloseDelay,
      autoResolveOnAlertClear: input.autoResolveOnAlertClear !== false,
      pagingPolicy: pagingPolicyOf(input.pagingPolicy ?? reg.pagingPolicy, oncall),
      delaysMs: Object.fromEntries(Object.entries(obj(input.delaysMs)).filter(([, v]) => typeof v === 'number')) as Record<string, number>,
      priorityMatrix: matrix,
      routingRules: Array.isArray(input.routingRules) ? input.routingRules : null,
      serviceCatalog: input.serviceCatalog ? obj(input.serviceCatalog) : null,
      knownChanges: Array.isArray(input.changes) ? input.changes : null,
      majorIncidentGroup: str(input.majorIncidentGroup) ?? 'major-incident',
      groups: Array.isArray(input.groups) ? (input.groups as string[]) : null,
    },
    // The tool's creation time when it sent one: SLA timing starts there (retroactive start).
    openedAt: opened !== null && opened <= now ? opened : now,
    respondedAt: null, respondedBy: null, resolvedAt: null, firstResolvedAt: null, resolvedBy: null, resolutionCode: null, resolutionNotes: null, closedAt: null,
    onHoldReason: null, onHoldComment: null, pendingChange: null, changeOutcome: null,
    reopenCount: 0, lastReopenedAt: null, lastReopenedBy: null, reopenReason: null,
    escalationLevel: 0, alertRepeatCount: 0, alertClearedAt: null,
    major: false, majorRejected: false, majorDeclaredBy: null, majorAcceptedAt: null, bridge: null, commsUpdates: 0, commsWaitSince: null,
    pirOpenedAt: null, pirEscalated: false, problemRequested: false, intakeDone: false, routedPriority: null, enrichment: null, ticketRef: null,
    links: {
      problem: str(links.problem), change: [], causedByChange: str(links.causedByChange), causedByDelivery: str(links.causedByDelivery),
      suggestedCausedByChange: null, duplicateOf: null, reopenedFrom: str(links.reopenedFrom) ?? str(input.reopenedFrom),
    },
    sla: { response: newSlaClock(), resolution: newSlaClock() },
    paging: newPagingState(),
    notices: [],
    outcome: null,
    cancelReason: null,
    registry: reg.source,
  };
}
