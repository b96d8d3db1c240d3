// Owns the built-in actions and guards a JSON workflow may name: their documentation, their params
// schemas and their implementations. Nothing a definition carries is ever evaluated as code.
import { assign, emit, enqueueActions, type AnyActorRef } from 'xstate';
import type { Problem } from '../errors.ts';
import { runRef } from '../definition/define.ts';
import { checkPath, getPath, seg, isPlainObject, jsonEqual, resolveExpr, setPath, type ExprEnv } from './exprs.ts';

export interface BuiltIn {
  description: string;
  /** JSON Schema of `params`. */
  params: Record<string, unknown>;
}

type Params = Record<string, unknown>;
type Args = { context: Record<string, unknown>; event: unknown };

interface ActionEntry extends BuiltIn {
  /** Checks the schema cannot express: paths and names (`delays`: the delay names the definition declares). */
  check?: (params: Params, at: string, delays: Record<string, unknown>) => Problem[];
  impl: unknown;
}

interface GuardEntry extends BuiltIn {
  impl: (args: Args, params: Params) => boolean;
}

const valueExpr = {
  description:
    'A value expression: a literal JSON value, or a reference {"$event": "path"}, {"$context": "path"}, {"$now": true} ' +
    '(the engine time of the event, epoch ms) or {"$literal": value}; a reference may carry "default". ' +
    'Objects and arrays resolve member by member.',
};
const contextPath = { type: 'string', minLength: 1, description: 'A dotted path into the context, e.g. "ticket.assignee".' };

const object = (properties: Record<string, unknown>, required: string[]) => ({
  type: 'object', properties, required, additionalProperties: false,
});

const env = ({ context, event }: Args): ExprEnv => ({ context, event });

const eventParam = { type: 'object', properties: { type: { type: 'string', minLength: 1 } }, required: ['type'], additionalProperties: valueExpr };
const delayParam = {
  oneOf: [{ type: 'integer', minimum: 0 }, { type: 'string', minLength: 1 }],
  description: 'Deliver after this many ms, or after the named delay of "delays"; absent: at once.',
};
const idParam = { type: 'string', minLength: 1, description: 'The send id `cancel` names; without one the delayed event cannot be cancelled.' };

/** The event of a raise or sendTo, its fields resolved; `xstate.*` types belong to the engine. */
function eventOf(args: Args, p: Params): { type: string } {
  const { type, ...fields } = p.event as Params;
  return { ...(resolveExpr(fields, env(args)) as Params), type: String(type) };
}

function eventChecks(p: Params, at: string, delays: Record<string, unknown>): Problem[] {
  const out: Problem[] = [];
  const type = isPlainObject(p.event) ? p.event.type : undefined;
  if (typeof type === 'string' && type.startsWith('xstate.')) out.push({ path: `${at}/event/type`, message: 'xstate.* events belong to the engine' });
  if (typeof p.delay === 'string' && !Object.hasOwn(delays, p.delay)) out.push({ path: `${at}/delay`, message: `unknown delay "${p.delay}": define it in "delays" or use a number of ms` });
  return out;
}

const delayOptions = (p: Params) => ({ ...(p.delay === undefined ? {} : { delay: p.delay as number }), ...(typeof p.id === 'string' ? { id: p.id } : {}) });

/** Where a sendTo goes; a reference that names no run id fails the step (the sender learns of it). */
function targetOf(args: Args & { self: AnyActorRef }, to: unknown): string | AnyActorRef {
  if (to === 'parent') return '#_parent';
  if (to === 'self') return args.self;
  const runId = resolveExpr(to, env(args));
  if (typeof runId !== 'string' || runId === '') throw new Error(`sendTo: ${JSON.stringify(to)} names no run id here`);
  return runRef(runId);
}

type Enqueue = { raise: (...a: unknown[]) => void; sendTo: (...a: unknown[]) => void; cancel: (id: string) => void };
type EnqueueArgs = Args & { enqueue: Enqueue; self: AnyActorRef };

const HISTORY_TYPE = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
/** History types the engine writes itself; a workflow cannot forge them. */
const RESERVED_PREFIX = /^(run|task|timer|state|event|human|workflow|xstate)\./;

const actionEntries: Record<string, ActionEntry> = {
  assign: {
    description: 'Sets context values: each key of `set` is a dotted context path, each value a value expression.',
    params: object({ set: { type: 'object', minProperties: 1, additionalProperties: valueExpr } }, ['set']),
    check: (p, at) => (isPlainObject(p.set) ? Object.keys(p.set).flatMap((k) => checkPath(k, `${at}/set${seg(k)}`)) : []),
    impl: assign((args: Args, p: Params) => {
      let ctx: Record<string, unknown> = args.context;
      for (const [path, expr] of Object.entries(p.set as Params)) ctx = setPath(ctx, path, resolveExpr(expr, env(args)));
      return ctx;
    }),
  },
  increment: {
    description: 'Adds `by` (default 1) to the number at `path`; a missing or non-numeric value counts as 0.',
    params: object({ path: contextPath, by: valueExpr }, ['path']),
    check: (p, at) => checkPath(p.path, `${at}/path`),
    impl: assign((args: Args, p: Params) => {
      const current = getPath(args.context, String(p.path));
      const by = p.by === undefined ? 1 : resolveExpr(p.by, env(args));
      const base = typeof current === 'number' ? current : 0;
      return setPath(args.context, String(p.path), typeof by === 'number' ? base + by : base);
    }),
  },
  append: {
    description: 'Appends `value` to the array at `path`, creating the array when it is missing.',
    params: object({ path: contextPath, value: valueExpr }, ['path', 'value']),
    check: (p, at) => checkPath(p.path, `${at}/path`),
    impl: assign((args: Args, p: Params) => {
      const current = getPath(args.context, String(p.path));
      const list = Array.isArray(current) ? current : [];
      return setPath(args.context, String(p.path), [...list, resolveExpr(p.value, env(args))]);
    }),
  },
  clear: {
    description: 'Removes the context value at `path`.',
    params: object({ path: contextPath }, ['path']),
    check: (p, at) => checkPath(p.path, `${at}/path`),
    impl: assign((args: Args, p: Params) => setPath(args.context, String(p.path), undefined)),
  },
  emit: {
    description:
      'Records a history entry of the dotted lowercase `type` (e.g. "sla.breached") with the resolved `fields`. ' +
      'Types starting run., task., timer., state., event., human., workflow. or xstate. belong to the engine.',
    params: object({ type: { type: 'string', pattern: HISTORY_TYPE.source }, fields: { type: 'object', additionalProperties: valueExpr } }, ['type']),
    check: (p, at) => (typeof p.type === 'string' && RESERVED_PREFIX.test(p.type) ? [{ path: `${at}/type`, message: `"${p.type}" is a history type the engine writes itself` }] : []),
    impl: emit((args: Args, p: Params) => ({ ...(resolveExpr(p.fields ?? {}, env(args)) as Params), type: String(p.type) })),
  },
  raise: {
    description:
      'Sends `event` (its `type` plus fields that are value expressions) to this run: handled right after the current one, ' +
      'or after `delay` (ms, or a name in "delays") as a durable timer that `cancel` withdraws by its `id`.',
    params: object({ event: eventParam, delay: delayParam, id: idParam }, ['event']),
    check: eventChecks,
    impl: enqueueActions(((args: EnqueueArgs, p: Params) => {
      args.enqueue.raise(eventOf(args, p), delayOptions(p));
    }) as never),
  },
  sendTo: {
    description:
      'Sends `event` to another run: `to` is "parent" (the run that started this one), "self" (this run, after the current ' +
      'event and its consequences), or a reference to a run id ({"$context": "changeRunId"}). Delivered once, in order; ' +
      'with `delay` (ms or a name in "delays") it waits as a durable timer that `cancel` withdraws by its `id`.',
    params: object({
      to: { type: ['string', 'object'], description: '"parent", "self", or a reference to a run id.' },
      event: eventParam, delay: delayParam, id: idParam,
    }, ['to', 'event']),
    check: (p, at, delays) => {
      const out = eventChecks(p, at, delays);
      if (typeof p.to === 'string' && p.to !== 'parent' && p.to !== 'self') {
        out.push({ path: `${at}/to`, message: `"${p.to}" is no run the engine can send to: use "parent", "self" or a reference to a run id ({"$context": "childRunId"})` });
      } else if (isPlainObject(p.to) && !Object.keys(p.to).some((k) => k === '$context' || k === '$event')) {
        out.push({ path: `${at}/to`, message: 'a run to send to is "parent", "self" or a reference {"$context": path} / {"$event": path} to its id' });
      }
      return out;
    },
    impl: enqueueActions(((args: EnqueueArgs, p: Params) => {
      args.enqueue.sendTo(targetOf(args, p.to), eventOf(args, p), delayOptions(p));
    }) as never),
  },
  cancel: {
    description: 'Withdraws the pending delayed event sent with this `id` (by `raise` or `sendTo`), as XState\'s cancel: the latest one sent under it.',
    params: object({ id: idParam }, ['id']),
    impl: enqueueActions(((args: EnqueueArgs, p: Params) => {
      args.enqueue.cancel(String(p.id));
    }) as never),
  },
};

const compare = { left: valueExpr, right: valueExpr };
const ordered = (a: unknown, b: unknown, f: (x: number | string, y: number | string) => boolean) =>
  (typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string') ? f(a, b) : false;

const guardEntries: Record<string, GuardEntry> = {
  equals: {
    description: 'True when `left` and `right` resolve to equal JSON values.',
    params: object(compare, ['left', 'right']),
    impl: (args, p) => jsonEqual(resolveExpr(p.left, env(args)), resolveExpr(p.right, env(args))),
  },
  notEquals: {
    description: 'True when `left` and `right` resolve to different JSON values.',
    params: object(compare, ['left', 'right']),
    impl: (args, p) => !jsonEqual(resolveExpr(p.left, env(args)), resolveExpr(p.right, env(args))),
  },
  greaterThan: {
    description: '`left > right`, for two numbers or two strings; false otherwise.',
    params: object(compare, ['left', 'right']),
    impl: (args, p) => ordered(resolveExpr(p.left, env(args)), resolveExpr(p.right, env(args)), (x, y) => x > y),
  },
  lessThan: {
    description: '`left < right`, for two numbers or two strings; false otherwise.',
    params: object(compare, ['left', 'right']),
    impl: (args, p) => ordered(resolveExpr(p.left, env(args)), resolveExpr(p.right, env(args)), (x, y) => x < y),
  },
  in: {
    description: 'True when `value` equals one of the items of `list` (an array, literal or referenced).',
    params: object({ value: valueExpr, list: valueExpr }, ['value', 'list']),
    impl: (args, p) => {
      const list = resolveExpr(p.list, env(args));
      const value = resolveExpr(p.value, env(args));
      return Array.isArray(list) && list.some((item) => jsonEqual(item, value));
    },
  },
  exists: {
    description: 'True when `value` resolves to something other than null or missing.',
    params: object({ value: valueExpr }, ['value']),
    impl: (args, p) => resolveExpr(p.value, env(args)) != null,
  },
  isTruthy: {
    description: 'True when `value` resolves to a truthy value (not false, 0, "", null or missing).',
    params: object({ value: valueExpr }, ['value']),
    impl: (args, p) => Boolean(resolveExpr(p.value, env(args))),
  },
};

const docs = (entries: Record<string, BuiltIn>): Record<string, BuiltIn> =>
  Object.fromEntries(Object.entries(entries).map(([name, e]) => [name, { description: e.description, params: e.params }]));

/** The actions a JSON workflow may name, with their params schemas. */
export const builtInActions: Record<string, BuiltIn> = docs(actionEntries);
/** The guards a JSON workflow may name, with their params schemas; `and`, `or` and `not` combine them. */
export const builtInGuards: Record<string, BuiltIn> = docs(guardEntries);

export const isBuiltInAction = (name: string): boolean => Object.hasOwn(actionEntries, name);
export const isBuiltInGuard = (name: string): boolean => Object.hasOwn(guardEntries, name);

export function actionParamChecks(name: string, params: Params, at: string, delays: Record<string, unknown>): Problem[] {
  return actionEntries[name].check?.(params, at, delays) ?? [];
}

/** Implementations for `setup({ actions, guards })`. */
export function vocabularyImplementations(): { actions: Record<string, unknown>; guards: Record<string, GuardEntry['impl']> } {
  return {
    actions: Object.fromEntries(Object.entries(actionEntries).map(([n, e]) => [n, e.impl])),
    guards: Object.fromEntries(Object.entries(guardEntries).map(([n, e]) => [n, e.impl])),
  };
}
