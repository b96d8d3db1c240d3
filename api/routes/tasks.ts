// Human tasks: the inbox and completing a task with an outcome.
import type { Engine } from '../../engine/index.ts';
import type { RouteTable } from '../route.ts';
import { errorSchema, pageOf, pagingQuery, runSchema } from '../schemas/common.ts';

const humanTaskSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' }, runId: { type: 'string' }, workflow: { type: 'string' }, businessKey: { type: ['string', 'null'] }, title: { type: 'string' },
    role: { type: 'string' }, outcomes: { type: 'object' }, status: { enum: ['open', 'done', 'withdrawn'] }, state: { type: 'string' },
    createdAt: { type: 'string' }, dueAt: { type: ['string', 'null'] }, completedAt: { type: ['string', 'null'] },
    outcome: { type: ['string', 'null'] }, by: { type: ['string', 'null'] }, comment: { type: ['string', 'null'] },
  },
};

export const completeTaskBody = {
  type: 'object',
  required: ['outcome', 'by'],
  additionalProperties: false,
  properties: {
    outcome: { type: 'string', minLength: 1, maxLength: 64 },
    comment: { type: 'string', maxLength: 10_000 },
    by: { type: 'string', minLength: 1, maxLength: 200 },
  },
};

export function taskRoutes(routes: RouteTable, engine: Engine): void {
  routes.add({
    method: 'get', path: '/v1/tasks', summary: 'Human tasks, newest first', tag: 'tasks', access: 'viewer',
    query: {
      type: 'object', additionalProperties: false,
      properties: { status: { enum: ['open', 'done'], default: 'open' }, role: { type: 'string', maxLength: 64 }, workflow: { type: 'string', maxLength: 64 }, runId: { type: 'string', maxLength: 200 }, ...pagingQuery, cursor: { type: 'string', pattern: '^(0|[1-9][0-9]{0,14})$' } },
    },
    responses: { 200: { description: 'page', schema: pageOf(humanTaskSchema) } },
  }, async (ctx, req) => {
    ctx.body = await engine.listHumanTasks({ ...req.query, limit: req.query.limit ?? 50 });
  });

  routes.add({
    method: 'get', path: '/v1/tasks/:id', summary: 'One human task', tag: 'tasks', access: 'viewer',
    params: { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', maxLength: 200 } } },
    responses: { 200: { description: 'task', schema: humanTaskSchema }, 404: { description: 'unknown task', schema: errorSchema } },
  }, async (ctx, req) => {
    ctx.body = await engine.getHumanTask(req.params.id);
  });

  routes.add({
    method: 'post', path: '/v1/tasks/:id/complete', summary: "Complete a human task: sends the outcome's event to the run", tag: 'tasks', access: 'operator',
    params: { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', maxLength: 200 } } },
    body: completeTaskBody,
    responses: {
      200: { description: 'completed', schema: { type: 'object', properties: { task: humanTaskSchema, run: runSchema } } },
      404: { description: 'unknown task', schema: errorSchema },
      409: { description: 'task already done (CONFLICT), or the run refused the event (EVENT_NOT_ACCEPTED: the task stays open)', schema: errorSchema },
      422: { description: 'an outcome the task does not list', schema: errorSchema },
    },
  }, async (ctx, req) => {
    ctx.body = await engine.completeHumanTask(req.params.id, req.body, req.actor);
  });
}
