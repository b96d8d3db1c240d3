// Builds the Koa app from the dependencies it is given; it does not listen.
import Koa from 'koa';
import Router from '@koa/router';
import type { Engine, Logger } from '../engine/index.ts';
import type { Auth } from './auth.ts';
import { errorMiddleware } from './errors.ts';
import { createAppServer, methodNotAllowed } from './methods.ts';
import { RouteTable, type RateLimit } from './route.ts';
import { healthRoutes } from './routes/health.ts';
import { workflowRoutes } from './routes/workflows.ts';
import { runRoutes } from './routes/runs.ts';
import { taskRoutes } from './routes/tasks.ts';
import { hookRoutes } from './routes/hooks.ts';
import type { HookConfig } from './hooks/config.ts';
import { kpiRoutes } from './routes/kpis.ts';
import { externalTaskRoutes } from './routes/external-tasks.ts';
import { registryRoutes } from './routes/registry.ts';
import { BoardSessions, consoleRoutes, queueBoard } from './routes/console.ts';

export interface AppDeps {
  engine: Engine;
  auth: Auth;
  logger: Logger;
  /** Requests per second per API key; default 200/s with bursts of 400. */
  rateLimit?: RateLimit;
  /** Webhook secrets and mappings; without it every webhook source answers 401. */
  hooks?: HookConfig;
  /** Extra route groups (webhooks, KPIs, console) added by their own modules. */
  extensions?: ((routes: RouteTable, router: Router) => void)[];
}

export interface App extends Koa {
  routeTable: RouteTable;
  router: Router;
}

export function createApp(deps: AppDeps): App {
  const app = new Koa() as App;
  app.proxy = false;
  const router = new Router();
  const routes = new RouteTable(router, deps.auth, deps.rateLimit);
  app.routeTable = routes;
  app.router = router;
  let doc: object | null = null;
  const openapi = () => (doc ??= routes.openapi({ title: 'Servicechart API', version: '1.0.0' }));

  // Clients that go away mid-answer (a closed SSE stream) are not errors worth a stack trace.
  app.silent = true;
  app.on('error', (err: { code?: string }) => {
    if (err?.code === 'ERR_STREAM_PREMATURE_CLOSE' || err?.code === 'ECONNRESET' || err?.code === 'EPIPE') return;
    deps.logger.error({ err }, 'koa error');
  });
  app.use(errorMiddleware(deps.logger));
  app.use(async (ctx, next) => {
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    await next();
  });
  healthRoutes(routes, deps.engine, openapi);
  workflowRoutes(routes, deps.engine);
  runRoutes(routes, deps.engine, deps.logger);
  taskRoutes(routes, deps.engine);
  hookRoutes(routes, deps.engine, deps.hooks);
  kpiRoutes(routes, deps.engine);
  externalTaskRoutes(routes, deps.engine);
  registryRoutes(routes, deps.engine);
  const boardSessions = new BoardSessions();
  consoleRoutes(routes, boardSessions);
  for (const ext of deps.extensions ?? []) ext(routes, router);
  app.use(queueBoard(deps.engine, boardSessions));
  app.use(methodNotAllowed(router)).use(router.routes());
  // Koa's own listen, on a server that also answers the requests Koa never sees (unknown methods, CONNECT).
  app.listen = ((...args: Parameters<Koa['listen']>) => createAppServer(app, router).listen(...args)) as Koa['listen'];
  return app;
}
