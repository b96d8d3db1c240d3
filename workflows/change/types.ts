// The types of a change run: its type, close codes, templates, context, and the events its machine reads.
import type { AnyEventObject } from 'xstate';
import type { ApprovalPolicy, ApprovalsContext } from '../lib/approvals.ts';
import type { ChangeConflict, ChangeSchedules, ScheduledChange } from './windows.ts';
import type { Risk } from './risk.ts';
import type { Enqueue as EnqueueOf } from '../../engine/definition/index.ts';
import type { RegistrySource } from '../lib/cmdb-read.ts';

export type ChangeType = 'standard' | 'normal' | 'emergency';
export type CloseCode = 'successful' | 'successful_issues' | 'unsuccessful';
export type TopState = 'new' | 'assess' | 'authorize' | 'scheduled';

export interface ChangeTemplate {
  active?: boolean;
  title?: string;
  implementationPlan?: string;
  backoutPlan?: string;
  testPlan?: string;
  [k: string]: unknown;
}

export interface ChangeContext extends ApprovalsContext {
  number: string | null;
  /** The run's own business key and id (`$businessKey`, `$runId` at start): child business keys derive from them. */
  businessKey: string | null;
  runId: string | null;
  changeType: ChangeType;
  unauthorized: boolean;
  autoSubmit: boolean;
  templateId: string | null;
  templates: Record<string, ChangeTemplate>;
  title: string | null;
  description: string | null;
  justification: string | null;
  implementationPlan: string | null;
  backoutPlan: string | null;
  backoutTested: boolean | null;
  testPlan: string | null;
  ci: string[];
  services: string[];
  /** The first affected service, for task titles ("Accept risk for {service}"). */
  service: string | null;
  environment: string | null;
  impact: number | null;
  criticality: number | null;
  serviceCriticality: Record<string, number>;
  plannedStart: string | null;
  plannedEnd: string | null;
  assignmentGroup: string | null;
  implementer: string | null;
  approvalPolicy: Record<string, ApprovalPolicy>;
  schedules: ChangeSchedules;
  changeSchedule: ScheduledChange[];
  cab: { meetingsAt: string[] };
  leadTimeMs: number;
  windowExtensionMs: number;
  earlyStartToleranceMs: number;
  groupFailureRate: number | null;
  freezeOverride: boolean;
  startDelivery: boolean;
  links: Record<string, unknown>;
  openedAt: number;
  risk: Risk | null;
  riskReasons: string[];
  questionnaireRisk: Risk | null;
  conflicts: ChangeConflict[];
  /** The conflicts in words, shown in the approvers' task titles (" · conflicts: ci_overlap db-01 (CHG-1)"). */
  conflictNote: string;
  problems: string[];
  returnReason: string | null;
  rejection: { groups: string[]; comments: { group: string; by: string; comment: string | null }[] } | null;
  heldFrom: TopState | null;
  onHoldReason: string | null;
  withdrawnGroups: string[];
  /** What the parent hears when the change leaves `authorize` for a new round (CHANGE_DEAUTHORIZED). */
  parentNotice: string | null;
  wasAuthorized: boolean;
  submitCount: number;
  submittedAt: number | null;
  approvalPhaseStartedAt: number | null;
  authorizedAt: number | null;
  implementStartedAt: number | null;
  workStartedAt: number | null;
  workEndedAt: number | null;
  reviewAt: number | null;
  pirRequired: boolean;
  pirOpenedAt: number | null;
  pirTaskRef: string | null;
  closeCode: CloseCode | null;
  closeNotes: string | null;
  reachedImplement: boolean;
  backedOut: boolean;
  overran: boolean;
  usedFreezeOverride: boolean;
  deliveryRunId: string | null;
  outcome: 'closed' | 'canceled' | null;
  cancelReason: string | null;
  canceledBy: string | null;
  /** The registry read this run's fields came from (version, entries, the fields taken), or null. */
  registry: RegistrySource | null;
}

export type Args = { context: ChangeContext; event: AnyEventObject };
/** The `enqueue` of a change action (`enqueueActions`): `assign` checked against the context. */
export type Enqueue = EnqueueOf<ChangeContext, AnyEventObject>;
