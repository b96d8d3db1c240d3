// External tasks: workers in any language fetch locked tasks, then complete, fail or extend them.
import type { Engine } from '../../engine/index.ts';
import type { RouteTable } from '../route.ts';
import { errorSchema } from '../schemas/common.ts';
import { completeBody, extendLockBody, externalTaskParams, failBody, fetchBody, fetchReply, settledReply, taskTypeSchema } from '../schemas/external-tasks.ts';

const lockErrors = {
  404: { description: 'no such task', schema: errorSchema },
  409: { description: 'CONFLICT: the lock token is not current (`details.reason` `stale-lock`), the lock expired (`lock-expired`), or the task is completed already (`done`); nothing changed', schema: errorSchema },
  410: { description: 'TASK_WITHDRAWN: the run no longer waits for this task (it left the state or ended); drop it', schema: errorSchema },
};

export function externalTaskRoutes(routes: RouteTable, engine: Engine): void {
  routes.add({
    method: 'get', path: '/v1/task-types', summary: 'The live task catalog: every task type with its schemas, live workers, queue depth, oldest waiting age and failures in the last hour', tag: 'external-tasks', access: 'viewer',
    responses: { 200: { description: 'task types by name', schema: { type: 'object', properties: { items: { type: 'array', items: taskTypeSchema } } } } },
  }, async (ctx) => {
    ctx.body = { items: await engine.listTaskTypes() };
  });

  routes.add({
    method: 'post', path: '/v1/external-tasks/fetch', summary: 'Lock up to max waiting tasks of the given types (long-polls up to waitMs)', tag: 'external-tasks', access: 'worker',
    body: fetchBody,
    responses: { 200: { description: 'the tasks now locked to this worker (possibly none)', schema: fetchReply } },
  }, async (ctx, req) => {
    const controller = new AbortController();
    ctx.res.once('close', () => controller.abort());
    const b = req.body;
    const tasks = await engine.externalTasks.fetch({ workerId: b.workerId, types: b.types, max: b.max ?? 1, lockMs: b.lockMs ?? 60_000, waitMs: b.waitMs ?? 0, signal: controller.signal });
    ctx.body = { tasks };
  });

  routes.add({
    method: 'post', path: '/v1/external-tasks/:id/complete', summary: "Complete a locked task with its output (checked against the task's output schema)", tag: 'external-tasks', access: 'worker',
    params: externalTaskParams, body: completeBody,
    responses: { 200: { description: 'applied to the run', schema: settledReply }, ...lockErrors, 422: { description: 'the output does not match the output schema; the task stays locked to this worker', schema: errorSchema } },
  }, async (ctx, req) => {
    ctx.body = await engine.externalTasks.complete(req.params.id, req.body.lockToken, req.body.output);
  });

  routes.add({
    method: 'post', path: '/v1/external-tasks/:id/fail', summary: "Report a failed attempt: retried with backoff while attempts remain, else the error goes to the run", tag: 'external-tasks', access: 'worker',
    params: externalTaskParams, body: failBody,
    responses: { 200: { description: 'retrying (nextAttemptAt) or delivered to the run', schema: settledReply }, ...lockErrors },
  }, async (ctx, req) => {
    ctx.body = await engine.externalTasks.fail(req.params.id, req.body.lockToken, req.body);
  });

  routes.add({
    method: 'post', path: '/v1/external-tasks/:id/extend-lock', summary: 'Keep a lock: its deadline becomes now + lockMs', tag: 'external-tasks', access: 'worker',
    params: externalTaskParams, body: extendLockBody,
    responses: { 200: { description: 'the new deadline', schema: { type: 'object', properties: { id: { type: 'string' }, lockDeadline: { type: 'string', format: 'date-time' } } } }, ...lockErrors },
  }, async (ctx, req) => {
    ctx.body = await engine.externalTasks.extendLock(req.params.id, req.body.lockToken, req.body.lockMs);
  });
}
