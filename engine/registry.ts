// Owns the names the engine knows: workflows by name and version, tasks by name, and the check
// that every name a machine uses resolves before a run can start on it.
import type { AnyStateMachine } from 'xstate';
import { Ajv, type ValidateFunction } from 'ajv';
import type { WorkflowDefinition } from './definition/define.ts';
import type { TaskDefinition } from './tasks.ts';
import { ErrorCode, ServicechartError, validationError, type Problem } from './errors.ts';
import { compileUserSchema, userSchemaAjv } from './user-schema.ts';
import { isEngineAction } from './step.ts';

export interface RegisteredWorkflow extends WorkflowDefinition {
  /** Its task names were checked against more than this process's registry (the live catalog). */
  tasksChecked?: boolean;
  validateInput: ValidateFunction | null;
  /** By event type; a Map, so an event named after an Object.prototype member finds nothing. */
  validateEvent: Map<string, ValidateFunction>;
}

const BUILTIN_ACTIONS = /^xstate\./;

type AnyNode = AnyStateMachine['root'];

/** XState's built-in actions the step makes durable (enqueueActions' own are checked as the step takes them). */
const DURABLE_BUILTINS = new Set([
  'xstate.assign', 'xstate.raise', 'xstate.sendTo', 'xstate.cancel', 'xstate.emit', 'xstate.log',
  'xstate.spawnChild', 'xstate.stopChild', 'xstate.enqueueActions',
]);

type Builtin = { type: string; resolve: unknown; to?: unknown; src?: unknown };

/** Why the engine cannot make this action durable, or null when it can. */
function notDurable(action: unknown, isTask: (name: string) => boolean): string | null {
  if (typeof action !== 'function') return null;
  if (!('resolve' in action)) {
    if (isEngineAction(action)) return null;
    const name = action.name ? `"${action.name}" ` : '';
    return `the action ${name}is a function: the engine never runs one (it would need a live actor); use assign, raise, sendTo, emit or a task`;
  }
  const b = action as unknown as Builtin;
  if (!DURABLE_BUILTINS.has(b.type)) return `the engine cannot make ${b.type} durable`;
  if (b.type === 'xstate.sendTo' && typeof b.to === 'string' && b.to !== '#_parent' && b.to !== '#_internal') {
    return `sendTo "${b.to}": a run's invoked children are tasks, which take no events; send to another run with sendTo(() => runRef(runId), ...)`;
  }
  if (b.type === 'xstate.spawnChild' && (typeof b.src !== 'string' || !isTask(b.src))) {
    return `spawnChild of ${typeof b.src === 'string' ? `"${b.src}", which is not a registered task` : 'inline actor logic'}: a run's children are registered tasks`;
  }
  return null;
}

/** Every problem with the names a machine uses: task `src`, actions, guards and delays. */
export function checkMachineNames(machine: AnyStateMachine, isTask: (name: string) => boolean): Problem[] {
  const problems: Problem[] = [];
  const impl = machine.implementations;
  const at = (node: AnyNode) => node.path.map((p) => '/' + p).join('');
  const checkActions = (actions: unknown, path: string) => {
    for (const a of ([] as unknown[]).concat(actions ?? [])) {
      const name = typeof a === 'string' ? a : a && typeof a === 'object' && 'type' in a ? String((a as { type: unknown }).type) : null;
      if (name && !BUILTIN_ACTIONS.test(name) && !Object.hasOwn(impl.actions, name)) {
        problems.push({ path, message: `unknown action "${name}"` });
        continue;
      }
      const why = notDurable(name ? impl.actions[name] : a, isTask);
      if (why) problems.push({ path, message: why });
    }
  };
  const checkGuard = (guard: unknown, path: string) => {
    if (!guard) return;
    if (typeof guard === 'string') {
      if (!(guard in impl.guards)) problems.push({ path, message: `unknown guard "${guard}"` });
      return;
    }
    if (typeof guard === 'object' && 'type' in guard) {
      const g = guard as { type: string; params?: { guards?: unknown[] } };
      if (g.type.startsWith('xstate.')) {
        for (const inner of g.params?.guards ?? []) checkGuard(inner, path);
        return;
      }
      if (!(g.type in impl.guards)) problems.push({ path, message: `unknown guard "${g.type}"` });
    }
  };
  const visit = (node: AnyNode) => {
    checkActions(node.entry, `${at(node)}/entry`);
    checkActions(node.exit, `${at(node)}/exit`);
    for (const inv of node.invoke) {
      const src = inv.src;
      if (typeof src !== 'string') problems.push({ path: `${at(node)}/invoke/${inv.id}`, message: 'an inline actor cannot be persisted: invoke a registered task by name' });
      else if (!isTask(src)) problems.push({ path: `${at(node)}/invoke/${inv.id}/src`, message: `unknown task "${src}"` });
    }
    for (const [eventType, transitions] of node.transitions) {
      for (const t of transitions) {
        checkActions(t.actions, `${at(node)}/on/${eventType}`);
        checkGuard(t.guard, `${at(node)}/on/${eventType}`);
      }
    }
    for (const t of node.always ?? []) {
      checkActions(t.actions, `${at(node)}/always`);
      checkGuard(t.guard, `${at(node)}/always`);
    }
    const after = (node.config as { after?: Record<string, unknown> }).after ?? {};
    for (const delay of Object.keys(after)) {
      if (!/^\d+$/.test(delay) && !(delay in impl.delays)) problems.push({ path: `${at(node)}/after/${delay}`, message: `unknown delay "${delay}"` });
    }
    for (const child of Object.values(node.states)) visit(child as AnyNode);
  };
  visit(machine.root);
  return problems;
}

export class Registry {
  private readonly workflows = new Map<string, RegisteredWorkflow>();
  private readonly latest = new Map<string, number>();
  private readonly tasks = new Map<string, TaskDefinition<any, any>>();
  /** Code tasks configured to go to external workers although a handler exists (SERVICECHART_EXTERNAL_TASKS). */
  private readonly routedOut = new Set<string>();
  /** Event types some workflow re-reads the service and CI registry on (`registry.events`). */
  private readonly eventsReadingRegistry = new Set<string>();
  private readonly ajv = new Ajv({ allErrors: true, strict: false });
  /** For the schemas of JSON workflows, which come from outside: linear-time patterns, no endless $ref. */
  private readonly userAjv = userSchemaAjv();

  registerTask(task: TaskDefinition<any, any>): void {
    this.tasks.set(task.name, task);
  }

  task(name: string): TaskDefinition<any, any> | undefined {
    return this.tasks.get(name);
  }

  taskNames(): string[] {
    return [...this.tasks.keys()].sort();
  }

  isTask = (name: string): boolean => this.tasks.has(name);

  /**
   * Whether a run of `wf` offers task `name` to external workers: when the workflow or the code
   * declaration says `external: true`, or when no handler for it is registered in this process.
   */
  isExternal(wf: WorkflowDefinition | undefined, name: string): boolean {
    if (wf?.tasks?.[name]?.external || this.routedOut.has(name)) return true;
    const def = this.tasks.get(name);
    return !def?.handler || def.external === true;
  }

  /** Send these task types to external workers even where a handler is registered. */
  routeExternally(names: Iterable<string>): void {
    for (const n of names) this.routedOut.add(n);
  }

  registryEvents(): ReadonlySet<string> {
    return this.eventsReadingRegistry;
  }

  /** Register a workflow version; refuses a machine whose names do not all resolve. */
  registerWorkflow(def: WorkflowDefinition, opts: { trusted?: boolean } = {}): RegisteredWorkflow {
    // A trusted definition (a JSON workflow checked when it was stored) may name tasks only remote workers serve.
    const declared = (name: string) => this.isTask(name) || def.tasks?.[name] !== undefined || opts.trusted === true;
    const problems = checkMachineNames(def.machine, declared);
    if (problems.length) {
      // Said in full in the message too: at engine start it is all a process owner sees.
      const list = problems.map((p) => `${p.path}: ${p.message}`).join('; ');
      throw validationError(`workflow ${def.name}@${def.version} uses names that are not registered or actions the engine cannot make durable: ${list}`, problems);
    }
    const key = `${def.name}@${def.version}`;
    const existing = this.workflows.get(key);
    if (existing && existing.machine !== def.machine) {
      throw new ServicechartError(ErrorCode.CONFLICT, `workflow ${key} is registered already`);
    }
    // An `always` loop would otherwise spin forever inside one step.
    const options = (def.machine as unknown as { options: { maxIterations: number } }).options;
    if (!Number.isFinite(options.maxIterations)) options.maxIterations = 1000;
    let validateInput: ValidateFunction | null = null;
    if (def.inputSchema && def.definition !== undefined) {
      const compiled = compileUserSchema(this.userAjv, def.inputSchema, '/inputSchema');
      if (!compiled.validate) throw validationError(`the input schema of ${key} cannot be used`, compiled.problems);
      validateInput = compiled.validate;
    } else if (def.inputSchema) {
      try {
        validateInput = this.ajv.compile(def.inputSchema);
      } catch (err) {
        throw validationError(`the input schema of ${key} does not compile`, [{ path: '/inputSchema', message: (err as Error).message }]);
      }
    }
    const validateEvent = new Map<string, ValidateFunction>();
    for (const [type, schema] of Object.entries(def.eventSchemas ?? {})) {
      try {
        validateEvent.set(type, this.ajv.compile(schema));
      } catch (err) {
        throw validationError(`the schema of event ${type} in ${key} does not compile`, [{ path: `/eventSchemas/${type}`, message: (err as Error).message }]);
      }
    }
    const reg: RegisteredWorkflow = { ...def, validateInput, validateEvent, ...(opts.trusted ? { tasksChecked: true } : {}) };
    for (const type of def.registry?.events ?? []) this.eventsReadingRegistry.add(type);
    this.workflows.set(key, reg);
    if ((this.latest.get(def.name) ?? 0) < def.version) this.latest.set(def.name, def.version);
    return reg;
  }

  get(name: string, version?: number): RegisteredWorkflow | undefined {
    const v = version ?? this.latest.get(name);
    return v === undefined ? undefined : this.workflows.get(`${name}@${v}`);
  }

  latestVersion(name: string): number | undefined {
    return this.latest.get(name);
  }

  names(): string[] {
    return [...this.latest.keys()].sort();
  }

  versions(name: string): number[] {
    const out: number[] = [];
    for (const w of this.workflows.values()) if (w.name === name) out.push(w.version);
    return out.sort((a, b) => a - b);
  }
}
