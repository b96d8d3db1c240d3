// Owns the engine calls a task handler may make on behalf of its run (TaskServices): start a child
// run, send an event, cancel a run, read runs, amend a measure, note on the history, read the registry.
import type { Cmdb } from './cmdb.ts';
import type { ConfirmElsewhere } from './cross-slot.ts';
import type { Keys } from './keys.ts';
import type { Clock } from './clock.ts';
import { ErrorCode, notFound } from './errors.ts';
import { parseRunId, type RunId } from './ids.ts';
import type { KpiStore } from './kpis.ts';
import type { RunReads } from './run-reads.ts';
import type { RunStore } from './runs.ts';
import type { TaskServices } from './tasks.ts';

export interface TaskServiceDeps {
  clock: Clock;
  runs: RunStore;
  reads: RunReads;
  kpis: KpiStore;
  cmdb: Cmdb;
  appendEntry(runId: RunId, type: string, fields: Record<string, unknown>, actor: string): Promise<boolean>;
  keys: Keys;
  /** The runs a task starts, sends to or cancels are confirmed on their own slot before the task is done (cross-slot.ts). */
  elsewhere: ConfirmElsewhere;
}

function runIdOrThrow(id: string): RunId {
  const runId = parseRunId(id);
  if (!runId) throw notFound(`run ${id}`);
  return runId;
}

/** Refusals a task sees as an answer (`applied: false`), not as a failure of its own. */
const REFUSED = new Set<string>([ErrorCode.EVENT_NOT_ACCEPTED, ErrorCode.RUN_ENDED, ErrorCode.WORKFLOW_ERROR]);

export function createTaskServices(deps: TaskServiceDeps): (runId: RunId, taskName: string) => TaskServices {
  const { runs, reads, kpis, cmdb, clock, keys, elsewhere } = deps;
  /** A run's stored record, in Redis or in the archive. */
  const storedAnywhere = async (id: RunId) => (await runs.getStored(id)) ?? (await reads.fromArchive(id))?.run ?? null;

  return (runId, taskName) => ({
    async startRun(args) {
      const res = await elsewhere((r) => keys.run(r.run.id), () => runs.startRun({
        workflow: args.workflow, input: args.input, businessKey: args.businessKey ?? null,
        parentRunId: args.parentRunId === undefined ? runId : args.parentRunId, idempotencyKey: args.idempotencyKey, actor: `task:${taskName}`,
      }));
      return { runId: res.run.id, duplicate: res.duplicate };
    },
    async sendEvent(target, event, idempotencyKey) {
      try {
        await elsewhere(keys.run(target as RunId), () => runs.sendEvent(runIdOrThrow(target), event, { idempotencyKey, actor: `task:${taskName}` }));
        return { applied: true };
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code && REFUSED.has(code)) return { applied: false, reason: code };
        throw err;
      }
    },
    async cancelRun(target, reason) {
      try {
        await elsewhere(keys.run(target as RunId), () => runs.cancelRun(runIdOrThrow(target), { reason, actor: `task:${taskName}` }));
        return { cancelled: true };
      } catch (err) {
        if ((err as { code?: string }).code === ErrorCode.RUN_ENDED) return { cancelled: false, reason: ErrorCode.RUN_ENDED };
        throw err;
      }
    },
    async parentOf(id) {
      return (await storedAnywhere(runIdOrThrow(id)))?.parentRunId ?? null;
    },
    async listRuns(filter) {
      const page = await reads.listRuns({
        workflow: filter.workflow, status: filter.status, state: filter.state, limit: Math.min(Math.max(1, filter.limit ?? 50), 500), cursor: null,
      });
      return page.items;
    },
    async getRun(id) {
      const parsed = parseRunId(id);
      return parsed ? reads.findRun(parsed) : null;
    },
    async amendMeasure(target, measure, change, key) {
      const parsed = parseRunId(target);
      // An archived run's measures stay with the KPI figures in Redis: a correction still applies.
      const stored = parsed ? await storedAnywhere(parsed) : null;
      if (!stored) return false;
      return kpis.amend(stored.workflow, stored.id, measure, change, `${runId}:${key}`);
    },
    async record(type, fields) {
      await deps.appendEntry(runId, type, fields, `task:${taskName}`);
    },
    registry: {
      snapshot: (refs) => cmdb.snapshot({ services: refs.services ?? [], cis: refs.cis ?? [] }),
      related: (ids) => cmdb.related(ids),
    },
    now: () => clock.now(),
  });
}
