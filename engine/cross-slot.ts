// Owns confirming the engine's own writes that land in another slot than the run driving them (an
// event to another run, a run a task starts, sends to or cancels, an external task, KPI figures), with
// SERVICECHART_REPLICA_ACKS on a Redis Cluster. A step's own writes, jobs and outbox marker share the
// run's slot, so a failover loses at worst their suffix and the job or the outbox sweeper redoes it;
// a write in another slot sits on another master, whose failover could lose it while the step that
// implied it stays done (a run waiting for an event that never comes, a parent naming a missing child).
// Such a write is confirmed on its own master's replicas first: until then the step's outbox stays
// pending, or the task is not done. On one node or Sentinel replication is one ordered stream: nothing
// to do there.
import { isCluster, type RedisClient } from './clients.ts';
import type { RunId } from './ids.ts';
import type { Keys } from './keys.ts';
import { awaitReplicas, writeMark, type ReplicaAcks } from './replication.ts';
import type { RunStore } from './runs.ts';

export type ConfirmElsewhere = <T>(key: string | ((res: T) => string), work: () => Promise<T>) => Promise<T>;

/** Run `work`, then wait until the writes to `key`'s slot since it began are on the replicas asked for. */
export function confirmElsewhere(redis: RedisClient, replicaAcks: ReplicaAcks): ConfirmElsewhere {
  return async (key, work) => {
    if (replicaAcks.replicas === 0 || !isCluster(redis)) return work();
    const mark = writeMark();
    const res = await work();
    await awaitReplicas(redis, typeof key === 'string' ? key : key(res), replicaAcks, mark);
    return res;
  };
}

/**
 * Deliver one run's event to another, confirmed on the receiver's slot. While a delivery waits for its
 * replicas, the sweeper's next pass over the same outbox joins it rather than queueing another wait.
 */
export function confirmedDeliveries(elsewhere: ConfirmElsewhere, keys: Keys, runs: () => RunStore): RunStore['deliverSend'] {
  const delivering = new Map<string, ReturnType<RunStore['deliverSend']>>();
  return (send) => {
    const pending = delivering.get(send.key);
    if (pending) return pending;
    const done = elsewhere(keys.run(send.to as RunId), () => runs().deliverSend(send)).finally(() => delivering.delete(send.key));
    delivering.set(send.key, done);
    return done;
  };
}
