// Owns the claim loop on one Redis key (open runs by business key, webhook delivery ids): take the key
// with SET NX, or read who holds it; a settled holder answers, one in flight is waited for, a stale one
// is taken over by compare-and-set. The caller says what a stored value means and how long to wait.
import { ErrorCode, ServicechartError } from './errors.ts';
import type { RedisClient } from './clients.ts';
import type { Scripts } from './scripts.ts';

/** What the value found in a claimed key means to its owner. */
export type Holder<THeld> =
  /** The work is done (or the run open): the claim answers with this. */
  | { kind: 'settled'; value: THeld }
  /** Another caller is doing the work right now: wait for it. */
  | { kind: 'in-flight' }
  /** Its holder died or its work ended: take the key over. */
  | { kind: 'stale' };

export interface ClaimSpec<THeld, TFresh extends { value: string }> {
  key: string;
  /** A new claim for one attempt (a fresh token, the time); `value` is what the key stores. */
  fresh(): TFresh;
  /** What the value another caller stored means. */
  inspect(current: string): Holder<THeld> | Promise<Holder<THeld>>;
  /** Expiry of the stored claim; no expiry when omitted. */
  ttlSeconds?: number;
  /** How long to wait for a holder in flight before answering UNAVAILABLE. */
  waitMs: number;
  /** How often to look again while waiting. */
  pollMs: number;
  /** The UNAVAILABLE message when the wait runs out (the caller's retry will find the result). */
  busyMessage: string;
}

export type ClaimOutcome<THeld, TFresh> = { kind: 'claimed'; claim: TFresh } | { kind: 'held'; value: THeld };

export interface Claims {
  /**
   * Take `spec.key`, or answer the settled holder's value. Throws UNAVAILABLE when a holder in flight
   * is still at work after `spec.waitMs`.
   */
  claim<THeld, TFresh extends { value: string }>(spec: ClaimSpec<THeld, TFresh>): Promise<ClaimOutcome<THeld, TFresh>>;
  /** Replace our claim by `value` while the key still holds `claimed`; false when another took it over. */
  settle(key: string, claimed: string, value: string, ttlSeconds?: number): Promise<boolean>;
  /** Give our claim back (after a failure) so the next caller does the work; false when it is not ours. */
  release(key: string, claimed: string): Promise<boolean>;
  /** The value the key holds now, or null. */
  read(key: string): Promise<string | null>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createClaims(deps: { redis: RedisClient; scripts: Scripts }): Claims {
  const { redis, scripts } = deps;

  async function claim<THeld, TFresh extends { value: string }>(spec: ClaimSpec<THeld, TFresh>): Promise<ClaimOutcome<THeld, TFresh>> {
    const ttl = spec.ttlSeconds ?? 0;
    // Wall time bounds the wait; the injected clock (which a test may hold still) dates the claims.
    const deadline = Date.now() + spec.waitMs;
    for (;;) {
      const mine = spec.fresh();
      const taken = ttl > 0 ? await redis.set(spec.key, mine.value, 'EX', ttl, 'NX') : await redis.set(spec.key, mine.value, 'NX');
      if (taken === 'OK') return { kind: 'claimed', claim: mine };
      const current = await redis.get(spec.key);
      if (current === null) continue;
      const holder = await spec.inspect(current);
      if (holder.kind === 'settled') return { kind: 'held', value: holder.value };
      if (holder.kind === 'stale') {
        // Taken over once: a concurrent caller that read the same stale value loses the race and looks again.
        if (await scripts.compareAndSet(spec.key, current, mine.value, ttl)) return { kind: 'claimed', claim: mine };
        continue;
      }
      if (Date.now() > deadline) throw new ServicechartError(ErrorCode.UNAVAILABLE, spec.busyMessage);
      await sleep(spec.pollMs);
    }
  }

  return {
    claim,
    settle: (key, claimed, value, ttlSeconds = 0) => scripts.compareAndSet(key, claimed, value, ttlSeconds),
    release: (key, claimed) => scripts.compareAndSet(key, claimed, '', 0),
    read: (key) => redis.get(key),
  };
}
