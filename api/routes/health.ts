// Unauthenticated routes: liveness, readiness, Prometheus metrics and the OpenAPI document.
import type { Engine } from '../../engine/index.ts';
import type { RouteTable } from '../route.ts';
import { errorBody } from '../errors.ts';

export function healthRoutes(routes: RouteTable, engine: Engine, openapi: () => object): void {
  routes.add({ method: 'get', path: '/healthz', summary: 'Liveness: 200 while the process runs', tag: 'health', access: 'none', responses: { 200: { description: 'alive', schema: { type: 'object', properties: { status: { const: 'ok' } } } } } }, (ctx) => {
    ctx.body = { status: 'ok' };
  });
  routes.add({
    method: 'get', path: '/readyz', summary: 'Readiness: 200 when Redis answers, else 503; the archive\'s state in `archive` (an unavailable archive pauses archiving, it does not stop the API)', tag: 'health', access: 'none',
    responses: { 200: { description: 'ready; archive: off, ok or unavailable (with the error)' }, 503: { description: 'Redis does not answer' } },
  }, async (ctx) => {
    const [ready, archive] = await Promise.all([engine.isReady(), engine.archiveHealth()]);
    ctx.status = ready ? 200 : 503;
    ctx.body = ready ? { status: 'ready', archive } : { ...errorBody('UNAVAILABLE', 'Redis does not answer'), archive };
  });
  routes.add({ method: 'get', path: '/metrics', summary: 'Prometheus metrics', tag: 'health', access: 'none', responses: { 200: { description: 'Prometheus text format', contentType: 'text/plain' } } }, async (ctx) => {
    const { contentType, text } = await engine.metricsText();
    ctx.type = contentType;
    ctx.body = text;
  });
  routes.add({ method: 'get', path: '/openapi.json', summary: 'This API as OpenAPI 3.1', tag: 'health', access: 'none', responses: { 200: { description: 'OpenAPI document' } } }, (ctx) => {
    ctx.body = openapi();
  });
}
