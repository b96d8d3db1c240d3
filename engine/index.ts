// The engine's public surface: the only module api/, workers/ and bin/ import. Every name is listed;
// test plumbing (the engine's insides) is in engine/testing.ts, never here.
export { createEngine, installationPartitions, type EngineOptions } from './create-engine.ts';
export type { Engine, ExternalTaskPort, TaskWorkerPort, TaskAttemptRef, TaskResult } from './engine.ts';
export {
  ErrorCode, ServicechartError, EventNotAcceptedError, validationError, notFound, toErrorData, isRedisUnavailable,
  type Problem, type ErrorData,
} from './errors.ts';
export {
  silentLogger,
  type RunStatus, type TaskStatus, type JsonObject, type RunView, type HistoryType, type HistoryDraft, type HistoryEntry, type Page, type ListRunsFilter, type Logger,
} from './types.ts';
// The schemas RunView and the history entry types are derived from (the API documents runs and history with them).
export { runViewSchema, engineHistorySchemas, historyEntrySchema, modelHistorySchema, type EngineHistoryDraft, type ModelHistoryDraft } from './types.ts';
export { systemClock, iso, type Clock } from './clock.ts';
export { parseRunId, runIdOfHumanTask, type RunId, type TaskId, type HumanTaskId } from './ids.ts';
export { defineTask, NonRetryableTaskError, type TaskDeclaration, type TaskDefinition, type TaskSchema, type TaskSpec, type TaskContext, type TaskServices, type RetryPolicy } from './tasks.ts';
export { defineWorkflow, taskActors, runRef, type WorkflowDefinition, type KpiDefinition } from './definition/index.ts';
export { windowsFor, allWindows, overlaps, windowCovers, timeOf, type TimeWindow, type WindowSchedule } from './definition/index.ts';
export type { RegisteredWorkflow } from './registry.ts';
export type { WorkflowSummary, WorkflowDetail } from './workflow-catalog.ts';
export type { TaskTypeView } from './task-types.ts';
export type { HookResult, DeliveryClaim, DeliveryLogEntry, HookDeliveryStore } from './hook-deliveries.ts';
export type { StartRunArgs, SendEventOptions, RunResult, HumanTaskDoc } from './runs.ts';
export type { HumanTaskFilter } from './run-index.ts';
export type { StartOrFindOpenArgs, OpenRunResult } from './business-keys.ts';
export type { KpiReport, KpiFigure } from './kpis.ts';
export { connectRedis, parseHostList, type RedisTarget } from './connection.ts';
export type { ReplicaAcks } from './replication.ts';
export { jsonWorkflowSchema, builtInActions, builtInGuards } from './json-workflow/compile.ts';
export { LayoutError, type LayoutProblem } from './layout.ts';
export { MAX_PARTITIONS } from './keys.ts';
export { partitionConcurrency } from './timers.ts';
export { AttemptFailed, isEngineOutage } from './outage.ts';
export { isCluster, masters, duplicateUnbounded, type RedisClient } from './clients.ts';
export { toMermaid, toSvg } from './diagram/statechart.ts';
export { activeStatePaths, topLevelStates } from './state-value.ts';
export { servicechartVersion } from './version.ts';
export { lockedTaskSchema, type LockedTask, type FetchArgs } from './external-tasks.ts';
export type { Publication, PublishedTask, WorkerIdentity, WorkerKind, SchemaConflict } from './catalog.ts';
export { ciGraphSvg, ciGraphMermaid } from './diagram/ci-graph.ts';
export {
  serviceSchema, ciSchema, REGISTRY_LIMITS, type ServiceDoc, type CiDoc, type EntryKind, type RegistrySnapshot, type AuditEntry, type ImpactReport, type ImportItem,
  type Cmdb,
} from './cmdb.ts';
export type { ArchiveStore, ArchivedRun, ArchiveFilter } from './archive/types.ts';
export { ARCHIVE_FORMAT, ARCHIVE_FORMAT_VERSION } from './archive/types.ts';
export { createDirectoryStore } from './archive/dir-store.ts';
export { createPostgresStore } from './archive/pg-store.ts';
export { parseRetention, parseDuration, type Retention } from './archive/retention.ts';
export type { ArchiverOptions, ArchiveHealth } from './archive/sweeper.ts';
export type { ArchiveStatus } from './archive/reads.ts';
