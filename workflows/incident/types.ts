// The types of an incident run: its context and config, its input and the events its machine reads.
import type { Level, Priority, PriorityMatrix } from './priority.ts';
import type { SlaClockState } from './sla.ts';
import type { Notice, PagingPolicy, PagingState } from './escalation.ts';
import type { HoldReason } from './reasons.ts';
import type { Enqueue as EnqueueOf } from '../../engine/definition/index.ts';
import type { RegistrySource } from '../lib/cmdb-read.ts';

export interface IncidentSource {
  tool: string;
  key: string | null;
  url: string | null;
  fingerprint: string | null;
}

export interface IncidentConfig {
  slaTargetsMs: Record<string, { responseMs: number | null; resolutionMs: number | null }>;
  slaWarnAt: number[] | null;
  slaPauseReasons: string[];
  autoCloseAfterMs: number;
  autoResolveOnAlertClear: boolean;
  pagingPolicy: PagingPolicy & { enabled: boolean };
  delaysMs: Record<string, number>;
  priorityMatrix: PriorityMatrix | null;
  routingRules: unknown[] | null;
  serviceCatalog: Record<string, unknown> | null;
  knownChanges: unknown[] | null;
  majorIncidentGroup: string;
  groups: string[] | null;
}

export interface IncidentContext {
  [k: string]: unknown;
  number: string | null;
  businessKey: string | null;
  /** This run's id (`$runId` at start): the `incidentRunId` other runs are told. */
  runId: string | null;
  title: string;
  description: string | null;
  service: string | null;
  ci: string | null;
  category: string | null;
  labels: Record<string, string>;
  impact: Level;
  urgency: Level;
  priority: Priority;
  source: IncidentSource;
  caller: string | null;
  openedBy: string | null;
  assignmentGroup: string | null;
  assignee: string | null;
  assignedBy: 'input' | 'registry' | 'routing' | 'manual' | 'major' | null;
  reassignmentCount: number;
  approvers: Record<string, string[]>;
  oncall: string | null;
  config: IncidentConfig;
  openedAt: number;
  respondedAt: number | null;
  respondedBy: string | null;
  resolvedAt: number | null;
  firstResolvedAt: number | null;
  resolvedBy: string | null;
  resolutionCode: string | null;
  resolutionNotes: string | null;
  closedAt: number | null;
  onHoldReason: HoldReason | null;
  onHoldComment: string | null;
  pendingChange: { changeType: string; summary: string; by: string | null } | null;
  changeOutcome: { childRunId: string; closeCode: string | null; event: string } | null;
  reopenCount: number;
  lastReopenedAt: number | null;
  lastReopenedBy: string | null;
  reopenReason: string | null;
  escalationLevel: number;
  alertRepeatCount: number;
  alertClearedAt: number | null;
  major: boolean;
  majorRejected: boolean;
  majorDeclaredBy: string | null;
  majorAcceptedAt: number | null;
  bridge: Record<string, unknown> | null;
  commsUpdates: number;
  commsWaitSince: number | null;
  pirOpenedAt: number | null;
  pirEscalated: boolean;
  problemRequested: boolean;
  intakeDone: boolean;
  /** The priority the last routing saw: a different one re-routes. */
  routedPriority: number | null;
  enrichment: { owner: string | null; criticality: string | null; recentChanges: unknown[] } | null;
  ticketRef: string | null;
  links: {
    problem: string | null;
    change: string[];
    causedByChange: string | null;
    causedByDelivery: string | null;
    suggestedCausedByChange: string | null;
    duplicateOf: string | null;
    reopenedFrom: string | null;
  };
  sla: { response: SlaClockState; resolution: SlaClockState };
  paging: PagingState;
  notices: Notice[];
  outcome: 'closed' | 'canceled' | null;
  cancelReason: string | null;
  /** The registry read this run's fields came from (version, entries, the fields taken), or null. */
  registry: RegistrySource | null;
}

export type IncidentInput = Record<string, unknown> & { $at: number };
export type Ev = { type: string; $at?: number; [k: string]: any };
export type Args = { context: IncidentContext; event: Ev };
/** The `enqueue` of an incident action (`enqueueActions`): `assign` checked against the context. */
export type Enqueue = EnqueueOf<IncidentContext, Ev>;
