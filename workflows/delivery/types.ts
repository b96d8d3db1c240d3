// The types of a delivery run: its context, its outcomes, its input and the events its machine reads.
import type { RegistrySource } from '../lib/cmdb-read.ts';
import type { AnyEventObject } from 'xstate';
import type { Enqueue as EnqueueOf } from '../../engine/definition/index.ts';

export type Strategy = 'canary' | 'phased' | 'bigBang';
export type Outcome = 'completed' | 'rolled_back' | 'rollback_failed' | 'pre_production_failed' | 'artifact_invalid' | 'no_go' | 'change_rejected' | 'change_canceled' | 'change_gate_failed' | 'aborted';

export interface TimeSpan { from: number; to: number }
export interface Incident { incidentRunId: string; priority: number; at: number; phase: 'bake' | 'els' }

export interface DeliveryContext {
  /** The registry read the approvers came from (version, entries, the groups taken), or null. */
  registry: RegistrySource | null;
  release: { id: string; version: string; service: string; artifacts: unknown[]; commits: { sha: string; committedAt: string }[]; scope: unknown[] };
  /** Copies of release fields for human-task titles (`{service}`, `{version}`). */
  version: string;
  service: string;
  runId: string | null;
  /** The run's own business key (`$businessKey` at start): child business keys derive from it. */
  businessKey: string | null;
  nonProdEnvs: string[];
  productionEnv: string;
  strategy: Strategy;
  canary: { stepWeight: number; maxWeight: number; intervalMs: number; threshold: number };
  waves: string[];
  healthChecks: unknown[];
  observed: Record<string, number>;
  smokeTests: unknown[];
  bakeMs: number;
  elsMs: number;
  changePolicy: string;
  scheduledStart: number | null;
  window: { start: number; end: number } | null;
  reason: string;
  requestedBy: string | null;
  approvers: Record<string, string[]>;
  previousVersion: string | null;
  autoRollbackOnIncident: boolean;
  delaysMs: Record<string, number>;
  simulate: Record<string, unknown> | null;
  change: Record<string, unknown>;
  /** Freezes: the input's blackout schedule plus each FREEZE_DECLARED. */
  freezes: TimeSpan[];
  openedAt: number;
  // Derived as the run goes.
  envIndex: number;
  weight: number;
  waveIndex: number;
  nextWave: number;
  failedChecks: number;
  deployed: Record<string, { version: string; wave?: number | null }>;
  lastHealth: unknown;
  buildStartedAt: number | null;
  readinessEnteredAt: number | null;
  readinessChecklist: Record<string, boolean> | null;
  goDecision: { decision: 'GO' | 'NO_GO'; by: string; comment: string | null; at: number } | null;
  changeRequests: number;
  changeRunId: string | null;
  changeWindow: { plannedStart: string | null; plannedEnd: string | null } | null;
  changeCloseCode: string | null;
  productionStartedAt: number | null;
  deployedAt: number | null;
  failureDetectedAt: number | null;
  failureReason: string | null;
  rollbackDueAt: number | null;
  restoredAt: number | null;
  incidents: Incident[];
  elsIncidents: number;
  incidentTriggered: boolean;
  changeFailed: boolean;
  raisedIncidentRunId: string | null;
  pausedBy: string | null;
  outcome: Outcome | null;
  cancelReason: string | null;
}

/** The run input as the engine passes it: validated by the input schema, stamped with `$at`. */
export type DeliveryInput = Record<string, any> & { $at: number };

export type Ev = AnyEventObject & { $at?: number; by?: string; comment?: string; output?: any; childRunId?: string };
export type Args = { context: DeliveryContext; event: Ev };
/** The `enqueue` of a delivery action (`enqueueActions`): `assign` checked against the context. */
export type Enqueue = EnqueueOf<DeliveryContext, Ev>;
