// Workflow definitions: list, read, versions, register (JSON), and diagrams.
import { jsonWorkflowSchema, notFound, toMermaid, toSvg, type Engine } from '../../engine/index.ts';
import type { RouteTable } from '../route.ts';
import { errorSchema, nameParam } from '../schemas/common.ts';
import { taskDeclarationsSchema } from '../schemas/external-tasks.ts';

const summary = { type: 'object', properties: { name: { type: 'string' }, version: { type: 'integer' }, description: { type: 'string' }, builtIn: { type: 'boolean' } } };
const detail = { type: 'object', properties: { ...summary.properties, definition: {}, inputSchema: {}, versions: { type: 'array', items: { type: 'integer' } } } };
const formatQuery = { type: 'object', additionalProperties: false, properties: { format: { enum: ['svg', 'mermaid'], default: 'svg' } } };

export const registerWorkflowBody = {
  type: 'object',
  required: ['name', 'definition'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', pattern: '^[a-z][a-z0-9_-]{0,63}$' },
    description: { type: 'string', maxLength: 2000 },
    definition: jsonWorkflowSchema,
    inputSchema: { type: 'object' },
    tasks: taskDeclarationsSchema,
  },
};

export function workflowRoutes(routes: RouteTable, engine: Engine): void {
  routes.add({ method: 'get', path: '/v1/workflows', summary: 'Workflows, latest version of each', tag: 'workflows', access: 'viewer', responses: { 200: { description: 'list', schema: { type: 'object', properties: { items: { type: 'array', items: summary } } } } } }, async (ctx) => {
    ctx.body = { items: await engine.listWorkflows() };
  });
  routes.add({ method: 'get', path: '/v1/workflows/:name', summary: 'A workflow, latest version', tag: 'workflows', access: 'viewer', params: nameParam, responses: { 200: { description: 'workflow', schema: detail }, 404: { description: 'unknown', schema: errorSchema } } }, async (ctx, req) => {
    ctx.body = await engine.getWorkflow(req.params.name);
  });
  routes.add({
    method: 'get', path: '/v1/workflows/:name/versions/:version', summary: 'One version of a workflow', tag: 'workflows', access: 'viewer',
    params: { type: 'object', required: ['name', 'version'], additionalProperties: false, properties: { name: nameParam.properties.name, version: { type: 'integer', minimum: 1, maximum: 2 ** 31 - 1 } } },
    responses: { 200: { description: 'workflow', schema: detail }, 404: { description: 'unknown', schema: errorSchema } },
  }, async (ctx, req) => {
    ctx.body = await engine.getWorkflow(req.params.name, Number(req.params.version));
  });
  routes.add({
    method: 'post', path: '/v1/workflows', summary: 'Register a JSON workflow (the next version of its name)', tag: 'workflows', access: 'admin', body: registerWorkflowBody,
    responses: { 201: { description: 'stored', schema: { type: 'object', properties: { name: { type: 'string' }, version: { type: 'integer' } } } }, 409: { description: 'a built-in name', schema: errorSchema } },
  }, async (ctx, req) => {
    ctx.status = 201;
    ctx.body = await engine.registerJsonWorkflow(req.body, req.actor);
  });
  routes.add({ method: 'get', path: '/v1/workflows/:name/diagram', summary: 'The statechart drawn (SVG or Mermaid)', tag: 'workflows', access: 'viewer', params: nameParam, query: formatQuery, responses: { 200: { description: 'diagram', contentType: 'image/svg+xml' } } }, async (ctx, req) => {
    const wf = await engine.resolveWorkflow(req.params.name);
    if (!wf) throw notFound(`workflow ${req.params.name}`);
    await sendDiagram(ctx, wf.machine, [], req.query.format);
  });
}

export async function sendDiagram(ctx: { type: string; body: unknown; set(k: string, v: string): void }, machine: Parameters<typeof toMermaid>[0], active: string[], format: string | undefined): Promise<void> {
  if (format === 'mermaid') {
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = toMermaid(machine, active);
  } else {
    ctx.type = 'image/svg+xml';
    ctx.set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'");
    ctx.body = await toSvg(machine, active);
  }
}
