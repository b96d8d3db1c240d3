// Escalation building blocks (docs/models/conventions.md §0.4): the functional paging ladder (levels, repeat loops,
// stop on acknowledge, exhausted → a human task) and the notice queue that hierarchical escalation
// ("notify up") and other notifications go through.
//
// Both are regions driven by context, like the SLA clock: the model records the facts (acknowledged,
// priority) and the region follows through guarded `always` transitions.
import { assign, enqueueActions } from 'xstate';
import { nowOf } from './sla.ts';

export interface PagingLevel {
  /** Who this level pages: an escalation policy id, a schedule or a person. */
  target: string;
  /** Overrides the ladder's escalation timeout for this level. */
  escalationTimeoutMs?: number;
}

export interface PagingPolicy {
  levels: PagingLevel[];
  /** How many times the whole ladder runs before it is exhausted (PagerDuty allows up to 9 repeats). */
  loops: number;
  /** One timeout for every level; else the per-priority default. */
  escalationTimeoutMs?: number;
}

export interface PagingState {
  /** Pages sent so far (1 for the first page of level 1, loop 1). */
  pages: number;
  /** The level (1-based) and loop (1-based) of the last page. */
  level: number;
  loop: number;
  startedAt: number | null;
  stoppedAt: number | null;
  exhaustedAt: number | null;
}

export interface PageRequest {
  level: number;
  loop: number;
  page: number;
  target: string;
  final: boolean;
}

export interface PagingLadderOptions<C> {
  /** The task that pages (`page_oncall`). */
  task: string;
  /** Paging applies now (for the incident: P1/P2 and not sourced from PagerDuty). */
  enabled: (context: C) => boolean;
  /** Someone acknowledged: every further page stops. */
  acknowledged: (context: C) => boolean;
  policy: (context: C) => PagingPolicy;
  /** The escalation timeout of a level, before per-level and policy overrides. */
  timeoutMs: (context: C, level: number) => number;
  /** The task input for a page (the model adds dedup key, summary, ...). */
  pageInput: (context: C, page: PageRequest) => Record<string, unknown>;
  /** Who gets paged when the ladder is exhausted, and the human task that opens then. */
  exhausted: { target: (context: C) => string; humanTask: { role: string; title: string; outcomes: Record<string, string> } };
  /** The delay's name (`pageEscalationDelay`), so `delaysMs` can override it. */
  delayName?: string;
  delayOverride?: (context: C, delayName: string) => number | undefined;
}

export interface RegionParts {
  name: string;
  region: Record<string, unknown>;
  delays: Record<string, (args: { context: any }) => number>;
  guards: Record<string, (args: { context: any; event: any }) => boolean>;
  actions: Record<string, any>;
}

export function newPagingState(): PagingState {
  return { pages: 0, level: 0, loop: 0, startedAt: null, stoppedAt: null, exhaustedAt: null };
}

type PagingCtx = { paging: PagingState } & Record<string, unknown>;

/** The level and loop of page number n (1-based) of a policy. */
export function pageAt(policy: PagingPolicy, n: number): PageRequest {
  const levels = Math.max(1, policy.levels.length);
  const level = ((n - 1) % levels) + 1;
  const loop = Math.floor((n - 1) / levels) + 1;
  return { level, loop, page: n, target: policy.levels[level - 1]?.target ?? `level-${level}`, final: n >= levels * Math.max(1, policy.loops) };
}

/**
 * The paging ladder as a region `paging`: `init → off | active → acknowledged | exhausted`.
 * `active` pages one level on entry and re-enters itself after the level's escalation timeout, through
 * every level and `loops` rounds; then `exhausted` pages the last resort and opens a human task.
 */
export function pagingLadder<C>(opts: PagingLadderOptions<C>): RegionParts {
  const delayName = opts.delayName ?? 'pageEscalationDelay';
  const of = (context: unknown): PagingState => (context as PagingCtx).paging;
  const policy = (context: unknown) => opts.policy(context as C);
  const enabled = (context: unknown) => opts.enabled(context as C);
  const acked = (context: unknown) => opts.acknowledged(context as C);

  const delays: RegionParts['delays'] = {
    [delayName]: ({ context }) => {
      const fixed = opts.delayOverride?.(context as C, delayName);
      if (typeof fixed === 'number') return fixed;
      const pol = policy(context);
      const level = of(context).level;
      return pol.levels[level - 1]?.escalationTimeoutMs ?? pol.escalationTimeoutMs ?? opts.timeoutMs(context as C, level);
    },
  };

  const guards: RegionParts['guards'] = {
    pagingEnabled: ({ context }) => enabled(context) && !acked(context),
    pagingDisabled: ({ context }) => !enabled(context),
    pagingAcknowledged: ({ context }) => acked(context),
    pagingHasMorePages: ({ context }) => {
      const pol = policy(context);
      return of(context).pages < Math.max(1, pol.levels.length) * Math.max(1, pol.loops);
    },
  };

  const actions: RegionParts['actions'] = {
    pagingNextPage: enqueueActions(({ context, event, enqueue }) => {
      const p = of(context);
      const page = pageAt(policy(context), p.pages + 1);
      enqueue.assign({ paging: { ...p, pages: page.page, level: page.level, loop: page.loop, startedAt: p.startedAt ?? nowOf(event) } });
      const entry = { type: 'paging.paged', level: page.level, loop: page.loop, page: page.page, target: page.target };
      enqueue.emit(entry);
    }),
    pagingExhausted: enqueueActions(({ context, event, enqueue }) => {
      const p = of(context);
      enqueue.assign({ paging: { ...p, exhaustedAt: nowOf(event) } });
      const entry = { type: 'paging.exhausted', pages: p.pages, target: opts.exhausted.target(context as C) };
      enqueue.emit(entry);
    }),
    pagingStopped: enqueueActions(({ context, event, enqueue }) => {
      const p = of(context);
      if (p.pages === 0 || p.stoppedAt !== null) return;
      enqueue.assign({ paging: { ...p, stoppedAt: nowOf(event) } });
      const entry = { type: 'paging.stopped', pages: p.pages, level: p.level, loop: p.loop };
      enqueue.emit(entry);
    }),
  };

  const region = {
    initial: 'init',
    states: {
      init: {
        always: [
          { guard: 'pagingAcknowledged', target: 'acknowledged' },
          { guard: 'pagingEnabled', target: 'active' },
          { target: 'off' },
        ],
      },
      /** Not paging: a priority that rises later starts the ladder from here. */
      off: {
        always: [
          { guard: 'pagingAcknowledged', target: 'acknowledged' },
          { guard: 'pagingEnabled', target: 'active' },
        ],
      },
      active: {
        entry: 'pagingNextPage',
        invoke: {
          id: 'page', src: opts.task,
          input: ({ context }: { context: unknown }) => opts.pageInput(context as C, pageAt(policy(context), of(context).pages)),
        },
        after: {
          [delayName]: [
            { guard: 'pagingHasMorePages', target: 'active', reenter: true },
            { target: 'exhausted', actions: 'pagingExhausted' },
          ],
        },
        always: [
          { guard: 'pagingAcknowledged', target: 'acknowledged' },
          { guard: 'pagingDisabled', target: 'off', actions: 'pagingStopped' },
        ],
      },
      exhausted: {
        meta: { humanTask: opts.exhausted.humanTask },
        invoke: {
          id: 'pageLastResort', src: opts.task,
          input: ({ context }: { context: unknown }) => opts.pageInput(context as C, {
            level: of(context).level + 1, loop: of(context).loop, page: of(context).pages + 1, target: opts.exhausted.target(context as C), final: true,
          }),
        },
        always: { guard: 'pagingAcknowledged', target: 'acknowledged' },
      },
      acknowledged: { entry: 'pagingStopped' },
    },
  };

  return { name: 'paging', region, delays, guards, actions };
}

export interface Notice {
  to: string | string[];
  subject: string;
  message?: string;
  /** What kind of notice (`sla.warning`, `assigned`, ...), for templates and idempotency. */
  template: string;
  channel?: string;
  [k: string]: unknown;
}

type NoticeCtx = { notices: Notice[] } & Record<string, unknown>;

/** The context change that queues a notice (use inside `assign` or `enqueue.assign`). */
export function queueNotice(context: { notices: Notice[] }, ...notices: Notice[]): { notices: Notice[] } {
  return { notices: [...context.notices, ...notices] };
}

/**
 * A region `notices` that sends the queued `context.notices` one by one through a task (`notify`).
 * Actions cannot run tasks, so a warning or an escalation queues its notice and this region turns
 * each into a durable task, in order; each gets its own idempotency key.
 */
export function noticeQueue(opts: { task: string }): RegionParts {
  const guards: RegionParts['guards'] = {
    noticesPending: ({ context }) => (context as NoticeCtx).notices.length > 0,
  };
  const actions: RegionParts['actions'] = {
    noticesShift: assign(({ context }: { context: any }) => ({ notices: (context as NoticeCtx).notices.slice(1) })),
  };
  const region = {
    initial: 'idle',
    states: {
      idle: { always: { guard: 'noticesPending', target: 'sending' } },
      sending: {
        invoke: {
          id: 'notice', src: opts.task,
          input: ({ context }: { context: unknown }) => {
            const { template, ...rest } = (context as NoticeCtx).notices[0];
            return { ...rest, template };
          },
          // A notice that cannot be delivered is dropped, never allowed to stall the queue.
          onDone: { target: 'idle', actions: 'noticesShift' },
          onError: { target: 'idle', actions: 'noticesShift' },
        },
      },
    },
  };
  return { name: 'notices', region, delays: {}, guards, actions };
}
