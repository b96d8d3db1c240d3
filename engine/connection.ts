// Owns how the engine's own Redis connection is opened: no offline queue, a command timeout.
import { Redis } from 'ioredis';

/**
 * Open the connection a server process borrows to the engine. Without an offline queue a write fails
 * at once while Redis is unreachable (the API answers 503) instead of being replayed later, after its
 * caller was told it failed; the command timeout bounds a Redis that hangs.
 */
export async function connectRedis(url: string, opts: { readyTimeoutMs?: number } = {}): Promise<Redis> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 5000, enableOfflineQueue: false, commandTimeout: 5000 });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => {
      redis.disconnect();
      reject(new Error(`Redis at ${url} did not answer within ${opts.readyTimeoutMs ?? 15_000} ms`));
    }, opts.readyTimeoutMs ?? 15_000);
    redis.once('ready', () => {
      clearTimeout(t);
      resolve();
    });
  });
  return redis;
}
