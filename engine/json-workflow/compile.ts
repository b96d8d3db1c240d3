// Owns compiling a workflow sent as JSON into a WorkflowDefinition, refusing it with every problem listed.
import type { AnyStateMachine } from 'xstate';
import type { WorkflowDefinition } from '../definition/define.ts';
import type { TaskDeclaration } from '../tasks.ts';
import { validationError, type Problem } from '../errors.ts';
import { checkMachineNames } from '../registry.ts';
import { isPlainObject } from './exprs.ts';
import { schemaProblems } from './schema.ts';
import { checkKeys, checkSemantics } from './check.ts';
import { buildMachine } from './build.ts';
import { compileUserSchema, userSchemaAjv } from '../user-schema.ts';

export { jsonWorkflowSchema } from './schema.ts';
export { builtInActions, builtInGuards, type BuiltIn } from './vocabulary.ts';

export interface JsonWorkflowInput {
  name: string;
  version: number;
  description?: string;
  /** An XState v5 machine config as plain JSON; see docs/json-workflows.md. */
  definition: unknown;
  /** JSON Schema of the run input. */
  inputSchema?: unknown;
  /** Task declarations by name: `external: true`, and the schemas external workers must honour. */
  tasks?: Record<string, TaskDeclaration>;
}

/** Each declared task's schemas must compile. */
function taskDeclarationProblems(tasks: unknown): Problem[] {
  if (tasks === undefined || tasks === null) return [];
  if (!isPlainObject(tasks)) return [{ path: '/tasks', message: 'must be an object of task declarations by name' }];
  const problems: Problem[] = [];
  if (checkKeys(tasks, '/tasks', problems) || problems.length) return problems;
  for (const [name, decl] of Object.entries(tasks)) {
    if (!/^[A-Za-z][A-Za-z0-9_.-]{0,127}$/.test(name)) problems.push({ path: `/tasks/${name}`, message: 'a task name is a letter then letters, digits, _ . or -' });
    if (!isPlainObject(decl)) {
      problems.push({ path: `/tasks/${name}`, message: 'must be an object' });
      continue;
    }
    // Schemas from outside: linear-time patterns, no endless $ref (user-schema.ts).
    for (const field of ['input', 'output'] as const) {
      if (decl[field] !== undefined) problems.push(...compileUserSchema(userSchemaAjv(), decl[field], `/tasks/${name}/${field}`).problems);
    }
  }
  return problems;
}

const NAME = /^[a-z][a-z0-9_-]{0,63}$/;

function inputSchemaProblems(schema: unknown): Problem[] {
  if (schema === undefined || schema === null) return [];
  if (!isPlainObject(schema)) return [{ path: '/inputSchema', message: 'must be a JSON Schema object' }];
  const problems: Problem[] = [];
  if (checkKeys(schema, '/inputSchema', problems) || problems.length) return problems;
  // A throwaway instance: a long-lived one would keep every schema ever posted.
  return compileUserSchema(userSchemaAjv(), schema, '/inputSchema').problems;
}

function definitionProblems(def: unknown, machineId: string, isTask: (name: string) => boolean): Problem[] {
  if (!isPlainObject(def)) return [{ path: '/definition', message: 'must be an object (an XState machine config)' }];
  const problems: Problem[] = [];
  if (checkKeys(def, '/definition', problems)) return problems;
  problems.push(...schemaProblems(def, '/definition'), ...checkSemantics(def, machineId, isTask, '/definition'));
  return problems;
}

/** Build the machine and run the registry's own name check on it, as a second line behind ours. */
function machineOf(def: Record<string, unknown>, machineId: string, isTask: (name: string) => boolean): { machine?: AnyStateMachine; problems: Problem[] } {
  let machine: AnyStateMachine;
  try {
    machine = buildMachine(def, machineId);
    const touch = (node: AnyStateMachine['root']): void => {
      void node.initial;
      Object.values(node.states).forEach((child) => touch(child as AnyStateMachine['root']));
    };
    touch(machine.root);
  } catch (err) {
    return { problems: [{ path: '/definition', message: `XState refuses the definition: ${(err as Error).message}` }] };
  }
  return { machine, problems: checkMachineNames(machine, isTask) };
}

/**
 * Validate a JSON workflow and compile it into a machine made only of registered tasks and the
 * built-in actions, guards and delays. Throws VALIDATION_FAILED listing every problem with its path.
 * @example
 * const def = compileJsonWorkflow(
 *   { name: 'ping', version: 1, definition: { initial: 'wait', states: { wait: { after: { 1000: 'done' } }, done: { type: 'final' } } } },
 *   { isTask: registry.isTask },
 * );
 */
export function compileJsonWorkflow(input: JsonWorkflowInput, ctx: { isTask(name: string): boolean }): WorkflowDefinition {
  const declared = isPlainObject(input.tasks) ? input.tasks : {};
  const isTask = (name: string) => ctx.isTask(name) || Object.hasOwn(declared, name);
  const problems: Problem[] = [];
  const name = typeof input.name === 'string' ? input.name : '';
  if (!NAME.test(name)) problems.push({ path: '/name', message: `must match ${NAME.source}` });
  if (!Number.isInteger(input.version) || input.version < 1) problems.push({ path: '/version', message: 'must be a positive integer' });
  if (input.description !== undefined && typeof input.description !== 'string') problems.push({ path: '/description', message: 'must be a string' });
  const def = input.definition;
  const machineId = isPlainObject(def) && typeof def.id === 'string' ? def.id : name || 'workflow';
  problems.push(...definitionProblems(def, machineId, isTask), ...inputSchemaProblems(input.inputSchema), ...taskDeclarationProblems(input.tasks));
  const fail = () => validationError(`workflow definition ${name || '(unnamed)'} is not valid`, problems);
  if (problems.length) throw fail();

  const built = machineOf(def as Record<string, unknown>, machineId, isTask);
  problems.push(...built.problems);
  if (problems.length || !built.machine) throw fail();
  return {
    name,
    version: input.version,
    description: input.description ?? '',
    machine: built.machine,
    inputSchema: (input.inputSchema ?? undefined) as Record<string, unknown> | undefined,
    definition: input.definition,
    builtIn: false,
    ...(input.tasks ? { tasks: input.tasks } : {}),
  };
}
