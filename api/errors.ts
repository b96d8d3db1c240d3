// Owns the mapping from error codes to HTTP statuses, and the one middleware that answers every
// error in the contract's shape.
import type Koa from 'koa';
import { ErrorCode, ServicechartError, type Logger } from '../engine/index.ts';

export const statusOf: Record<string, number> = {
  [ErrorCode.BAD_JSON]: 400,
  [ErrorCode.UNAUTHENTICATED]: 401,
  [ErrorCode.FORBIDDEN]: 403,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.METHOD_NOT_ALLOWED]: 405,
  [ErrorCode.EVENT_NOT_ACCEPTED]: 409,
  [ErrorCode.RUN_ENDED]: 409,
  [ErrorCode.CONFLICT]: 409,
  [ErrorCode.TASK_WITHDRAWN]: 410,
  [ErrorCode.PAYLOAD_TOO_LARGE]: 413,
  [ErrorCode.UNSUPPORTED_MEDIA_TYPE]: 415,
  [ErrorCode.VALIDATION_FAILED]: 422,
  // The request was well formed and nothing was changed, but the workflow's own code failed on it:
  // sending it again unchanged fails the same way, so it is the client's to change, not a 5xx.
  [ErrorCode.WORKFLOW_ERROR]: 422,
  [ErrorCode.RATE_LIMITED]: 429,
  [ErrorCode.UNAVAILABLE]: 503,
};

/** Errors from a Redis that does not answer: connection refused, closed, or no offline queue. */
function isRedisDown(err: unknown): boolean {
  const e = err as { name?: string; message?: string; code?: string };
  return (
    e?.name === 'MaxRetriesPerRequestError' ||
    e?.code === 'ECONNREFUSED' ||
    /Stream isn't writeable|Connection is closed|enableOfflineQueue|ECONNREFUSED|ETIMEDOUT|Command timed out|Redis timed out/.test(e?.message ?? '')
  );
}

export function errorBody(code: string, message: string, details?: unknown) {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

export function errorMiddleware(logger: Logger): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = errorBody(ErrorCode.NOT_FOUND, `no route for ${ctx.method} ${ctx.path}`);
      }
    } catch (err) {
      if (err instanceof ServicechartError && statusOf[err.code]) {
        ctx.status = statusOf[err.code];
        ctx.body = errorBody(err.code, err.message, err.details);
        if (err.code === ErrorCode.RATE_LIMITED) ctx.set('Retry-After', '1');
        return;
      }
      if (isRedisDown(err)) {
        ctx.status = 503;
        ctx.body = errorBody(ErrorCode.UNAVAILABLE, 'Redis is unreachable; nothing was changed. Try again.');
        logger.warn({ err: (err as Error).message, path: ctx.path }, 'request refused: Redis unreachable');
        return;
      }
      const status = (err as { status?: number }).status;
      if (status === 413) {
        ctx.status = 413;
        ctx.body = errorBody(ErrorCode.PAYLOAD_TOO_LARGE, 'request body too large');
        return;
      }
      logger.error({ err, method: ctx.method, path: ctx.path }, 'unexpected error');
      ctx.status = 500;
      ctx.body = errorBody('INTERNAL', 'internal error; the details are in the server log');
    }
  };
}
