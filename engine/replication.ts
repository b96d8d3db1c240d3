// Owns "acknowledged means replicated": after a write, WAIT until N replicas of the master that took
// it confirm it, or refuse the acknowledgement with UNAVAILABLE.
import { Command, type Redis } from 'ioredis';
import { isCluster, type RedisClient } from './clients.ts';
import { isRedisUnavailable, unavailable } from './errors.ts';

export interface ReplicaAcks {
  /** Replicas that must hold a write before it is acknowledged; 0 acknowledges at once. */
  replicas: number;
  /** How long to wait for them before answering UNAVAILABLE. */
  timeoutMs: number;
}

export const noReplicaAcks: ReplicaAcks = { replicas: 0, timeoutMs: 0 };

/**
 * When each connection last (re)connected. WAIT on a connection counts replicas of that connection's
 * own writes: one opened after the write (the client moved to a new master in a failover) would confirm
 * nothing of it, and a promoted master with replicas would answer as if it did. Such a write is refused
 * instead (503, retry with its Idempotency-Key).
 */
const connectedAt = new WeakMap<Redis, number>();

function watch(node: Redis, now: number): void {
  if (connectedAt.has(node)) return;
  connectedAt.set(node, now);
  node.on('ready', () => connectedAt.set(node, performance.now()));
}

/** Start noting reconnections (call once, before writes whose acknowledgement waits for replicas). */
export function watchConnections(redis: RedisClient): void {
  if (isCluster(redis)) {
    for (const node of redis.nodes()) watch(node, 0);
    redis.on('+node', (node: Redis) => watch(node, performance.now()));
  } else {
    watch(redis, 0);
  }
}

/** A moment to pass to `awaitReplicas` as `writtenAfter`, taken before the write starts. */
export function writeMark(): number {
  return performance.now();
}

/**
 * The connection that carried writes to `key`'s slot. WAIT takes no key, so a Cluster client would
 * send it to any node; it must go to the master that owns the slot, on the connection that wrote
 * (WAIT counts replicas that reached that connection's last write).
 */
function writerOf(redis: RedisClient, key: string): Redis {
  if (!isCluster(redis)) return redis;
  const slot = new Command('exists', [key]).getSlot();
  const owner = slot === null ? undefined : redis.slots[slot]?.[0];
  const node = owner && redis.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === owner);
  if (!node) throw unavailable(`no master is known for the slot of ${key} (the cluster is reconfiguring); try again`);
  return node;
}

/**
 * WAIT blocks the connection it is sent on, and every command queued behind it, for up to its
 * timeout. So the writes waiting on one connection share short WAITs (at most `SLICE_MS` each, one
 * in flight): every WAIT confirms each write made before it was sent (it counts replicas that reached
 * the connection's latest write), and a write that joins while one is in flight is covered by the
 * next. While replicas are missing, other commands on the connection then wait a slice at most, and
 * each write gets its answer after its own timeout, not after everyone else's.
 */
const SLICE_MS = 100;

interface Waiter {
  deadline: number;
  resolve(replicas: number): void;
  reject(err: unknown): void;
}
interface Waits {
  waiting: Waiter[];
  inFlight: boolean;
}
const waitsOf = new WeakMap<Redis, Waits>();

function groupWait(node: Redis, acks: ReplicaAcks): Promise<number> {
  let w = waitsOf.get(node);
  if (!w) waitsOf.set(node, (w = { waiting: [], inFlight: false }));
  const state = w;
  const pump = () => {
    if (state.inFlight || !state.waiting.length) return;
    const covered = state.waiting.splice(0);
    const slice = Math.max(1, Math.min(SLICE_MS, Math.min(...covered.map((c) => c.deadline)) - Date.now()));
    state.inFlight = true;
    (node.call('WAIT', acks.replicas, slice) as Promise<unknown>).then(
      (reply) => {
        state.inFlight = false;
        const n = Number(reply);
        const now = Date.now();
        for (const c of covered) {
          if (n >= acks.replicas || now >= c.deadline) c.resolve(n);
          else state.waiting.push(c);
        }
        pump();
      },
      (err) => {
        state.inFlight = false;
        for (const c of covered) c.reject(err);
        pump();
      },
    );
  };
  return new Promise<number>((resolve, reject) => {
    state.waiting.push({ deadline: Date.now() + acks.timeoutMs, resolve, reject });
    pump();
  });
}

/**
 * Wait until `acks.replicas` replicas hold every write made so far to `key`'s master over this
 * connection. Throws UNAVAILABLE (503, retry with the same Idempotency-Key) when they do not confirm
 * within the timeout: the write stays on the master and may still survive, or be lost in a failover.
 */
export async function awaitReplicas(redis: RedisClient, key: string, acks: ReplicaAcks, writtenAfter?: number): Promise<void> {
  if (acks.replicas <= 0) return;
  const node = writerOf(redis, key);
  if (writtenAfter !== undefined && (connectedAt.get(node) ?? 0) > writtenAfter) {
    throw unavailable(`the connection to the master of ${key} changed since the write (a failover?); it may still apply, retry with the same Idempotency-Key`);
  }
  let confirmed: number;
  try {
    confirmed = await groupWait(node, acks);
  } catch (err) {
    if (isRedisUnavailable(err)) throw unavailable(`the write could not be confirmed on ${acks.replicas} replica(s): ${(err as Error).message}; it may still apply, retry with the same Idempotency-Key`);
    throw err;
  }
  if (confirmed < acks.replicas) {
    throw unavailable(
      `the write reached ${confirmed} of ${acks.replicas} required replica(s) within ${acks.timeoutMs} ms; it may still apply, retry with the same Idempotency-Key`,
      { replicas: confirmed, required: acks.replicas },
    );
  }
}
