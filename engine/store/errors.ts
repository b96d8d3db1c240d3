// The one translation of a storage refusal (a reply code of store/replies.ts) into the error a caller
// of the engine sees: per subject, each code has one error. Codes that are no error for a caller (a
// DUPLICATE answers the stored result; a first STALE retries) never come here.
import { ErrorCode, ServicechartError, notFound } from '../errors.ts';
import type { ReplyCode } from './replies.ts';

type Subject = 'run' | 'external task';
type Translate = (id: string, status?: string) => ServicechartError;

const conflict = (message: string, details?: unknown) => new ServicechartError(ErrorCode.CONFLICT, message, details === undefined ? {} : { details });

const TABLE: Record<Subject, Partial<Record<ReplyCode, Translate>>> = {
  run: {
    MISSING: (id) => notFound(`run ${id}`),
    // A start with a fresh id found a run under it that cannot be read back.
    EXISTS: () => conflict('the run could not be created'),
    // Other writers moved the run on at every attempt.
    STALE: (id) => conflict(`run ${id} is too busy; try again`),
  },
  'external task': {
    MISSING: (id) => notFound(`external task ${id}`),
    WITHDRAWN: (id) => new ServicechartError(ErrorCode.TASK_WITHDRAWN, `task ${id} was withdrawn: the run no longer waits for it`),
    DONE: (id) => conflict(`task ${id} is completed already`, { reason: 'done' }),
    EXPIRED: (id) => conflict(`the lock on task ${id} expired; the task is offered to workers again`, { reason: 'lock-expired' }),
    STALE: (id, status) => conflict(`the lock token is not the current one for task ${id} (its lock expired and another worker took it, or it is being settled)`, { reason: 'stale-lock', status }),
  },
};

/** The error for a storage refusal of `subject` `id`; a code with no error for the subject is a fault. */
export function refusal(subject: Subject, code: ReplyCode, id: string, status?: string): ServicechartError {
  const translate = TABLE[subject][code];
  if (!translate) return new ServicechartError(ErrorCode.INTERNAL, `storage refused ${subject} ${id} with ${code}, which has no error`);
  return translate(id, status);
}
