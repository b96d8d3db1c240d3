// The shapes of the service and CI registry (engine/cmdb.ts stores them): what the process models read
// from the snapshot the engine hands a run. Types only.

// A type (not an interface): a task's output schema describes it as an open object.
export type TimeWindow = {
  start: string;
  end: string;
  name?: string;
};

export interface Windows {
  maintenance?: TimeWindow[];
  blackout?: TimeWindow[];
}

/** One level of an on-call escalation policy: a person or schedule, and how long before the next. */
export type OncallLevel = string | { target: string; escalationTimeoutMs?: number };

export interface ServiceDoc {
  name: string;
  title: string;
  description?: string;
  /** 1 most critical … 4. */
  criticality: 1 | 2 | 3 | 4;
  ownerGroup?: string;
  supportGroup?: string;
  /** Approver groups in camelCase (docs/models/conventions.md §0.7): technical, changeManager, cab, ecab, serviceOwner, incidentManager, releaseManager, ... */
  approvers?: Record<string, string[]>;
  /** The escalation policy: a paging key (`policy`, what `page_oncall` pages) and/or levels of people. */
  oncall?: { policy?: string; levels?: OncallLevel[]; loops?: number; escalationTimeoutMs?: number };
  /** Overrides per priority ("1"–"5") of the incident SLA targets. */
  slaTargetsMs?: Record<string, { responseMs?: number | null; resolutionMs?: number | null }>;
  windows?: Windows;
  labels?: Record<string, string>;
}

export interface CiDoc {
  id: string;
  type: string;
  title: string;
  services?: string[];
  environment?: string;
  owner?: string;
  windows?: Windows;
  /** The CIs this one needs to work (a web server depends on its database). */
  dependsOn?: string[];
  attributes?: Record<string, unknown>;
}

export type EntryKind = 'service' | 'ci';

/** What a run was handed at start (`$registry` in the machine input) and what its history records. */
export interface RegistrySnapshot {
  version: number;
  readAt: string;
  services: Record<string, ServiceDoc>;
  cis: Record<string, CiDoc>;
  /** Names the run gave that the registry does not hold (`service:foo`, `ci:bar`). */
  missing: string[];
}

export interface RegistryRefs {
  services: string[];
  cis: string[];
}
