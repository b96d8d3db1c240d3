// Pure readers of the registry snapshot the engine hands a run (`$registry` in the machine input, and
// in the payload of the events a model re-reads on): the models copy what they use into context and
// name each field they took in `context.registry.fields`, so a run stays the same when the registry
// changes later. Fields given in the run's input always win.
import type { CiDoc, RegistrySnapshot, ServiceDoc, TimeWindow } from '../../engine/definition/index.ts';

export type { CiDoc, RegistrySnapshot, ServiceDoc };

/** What a run's context records about its registry read: the version, when, and each field taken. */
export interface RegistrySource {
  version: number;
  readAt: string | null;
  services: string[];
  cis: string[];
  /** Context fields filled from the registry (`assignmentGroup`, `approvers.cab`, `schedules`, ...). */
  fields: string[];
}

export function snapshotOf(v: unknown): RegistrySnapshot | null {
  if (!v || typeof v !== 'object') return null;
  const s = v as Partial<RegistrySnapshot>;
  if (typeof s.version !== 'number' || !s.services || !s.cis) return null;
  return s as RegistrySnapshot;
}

export function sourceOf(snapshot: RegistrySnapshot, fields: string[]): RegistrySource {
  return { version: snapshot.version, readAt: snapshot.readAt ?? null, services: Object.keys(snapshot.services), cis: Object.keys(snapshot.cis), fields };
}

const own = <T>(rec: Record<string, T> | undefined, key: string | null | undefined): T | undefined =>
  rec && typeof key === 'string' && Object.hasOwn(rec, key) ? rec[key] : undefined;

/** The services a run is about: the ones it names, then the services of the CIs it names, in order. */
export function servicesFor(snapshot: RegistrySnapshot, services: string[], cis: string[]): ServiceDoc[] {
  const out: ServiceDoc[] = [];
  const add = (name: string) => {
    const s = own(snapshot.services, name);
    if (s && !out.includes(s)) out.push(s);
  };
  services.forEach(add);
  for (const id of cis) for (const name of own(snapshot.cis, id)?.services ?? []) add(name);
  return out;
}

export function ciOf(snapshot: RegistrySnapshot, id: string | null | undefined): CiDoc | undefined {
  return own(snapshot.cis, id);
}

/**
 * Approver groups from the services (each group the union of its members across services, first
 * service first); a group given in `given` replaces the registry's. Answers the groups taken.
 */
export function approversFrom(services: ServiceDoc[], given: Record<string, string[]>, only?: string[]): { approvers: Record<string, string[]>; taken: string[] } {
  const fromRegistry: Record<string, string[]> = {};
  for (const s of services) {
    for (const [group, people] of Object.entries(s.approvers ?? {})) {
      if (only && !only.includes(group)) continue;
      const list = (fromRegistry[group] ??= []);
      for (const p of people) if (!list.includes(p)) list.push(p);
    }
  }
  const taken = Object.keys(fromRegistry).filter((g) => !Object.hasOwn(given, g));
  const approvers: Record<string, string[]> = {};
  for (const g of taken) approvers[g] = fromRegistry[g];
  for (const [g, list] of Object.entries(given)) approvers[g] = list;
  return { approvers, taken: taken.map((g) => `approvers.${g}`) };
}

/**
 * Maintenance and blackout windows per CI (docs/models/conventions.md §0.7 `windows: { <ci>: [...] }`): each CI's own
 * windows and those of its services. A CI that has none gets no entry (it is outside any window).
 */
export function windowsByCi(snapshot: RegistrySnapshot, cis: string[]): { maintenance: Record<string, TimeWindow[]>; blackout: Record<string, TimeWindow[]> } {
  const out = { maintenance: {} as Record<string, TimeWindow[]>, blackout: {} as Record<string, TimeWindow[]> };
  for (const id of cis) {
    const ci = own(snapshot.cis, id);
    if (!ci) continue;
    for (const which of ['maintenance', 'blackout'] as const) {
      const list = [...(ci.windows?.[which] ?? [])];
      for (const name of ci.services ?? []) list.push(...(own(snapshot.services, name)?.windows?.[which] ?? []));
      if (list.length) out[which][id] = list;
    }
  }
  return out;
}

/** The approver groups delivery and planning take from their services. */
export const RELEASE_APPROVER_GROUPS = ['serviceOwner', 'releaseManager'];

/** Service owners and release managers of the named services (input groups win), and the source. */
export function releaseApprovers(registry: unknown, services: string[], given: Record<string, string[]>): { approvers: Record<string, string[]>; registry: RegistrySource | null } {
  const snapshot = snapshotOf(registry);
  if (!snapshot) return { approvers: given, registry: null };
  const { approvers, taken } = approversFrom(servicesFor(snapshot, services, []), given, RELEASE_APPROVER_GROUPS);
  return { approvers, registry: sourceOf(snapshot, taken) };
}

/** The criticality of each service (1 most critical … 4). */
export function criticalityByService(services: ServiceDoc[]): Record<string, number> {
  return Object.fromEntries(services.map((s) => [s.name, s.criticality]));
}
