// The types of a planning run: its context, the plan and releases it tracks, its input and the events its machine reads.
import type { RegistrySource } from '../lib/cmdb-read.ts';
import type { AnyEventObject } from 'xstate';
import type { Enqueue as EnqueueOf } from '../../engine/definition/index.ts';
import type { Area } from './parallel-regions.ts';

export type ReleaseStatus = 'waiting' | 'inDelivery' | 'done' | 'failed' | 'descoped';
export interface Span { start: string; end: string }
export interface PlannedRelease { id: string; service: string; window: Span; handoffAt: string }
export interface ReleaseSpec { id: string; service: string; version?: string; deliveryInput?: Record<string, unknown> }
export interface Assessment { score: number | null; comment: string | null; by: string | null; at: number; extra?: Record<string, unknown> }

export interface PlanningContext {
  /** The registry read the approvers came from (version, entries, the groups taken), or null. */
  registry: RegistrySource | null;
  /** The run's own business key and id (`$businessKey`, `$runId` at start): child business keys derive from them. */
  businessKey: string | null;
  runId: string | null;
  demand: { id: string | null; title: string; businessCase: string | null; requestedBy: string | null; services: string[]; targetDate: string | null; size: string | null; costEstimate: number | null; strategicGoal: string | null };
  /** For human-task titles (`{title}`). */
  title: string;
  requestedBy: string | null;
  approvers: Record<string, string[]>;
  areas: Area[];
  boardMeetings: number[];
  capacity: Record<string, unknown>;
  blackouts: Span[];
  releaseWindows: Span[];
  busy: unknown[];
  scoring: Record<string, number>;
  budget: number | null;
  releaseSpecs: ReleaseSpec[];
  deliveryBase: Record<string, any>;
  delaysMs: Record<string, number>;
  openedAt: number;
  submittedAt: number | null;
  screeningEnteredAt: number | null;
  qualifiedAt: number | null;
  approvedAt: number | null;
  assessments: Partial<Record<Area, Assessment>>;
  missingAssessments: Area[];
  qualifiedManually: boolean;
  forecast: Record<string, any> | null;
  capacityRisk: boolean;
  costEstimate: Record<string, any> | null;
  totalScore: number | null;
  scoreBreakdown: unknown;
  decision: { decision: string; by: string; comment: string | null; at: number } | null;
  planIncludesCapacityChange: boolean;
  deferredUntil: number | null;
  revision: { notBefore: number | null; exclude: string[] };
  plan: { releases: PlannedRelease[]; targetDateMissed: boolean; skipped: unknown[]; proposedAt: number } | null;
  releases: Record<string, { status: ReleaseStatus; runIds: string[]; attempts: number; outcome: string | null }>;
  freezes: { from: number; to: number }[];
  capacityChangeRunId: string | null;
  capacityChange: 'none' | 'open' | 'closed' | 'canceled';
  replanCount: number;
  replanReason: string | null;
  ticketRef: string | null;
  cancelQueue: string[];
  outcome: string | null;
  cancelReason: string | null;
}

/** The run input as the engine passes it: validated by the input schema, stamped with `$at`. */
export type PlanningInput = Record<string, any> & { $at: number };

export type Ev = AnyEventObject & { $at?: number; by?: string; comment?: string; output?: any; childRunId?: string };
export type Args = { context: PlanningContext; event: Ev };
/** The `enqueue` of a planning action (`enqueueActions`): `assign` checked against the context. */
export type Enqueue = EnqueueOf<PlanningContext, Ev>;
