// The web console: serves its static page and assets (no build step) under a strict CSP, tells a
// signed-in console which key it holds, and lets an admin open the queue board (bull-board) through a
// short-lived signed cookie, since a page navigation cannot carry a Bearer header.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type Koa from 'koa';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { KoaAdapter } from '@bull-board/koa';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { ErrorCode, ServicechartError, notFound, type Engine } from '../../engine/index.ts';
import { errorBody } from '../errors.ts';
import type { RouteTable } from '../route.ts';

const root = fileURLToPath(new URL('../../console/', import.meta.url));

/** Every asset is a flat file name: no dots beyond the extension, so no path can leave the folder. */
const assetName = '^[a-z][a-z0-9-]{0,63}\\.(js|css|svg)$';

const types: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
};

export const consoleCsp = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

function secure(ctx: { set(k: string, v: string): void }): void {
  ctx.set('Content-Security-Policy', consoleCsp);
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('Cache-Control', 'no-cache');
}

export const BOARD_PATH = '/admin/queues';
const BOARD_COOKIE = 'sc_board';
const BOARD_TTL_MS = 15 * 60_000;

/** Signs and checks the queue board cookie with a secret that lives only in this process. */
export class BoardSessions {
  private readonly secret = randomBytes(32);
  constructor(private readonly now: () => number = Date.now) {}

  issue(name: string): { value: string; expiresAt: number } {
    const expiresAt = this.now() + BOARD_TTL_MS;
    const payload = Buffer.from(JSON.stringify({ n: name, exp: expiresAt })).toString('base64url');
    return { value: `${payload}.${this.sign(payload)}`, expiresAt };
  }

  /** The admin key's name, or null for a missing, forged or expired cookie. */
  check(value: string | undefined): string | null {
    const [payload, sig] = (value ?? '').split('.');
    if (!payload || !sig) return null;
    const want = Buffer.from(this.sign(payload));
    const got = Buffer.from(sig);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return null;
    try {
      const { n, exp } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { n: string; exp: number };
      return typeof exp === 'number' && exp > this.now() && typeof n === 'string' ? n : null;
    } catch {
      return null; // a signed payload that does not parse cannot happen; treat it as no session
    }
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url');
  }
}

/**
 * bull-board at /admin/queues, read-only, for requests with a valid board cookie. Its own routes stay
 * outside our router (they are bull-board's UI and JSON, not the public API).
 */
export function queueBoard(engine: Engine, sessions: BoardSessions): Koa.Middleware {
  let board: Koa.Middleware | null = null;
  const build = () => {
    const adapter = new KoaAdapter();
    adapter.setBasePath(BOARD_PATH);
    // Every partition's queues (one pair per partition, told apart by their prefix).
    createBullBoard({ queues: engine.queues().map((q) => new BullMQAdapter(q, { readOnlyMode: true })), serverAdapter: adapter });
    return adapter.registerPlugin();
  };
  return async (ctx, next) => {
    if (ctx.path !== BOARD_PATH && !ctx.path.startsWith(`${BOARD_PATH}/`)) return next();
    if (!sessions.check(ctx.cookies.get(BOARD_COOKIE))) {
      ctx.status = 401;
      ctx.body = errorBody(ErrorCode.UNAUTHENTICATED, 'open the queue board from the console as an admin (it sets a short-lived session cookie)');
      return;
    }
    board ??= build();
    return board(ctx, next);
  };
}

export function consoleRoutes(routes: RouteTable, sessions: BoardSessions): void {
  routes.add({
    method: 'get', path: '/', summary: 'The web console (sign in with an API key)', tag: 'console', access: 'none',
    responses: { 200: { description: 'the console page', contentType: 'text/html' } },
  }, async (ctx) => {
    secure(ctx);
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = await readFile(join(root, 'index.html'));
  });

  routes.add({
    method: 'get', path: '/console/:file', summary: "The console's static assets (scripts, styles)", tag: 'console', access: 'none',
    params: { type: 'object', required: ['file'], additionalProperties: false, properties: { file: { type: 'string', pattern: assetName } } },
    responses: { 200: { description: 'the asset', contentType: 'text/javascript' }, 404: { description: 'no such asset' } },
  }, async (ctx, req) => {
    const file = String(req.params.file);
    let data: Buffer;
    try {
      data = await readFile(join(root, file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`console asset ${file}`);
      throw err;
    }
    secure(ctx);
    ctx.type = types[file.slice(file.lastIndexOf('.') + 1)];
    ctx.body = data;
  });

  routes.add({
    method: 'get', path: '/v1/whoami', summary: "The calling key's name and role (the console uses it to decide what to offer)", tag: 'console', access: 'viewer',
    responses: { 200: { description: 'the key', schema: { type: 'object', properties: { name: { type: 'string' }, role: { enum: ['viewer', 'operator', 'admin'] } } } } },
  }, (ctx, req) => {
    ctx.body = { name: req.principal!.name, role: req.principal!.role };
  });

  routes.add({
    method: 'post', path: '/v1/console/board-session', summary: 'Admin: open a 15-minute queue board session (sets an HttpOnly, SameSite=Strict cookie for /admin/queues)', tag: 'console', access: 'admin',
    body: { type: 'object', additionalProperties: false, properties: {} },
    responses: { 200: { description: 'cookie set', schema: { type: 'object', properties: { path: { type: 'string' }, expiresAt: { type: 'string', format: 'date-time' } } } } },
  }, (ctx, req) => {
    if (!req.principal) throw new ServicechartError(ErrorCode.UNAUTHENTICATED, 'send an API key');
    const { value, expiresAt } = sessions.issue(req.principal.name);
    ctx.cookies.set(BOARD_COOKIE, value, { path: BOARD_PATH, httpOnly: true, sameSite: 'strict', secure: ctx.secure, maxAge: BOARD_TTL_MS, overwrite: true });
    ctx.body = { path: BOARD_PATH, expiresAt: new Date(expiresAt).toISOString() };
  });
}
