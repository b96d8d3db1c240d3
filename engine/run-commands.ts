// Owns the writes callers outside the engine make to runs (start, event, open-run by business key,
// cancel, human-task completion, notes): each checked, applied by the run store, and answered only
// once the replicas asked for hold it.
import { isCluster, type RedisClient } from './clients.ts';
import { iso, type Clock } from './clock.ts';
import { ErrorCode, ServicechartError, notFound, validationError } from './errors.ts';
import { runIdFromKey, runIdOfHumanTask, type RunId } from './ids.ts';
import type { Keys } from './keys.ts';
import { awaitReplicas, writeMark, type ReplicaAcks } from './replication.ts';
import { runIdOrThrow, type RunReads } from './run-reads.ts';
import { EVENT_TYPE, type HumanTaskDoc, type RunResult, type RunStore, type SendEventOptions, type StartRunArgs } from './runs.ts';
import type { OpenRunResult, StartOrFindOpenArgs } from './business-keys.ts';
import type { JsonObject, RunView } from './types.ts';

export interface RunCommandDeps {
  redis: RedisClient;
  keys: Keys;
  clock: Clock;
  runs: RunStore;
  reads: RunReads;
  replicaAcks: ReplicaAcks;
  /** Whether an archive is configured (a repeated start may name a run that has left Redis). */
  archived: boolean;
  startOrFindOpen(args: StartOrFindOpenArgs): Promise<OpenRunResult>;
  appendEntry(runId: RunId, type: string, fields: Record<string, unknown>, actor: string): Promise<boolean>;
}

export function createRunCommands(deps: RunCommandDeps) {
  const { redis, keys, clock, runs, reads } = deps;

  /** Hand back `result` once the run's write is on the replicas asked for; UNAVAILABLE (503) otherwise. */
  async function acknowledged<T>(runId: string, result: T, writtenAfter: number): Promise<T> {
    await awaitReplicas(redis, keys.run(runId as RunId), deps.replicaAcks, writtenAfter);
    return result;
  }

  async function startRun(args: StartRunArgs): Promise<RunResult> {
    // A repeat of a start whose run has been archived answers that run, never a second copy.
    if (deps.archived && args.idempotencyKey) {
      const id = runIdFromKey('start', args.idempotencyKey);
      if (!(await redis.exists(keys.run(id)))) {
        const copy = await reads.archivedRun(id);
        if (copy) return { run: copy, duplicate: true };
      }
    }
    const mark = writeMark();
    const res = await runs.startRun(args);
    return acknowledged(res.run.id, res, mark);
  }

  function sendEvent(runId: string, event: JsonObject & { type: string }, opts: SendEventOptions = {}): Promise<RunResult> {
    if (typeof event.type !== 'string' || !EVENT_TYPE.test(event.type) || event.type.startsWith('xstate.')) {
      return Promise.reject(validationError('bad event type', [{ path: '/type', message: 'an event type is a name such as ACKNOWLEDGE (not xstate.*)' }]));
    }
    const mark = writeMark();
    return runs.sendEvent(runIdOrThrow(runId), event, opts).then((res) => acknowledged(runId, res, mark));
  }

  async function completeHumanTask(taskId: string, body: { outcome: string; by: string; comment?: string | null }, actor = 'api'): Promise<{ task: HumanTaskDoc; run: RunView }> {
    const runId = runIdOfHumanTask(taskId);
    const doc = runId ? await redis.get(keys.humanTask(taskId)) : null;
    if (!runId || !doc) throw notFound(`human task ${taskId}`);
    const task = JSON.parse(doc) as HumanTaskDoc;
    if (task.status !== 'open') throw new ServicechartError(ErrorCode.CONFLICT, `human task ${taskId} is ${task.status} already`);
    const eventType = Object.hasOwn(task.outcomes, body.outcome) ? task.outcomes[body.outcome] : undefined;
    if (typeof eventType !== 'string') {
      throw validationError('unknown outcome', [{ path: '/body/outcome', message: `outcome must be one of ${Object.keys(task.outcomes).join(', ')}` }]);
    }
    const event: JsonObject & { type: string } = { type: eventType, by: body.by };
    if (body.comment !== undefined && body.comment !== null) event.comment = body.comment;
    const completion = { id: taskId, outcome: body.outcome, by: body.by, comment: body.comment ?? null };
    const mark = writeMark();
    const { run } = await runs.sendEvent(runId, event, { actor, completion });
    await acknowledged(runId, null, mark);
    const now = iso(clock.now());
    return { task: { ...task, status: 'done', completedAt: now, outcome: body.outcome, by: body.by, comment: body.comment ?? null }, run };
  }

  return {
    startRun, sendEvent, completeHumanTask,
    async startOrFindOpen(args: StartOrFindOpenArgs): Promise<OpenRunResult> {
      const mark = writeMark();
      const res = await deps.startOrFindOpen(args);
      // The claim, in a slot of its own, must survive a failover as the run does.
      if (res.started && isCluster(redis)) await awaitReplicas(redis, keys.openClaim(args.workflow, args.businessKey), deps.replicaAcks, mark);
      return acknowledged(res.runId, res, mark);
    },
    cancelRun(runId: string, opts: { reason?: string | null; actor?: string } = {}): Promise<RunView> {
      const mark = writeMark();
      return runs.cancelRun(runIdOrThrow(runId), opts).then((view) => acknowledged(runId, view, mark));
    },
    async appendNote(runId: string, type: string, fields: JsonObject, actor: string): Promise<boolean> {
      if (!/^[a-z][a-z0-9_]*\.[a-z0-9_.]+$/.test(type)) throw validationError('bad history entry type', [{ path: '/type', message: 'a dotted lower-case name such as hook.ignored' }]);
      return deps.appendEntry(runIdOrThrow(runId), type, fields, actor);
    },
  };
}
