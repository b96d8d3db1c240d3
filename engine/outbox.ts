// Owns the outbox: after a step commits, its jobs go to its partition's BullMQ queues with deterministic
// ids and its KPI figures are recorded; a sweeper, over every partition, finishes what a crash between
// the two left behind. (Index updates are not in the outbox: the commit script writes them, in the
// run's partition.)
import type { Queue } from 'bullmq';
import type { RedisClient } from './clients.ts';
import type { Keys } from './keys.ts';
import type { OutboxOp } from './step.ts';
import type { RunId } from './ids.ts';
import type { Logger } from './types.ts';
import type { KpiStore, MeasureEntry } from './kpis.ts';

/** Measures a step recorded, or a run left out of the figures (kpis.ts); both idempotent. */
export type KpiOp = { op: 'kpi'; workflow: string; runId: string; entries: MeasureEntry[] } | { op: 'kpiDrop'; workflow: string; runId: string };
export type OutboxEntry = OutboxOp | KpiOp;

/** Each partition's queues, by partition number. */
export interface Queues {
  tasks: Queue[];
  timers: Queue[];
}

export interface TaskJobOptions {
  attempts: number;
  backoffMs: number;
}

/** Where tasks for external workers go (external-tasks.ts). */
export interface ExternalSink {
  add(taskId: string, type: string, data: Record<string, unknown>): Promise<void>;
  withdraw(taskId: string): Promise<void>;
}

export interface OutboxDeps {
  external: ExternalSink;
  redis: RedisClient;
  keys: Keys;
  queues: Queues;
  logger: Logger;
  taskJobOptions(task: string): TaskJobOptions;
  now(): number;
  kpis: KpiStore;
  /** Deliver one run's event to another run (idempotent by its key). */
  deliver(send: Extract<OutboxOp, { op: 'send' }>): Promise<unknown>;
}

/** Serialise a step's entries for the commit script: [field, JSON] pairs. */
export function outboxPairs(seq: number, entries: OutboxEntry[]): [string, string][] {
  return entries.map((e, i) => [`${seq}.${i}`, JSON.stringify(e)]);
}

export function pendingMember(runId: RunId, seq: number): string {
  return `${runId}|${seq}`;
}

/** What one outbox keeps between calls: the per-run send chains and the clears waiting for the next tick. */
interface OutboxState {
  deps: OutboxDeps;
  // Events a run sends other runs go out one after another per sending run, in commit order, so a
  // receiver takes them in the order they were sent (as XState's relay does).
  sendChains: Map<RunId, Promise<void>>;
  clears: { pending: PendingClear[]; scheduled: boolean };
}

interface PendingClear {
  runId: RunId;
  seq: number;
  fields: string[];
}

type SendEntry = Extract<OutboxEntry, { op: 'send' }>;

/** Carry out one entry of a run in partition `p`. */
async function applyEntry(deps: OutboxDeps, entry: OutboxEntry, p: number): Promise<void> {
  switch (entry.op) {
    case 'add': {
      if (entry.queue === 'external') return deps.external.add(entry.jobId, entry.name, entry.data);
      const queue = deps.queues[entry.queue][p];
      const opts = entry.queue === 'tasks' ? deps.taskJobOptions(entry.name) : { attempts: 1, backoffMs: 0 };
      // A second add of an id BullMQ still holds is ignored; a copy that slips through after removal
      // carries a step token the run no longer knows, and the consumer drops it.
      await queue.add(entry.name, entry.data, {
        jobId: entry.jobId,
        // From the stored due time, so a job re-added after a crash keeps its original deadline.
        delay: entry.dueAt === undefined ? undefined : Math.max(0, entry.dueAt - deps.now()),
        attempts: opts.attempts,
        backoff: opts.backoffMs > 0 ? { type: 'exponential', delay: opts.backoffMs } : undefined,
        // The run's history keeps the record; a completed job has nothing more to say.
        removeOnComplete: true,
        removeOnFail: { age: 24 * 3600, count: 10_000 },
      });
      return;
    }
    case 'remove': {
      if (entry.queue === 'external') return deps.external.withdraw(entry.jobId);
      const job = await deps.queues[entry.queue][p].getJob(entry.jobId);
      if (!job) return;
      try {
        await job.remove();
      } catch (err) {
        // A job a worker holds cannot be removed; the consumer will find it stale and drop it.
        deps.logger.debug({ err, jobId: entry.jobId }, 'job not removed; it will be dropped as stale');
      }
      return;
    }
    case 'cancelTask':
      await deps.redis.publish(deps.keys.taskCancelChannel(), entry.taskId);
      return;
    case 'kpi':
      await deps.kpis.record(entry.workflow, entry.runId, entry.entries);
      return;
    case 'kpiDrop':
      await deps.kpis.drop(entry.workflow, entry.runId);
      return;
    case 'send':
      await deps.deliver(entry);
      return;
  }
}

/**
 * Deliver a step's sends after the run's earlier ones. Not awaited inside the sender's step: delivering
 * takes the receiver's lane, and two runs sending each other would otherwise wait on each other.
 */
function chainSends(s: OutboxState, runId: RunId, sends: SendEntry[]): Promise<void> {
  const prev = s.sendChains.get(runId) ?? Promise.resolve();
  const next = prev.then(async () => {
    for (const send of sends) await applyEntry(s.deps, send, s.deps.keys.partitionOf(runId));
  });
  const tail = next.catch(() => undefined);
  s.sendChains.set(runId, tail);
  void tail.then(() => {
    if (s.sendChains.get(runId) === tail) s.sendChains.delete(runId);
  });
  return next;
}

// Clearing flushed entries and their markers is batched: one pipeline per partition per tick for
// every step flushed in it (a pipeline stays in one slot). Field names carry the step's seq, so
// deleting by name never touches a newer step's entries; a crash before the batch only makes the
// sweeper flush those steps again, which is harmless (deterministic job ids, stale jobs dropped).
function scheduleClear(s: OutboxState, clear: PendingClear): void {
  s.clears.pending.push(clear);
  if (s.clears.scheduled) return;
  s.clears.scheduled = true;
  setImmediate(() => {
    const batch = s.clears.pending;
    s.clears.pending = [];
    s.clears.scheduled = false;
    clearBatch(s.deps, batch);
  });
}

function clearBatch(deps: OutboxDeps, batch: PendingClear[]): void {
  const { keys, redis, logger } = deps;
  const byPartition = new Map<number, PendingClear[]>();
  for (const c of batch) {
    const p = keys.partitionOf(c.runId);
    const list = byPartition.get(p);
    if (list) list.push(c);
    else byPartition.set(p, [c]);
  }
  for (const [p, clears] of byPartition) {
    const pipe = redis.pipeline();
    for (const c of clears) if (c.fields.length) pipe.hdel(keys.outbox(c.runId), ...c.fields);
    pipe.zrem(keys.outboxPending(p), ...clears.map((c) => pendingMember(c.runId, c.seq)));
    pipe.exec().catch((err) => logger.warn({ err }, 'clearing flushed outboxes failed; the sweeper will flush them again'));
  }
}

/** Carry out a committed step's outbox, then clear exactly those entries and the step's marker. */
async function flushStep(s: OutboxState, runId: RunId, seq: number, pairs: [string, string][]): Promise<void> {
  const p = s.deps.keys.partitionOf(runId);
  const entries = pairs.map(([, json]) => JSON.parse(json) as OutboxEntry);
  const sends = entries.filter((e): e is SendEntry => e.op === 'send');
  // The other entries of one step never depend on each other's order (job ids carry the step's seq).
  await Promise.all(entries.filter((e) => e.op !== 'send').map((e) => applyEntry(s.deps, e, p)));
  const fields = pairs.map(([field]) => field);
  if (!sends.length) return scheduleClear(s, { runId, seq, fields });
  // Cleared once delivered; after a fault the entries stay and the sweeper delivers them again.
  chainSends(s, runId, sends).then(
    () => scheduleClear(s, { runId, seq, fields }),
    (err) => s.deps.logger.warn({ err, runId }, 'delivering an event to another run failed; the sweeper will retry it'),
  );
}

/** Re-run a partition's outboxes older than `graceMs`: what a crash between commit and flush left. */
async function sweepPartition(deps: OutboxDeps, p: number, graceMs: number): Promise<number> {
  const { redis, keys } = deps;
  const members = await redis.zrangebyscore(keys.outboxPending(p), 0, deps.now() - graceMs, 'LIMIT', 0, 500);
  let done = 0;
  for (const member of members) {
    const [runId] = member.split('|') as [RunId];
    const all = await redis.hgetall(keys.outbox(runId));
    const pairs = Object.entries(all).sort(([a], [b]) => Number(a.split('.')[0]) - Number(b.split('.')[0]) || Number(a.split('.')[1]) - Number(b.split('.')[1]));
    for (const [, json] of pairs) await applyEntry(deps, JSON.parse(json) as OutboxEntry, p);
    if (pairs.length) await redis.hdel(keys.outbox(runId), ...pairs.map(([field]) => field));
    await redis.zrem(keys.outboxPending(p), member);
    done += pairs.length;
  }
  return done;
}

/** Re-run every partition's outboxes older than `graceMs`. */
async function sweepAll(deps: OutboxDeps, graceMs: number): Promise<number> {
  // A partition whose master is failing over does not hold up the others.
  const results = await Promise.allSettled(deps.keys.all.map((p) => sweepPartition(deps, p, graceMs)));
  let done = 0;
  let failure: unknown = null;
  for (const r of results) {
    if (r.status === 'fulfilled') done += r.value;
    else failure ??= r.reason;
  }
  if (done) deps.logger.info({ entries: done }, 'outbox sweeper re-applied entries left by an interrupted step');
  if (failure) throw failure;
  return done;
}

export function createOutbox(deps: OutboxDeps) {
  const state: OutboxState = { deps, sendChains: new Map(), clears: { pending: [], scheduled: false } };
  return {
    flush: (runId: RunId, seq: number, pairs: [string, string][]) => flushStep(state, runId, seq, pairs),
    sweep: (graceMs: number) => sweepAll(deps, graceMs),
  };
}

export type Outbox = ReturnType<typeof createOutbox>;
