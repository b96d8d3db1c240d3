// Owns committing a step: its plan (commit-plan.ts) through the storage port, then the outbox flush,
// waited for a while before the caller is answered.
import { planCommit } from '../commit-plan.ts';
import type { StepOutcome } from '../step.ts';
import type { Committer, RunStoreDeps } from './context.ts';

/** How long a step's caller waits for its outbox to reach the queues before answering anyway. */
const OUTBOX_FLUSH_WAIT_MS = 1500;

export function createCommitter(deps: RunStoreDeps): Committer {
  const { storage, clock, metrics, logger, outbox } = deps;
  return async function commit(outcome, req) {
    const run = outcome.run;
    const plan = planCommit(outcome, {
      expectedSeq: req.expectedSeq, prevTasks: req.prevTasks, kpis: req.wf.kpis, at: clock.now(),
      idempotency: req.idempotency ? { key: req.idempotency.key, value: req.idempotency.value() } : null,
    });
    const res = await storage.commit(plan);
    if (!res.ok) return res;
    if (outcome.statusChanged && outcome.statusChanged.to !== 'running') {
      metrics.runEnded(run.workflow, outcome.statusChanged.to, (run.endedAt ?? run.updatedAt) - run.createdAt);
    }
    deps.hooks.afterCommit?.(run.id, run.seq);
    if (res.written.length) await flushOrMoveOn(run.id, run.seq, res.written);
    return { ok: true };
  };

  /**
   * The step is committed: a flush that fails is finished by the sweeper, and one that waits on the
   * queue connection through a failover goes on in the background instead of holding the caller's
   * answer (the API answers within seconds, never after the outage).
   */
  async function flushOrMoveOn(runId: StepOutcome['run']['id'], seq: number, written: [string, string][]): Promise<void> {
    const flushed = outbox.flush(runId, seq, written).then(
      () => true,
      (err) => {
        logger.warn({ err, runId }, 'outbox flush failed; the sweeper will retry it');
        return true;
      },
    );
    let timer: NodeJS.Timeout | undefined;
    const waited = await Promise.race([flushed, new Promise<false>((r) => (timer = setTimeout(() => r(false), OUTBOX_FLUSH_WAIT_MS)))]);
    clearTimeout(timer);
    if (!waited) logger.warn({ runId }, `outbox flush still waiting after ${OUTBOX_FLUSH_WAIT_MS} ms (Redis failing over?); it goes on in the background`);
  }
}
