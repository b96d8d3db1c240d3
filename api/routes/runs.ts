// Runs: start, read, list, send events, cancel, history, diagram and the live SSE stream.
import { PassThrough } from 'node:stream';
import { ErrorCode, ServicechartError, activeStatePaths, notFound, type Engine, type Logger } from '../../engine/index.ts';
import type { RouteTable } from '../route.ts';
import { errorSchema, freeObject, historyEntrySchema, idParam, pageOf, pagingQuery, runSchema } from '../schemas/common.ts';
import { sendDiagram } from './workflows.ts';

const idempotencyHeader = { name: 'Idempotency-Key', description: 'Repeat a request safely: the same key (per route and run) does the work once for 24 h.' };

export const startRunBody = {
  type: 'object',
  required: ['workflow'],
  additionalProperties: false,
  properties: {
    workflow: { type: 'string', pattern: '^[a-z][a-z0-9_-]{0,63}$' },
    version: { type: 'integer', minimum: 1, maximum: 2 ** 31 - 1 },
    input: freeObject,
    businessKey: { type: 'string', minLength: 1, maxLength: 200 },
  },
};

export const eventBody = {
  type: 'object',
  required: ['type'],
  additionalProperties: true,
  properties: { type: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_.:-]{0,127}$' } },
};

const cancelBody = { type: 'object', additionalProperties: false, properties: { reason: { type: 'string', maxLength: 2000 } } };

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    workflow: { type: 'string', maxLength: 64 },
    status: { enum: ['running', 'done', 'failed', 'cancelled'] },
    state: { type: 'string', maxLength: 128 },
    businessKey: { type: 'string', maxLength: 200 },
    parentRunId: { type: 'string', maxLength: 200 },
    archived: { type: 'boolean', description: 'true: list the archive (runs past retention that have left Redis), newest end first' },
    endedSince: { type: 'string', anyOf: [{ format: 'date-time' }, { format: 'date' }], description: 'with archived=true: ended at or after (a date alone is midnight UTC)' },
    endedUntil: { type: 'string', anyOf: [{ format: 'date-time' }, { format: 'date' }], description: 'with archived=true: ended before' },
    ...pagingQuery,
  },
};

function idempotencyKey(get: (h: string) => string): string | undefined {
  const key = get('idempotency-key');
  if (!key) return undefined;
  if (key.length > 200 || !/^[\x21-\x7e]+$/.test(key)) {
    throw new ServicechartError(ErrorCode.VALIDATION_FAILED, 'bad Idempotency-Key', { details: [{ path: '/headers/idempotency-key', message: 'printable ASCII, at most 200 characters' }] });
  }
  return key;
}

export function runRoutes(routes: RouteTable, engine: Engine, logger: Logger): void {
  routes.add({
    method: 'post', path: '/v1/runs', summary: 'Start a run', tag: 'runs', access: 'operator', body: startRunBody, headers: [idempotencyHeader],
    responses: { 201: { description: 'started (duplicate: true when the Idempotency-Key was used before)', schema: runSchema }, 404: { description: 'unknown workflow', schema: errorSchema } },
  }, async (ctx, req) => {
    const res = await engine.startRun({ ...req.body, idempotencyKey: idempotencyKey((h) => ctx.get(h)), actor: req.actor });
    ctx.status = 201;
    ctx.body = res.duplicate ? { ...res.run, duplicate: true } : res.run;
  });

  routes.add({ method: 'get', path: '/v1/runs', summary: 'List runs, newest first', tag: 'runs', access: 'viewer', query: listQuery, responses: { 200: { description: 'page', schema: pageOf(runSchema) } } }, async (ctx, req) => {
    const { endedSince, endedUntil, ...filter } = req.query;
    if ((endedSince || endedUntil) && !filter.archived) {
      throw new ServicechartError(ErrorCode.VALIDATION_FAILED, 'endedSince and endedUntil need archived=true', { details: [{ path: '/query/archived', message: 'must be true with endedSince or endedUntil' }] });
    }
    ctx.body = await engine.listRuns({
      ...filter, limit: filter.limit ?? 50, endedSince: endedSince ? Date.parse(endedSince) : null, endedUntil: endedUntil ? Date.parse(endedUntil) : null,
    });
  });

  routes.add({ method: 'get', path: '/v1/runs/:id', summary: 'A run', tag: 'runs', access: 'viewer', params: idParam, responses: { 200: { description: 'run', schema: runSchema }, 404: { description: 'unknown run', schema: errorSchema } } }, async (ctx, req) => {
    ctx.body = await engine.getRun(req.params.id);
  });

  routes.add({
    method: 'post', path: '/v1/runs/:id/events', summary: 'Send an event to a run', tag: 'runs', access: 'operator', params: idParam, body: eventBody, headers: [idempotencyHeader],
    responses: {
      200: { description: 'applied', schema: { type: 'object', properties: { run: runSchema, applied: { const: true }, duplicate: { type: 'boolean' } } } },
      404: { description: 'unknown run', schema: errorSchema },
      409: { description: 'EVENT_NOT_ACCEPTED (details.nextEvents) or RUN_ENDED', schema: errorSchema },
      422: { description: 'VALIDATION_FAILED (payload), or WORKFLOW_ERROR: a guard, action or delay of the workflow threw on this event; nothing changed', schema: errorSchema },
    },
  }, async (ctx, req) => {
    const res = await engine.sendEvent(req.params.id, req.body, { idempotencyKey: idempotencyKey((h) => ctx.get(h)), actor: req.actor });
    ctx.body = res.duplicate ? { run: res.run, applied: true, duplicate: true } : { run: res.run, applied: true };
  });

  routes.add({
    method: 'post', path: '/v1/runs/:id/cancel', summary: 'Cancel a run; its tasks and timers are withdrawn', tag: 'runs', access: 'operator', params: idParam, body: cancelBody,
    responses: { 200: { description: 'cancelled', schema: runSchema }, 404: { description: 'unknown run', schema: errorSchema }, 409: { description: 'RUN_ENDED', schema: errorSchema } },
  }, async (ctx, req) => {
    ctx.body = await engine.cancelRun(req.params.id, { reason: req.body.reason ?? null, actor: req.actor });
  });

  routes.add({
    method: 'get', path: '/v1/runs/:id/history', summary: "A run's history, oldest first", tag: 'runs', access: 'viewer', params: idParam,
    query: { type: 'object', additionalProperties: false, properties: { ...pagingQuery, cursor: { type: 'string', pattern: '^(0|[1-9][0-9]{0,14})$' } } },
    responses: { 200: { description: 'page', schema: pageOf(historyEntrySchema) }, 404: { description: 'unknown run', schema: errorSchema } },
  }, async (ctx, req) => {
    ctx.body = await engine.getHistory(req.params.id, { limit: req.query.limit ?? 50, cursor: req.query.cursor ?? null });
  });

  routes.add({
    method: 'get', path: '/v1/runs/:id/diagram', summary: 'The statechart with the current states highlighted', tag: 'runs', access: 'viewer', params: idParam,
    query: { type: 'object', additionalProperties: false, properties: { format: { enum: ['svg', 'mermaid'], default: 'svg' } } },
    responses: { 200: { description: 'diagram', contentType: 'image/svg+xml' }, 404: { description: 'unknown run', schema: errorSchema } },
  }, async (ctx, req) => {
    const run = await engine.getRun(req.params.id);
    const wf = await engine.resolveWorkflow(run.workflow, run.version);
    if (!wf) throw notFound(`workflow ${run.workflow}@${run.version}`);
    await sendDiagram(ctx, wf.machine, run.status === 'running' || run.status === 'done' ? activeStatePaths(run.state) : [], req.query.format);
  });

  routes.add({
    method: 'get', path: '/v1/runs/:id/stream', summary: 'Server-Sent Events: each new history entry as it happens', tag: 'runs', access: 'viewer', params: idParam,
    query: { type: 'object', additionalProperties: false, properties: { after: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } } },
    headers: [{ name: 'Last-Event-ID', description: 'resume after this history seq' }],
    responses: { 200: { description: 'text/event-stream of history entries (event: history, id: seq)', contentType: 'text/event-stream' }, 404: { description: 'unknown run', schema: errorSchema } },
  }, async (ctx, req) => {
    const run = await engine.getRun(req.params.id);
    const lastId = ctx.get('last-event-id');
    if (run.archived) {
      // An archived run has ended: its history is complete, so the stream sends what follows `after` and ends.
      const from = /^\d{1,15}$/.test(lastId) ? Number(lastId) : req.query.after ?? 0;
      const page = await engine.getHistory(req.params.id, { cursor: String(from), limit: 500 });
      ctx.status = 200;
      ctx.type = 'text/event-stream';
      ctx.body = page.items.map((e) => `id: ${e.seq}\nevent: history\ndata: ${JSON.stringify(e)}\n\n`).join('') + 'event: archived\ndata: {}\n\n';
      return;
    }
    const after = /^\d{1,15}$/.test(lastId) ? Number(lastId) : req.query.after ?? (await engine.lastHistorySeq(req.params.id));
    const abort = new AbortController();
    const stream = new PassThrough();
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    ctx.status = 200;
    ctx.type = 'text/event-stream';
    ctx.set('Cache-Control', 'no-cache, no-transform');
    ctx.set('Connection', 'keep-alive');
    ctx.set('X-Accel-Buffering', 'no');
    ctx.body = stream;
    stream.write(`retry: 2000\n: following run ${req.params.id} after seq ${after}\n\n`);
    const heartbeat = setInterval(() => stream.write(': keep-alive\n\n'), 15_000);
    const stop = () => {
      clearInterval(heartbeat);
      abort.abort();
    };
    ctx.req.on('close', stop);
    stream.on('close', stop);
    void (async () => {
      try {
        for await (const entry of engine.followHistory(req.params.id, after, abort.signal)) {
          stream.write(`id: ${entry.seq}\nevent: history\ndata: ${JSON.stringify(entry)}\n\n`);
        }
      } catch (err) {
        if (!abort.signal.aborted) logger.warn({ err }, 'history stream ended with an error');
      } finally {
        stop();
        stream.end();
      }
    })();
  });
}
