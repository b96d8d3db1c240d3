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
  if (isCluster(redis)) return redis.duplicate(undefined, { enableOfflineQueue: true, redisOptions: overrides });
  return redis.duplicate(overrides);
}

/** The masters of a cluster (one node otherwise), each as a client of its own: SCAN, INFO and FLUSH are per node. */
export function masters(redis: RedisClient): Redis[] {
  return isCluster(redis) ? redis.nodes('master') : [redis];
}
