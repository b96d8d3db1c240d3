// Owns the engine's error codes and error classes; codes are the ones in docs/api.md.
export const ErrorCode = {
  BAD_JSON: 'BAD_JSON',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  EVENT_NOT_ACCEPTED: 'EVENT_NOT_ACCEPTED',
  RUN_ENDED: 'RUN_ENDED',
  CONFLICT: 'CONFLICT',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  RATE_LIMITED: 'RATE_LIMITED',
  UNAVAILABLE: 'UNAVAILABLE',
  TASK_TIMEOUT: 'TASK_TIMEOUT',
  TASK_FAILED: 'TASK_FAILED',
  /** An external task the run no longer waits for (it left the state, or ended): 410 to its worker. */
  TASK_WITHDRAWN: 'TASK_WITHDRAWN',
  /** A guard, action or delay of the workflow threw (or used what the engine cannot make durable). */
  WORKFLOW_ERROR: 'WORKFLOW_ERROR',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface Problem {
  path: string;
  message: string;
}

export class ServicechartError extends Error {
  readonly code: ErrorCode;
  readonly details?: unknown;
  constructor(code: ErrorCode, message: string, options: { details?: unknown; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'ServicechartError';
    this.code = code;
    this.details = options.details;
  }
}

export class EventNotAcceptedError extends ServicechartError {
  readonly nextEvents: string[];
  constructor(eventType: string, nextEvents: string[], reason?: string) {
    super(ErrorCode.EVENT_NOT_ACCEPTED, reason ?? `event ${eventType} is not accepted in the current state`, {
      details: { nextEvents },
    });
    this.name = 'EventNotAcceptedError';
    this.nextEvents = nextEvents;
  }
}

export function validationError(message: string, problems: Problem[]): ServicechartError {
  return new ServicechartError(ErrorCode.VALIDATION_FAILED, message, { details: problems });
}

export function notFound(what: string): ServicechartError {
  return new ServicechartError(ErrorCode.NOT_FOUND, `${what} not found`);
}

/** Errors that cross a process boundary travel as plain data. */
// A type (not an interface): it fits the history entry schemas' error, an object that may hold more fields.
export type ErrorData = {
  code: string;
  message: string;
};

export function toErrorData(err: unknown): ErrorData {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; message?: unknown };
    return {
      code: typeof e.code === 'string' ? e.code : ErrorCode.TASK_FAILED,
      message: typeof e.message === 'string' ? e.message : String(err),
    };
  }
  return { code: ErrorCode.TASK_FAILED, message: String(err) };
}

// Replies and client errors that mean "Redis cannot take this command now", not "the command is wrong":
// a node down or unreachable, a cluster reconfiguring (failover, resharding), a replica that is not
// (or no longer) the master, a node still loading its data.
const unavailableReplies = /^(CLUSTERDOWN|TRYAGAIN|LOADING|READONLY|MASTERDOWN|NOREPLICAS|MOVED|ASK) /;
const unavailableClientErrors =
  /Connection is closed|Stream isn't writeable|enableOfflineQueue|Cluster isn't ready|Cluster is ended|None of startup nodes is available|Failed to refresh slots cache|Too many Cluster redirections|Command timed out|Redis timed out|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|EPIPE|All sentinels are unreachable|connect ETIMEDOUT/;
const unavailableNames = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError', 'ConnectionClosedError']);
const unavailableSysCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * Whether an error means Redis is unavailable for now (so the answer is 503 UNAVAILABLE and a retry
 * may succeed), as opposed to a bug or a refused request. The one place that knows the shapes
 * ioredis, BullMQ and Redis give such failures.
 */
export function isRedisUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  if (err instanceof ServicechartError) return err.code === ErrorCode.UNAVAILABLE;
  const e = err as { name?: unknown; message?: unknown; code?: unknown; lastNodeError?: unknown };
  const message = typeof e.message === 'string' ? e.message : '';
  return (
    (typeof e.name === 'string' && unavailableNames.has(e.name)) ||
    (typeof e.code === 'string' && unavailableSysCodes.has(e.code)) ||
    unavailableReplies.test(message) ||
    unavailableClientErrors.test(message)
  );
}

/** The error a refused or unconfirmed write surfaces as: 503 with a retry hint. */
export function unavailable(message: string, details?: unknown): ServicechartError {
  return new ServicechartError(ErrorCode.UNAVAILABLE, message, { details });
}
