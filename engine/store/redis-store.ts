// The Redis adapter of the run storage port: the run hash (`doc`, `seq`, `hseq`, `ts:<taskId>`), its
// history stream, its outbox hash and the partition's indexes, written by the commitStep, appendHistory
// and markTask scripts (lua/). The one place a CommitPlan becomes keys and script arguments.
import type { CommitPlan, HumanTaskDoc, IndexOp, LiveTaskStatus } from '../commit-plan.ts';
import { createHistory } from './history.ts';
import type { RedisClient } from '../clients.ts';
import type { RunId } from '../ids.ts';
import type { Keys } from '../keys.ts';
import { outboxPairs, pendingMember } from '../outbox.ts';
import type { CommitArgs, CommitKeys, Scripts } from '../scripts.ts';
import type { StoredRun } from '../types.ts';
import type { CommitReply, RunStorage, StoredRunState } from './port.ts';

/** How long an idempotency key keeps its answer. */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;
/** The route name event idempotency keys are stored under (the stored format: keep it). */
const EVENTS = 'events';

export interface RedisRunStorageDeps {
  redis: RedisClient;
  keys: Keys;
  scripts: Scripts;
  /** Settles once the installation's layout is checked (layout.ts); nothing is read or written before. */
  layoutChecked: () => Promise<void>;
}

export function createRedisRunStorage(deps: RedisRunStorageDeps): RunStorage {
  const { redis, keys, scripts, layoutChecked } = deps;
  const history = createHistory(redis, keys);
  return {
    async read(runId) {
      await layoutChecked();
      return parseRunHash(await redis.hgetall(keys.run(runId)));
    },
    async idempotent(runId, key) {
      await layoutChecked();
      return redis.get(keys.eventIdem(runId, EVENTS, key));
    },
    async commit(plan) {
      await layoutChecked();
      const { commitKeys, args } = commitArgs(keys, plan);
      const res = await scripts.commitStep(commitKeys, args);
      if (res.ok) return { ok: true, code: 'OK', written: args.outbox };
      return res.code === 'DUPLICATE' ? { ok: false, code: res.code, stored: res.stored } : { ok: false, code: res.code };
    },
    async appendHistory(runId, entries) {
      await layoutChecked();
      return scripts.appendHistory([keys.run(runId), keys.history(runId)], entries.map((e) => JSON.stringify(e)));
    },
    async markTask(runId, taskId, live, entry) {
      await layoutChecked();
      return scripts.markTask([keys.run(runId), keys.history(runId)], taskId, JSON.stringify(live), entry ? JSON.stringify(entry) : '');
    },
    async historyPage(runId, opts) {
      await layoutChecked();
      return (await redis.exists(keys.run(runId))) ? history.page(runId, opts) : null;
    },
    async lastHistorySeq(runId) {
      await layoutChecked();
      return Number((await redis.hget(keys.run(runId), 'hseq')) ?? 0);
    },
    followHistory: (runId, afterSeq, signal) => history.follow(runId, afterSeq, signal),
    async humanTask(taskId) {
      await layoutChecked();
      const raw = await redis.get(keys.humanTask(taskId));
      return raw ? (JSON.parse(raw) as HumanTaskDoc) : null;
    },
  };
}

/** A run hash as stored: `doc` the record, `ts:<taskId>` the live status of each awaited task. */
function parseRunHash(all: Record<string, string>): StoredRunState | null {
  if (!all.doc) return null;
  const live: Record<string, LiveTaskStatus> = {};
  for (const [k, v] of Object.entries(all)) if (k.startsWith('ts:')) live[k.slice(3)] = JSON.parse(v) as LiveTaskStatus;
  return { run: JSON.parse(all.doc) as StoredRun, live };
}

/** The key of a named index in the run's partition `p`. */
function indexKey(keys: Keys, p: number, op: IndexOp): string {
  const v = op.value ?? '';
  switch (op.index) {
    case 'all': return keys.runsAll(p);
    case 'byWorkflow': return keys.runsByWorkflow(p, v);
    case 'byStatus': return keys.runsByStatus(p, v);
    case 'byBusinessKey': return keys.runsByBusinessKey(p, v);
    case 'byParent': return keys.runsByParent(p, v);
    case 'byService': return keys.runsByRef(p, 'service', v);
    case 'byCi': return keys.runsByRef(p, 'ci', v);
    case 'endedByWorkflow': return keys.runsEndedByWorkflow(p, v);
    case 'endedWorkflows': return keys.runsEndedWorkflows(p);
    case 'humanTasksOpen': return keys.humanTasksOpen(p);
    case 'humanTasksDone': return keys.humanTasksDone(p);
  }
}

/** A plan as commitStep's keys and arguments (lua/commitStep.v1-n.lua documents them). */
function commitArgs(keys: Keys, plan: CommitPlan): { commitKeys: CommitKeys; args: CommitArgs } {
  const run = plan.record;
  const p = keys.partitionOf(run.id);
  const pairs = outboxPairs(run.seq, plan.outbox);
  const indexAdd: [string, number, string][] = [];
  const indexRemove: [string, string][] = [];
  for (const op of plan.index) {
    if (op.op === 'add') indexAdd.push([indexKey(keys, p, op), op.score, op.member]);
    else indexRemove.push([indexKey(keys, p, op), op.member]);
  }
  const idem = plan.idempotency;
  return {
    commitKeys: {
      run: keys.run(plan.runId), history: keys.history(plan.runId), outbox: keys.outbox(plan.runId),
      idem: idem ? keys.eventIdem(plan.runId, EVENTS, idem.key) : keys.noIdem(plan.runId), outboxPending: keys.outboxPending(p),
    },
    args: {
      expectedSeq: plan.expectedSeq,
      newSeq: run.seq,
      doc: JSON.stringify(run),
      idemValue: idem ? idem.value : '',
      idemTtlSeconds: IDEMPOTENCY_TTL_SECONDS,
      history: plan.history.map((h) => JSON.stringify(h)),
      outbox: pairs,
      dropTaskStatus: plan.tasks.drop,
      awaitTasks: plan.tasks.await.map(({ taskId, live }) => [taskId, JSON.stringify(live)]),
      // The sweeper finds the step by its marker if this process dies before the outbox is flushed.
      marker: pairs.length ? [pendingMember(run.id, run.seq), plan.at] : null,
      indexAdd,
      indexRemove,
      docs: plan.humanTasks.map((d) => [keys.humanTask(d.id), JSON.stringify(d)]),
    },
  };
}

