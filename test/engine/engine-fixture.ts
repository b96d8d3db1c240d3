// The engine every engine test file runs against: a private prefix on the test Redis, the timer consumer
// and an in-process task worker; closed and its keys dropped after the suite.
import type { Redis } from 'ioredis';
import type { EngineOptions } from '../../engine/index.ts';
import { createEngineInstance, type EngineInstance } from '../../engine/testing.ts';
import { startTaskWorker, type TaskWorker } from '../../workers/runtime.ts';
import { connect, dropPrefix, newPrefix } from '../helpers.ts';

export interface EngineFixture {
  redis: Redis;
  prefix: string;
  engine: EngineInstance;
  worker: TaskWorker;
}

/** Open the fixture on `ctx`: `options` picks the workflows, tasks and clock (given the connection and prefix). */
export async function openEngine(ctx: EngineFixture, options: (redis: Redis, prefix: string) => Omit<EngineOptions, 'redis' | 'prefix'>): Promise<void> {
  ctx.redis = await connect();
  ctx.prefix = newPrefix();
  ctx.engine = createEngineInstance({ redis: ctx.redis, prefix: ctx.prefix, ...options(ctx.redis, ctx.prefix) });
  ctx.engine.startTimerConsumer();
  ctx.worker = await startTaskWorker({ engine: ctx.engine, lockDurationMs: 2000 });
}

export async function closeEngine(ctx: EngineFixture): Promise<void> {
  await ctx.worker.close(2000);
  await ctx.engine.close();
  await dropPrefix(ctx.redis, ctx.prefix);
  await ctx.redis.quit();
}
