// Owns how a stored run reads in the API: the record with its awaited tasks' live statuses.
import type { LiveTaskStatus } from '../commit-plan.ts';
import { iso } from '../clock.ts';
import type { JsonObject, RunView, StoredRun } from '../types.ts';

export function viewOf(run: StoredRun, live: Record<string, LiveTaskStatus> = {}): RunView {
  const snap = (run.snapshot ?? {}) as { value?: unknown; context?: JsonObject };
  return {
    id: run.id,
    workflow: run.workflow,
    version: run.version,
    status: run.status,
    state: snap.value ?? null,
    context: snap.context ?? {},
    input: run.input,
    businessKey: run.businessKey,
    parentRunId: run.parentRunId,
    createdAt: iso(run.createdAt),
    updatedAt: iso(run.updatedAt),
    endedAt: run.endedAt === null ? null : iso(run.endedAt),
    nextEvents: run.nextEvents,
    tasks: Object.values(run.tasks).map((t) => {
      const l = live[t.id];
      return { id: t.id, name: t.name, status: l?.status ?? t.status, attempts: l?.attempts ?? t.attempts };
    }),
    timers: Object.values(run.timers)
      .sort((a, b) => a.dueAt - b.dueAt)
      .map((t) => ({ id: t.id, event: String(t.event.type), timer: t.timer, dueAt: iso(t.dueAt) })),
    humanTasks: Object.values(run.humanTasks).map((h) => ({
      id: h.id, role: h.role, title: h.title, outcomes: h.outcomes, dueAt: h.dueAt === null ? null : iso(h.dueAt),
    })),
    output: run.output,
    error: run.error,
  };
}
