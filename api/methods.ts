// Owns answers about methods: 405 METHOD_NOT_ALLOWED with an `Allow` header for a method a known path
// does not serve (any method, including ones Node's HTTP parser does not know), and OPTIONS.
import { METHODS, createServer, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type Koa from 'koa';
import type Router from '@koa/router';
import { ErrorCode, ServicechartError } from '../engine/index.ts';
import { errorBody } from './errors.ts';

/** The methods the router serves on `path`, sorted; empty for a path it does not know. */
export function allowedOn(router: Router, path: string): string[] {
  const methods = new Set<string>();
  for (const layer of router.match(path, 'GET').path) for (const m of layer.methods) methods.add(m);
  return [...methods].sort();
}

/**
 * After the router: a known path with no route for the method answers 405 with `Allow`, and OPTIONS
 * answers 204 with `Allow`. Unlike the router's own `allowedMethods()`, no method answers 501.
 */
export function methodNotAllowed(router: Router): Koa.Middleware {
  return async (ctx, next) => {
    await next();
    if (ctx.status !== 404 || ctx.body !== undefined) return;
    const allow = allowedOn(router, ctx.path);
    if (!allow.length) return;
    ctx.set('Allow', allow.join(', '));
    if (ctx.method === 'OPTIONS') {
      ctx.status = 204;
      return;
    }
    throw new ServicechartError(ErrorCode.METHOD_NOT_ALLOWED, `${ctx.method} is not allowed on ${ctx.path}; it serves ${allow.join(', ')}`);
  };
}

/** A complete HTTP/1.1 answer in the contract's error shape, for requests that never reach Koa. */
function rawAnswer(socket: Duplex, status: number, reason: string, body: unknown, allow: string[], head = false): void {
  const json = JSON.stringify(body);
  const lines = [
    `HTTP/1.1 ${status} ${reason}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(json)}`,
    'X-Content-Type-Options: nosniff',
    ...(allow.length ? [`Allow: ${allow.join(', ')}`] : []),
    'Connection: close',
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${head ? '' : json}`);
}

/** 405 (or 404 for an unknown path) for a request line Koa never sees. */
function refuseRequestLine(router: Router, socket: Duplex, method: string, target: string): void {
  const path = target.split('?')[0];
  const allow = path.startsWith('/') ? allowedOn(router, path) : [];
  if (allow.length) rawAnswer(socket, 405, 'Method Not Allowed', errorBody(ErrorCode.METHOD_NOT_ALLOWED, `${method} is not allowed on ${path}; it serves ${allow.join(', ')}`), allow);
  else rawAnswer(socket, 404, 'Not Found', errorBody(ErrorCode.NOT_FOUND, `no route for ${method} ${path}`), []);
}

/**
 * The HTTP server for the app. Node's parser refuses methods it does not know (answering a bare 400)
 * and hands CONNECT to a `connect` listener (closing the socket without one): both answer here in the
 * contract's shape, and so does a request line or headers over Node's 16 KiB (431). Other malformed
 * requests keep Node's own answers (400, 408).
 */
export function createAppServer(app: Koa, router: Router): Server {
  const server = createServer(app.callback());
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Duplex) => {
    if (!socket.writable || err.code === 'ECONNRESET') return void socket.destroy();
    if (err.code === 'HPE_INVALID_METHOD') {
      // The packet may end mid-line (a long target): its start is enough to name the method and path.
      // A packet that starts with a method Node knows holds an earlier request, and the bad one is
      // what followed it (unframed bytes after a GET, say): that is malformed HTTP, answered 400 below.
      const line = /^([!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}) (\S+)/.exec(err.rawPacket?.toString('latin1') ?? '');
      if (!line || !METHODS.includes(line[1])) return refuseRequestLine(router, socket, line?.[1] ?? 'this method', line?.[2] ?? '');
    }
    if (err.code === 'HPE_HEADER_OVERFLOW') {
      // An answer to HEAD carries no body, whatever its status.
      const head = err.rawPacket?.subarray(0, 5).toString('latin1') === 'HEAD ';
      return rawAnswer(socket, 431, 'Request Header Fields Too Large', errorBody(ErrorCode.PAYLOAD_TOO_LARGE, 'the request line and headers are over 16 KiB'), [], head);
    }
    const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
  });
  server.on('connect', (req, socket: Duplex) => refuseRequestLine(router, socket, 'CONNECT', req.url ?? ''));
  return server;
}
