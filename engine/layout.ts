// Owns the facts an installation fixes when it is first used: how many partitions its runs are spread
// over. A process configured otherwise would look for runs, queues and indexes where they are not, so
// it refuses to start, as it does on data of the release before partitions.
import type { Redis, Cluster } from 'ioredis';
import type { Keys } from './keys.ts';

export type LayoutProblem = 'PARTITIONS_CHANGED' | 'LEGACY_LAYOUT';

/** The engine cannot work on this Redis as configured; `message` says why and what to do. */
export class LayoutError extends Error {
  readonly code: LayoutProblem;
  constructor(code: LayoutProblem, message: string) {
    super(message);
    this.name = 'LayoutError';
    this.code = code;
  }
}

/**
 * Record the partition count on first use, or check it against the recorded one. Data written by the
 * release before partitions (run indexes and queues under `<prefix>:runs`, `{<prefix>-q}`) is refused:
 * its keys are named differently and this release would not see its runs.
 */
export async function ensureLayout(redis: Redis | Cluster, keys: Keys, prefix: string): Promise<void> {
  const key = keys.layout();
  let stored = await redis.hget(key, 'partitions');
  if (stored === null) {
    // One key per call: on a cluster they sit in different slots.
    const legacy = await Promise.all([`${prefix}:runs`, `${prefix}:outbox-pending`, `{${prefix}-q}:tasks:id`, `{${prefix}-q}:timers:id`].map((k) => redis.exists(k)));
    if (legacy.some((n) => n > 0)) {
      throw new LayoutError('LEGACY_LAYOUT', `this Redis holds runs of an earlier Servicechart release under the prefix "${prefix}" (keys such as ${prefix}:runs), `
        + 'stored before runs were spread over partitions; this release cannot read them. Let those runs finish on the earlier release, '
        + 'or start this release on an empty Redis or with another SERVICECHART_PREFIX');
    }
    if (await redis.hsetnx(key, 'partitions', String(keys.partitions))) {
      await redis.hset(key, 'createdAt', new Date().toISOString());
      return;
    }
    stored = await redis.hget(key, 'partitions');
  }
  if (Number(stored) !== keys.partitions) {
    throw new LayoutError('PARTITIONS_CHANGED', `this installation (prefix "${prefix}") was created with ${stored} partitions and this process is configured with ${keys.partitions}; `
      + `the count is fixed when an installation is first used, because every run, queue and index lives in its partition: set SERVICECHART_PARTITIONS=${stored}`);
  }
}

/** The partition count an installation recorded at first use, or null for one not used yet. */
export async function storedPartitions(redis: Redis | Cluster, keys: Keys): Promise<number | null> {
  const stored = await redis.hget(keys.layout(), 'partitions');
  return stored === null ? null : Number(stored);
}
