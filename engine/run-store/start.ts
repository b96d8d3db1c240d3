// Owns starting a run: input checked, the machine's initial step, committed as a new run (once per
// idempotency key: the key names the run).
import { notFound, validationError } from '../errors.ts';
import { newRunId, runIdFromKey, type RunId } from '../ids.ts';
import type { RegisteredWorkflow } from '../registry.ts';
import { stepStart, type StepOutcome } from '../step.ts';
import { refusal } from '../store/errors.ts';
import type { JsonObject } from '../types.ts';
import { checkContextSize, envFor, type RunResult, type RunStoreContext, type StartRunArgs } from './context.ts';
import { viewOf } from './view.ts';

export async function startRun(ctx: RunStoreContext, args: StartRunArgs): Promise<RunResult> {
  const { storage, clock, metrics } = ctx.deps;
  const wf = await ctx.deps.resolveWorkflow(args.workflow, args.version);
  if (!wf) throw notFound(`workflow ${args.workflow}${args.version ? `@${args.version}` : ''}`);
  const input = args.input ?? {};
  checkInput(wf, input);
  const runId = args.idempotencyKey ? runIdFromKey('start', args.idempotencyKey) : newRunId(clock.now());
  // The key names the run, so the commit (which must create the run) finds a repeat itself: the run
  // is read back only then, or when the start cannot be stepped (a repeat still answers the run).
  const existing = async (otherwise: () => never): Promise<RunResult> => {
    const found = args.idempotencyKey ? await storage.read(runId) : null;
    return found ? { run: viewOf(found.run, found.live), duplicate: true } : otherwise();
  };
  let outcome: StepOutcome;
  try {
    const registry = await ctx.deps.registryFor(wf, null, input);
    outcome = stepStart(envFor(ctx, wf, args.actor ?? 'api'), {
      runId, workflow: wf.name, version: wf.version, input, businessKey: args.businessKey ?? null,
      parentRunId: (args.parentRunId as RunId | null | undefined) ?? null, registry,
    });
    checkContextSize(ctx, outcome);
  } catch (err) {
    return existing(() => {
      throw err;
    });
  }
  const res = await ctx.commit(outcome, { expectedSeq: 'new', prevTasks: {}, idempotency: null, wf });
  if (!res.ok) {
    // The run exists already: a start with the same idempotency key came first.
    return existing(() => {
      throw refusal('run', 'EXISTS', runId);
    });
  }
  ctx.cache.remember(outcome);
  metrics.runStarted(wf.name);
  return { run: viewOf(outcome.run), duplicate: false };
}

function checkInput(wf: RegisteredWorkflow, input: JsonObject): void {
  if (wf.validateInput && !wf.validateInput(input)) {
    throw validationError(`input does not match the input schema of ${wf.name}`, (wf.validateInput.errors ?? []).map((e) => ({
      path: `/input${e.instancePath}`, message: e.message ?? 'invalid',
    })));
  }
}
