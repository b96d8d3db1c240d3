// Owns the read-step-commit loop of an existing run: in the run's lane, retried while another writer
// moves the run on first.
import type { RunId } from '../ids.ts';
import type { RegisteredWorkflow } from '../registry.ts';
import type { StepOutcome } from '../step.ts';
import { refusal } from '../store/errors.ts';
import type { RunView, StoredRun } from '../types.ts';
import { workflowOf, type RunResult, type RunStoreContext } from './context.ts';
import { viewOf } from './view.ts';

const MAX_COMMIT_ATTEMPTS = 50;

export type Step = (run: StoredRun, wf: RegisteredWorkflow) => StepOutcome | null;
export type Mutated = RunResult & { outcome: StepOutcome | null };

/** Read, step and commit, retrying when another writer moved the run on first. */
export function mutate(ctx: RunStoreContext, runId: RunId, step: Step, idem: { key: string } | null): Promise<Mutated> {
  return ctx.inLane(runId, async () => {
    for (let attempt = 0; attempt < MAX_COMMIT_ATTEMPTS; attempt++) {
      const res = await attemptOnce(ctx, runId, step, idem, attempt);
      if (res === 'reread') continue;
      if (res !== 'retry') return res;
      await new Promise((r) => setTimeout(r, Math.min(50, attempt * 2)));
    }
    throw refusal('run', 'STALE', runId);
  });
}

async function attemptOnce(ctx: RunStoreContext, runId: RunId, step: Step, idem: { key: string } | null, attempt: number): Promise<Mutated | 'retry' | 'reread'> {
  const { storage, metrics } = ctx.deps;
  // A repeated request answers what the first one got. The commit checks the key with the write, so
  // the common case (a new key) costs no read of its own: the key is read only when the step cannot
  // be taken (a repeat must not be refused because the first request moved the run on).
  const priorOr = async <T>(otherwise: () => T): Promise<Mutated | T> => {
    const prior = idem ? await storage.idempotent(runId, idem.key) : null;
    return prior ? { run: JSON.parse(prior), duplicate: true, outcome: null } : otherwise();
  };
  // On the first attempt, the record this process committed last spares a read. The commit's seq guard
  // makes a stale one harmless: the commit fails and the loop reads afresh. A refusal computed from it
  // is not trusted either (the next attempt reads the stored record).
  const guess = attempt === 0 ? ctx.cache.lastRecord(runId) : undefined;
  const stored = guess ? { run: guess, live: {} } : await storage.read(runId);
  if (!stored) {
    return priorOr(() => {
      throw refusal('run', 'MISSING', runId);
    });
  }
  const started = process.hrtime.bigint();
  const wf = await workflowOf(ctx, stored.run);
  let outcome: StepOutcome | null;
  try {
    outcome = step(stored.run, wf);
  } catch (err) {
    if (guess) return 'reread';
    return priorOr(() => {
      throw err;
    });
  }
  if (!outcome && guess) return 'reread';
  if (!outcome) return priorOr(() => ({ run: viewOf(stored.run, stored.live), duplicate: false, outcome: null }));
  const done = outcome;
  const res = await ctx.commit(done, {
    expectedSeq: stored.run.seq, prevTasks: stored.run.tasks, wf,
    idempotency: idem ? { key: idem.key, value: () => JSON.stringify(viewOf(done.run)) } : null,
  });
  if (res.ok) {
    ctx.cache.remember(done);
    metrics.stepApplied(stored.run.workflow, Number(process.hrtime.bigint() - started) / 1e9);
    let view: RunView | undefined;
    return { get run() { return (view ??= viewOf(done.run)); }, duplicate: false, outcome: done };
  }
  ctx.cache.forget(runId);
  if (res.code === 'DUPLICATE') return { run: JSON.parse(res.stored), duplicate: true, outcome: null };
  return 'retry';
}
