// Owns a run's side of its tasks: a result applied (or recorded as ignored when the run no longer
// waits for it), and an attempt's live status.
import { iso } from '../clock.ts';
import type { ErrorData } from '../errors.ts';
import type { RunId, TaskId } from '../ids.ts';
import { stepEvent, type StepEvent } from '../step.ts';
import type { MarkReply } from '../store/port.ts';
import type { HistoryDraft, TaskStatus } from '../types.ts';
import { envFor, type RunStoreContext } from './context.ts';
import { mutate } from './mutate.ts';

/** A task finished (or gave up). A result for a task the run no longer waits for is recorded, never applied. */
export async function applyTaskResult(
  ctx: RunStoreContext,
  runId: RunId,
  taskId: TaskId,
  result: { ok: true; output: unknown } | { ok: false; error: ErrorData },
  taskName: string,
  started?: { at: number; attempt: number },
): Promise<{ applied: boolean }> {
  const res = await mutate(ctx, runId, (run, wf) => {
    if (run.status !== 'running' || !run.tasks[taskId]) return null;
    const input: StepEvent = { kind: 'task', taskId, result, started };
    return stepEvent(envFor(ctx, wf, `task:${taskName}`, run), run, input);
  }, null);
  if (res.outcome) return { applied: true };
  const at = iso(ctx.deps.clock.now());
  const entry: HistoryDraft = result.ok
    ? { type: 'task.completed', at, actor: `task:${taskName}`, task: taskName, taskId, output: result.output, ignored: true, reason: 'the run no longer waits for this task' }
    : { type: 'task.failed', at, actor: `task:${taskName}`, task: taskName, taskId, error: result.error, ignored: true, reason: 'the run no longer waits for this task' };
  await ctx.deps.storage.appendHistory(runId, [entry]);
  return { applied: false };
}

/**
 * Record a task attempt's status (and its history entry) while the run still awaits the task.
 * Answers `ok: false` for a stale job (NOT_AWAITED: the run no longer awaits the task; MISSING: no run).
 */
export function markTask(ctx: RunStoreContext, runId: RunId, taskId: string, status: TaskStatus, attempts: number, entry: HistoryDraft | null): Promise<MarkReply> {
  return ctx.deps.storage.markTask(runId, taskId, { status, attempts }, entry);
}
