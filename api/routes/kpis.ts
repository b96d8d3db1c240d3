// Service measurement: a workflow's KPIs (docs/models/<model>.md §x.11) over runs opened in a window.
import type { Engine } from '../../engine/index.ts';
import { validationError } from '../../engine/index.ts';
import type { RouteTable } from '../route.ts';
import { errorSchema } from '../schemas/common.ts';

const figure = {
  type: 'object',
  required: ['name', 'label', 'value', 'unit', 'count'],
  properties: {
    name: { type: 'string', description: 'camelCase after the KPI tables: mtta, meanTimeToResolve, changeSuccessRate, ...' },
    label: { type: 'string' },
    value: { type: ['number', 'null'], description: 'null when no run has recorded the measure' },
    unit: { enum: ['ms', 'ratio', 'count', 'perDay'] },
    count: { type: 'integer', description: 'how many recorded measures (one per run and moment) the value comes from' },
    description: { type: 'string' },
    breakdown: {
      type: 'object',
      description: 'per dimension (priority, service, source, ...): the figure for each value',
      additionalProperties: { type: 'array', items: { type: 'object', properties: { key: { type: 'string' }, value: { type: ['number', 'null'] }, count: { type: 'integer' } } } },
    },
  },
};

export function kpiRoutes(routes: RouteTable, engine: Engine): void {
  routes.add({
    method: 'get', path: '/v1/kpis', summary: "A workflow's KPIs over runs opened in [since, until)", tag: 'kpis', access: 'viewer',
    query: {
      type: 'object', required: ['workflow'], additionalProperties: false,
      properties: {
        workflow: { type: 'string', minLength: 1, maxLength: 64 },
        since: { type: 'string', anyOf: [{ format: 'date-time' }, { format: 'date' }], description: 'runs opened at or after (openedAt, else createdAt); a date alone is midnight UTC' },
        until: { type: 'string', anyOf: [{ format: 'date-time' }, { format: 'date' }], description: 'runs opened before; a date alone is midnight UTC' },
      },
    },
    responses: {
      200: {
        description: 'the KPIs',
        schema: { type: 'object', required: ['workflow', 'since', 'until', 'kpis'], properties: { workflow: { type: 'string' }, since: { type: ['string', 'null'] }, until: { type: ['string', 'null'] }, kpis: { type: 'array', items: figure } } },
      },
      404: { description: 'unknown workflow', schema: errorSchema },
      422: { description: 'bad query (since after until)', schema: errorSchema },
    },
  }, async (ctx, req) => {
    const since = req.query.since ? Date.parse(req.query.since) : null;
    const until = req.query.until ? Date.parse(req.query.until) : null;
    // A leap second (23:59:60) is a valid date-time that Date cannot hold.
    for (const [name, t] of [['since', since], ['until', until]] as const) {
      if (t !== null && !Number.isFinite(t)) throw validationError(`${name} is not a time this server can represent`, [{ path: `/query/${name}`, message: 'a leap second or out of range' }]);
    }
    if (since !== null && until !== null && since > until) {
      throw validationError('since is after until', [{ path: '/query/since', message: 'must not be after until' }]);
    }
    ctx.body = await engine.kpiReport(req.query.workflow, { since, until });
  });
}
