// Owns the checks of a JSON workflow definition that its schema cannot express: forbidden keys and
// limits, targets that must exist, and every task, action, guard and delay name it uses.
import { Ajv, type ValidateFunction } from 'ajv';
import type { Problem } from '../errors.ts';
import { AT_RUNTIME, FORBIDDEN_KEYS, IN_CONTEXT_INIT, checkExpr, isPlainObject, seg } from './exprs.ts';
import { ajvProblems } from './schema.ts';
import { actionParamChecks, builtInActions, builtInGuards, isBuiltInAction, isBuiltInGuard } from './vocabulary.ts';

export const MAX_DEPTH = 64;
export const MAX_STATES = 1000;

type Obj = Record<string, unknown>;

interface Node {
  /** Dotted state path, for messages. */
  name: string;
  ptr: string;
  config: Obj;
  parent: Node | null;
  children: Map<string, Node>;
}

/**
 * Forbidden keys anywhere in `value`, and nesting past MAX_DEPTH (reported once, not descended).
 * Returns true when the value was too deep to be looked at further.
 */
export function checkKeys(value: unknown, at: string, problems: Problem[], depth = 0): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (depth >= MAX_DEPTH) {
    problems.push({ path: at, message: `nested deeper than ${MAX_DEPTH} levels` });
    return true;
  }
  let tooDeep = false;
  for (const [key, child] of Object.entries(value)) {
    if (FORBIDDEN_KEYS.has(key)) problems.push({ path: at + seg(key), message: `"${key}" is not allowed as a key` });
    else if (checkKeys(child, at + seg(key), problems, depth + 1)) tooDeep = true;
    if (tooDeep) break;
  }
  return tooDeep;
}

/** The state tree, or null when it has more than MAX_STATES states. */
function stateTree(def: Obj, base: string): Node | null {
  let count = 0;
  const build = (config: Obj, ptr: string, parent: Node | null, name: string): Node | null => {
    const node: Node = { name, ptr, config, parent, children: new Map() };
    if (!isPlainObject(config.states)) return node;
    for (const [key, child] of Object.entries(config.states)) {
      if (!isPlainObject(child)) continue;
      if (++count > MAX_STATES) return null;
      const built = build(child, `${ptr}/states${seg(key)}`, node, parent ? `${name}.${key}` : key);
      if (!built) return null;
      node.children.set(key, built);
    }
    return node;
  };
  return build(def, base, null, '');
}

const paramValidators = new Map<string, ValidateFunction>();
const ajv = new Ajv({ allErrors: true, strict: false });

function paramProblems(kind: 'action' | 'guard', name: string, params: unknown, at: string): Problem[] {
  const key = `${kind}:${name}`;
  let validate = paramValidators.get(key);
  if (!validate) {
    validate = ajv.compile(kind === 'action' ? builtInActions[name].params : builtInGuards[name].params);
    paramValidators.set(key, validate);
  }
  return validate(params) ? [] : ajvProblems(validate.errors, at);
}

/**
 * Every problem with the names and targets of a definition whose root is `def` (at `base`).
 * It tolerates a malformed shape: whatever is not where the schema wants it is skipped, since the
 * schema check reports it.
 */
// Long: a dozen short named checks (resolve, checkTarget, checkGuard, checkAction, checkTransitions,
// checkInvoke, checkShape, visit) share the problem list, the id map and the invoke ids of one definition;
// as closures they need no state object threaded through every call.
export function checkSemantics(def: Obj, machineId: string, isTask: (name: string) => boolean, base: string): Problem[] {
  const problems: Problem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  const root = stateTree(def, base);
  if (!root) return [{ path: `${base}/states`, message: `more than ${MAX_STATES} states` }];

  const byId = new Map<string, Node>([[machineId, root]]);
  const invokeIds = new Set<string>();
  const delays = isPlainObject(def.delays) ? def.delays : {};

  const collectIds = (node: Node) => {
    const id = node.config.id;
    if (typeof id === 'string' && node !== root) {
      if (byId.has(id)) add(`${node.ptr}/id`, `the id "${id}" is used twice`);
      else byId.set(id, node);
    }
    node.children.forEach(collectIds);
  };
  collectIds(root);

  /** The state a target names, resolved the way XState does, or why it names none. */
  const resolve = (source: Node, target: string): Node | string => {
    let from: Node | null;
    let parts: string[];
    if (target.startsWith('#')) {
      const [id, ...rest] = target.slice(1).split('.');
      parts = rest;
      from = byId.get(id) ?? null;
      if (!from) return `no state has the id "${id}"`;
    } else if (target.startsWith('.')) {
      from = source;
      parts = target.slice(1).split('.');
    } else {
      from = source.parent;
      parts = target.split('.');
      if (!from) return `"${target}" is not a state of the root: a target from the root starts with "." or "#"`;
    }
    for (const part of parts) {
      const next: Node | undefined = from.children.get(part);
      if (!next) return `"${target}" does not exist: ${from === root ? 'the root' : `state "${from.name}"`} has no child state "${part}"`;
      from = next;
    }
    return from;
  };

  const checkTarget = (source: Node, target: unknown, at: string) => {
    if (typeof target !== 'string') return;
    const found = resolve(source, target);
    if (typeof found === 'string') add(at, `unknown target: ${found}`);
  };

  const checkGuard = (guard: unknown, at: string) => {
    if (typeof guard === 'string') {
      if (!isBuiltInGuard(guard)) add(at, `unknown guard "${guard}"`);
      else problems.push(...paramProblems('guard', guard, {}, at));
      return;
    }
    if (!isPlainObject(guard)) return;
    const forms = ['type', 'and', 'or', 'not'].filter((k) => k in guard);
    if (forms.length !== 1 || ('params' in guard && forms[0] !== 'type')) {
      add(at, 'a guard is exactly one of {"type", "params"}, {"and": [...]}, {"or": [...]} or {"not": guard}');
      return;
    }
    if (Array.isArray(guard.and)) guard.and.forEach((g, i) => checkGuard(g, `${at}/and/${i}`));
    if (Array.isArray(guard.or)) guard.or.forEach((g, i) => checkGuard(g, `${at}/or/${i}`));
    if ('not' in guard) checkGuard(guard.not, `${at}/not`);
    if (typeof guard.type !== 'string') return;
    if (!isBuiltInGuard(guard.type)) return void add(`${at}/type`, `unknown guard "${guard.type}"`);
    const params = guard.params ?? {};
    problems.push(...paramProblems('guard', guard.type, params, `${at}/params`), ...checkExpr(params, `${at}/params`, AT_RUNTIME));
  };

  const checkAction = (action: unknown, at: string) => {
    const named = typeof action === 'string';
    const name = named ? action : isPlainObject(action) ? action.type : undefined;
    if (typeof name !== 'string') return;
    if (!isBuiltInAction(name)) return void add(named ? at : `${at}/type`, `unknown action "${name}"`);
    const params = named ? {} : ((action as Obj).params ?? {});
    const pAt = named ? at : `${at}/params`;
    problems.push(...paramProblems('action', name, params, pAt), ...checkExpr(params, pAt, AT_RUNTIME));
    if (isPlainObject(params)) problems.push(...actionParamChecks(name, params, pAt, delays));
  };

  const checkActions = (actions: unknown, at: string) => {
    if (Array.isArray(actions)) actions.forEach((a, i) => checkAction(a, `${at}/${i}`));
    else checkAction(actions, at);
  };

  const checkTransitionObject = (source: Node, t: unknown, at: string) => {
    if (!isPlainObject(t)) return;
    if (Array.isArray(t.target)) t.target.forEach((x, i) => checkTarget(source, x, `${at}/target/${i}`));
    else checkTarget(source, t.target, `${at}/target`);
    if ('guard' in t) checkGuard(t.guard, `${at}/guard`);
    if ('actions' in t) checkActions(t.actions, `${at}/actions`);
  };

  const checkTransitions = (source: Node, value: unknown, at: string) => {
    if (typeof value === 'string') return checkTarget(source, value, at);
    if (!Array.isArray(value)) return checkTransitionObject(source, value, at);
    value.forEach((t, i) => (typeof t === 'string' ? checkTarget(source, t, `${at}/${i}`) : checkTransitionObject(source, t, `${at}/${i}`)));
  };

  const checkInvoke = (node: Node, inv: unknown, at: string) => {
    if (!isPlainObject(inv)) return;
    if (typeof inv.src === 'string' && !isTask(inv.src)) add(`${at}/src`, `unknown task "${inv.src}"`);
    if (typeof inv.id === 'string') {
      if (invokeIds.has(inv.id)) add(`${at}/id`, `the invoke id "${inv.id}" is used twice`);
      invokeIds.add(inv.id);
    }
    if ('input' in inv) problems.push(...checkExpr(inv.input, `${at}/input`, AT_RUNTIME));
    if ('onDone' in inv) checkTransitions(node, inv.onDone, `${at}/onDone`);
    if ('onError' in inv) checkTransitions(node, inv.onError, `${at}/onError`);
  };

  const checkShape = (node: Node) => {
    const c = node.config;
    const hasStates = node.children.size > 0;
    const declared = ['atomic', 'compound', 'parallel', 'final', 'history'].find((t) => t === c.type);
    const type = declared ?? (hasStates ? 'compound' : 'atomic');
    const at = node.ptr;
    if (hasStates && ['atomic', 'final', 'history'].includes(type)) add(`${at}/states`, `a ${type} state has no child states`);
    if (!hasStates && (type === 'compound' || type === 'parallel')) add(`${at}/states`, `a ${type} state needs child states`);
    if (type === 'compound' && hasStates) {
      if (typeof c.initial !== 'string') add(at, 'a state with child states needs "initial"');
      else if (!node.children.has(c.initial)) add(`${at}/initial`, `no child state "${c.initial}"`);
    } else if ('initial' in c) add(`${at}/initial`, 'only a compound state has "initial"');
    if (type === 'history') {
      const extra = ['on', 'always', 'after', 'invoke', 'entry', 'exit', 'onDone', 'output'].filter((k) => k in c);
      if (extra.length) add(at, `a history state takes no ${extra.join(', ')}`);
      if (typeof c.target === 'string' && c.target.startsWith('.')) add(`${at}/target`, 'a history target names a sibling state or an "#id"');
      else checkTarget(node, c.target, `${at}/target`);
    } else {
      if ('history' in c) add(`${at}/history`, 'only a history state has "history"');
      if ('target' in c) add(`${at}/target`, 'only a history state has "target"; transitions go in "on"');
    }
    if ('output' in c) {
      if (type !== 'final' && node !== root) add(`${at}/output`, 'only a final state (or the root) has "output"');
      problems.push(...checkExpr(c.output, `${at}/output`, AT_RUNTIME));
    }
    if ('onDone' in c && type !== 'compound' && type !== 'parallel') add(`${at}/onDone`, 'only a compound or parallel state has "onDone"');
  };

  const visit = (node: Node) => {
    const c = node.config;
    const at = node.ptr;
    checkShape(node);
    if (isPlainObject(c.on)) for (const [ev, t] of Object.entries(c.on)) checkTransitions(node, t, `${at}/on${seg(ev)}`);
    if ('always' in c) checkTransitions(node, c.always, `${at}/always`);
    if ('onDone' in c) checkTransitions(node, c.onDone, `${at}/onDone`);
    if (isPlainObject(c.after)) {
      for (const [delay, t] of Object.entries(c.after)) {
        if (!/^\d+$/.test(delay) && !Object.hasOwn(delays, delay)) add(`${at}/after${seg(delay)}`, `unknown delay "${delay}": define it in "delays" or use a number of ms`);
        checkTransitions(node, t, `${at}/after${seg(delay)}`);
      }
    }
    if (Array.isArray(c.invoke)) c.invoke.forEach((inv, i) => checkInvoke(node, inv, `${at}/invoke/${i}`));
    else if ('invoke' in c) checkInvoke(node, c.invoke, `${at}/invoke`);
    if ('entry' in c) checkActions(c.entry, `${at}/entry`);
    if ('exit' in c) checkActions(c.exit, `${at}/exit`);
    node.children.forEach(visit);
  };
  visit(root);

  if (isPlainObject(def.context)) {
    for (const [k, v] of Object.entries(def.context)) problems.push(...checkExpr(v, `${base}/context${seg(k)}`, IN_CONTEXT_INIT));
  }
  for (const [name, d] of Object.entries(delays)) {
    if (!isPlainObject(d)) continue;
    if (!Object.keys(d).some((k) => k.startsWith('$'))) add(`${base}/delays${seg(name)}`, 'a delay is a number of ms or a reference with a default');
    else problems.push(...checkExpr(d, `${base}/delays${seg(name)}`, AT_RUNTIME));
  }
  return problems;
}
