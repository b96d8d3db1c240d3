// What an incident takes from the service and CI registry (the `$registry` snapshot the engine hands it
// at start and with UPDATE_PRIORITY): support group, on-call policy, SLA targets, approvers, and the
// service's criticality as the impact when the source gave none. Input fields win; each field taken is
// named in `context.registry.fields`.
import { approversFrom, servicesFor, snapshotOf, sourceOf, type RegistrySnapshot, type RegistrySource } from '../lib/cmdb-read.ts';
import type { Level } from './priority.ts';
import { obj, str } from './fields.ts';
import type { IncidentContext } from './types.ts';

export interface IncidentRegistryValues {
  service: string | null;
  assignmentGroup: string | null;
  oncall: string | null;
  pagingPolicy: Record<string, unknown> | null;
  slaTargetsMs: Record<string, unknown> | null;
  approvers: Record<string, string[]>;
  impact: Level | null;
  source: RegistrySource | null;
}

/** Criticality 1 → impact 1 (High), 2 → 2, 3 and 4 → 3 (a choice: the service's weight stands in for a missing impact). */
const impactOfCriticality = (c: number): Level => (c <= 1 ? 1 : c === 2 ? 2 : 3);

/** The incident's registry-derived fields; `given` is the run input (or the fields the run holds already). */
export function incidentRegistryValues(given: Record<string, unknown>, snapshot: RegistrySnapshot | null): IncidentRegistryValues {
  const givenApprovers = Object.fromEntries(Object.entries(obj(given.approvers)).filter(([, v]) => Array.isArray(v))) as Record<string, string[]>;
  const none: IncidentRegistryValues = {
    service: null, assignmentGroup: null, oncall: null, pagingPolicy: null, slaTargetsMs: null, approvers: givenApprovers, impact: null, source: null,
  };
  if (!snapshot) return none;
  const serviceName = str(given.service);
  const ciId = str(given.ci);
  const [svc] = servicesFor(snapshot, serviceName ? [serviceName] : [], ciId ? [ciId] : []);
  const fields: string[] = [];
  const take = <T>(field: string, inputHas: boolean, value: T | undefined | null): T | null => {
    if (inputHas || value === undefined || value === null) return null;
    fields.push(field);
    return value;
  };
  const out: IncidentRegistryValues = { ...none };
  if (svc) {
    out.service = take('service', serviceName !== null, svc.name);
    out.assignmentGroup = take('assignmentGroup', str(given.assignmentGroup) !== null, svc.supportGroup);
    out.oncall = take('oncall', str(given.oncall) !== null, svc.oncall?.policy);
    const { policy: _p, ...paging } = svc.oncall ?? {};
    out.pagingPolicy = take('config.pagingPolicy', given.pagingPolicy !== undefined, paging.levels ? paging : null);
    out.slaTargetsMs = take('config.slaTargetsMs', given.slaTargetsMs !== undefined, svc.slaTargetsMs);
    const impactGiven = given.impact !== undefined || given.priority !== undefined;
    out.impact = take('impact', impactGiven, impactOfCriticality(svc.criticality));
    const { approvers, taken } = approversFrom([svc], givenApprovers);
    out.approvers = approvers;
    fields.push(...taken);
  }
  out.source = sourceOf(snapshot, fields);
  return out;
}

export function incidentSnapshot(v: unknown): RegistrySnapshot | null {
  return snapshotOf(v);
}

/**
 * A fresh read on UPDATE_PRIORITY: the fields the run took from the registry at start are read again
 * (the support group only while routing has not moved the incident elsewhere); input fields stay.
 */
export function rereadRegistry(c: IncidentContext, snapshot: RegistrySnapshot): Partial<IncidentContext> | null {
  const had = c.registry?.fields ?? [];
  if (!had.length) return null;
  const fresh = incidentRegistryValues({ service: c.service, ci: c.ci }, snapshot);
  const patch: Partial<IncidentContext> = {};
  const config = { ...c.config };
  const approvers = { ...c.approvers };
  const fields: string[] = [];
  for (const f of had) {
    if (f === 'assignmentGroup' && c.assignedBy === 'registry' && fresh.assignmentGroup) patch.assignmentGroup = fresh.assignmentGroup;
    else if (f === 'oncall' && fresh.oncall) patch.oncall = fresh.oncall;
    else if (f === 'config.pagingPolicy' && fresh.pagingPolicy) config.pagingPolicy = { ...c.config.pagingPolicy, ...(fresh.pagingPolicy as object) } as typeof config.pagingPolicy;
    else if (f === 'config.slaTargetsMs' && fresh.slaTargetsMs) config.slaTargetsMs = mergeSla(config.slaTargetsMs, fresh.slaTargetsMs);
    else if (f.startsWith('approvers.') && fresh.approvers[f.slice(10)]) approvers[f.slice(10)] = fresh.approvers[f.slice(10)];
    else continue;
    fields.push(f);
  }
  return { ...patch, config, approvers, registry: { ...fresh.source!, fields } };
}

function mergeSla(current: IncidentContext['config']['slaTargetsMs'], fresh: Record<string, unknown>): IncidentContext['config']['slaTargetsMs'] {
  const out = { ...current };
  for (const [p, t] of Object.entries(fresh)) if (out[p]) out[p] = { ...out[p], ...(t as object) };
  return out;
}
