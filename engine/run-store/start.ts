// Owns starting a run: input checked, the machine's initial step, committed as a new run (once per
// idempotency key: the key names the run).
import { notFound, validationError } from '../errors.ts';
import { newRunId, runIdFromKey, type RunId } from '../ids.ts';
import type { RegisteredWorkflow } from '../registry.ts';
import { stepStart } from '../step.ts';
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
  if (args.idempotencyKey) {
    const existing = await storage.read(runId);
    if (existing) return { run: viewOf(existing.run, existing.live), duplicate: true };
  }
  const registry = await ctx.deps.registryFor(wf, null, input);
  const outcome = stepStart(envFor(ctx, wf, args.actor ?? 'api'), {
    runId, workflow: wf.name, version: wf.version, input, businessKey: args.businessKey ?? null,
    parentRunId: (args.parentRunId as RunId | null | undefined) ?? null, registry,
  });
  checkContextSize(ctx, outcome);
  const res = await ctx.commit(outcome, { expectedSeq: 'new', prevTasks: {}, idempotency: null, wf });
  if (!res.ok) {
    // The run exists already: a start with the same idempotency key won the race.
    const existing = await storage.read(runId);
    if (existing) return { run: viewOf(existing.run, existing.live), duplicate: true };
    throw refusal('run', 'EXISTS', runId);
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
