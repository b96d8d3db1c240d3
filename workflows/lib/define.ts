// The vocabulary process owners use to write a workflow in TypeScript: a named, versioned XState machine.
import { fromPromise, type AnyStateMachine, type PromiseActorLogic } from 'xstate';

export interface WorkflowDefinition {
  /** Stable name, the one API filters and webhooks use (`incident`). */
  name: string;
  /** Bump it whenever the machine changes shape; running runs keep the version they started on. */
  version: number;
  description: string;
  machine: AnyStateMachine;
  /** JSON Schema of the run input (ajv). */
  inputSchema?: Record<string, unknown>;
  builtIn?: boolean;
  /** The JSON config a workflow was registered with through the API, when it was. */
  definition?: unknown;
}

/**
 * Declare a workflow.
 * @example
 * export default defineWorkflow({ name: 'ping', version: 1, description: 'Ping then wait', machine });
 */
export function defineWorkflow(def: WorkflowDefinition): WorkflowDefinition {
  return def;
}

const TASK = Symbol.for('servicechart.task');

/**
 * Stand-ins for registered tasks, for `setup({ actors: taskActors('notify', 'page_oncall') })`.
 * The engine never runs them: it turns each `invoke` of one into a durable task job.
 */
export function taskActors<const T extends string>(...names: T[]): Record<T, PromiseActorLogic<any, any>> {
  const out = {} as Record<T, PromiseActorLogic<any, any>>;
  for (const name of names) {
    const logic = fromPromise<any, any>(async () => {
      throw new Error(`task ${name} runs in a task worker, not inside the machine`);
    });
    (logic as unknown as Record<symbol, string>)[TASK] = name;
    out[name] = logic;
  }
  return out;
}
