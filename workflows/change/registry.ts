// What a change takes from the service and CI registry (the `$registry` snapshot the engine hands it at
// start and with RESCHEDULE): the CIs' services, approvers from the services, maintenance windows and
// blackouts of the CIs and their services, the services' criticality (risk rule 10) and the CIs'
// environment. Input fields win; each field taken is named in `context.registry.fields`.
import { approversFrom, criticalityByService, servicesFor, snapshotOf, sourceOf, windowsByCi, type RegistrySnapshot, type RegistrySource } from '../lib/cmdb-read.ts';
import type { ChangeSchedules } from './windows.ts';
import type { ChangeContext } from './types.ts';

export interface ChangeRegistryValues {
  services: string[];
  approvers: Record<string, string[]>;
  schedules: ChangeSchedules;
  serviceCriticality: Record<string, number>;
  environment: string | null;
  source: RegistrySource | null;
}

export function changeSnapshot(v: unknown): RegistrySnapshot | null {
  return snapshotOf(v);
}

/** `given` holds what the input gave: ci, services, approvers, schedules, serviceCriticality, environment. */
export function changeRegistryValues(
  given: { ci: string[]; services: string[]; approvers: Record<string, string[]>; schedules: ChangeSchedules; serviceCriticality: Record<string, number>; environment: string | null },
  snapshot: RegistrySnapshot | null,
): ChangeRegistryValues {
  const out: ChangeRegistryValues = { ...given, source: null };
  if (!snapshot) return out;
  const fields: string[] = [];
  const services = servicesFor(snapshot, given.services, given.ci);
  const added = services.map((s) => s.name).filter((n) => !given.services.includes(n));
  if (added.length) {
    out.services = [...given.services, ...added];
    fields.push('services');
  }
  const { approvers, taken } = approversFrom(services, given.approvers);
  out.approvers = approvers;
  fields.push(...taken);
  const windows = windowsByCi(snapshot, given.ci);
  out.schedules = { ...given.schedules };
  for (const which of ['maintenance', 'blackout'] as const) {
    if (given.schedules[which] !== undefined) continue;
    out.schedules[which] = windows[which];
    fields.push(`schedules.${which}`);
  }
  const crit = criticalityByService(services);
  const critTaken = Object.keys(crit).filter((n) => !Object.hasOwn(given.serviceCriticality, n));
  if (critTaken.length) {
    out.serviceCriticality = { ...Object.fromEntries(critTaken.map((n) => [n, crit[n]])), ...given.serviceCriticality };
    fields.push('serviceCriticality');
  }
  if (given.environment === null) {
    const envs = given.ci.map((id) => snapshot.cis[id]?.environment).filter((e): e is string => typeof e === 'string');
    // The most exposed environment among the CIs.
    const env = envs.includes('production') ? 'production' : (envs[0] ?? null);
    if (env) {
      out.environment = env;
      fields.push('environment');
    }
  }
  out.source = sourceOf(snapshot, fields);
  return out;
}

/** The windows a RESCHEDULE is checked against: read again when the run took them from the registry. */
export function rereadSchedules(c: ChangeContext, registry: unknown): { schedules: ChangeSchedules; registry: RegistrySource } | null {
  const snapshot = snapshotOf(registry);
  const taken = (c.registry?.fields ?? []).filter((f) => f.startsWith('schedules.'));
  if (!snapshot || !taken.length) return null;
  const windows = windowsByCi(snapshot, c.ci);
  const schedules = { ...c.schedules };
  for (const f of taken) {
    const which = f.slice('schedules.'.length) as 'maintenance' | 'blackout';
    schedules[which] = windows[which];
  }
  return { schedules, registry: { ...sourceOf(snapshot, taken) } };
}
