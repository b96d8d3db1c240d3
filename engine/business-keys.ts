// Owns the claim "this business key has one open run of this workflow": a Redis key naming the run,
// taken with SET NX before the run is started, so concurrent duplicates start exactly one run.
import { randomBytes } from 'node:crypto';
import type { Clock } from './clock.ts';
import { ErrorCode, ServicechartError } from './errors.ts';
import { runIdFromKey, type RunId } from './ids.ts';
import type { Keys } from './keys.ts';
import type { Scripts } from './scripts.ts';
import type { RunResult, RunStore, StartRunArgs } from './runs.ts';
import type { JsonObject } from './types.ts';
import type { Redis } from 'ioredis';

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
  redis: Redis;
  keys: Keys;
  scripts: Scripts;
  clock: Clock;
  runs: RunStore;
  startRun(args: StartRunArgs): Promise<RunResult>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createBusinessKeys(deps: BusinessKeyDeps) {
  const { redis, keys, scripts, clock, runs } = deps;
  const claimKey = (workflow: string, businessKey: string) => keys.openClaim(workflow, businessKey);

  function parseClaim(raw: string): Claim | null {
    const i = raw.lastIndexOf('|');
    if (i < 0) return null;
    return { runId: raw.slice(0, i) as RunId, at: Number(raw.slice(i + 1)) };
  }

  /** Start the run a fresh claim names; a start that fails releases the claim and leaves nothing behind. */
  async function startClaimed(args: StartOrFindOpenArgs, key: string, claim: string, idempotencyKey: string): Promise<OpenRunResult> {
    try {
      const res = await deps.startRun({ workflow: args.workflow, input: args.input, businessKey: args.businessKey, idempotencyKey, actor: args.actor });
      return { runId: res.run.id, started: !res.duplicate };
    } catch (err) {
      await scripts.compareAndSet(key, claim, '');
      throw err;
    }
  }

  /**
   * The open run of `workflow` with `businessKey`, or a new one started with `input`. Any number of
   * concurrent calls with the same key start one run; a key whose run has ended starts a new one.
   * @example
   * const { runId, started } = await engine.startOrFindOpen({ workflow: 'incident', businessKey: fp, input });
   */
  async function startOrFindOpen(args: StartOrFindOpenArgs): Promise<OpenRunResult> {
    const key = claimKey(args.workflow, args.businessKey);
    const deadline = Date.now() + WAIT_FOR_RUN_MS;
    for (;;) {
      const token = randomBytes(8).toString('hex');
      const idempotencyKey = `open:${args.workflow}:${args.businessKey}:${token}`;
      const claim = `${runIdFromKey('start', idempotencyKey)}|${clock.now()}`;
      if ((await redis.set(key, claim, 'NX')) === 'OK') return startClaimed(args, key, claim, idempotencyKey);
      const current = await redis.get(key);
      if (current === null) continue;
      const held = parseClaim(current);
      const run = held ? await runs.getStored(held.runId) : null;
      if (run && run.status === 'running') return { runId: run.id, started: false };
      // The named run has ended, or never appeared and its claim is stale: take the key over, once.
      const takeOver = !held || run !== null || clock.now() - held.at > STALE_CLAIM_MS;
      if (takeOver) {
        if (await scripts.compareAndSet(key, current, claim)) return startClaimed(args, key, claim, idempotencyKey);
        continue;
      }
      // Another request is starting that run right now.
      if (Date.now() > deadline) {
        throw new ServicechartError(ErrorCode.UNAVAILABLE, `the run for business key ${args.businessKey} is still being started; try again`);
      }
      await sleep(POLL_MS);
    }
  }

  /** The open run named by the claim for `workflow` and `businessKey`, or null. */
  async function findOpen(workflow: string, businessKey: string): Promise<string | null> {
    const current = await redis.get(claimKey(workflow, businessKey));
    const held = current ? parseClaim(current) : null;
    if (!held) return null;
    const run = await runs.getStored(held.runId);
    return run && run.status === 'running' ? run.id : null;
  }

  return { startOrFindOpen, findOpen };
}
