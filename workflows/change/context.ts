// The initial context of a change run, read from its input.
import { parseRisk } from './risk.ts';
import type { ChangeSchedules, ScheduledChange } from './windows.ts';
import type { ApprovalPolicy } from '../lib/approvals.ts';
import type { ChangeContext, ChangeTemplate, ChangeType } from './types.ts';
import { HOUR, MIN } from './delays.ts';
import { changeRegistryValues, changeSnapshot } from './registry.ts';

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null;
}

function int(v: unknown): number | null {
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) ? n : null;
}

function bool(v: unknown): boolean | null {
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  return null;
}

function list(v: unknown): string[] {
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string' && x !== '');
  return typeof v === 'string' && v !== '' ? [v] : [];
}

/** The context from the run input: §2.1 fields, the aliases webhook mappings and parent runs use, and the defaults. */
export function contextFromInput(input: Record<string, unknown> & { $at: number }): ChangeContext {
  const rawType = String(input.changeType ?? input.type ?? 'normal').toLowerCase();
  const changeType: ChangeType = rawType === 'standard' || rawType === 'emergency' ? rawType : 'normal';
  const links = (typeof input.links === 'object' && input.links !== null ? input.links : {}) as Record<string, unknown>;
  const templates = (input.templates ?? {}) as Record<string, ChangeTemplate>;
  const templateId = str(input.templateId);
  const template: ChangeTemplate = (templateId && templates[templateId]) || {};
  const services = [...list(input.services), ...list(input.service)];
  const delaysMs = (input.delaysMs ?? {}) as Record<string, number>;
  const cab = (input.cab ?? {}) as { meetingsAt?: string[] };
  // Input fields win over what the registry holds for the CIs and services (engine-resolved, `$registry`).
  const reg = changeRegistryValues({
    ci: list(input.ci), services, approvers: (input.approvers ?? {}) as Record<string, string[]>, schedules: (input.schedules ?? {}) as ChangeSchedules,
    serviceCriticality: (input.serviceCriticality ?? {}) as Record<string, number>, environment: str(input.environment),
  }, changeSnapshot(input.$registry));
  const startedByRun = ['incident', 'delivery', 'release'].some((k) => links[k] !== undefined && links[k] !== null) || input.parent !== undefined || input.parentRunId !== undefined;
  return {
    number: str(input.number),
    businessKey: str(input.$businessKey),
    runId: str(input.$runId),
    changeType,
    unauthorized: bool(input.unauthorized) ?? false,
    autoSubmit: bool(input.autoSubmit) ?? startedByRun,
    templateId,
    templates,
    title: str(input.title) ?? str(input.summary) ?? str(input.shortDescription) ?? str(template.title),
    description: str(input.description) ?? str(input.shortDescription),
    justification: str(input.justification),
    implementationPlan: str(input.implementationPlan) ?? str(template.implementationPlan),
    backoutPlan: str(input.backoutPlan) ?? str(template.backoutPlan),
    backoutTested: bool(input.backoutTested),
    testPlan: str(input.testPlan) ?? str(template.testPlan),
    ci: list(input.ci),
    services: reg.services,
    service: reg.services[0] ?? null,
    environment: reg.environment,
    impact: int(input.impact),
    criticality: int(input.criticality),
    serviceCriticality: reg.serviceCriticality,
    plannedStart: str(input.plannedStart),
    plannedEnd: str(input.plannedEnd),
    requestedBy: str(input.requestedBy),
    assignmentGroup: str(input.assignmentGroup),
    implementer: str(input.implementer),
    approvers: reg.approvers,
    approvalPolicy: (input.approvalPolicy ?? {}) as Record<string, ApprovalPolicy>,
    schedules: reg.schedules,
    changeSchedule: (input.changeSchedule ?? []) as ScheduledChange[],
    cab: { meetingsAt: cab.meetingsAt ?? [] },
    leadTimeMs: typeof input.leadTimeMs === 'number' ? input.leadTimeMs : 72 * HOUR,
    windowExtensionMs: typeof input.windowExtensionMs === 'number' ? input.windowExtensionMs : HOUR,
    earlyStartToleranceMs: typeof input.earlyStartToleranceMs === 'number' ? input.earlyStartToleranceMs : 15 * MIN,
    groupFailureRate: typeof input.groupFailureRate === 'number' ? input.groupFailureRate : null,
    freezeOverride: (bool(input.freezeOverride) ?? bool(input.freezeOverrideRequested) ?? false) && changeType === 'emergency',
    startDelivery: bool(input.startDelivery) ?? false,
    links,
    delaysMs,
    openedAt: input.$at,
    risk: null,
    riskReasons: [],
    questionnaireRisk: parseRisk(input.risk),
    conflicts: [],
    conflictNote: '',
    approvalPlan: {},
    approvals: {},
    problems: [],
    returnReason: null,
    rejection: null,
    heldFrom: null,
    onHoldReason: null,
    withdrawnGroups: [],
    parentNotice: null,
    wasAuthorized: false,
    submitCount: 0,
    submittedAt: null,
    approvalPhaseStartedAt: null,
    authorizedAt: null,
    implementStartedAt: null,
    workStartedAt: null,
    workEndedAt: null,
    reviewAt: null,
    pirRequired: false,
    pirOpenedAt: null,
    pirTaskRef: null,
    closeCode: null,
    closeNotes: null,
    reachedImplement: false,
    backedOut: false,
    overran: false,
    usedFreezeOverride: false,
    deliveryRunId: null,
    outcome: null,
    cancelReason: null,
    canceledBy: null,
    registry: reg.source,
  };
}
