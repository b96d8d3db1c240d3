// Owns what the in-process task worker (workers/runtime.ts) asks of the engine: the tasks it serves,
// the bookkeeping of each attempt on its run, withdrawals, and the task queues it consumes.
import type { Catalog } from './catalog.ts';
import { duplicateUnbounded, type RedisClient } from './clients.ts';
import { iso, type Clock } from './clock.ts';
import type { TaskAttemptRef, TaskWorkerPort } from './engine.ts';
import type { Keys } from './keys.ts';
import type { Metrics } from './metrics.ts';
import type { PartitionQueues } from './queues.ts';
import type { Registry } from './registry.ts';
import type { RunStore } from './runs.ts';
import type { RunId } from './ids.ts';
import type { TaskServices } from './tasks.ts';
import type { Logger } from './types.ts';
import { outageAware } from './outage.ts';

export interface WorkerPortDeps {
  redis: RedisClient;
  keys: Keys;
  clock: Clock;
  logger: Logger;
  registry: Registry;
  runs: RunStore;
  metrics: Metrics;
  catalog: Catalog;
  queues: PartitionQueues;
  services(runId: RunId, taskName: string): TaskServices;
}

export function createWorkerPort(deps: WorkerPortDeps): TaskWorkerPort {
  const { registry, runs, clock } = deps;
  const base = (a: TaskAttemptRef) => ({ actor: `task:${a.task}`, task: a.task, taskId: a.taskId, attempt: a.attempt });

  return {
    logger: deps.logger,
    task: (name) => registry.task(name),
    servedTasks: () => registry.taskNames().map((n) => registry.task(n)!).filter((d) => d.handler && !registry.isExternal(undefined, d.name)),
    // A handler's engine calls fail as UNAVAILABLE while Redis is unreachable: waited out, not spent.
    services: (runId, taskName) => outageAware(deps.services(runId, taskName)),
    markRunning: (a, startedAt) => runs.markTask(a.runId, a.taskId, 'running', a.attempt, { type: 'task.started', at: iso(startedAt), ...base(a) }),
    markRetrying: (a, error) => runs.markTask(a.runId, a.taskId, 'retrying', a.attempt, { type: 'task.retrying', at: iso(clock.now()), ...base(a), error }),
    applyResult: (a, result, started) => runs.applyTaskResult(a.runId, a.taskId, result, a.task, started),
    countAttempt: (task, outcome) => deps.metrics.taskAttempt(task, outcome),
    recordFailure: (task, taskId) => deps.catalog.failed(task, taskId),
    async onWithdrawn(listener) {
      const subscriber = duplicateUnbounded(deps.redis);
      await subscriber.subscribe(deps.keys.taskCancelChannel());
      subscriber.on('message', (_channel: string, taskId: string) => listener(taskId));
      return { close: async () => void (await subscriber.quit().catch(() => undefined)) };
    },
    consumeTasks: (processor, options) => deps.queues.consumeTasks(processor, options),
  };
}
