// Owns what the engine needs to know about its Redis client's topology: one node (or a Sentinel-managed
// master) through an ioredis `Redis`, or a Redis Cluster through an ioredis `Cluster`.
import type { Cluster, Redis, RedisOptions } from 'ioredis';

export type RedisClient = Redis | Cluster;

export function isCluster(redis: RedisClient): redis is Cluster {
  return (redis as { isCluster?: boolean }).isCluster === true;
}

/**
 * A new connection like `redis` for long waits (BullMQ's, blocking reads, subscribers): no retry limit
 * per command, no command timeout, commands queued while it reconnects.
 */
export function duplicateUnbounded(redis: RedisClient): RedisClient {
  const overrides: Partial<RedisOptions> = { maxRetriesPerRequest: null, enableOfflineQueue: true, commandTimeout: undefined };
  if (isCluster(redis)) return endRefreshWithClient(redis.duplicate(undefined, { enableOfflineQueue: true, redisOptions: overrides }));
  return redis.duplicate(overrides);
}

/**
 * Stop a Cluster's periodic slot refresh for good once the client has ended, on it and on every duplicate
 * made from it (BullMQ's blocking connections). In ioredis 6, a Cluster quit while its ready check is in
 * flight goes back to `ready` when the check answers and starts the refresh loop, which then reschedules
 * itself every `slotsRefreshInterval` after the client has ended: a timer that keeps the process alive.
 * An ended client has nothing to refresh; refusing to is what ends that loop.
 */
export function endRefreshWithClient(cluster: Cluster): Cluster {
  const refresh = cluster.refreshSlotsCache.bind(cluster);
  cluster.refreshSlotsCache = (callback) => {
    if (cluster.status !== 'end') refresh(callback);
  };
  const duplicate = cluster.duplicate.bind(cluster);
  cluster.duplicate = (...args) => endRefreshWithClient(duplicate(...args));
  return cluster;
}

/** The masters of a cluster (one node otherwise), each as a client of its own: SCAN, INFO and FLUSH are per node. */
export function masters(redis: RedisClient): Redis[] {
  return isCluster(redis) ? redis.nodes('master') : [redis];
}
