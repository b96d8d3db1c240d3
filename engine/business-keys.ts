// Owns the claim "this business key has one open run of this workflow": a Redis key naming the run,
// taken (claims.ts) before the run is started, so concurrent duplicates start exactly one run.
import { randomBytes } from 'node:crypto';
import type { Clock } from './clock.ts';
import type { Claims, Holder } from './claims.ts';
import { runIdFromKey, type RunId } from './ids.ts';
import type { Keys } from './keys.ts';
import type { RunResult, RunStore, StartRunArgs } from './runs.ts';
import type { JsonObject } from './types.ts';

/** How long a claim may name a run that never appeared (its starter crashed) before another takes it. */
const STALE_CLAIM_MS = 10_000;
/** How long to wait for a run another request is starting right now. */
const WAIT_FOR_RUN_MS = 3_000;
const POLL_MS = 20;

export interface StartOrFindOpenArgs {
  workflow: string;
  businessKey: string;
  input?: JsonObject;
  actor?: string;
}

export interface OpenRunResult {
  runId: string;
  /** True when this call started the run; false when a run with the key was open already. */
  started: boolean;
}

interface Claim {
  runId: RunId;
  at: number;
}

export interface BusinessKeyDeps {
  claims: Claims;
  keys: Keys;
  clock: Clock;
  runs: RunStore;
  startRun(args: StartRunArgs): Promise<RunResult>;
}

function parseClaim(raw: string): Claim | null {
  const i = raw.lastIndexOf('|');
  if (i < 0) return null;
  return { runId: raw.slice(0, i) as RunId, at: Number(raw.slice(i + 1)) };
}

export function createBusinessKeys(deps: BusinessKeyDeps) {
  const { claims, keys, clock, runs } = deps;
  const claimKey = (workflow: string, businessKey: string) => keys.openClaim(workflow, businessKey);

  /** Start the run a fresh claim names; a start that fails releases the claim and leaves nothing behind. */
  async function startClaimed(args: StartOrFindOpenArgs, key: string, claim: string, idempotencyKey: string): Promise<OpenRunResult> {
    try {
      const res = await deps.startRun({ workflow: args.workflow, input: args.input, businessKey: args.businessKey, idempotencyKey, actor: args.actor });
      return { runId: res.run.id, started: !res.duplicate };
    } catch (err) {
      await claims.release(key, claim);
      throw err;
    }
  }

  /** What a claim another call stored means: its run open, being started, or gone (ended, or never started). */
  async function holderOf(current: string): Promise<Holder<string>> {
    const held = parseClaim(current);
    const run = held ? await runs.getStored(held.runId) : null;
    if (run && run.status === 'running') return { kind: 'settled', value: run.id };
    // The named run has ended, or never appeared and its claim is stale: take the key over.
    if (!held || run !== null || clock.now() - held.at > STALE_CLAIM_MS) return { kind: 'stale' };
    return { kind: 'in-flight' };
  }

  /**
   * The open run of `workflow` with `businessKey`, or a new one started with `input`. Any number of
   * concurrent calls with the same key start one run; a key whose run has ended starts a new one.
   * @example
   * const { runId, started } = await engine.startOrFindOpen({ workflow: 'incident', businessKey: fp, input });
   */
  async function startOrFindOpen(args: StartOrFindOpenArgs): Promise<OpenRunResult> {
    const key = claimKey(args.workflow, args.businessKey);
    const res = await claims.claim({
      key,
      fresh() {
        const idempotencyKey = `open:${args.workflow}:${args.businessKey}:${randomBytes(8).toString('hex')}`;
        return { value: `${runIdFromKey('start', idempotencyKey)}|${clock.now()}`, idempotencyKey };
      },
      inspect: holderOf,
      waitMs: WAIT_FOR_RUN_MS,
      pollMs: POLL_MS,
      busyMessage: `the run for business key ${args.businessKey} is still being started; try again`,
    });
    if (res.kind === 'held') return { runId: res.value, started: false };
    return startClaimed(args, key, res.claim.value, res.claim.idempotencyKey);
  }

  /** The open run named by the claim for `workflow` and `businessKey`, or null. */
  async function findOpen(workflow: string, businessKey: string): Promise<string | null> {
    const current = await claims.read(claimKey(workflow, businessKey));
    const held = current ? parseClaim(current) : null;
    if (!held) return null;
    const run = await runs.getStored(held.runId);
    return run && run.status === 'running' ? run.id : null;
  }

  return { startOrFindOpen, findOpen };
}
