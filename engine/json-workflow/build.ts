// Owns the translation of a checked JSON workflow definition into an XState machine whose every
// action, guard, delay and task is a named implementation from setup().
import { and, not, or, setup, type AnyStateMachine } from 'xstate';
import { taskActors } from '../definition/define.ts';
import { getPath, isPlainObject, resolveExpr } from './exprs.ts';
import { vocabularyImplementations } from './vocabulary.ts';
import { MAX_DELAY_MS } from './schema.ts';

type Obj = Record<string, unknown>;
type Args = { context: Obj; event: Obj };

/** Config keys that XState reads as plain data. */
const DATA_KEYS = ['id', 'description', 'type', 'initial', 'history', 'target', 'tags', 'meta'] as const;

const mapValues = (o: unknown, f: (v: unknown) => unknown): Obj =>
  Object.fromEntries(Object.entries(o as Obj).map(([k, v]) => [k, f(v)]));

const isMs = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= MAX_DELAY_MS;

function guard(g: unknown): unknown {
  if (typeof g === 'string') return { type: g, params: {} };
  const o = g as Obj;
  if (Array.isArray(o.and)) return and(o.and.map(guard) as never);
  if (Array.isArray(o.or)) return or(o.or.map(guard) as never);
  if ('not' in o) return not(guard(o.not) as never);
  return { type: o.type, params: o.params ?? {} };
}

function actions(a: unknown): unknown[] {
  return ([] as unknown[]).concat(a).map((x) => (typeof x === 'string' ? { type: x, params: {} } : { type: (x as Obj).type, params: (x as Obj).params ?? {} }));
}

function transitionObject(t: Obj): Obj {
  const out: Obj = {};
  if ('target' in t) out.target = t.target;
  if ('guard' in t) out.guard = guard(t.guard);
  if ('actions' in t) out.actions = actions(t.actions);
  if ('reenter' in t) out.reenter = t.reenter;
  if ('description' in t) out.description = t.description;
  return out;
}

function transitions(v: unknown): unknown {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map((t) => (typeof t === 'string' ? t : transitionObject(t as Obj)));
  return transitionObject(v as Obj);
}

function stateNode(c: Obj, srcs: Set<string>): Obj {
  const out: Obj = {};
  for (const k of DATA_KEYS) if (k in c) out[k] = c[k];
  if (isPlainObject(c.states)) out.states = mapValues(c.states, (s) => stateNode(s as Obj, srcs));
  if (isPlainObject(c.on)) out.on = mapValues(c.on, transitions);
  if (isPlainObject(c.after)) out.after = mapValues(c.after, transitions);
  if ('always' in c) out.always = transitions(c.always);
  if ('onDone' in c) out.onDone = transitions(c.onDone);
  if ('entry' in c) out.entry = actions(c.entry);
  if ('exit' in c) out.exit = actions(c.exit);
  if ('output' in c) out.output = ({ context, event }: Args) => resolveExpr(c.output, { context, event });
  if ('invoke' in c) {
    out.invoke = ([] as Obj[]).concat(c.invoke as Obj).map((inv) => {
      srcs.add(String(inv.src));
      const spec = inv.input ?? {};
      const built: Obj = { src: inv.src, input: ({ context, event }: Args) => resolveExpr(spec, { context, event }) };
      if ('id' in inv) built.id = inv.id;
      if ('onDone' in inv) built.onDone = transitions(inv.onDone);
      if ('onError' in inv) built.onError = transitions(inv.onError);
      return built;
    });
  }
  return out;
}

/** The delay in ms: `context.delaysMs.<name>` first, then the definition's number or reference, then its default; each only when it is 0..MAX_DELAY_MS. */
function namedDelay(name: string, spec: unknown) {
  return ({ context, event }: Args): number => {
    const override = getPath(context, `delaysMs.${name}`);
    if (isMs(override)) return override;
    const value = isPlainObject(spec) ? resolveExpr(spec, { context, event }) : spec;
    if (isMs(value)) return value;
    const fallback = isPlainObject(spec) ? spec.default : undefined;
    return isMs(fallback) ? fallback : 0;
  };
}

/** The initial context: what `context` declares, resolved from the input; without `context`, the input itself. */
function initialContext(spec: unknown) {
  return ({ input }: { input: unknown }): Obj => {
    const { $at: _at, $runId: _runId, $businessKey: _businessKey, ...rest } = isPlainObject(input) ? input : {};
    if (!isPlainObject(spec)) return rest;
    const ctx = mapValues(spec, (v) => resolveExpr(v, { input }));
    if (isPlainObject(rest.delaysMs) && !Object.hasOwn(ctx, 'delaysMs')) ctx.delaysMs = rest.delaysMs;
    return ctx;
  };
}

/** Build the machine of a definition that passed every check. XState may still throw; the caller reports it. */
export function buildMachine(def: Obj, machineId: string): AnyStateMachine {
  const srcs = new Set<string>();
  const config = stateNode(def, srcs);
  config.id = machineId;
  config.context = initialContext(def.context);
  // Without a root `output`, the run's output is the output of the top-level final state it ends in.
  if (!('output' in def)) config.output = ({ event }: Args) => event.output;
  const delays = isPlainObject(def.delays) ? Object.fromEntries(Object.entries(def.delays).map(([n, spec]) => [n, namedDelay(n, spec)])) : {};
  const { actions: actionImpls, guards } = vocabularyImplementations();
  const impl = { actors: taskActors(...srcs), actions: actionImpls, guards, delays };
  return setup(impl as never).createMachine(config as never) as unknown as AnyStateMachine;
}
