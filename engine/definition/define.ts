// The vocabulary process owners use to write a workflow in TypeScript: a named, versioned XState machine.
import { fromPromise, type AnyActorRef, type AnyStateMachine, type PromiseActorLogic } from 'xstate';

export interface WorkflowDefinition {
  /** Stable name, the one API filters and webhooks use (`incident`). */
  name: string;
  /** Bump it whenever the machine changes shape; running runs keep the version they started on. */
  version: number;
  description: string;
  machine: AnyStateMachine;
  /** JSON Schema of the run input (ajv). */
  inputSchema?: Record<string, unknown>;
  /**
   * JSON Schemas of event payloads by event type (ajv). An event whose payload breaks its schema is
   * answered 422 VALIDATION_FAILED before the machine sees it; a guard's refusal stays 409.
   */
  eventSchemas?: Record<string, Record<string, unknown>>;
  builtIn?: boolean;
  /** The measures this process reports at GET /v1/kpis (docs/models/<model>.md §x.11). */
  kpis?: KpiDefinition[];
  /** The JSON config a workflow was registered with through the API, when it was. */
  definition?: unknown;
  /** Tasks a JSON workflow declares (external ones, with the schemas their workers must honour). */
  tasks?: Record<string, TaskDeclaration>;
  /**
   * What the workflow reads from the service and CI registry. At start the engine resolves the names
   * `refs` picks from the input and hands the machine a snapshot as `$registry` in its input (and in
   * the payload of the `events` listed, resolved again for the names the run started with), recording
   * a `registry.read` history entry; the machine copies what it uses into its context, so a later change
   * to the registry never alters a running run.
   */
  registry?: {
    refs(input: Record<string, unknown>): { services: string[]; cis: string[] };
    events?: string[];
  };
}

/** A task a JSON workflow declares (its `tasks` map): what external workers must honour. */
export interface TaskDeclaration {
  /** Offered to external workers even when an in-process handler exists. */
  external?: boolean;
  description?: string;
  /** JSON Schema of the input the workflow passes. */
  input?: Record<string, unknown>;
  /** JSON Schema a worker's output must match (`complete` answers 422 otherwise). */
  output?: Record<string, unknown>;
  retry?: { attempts?: number; backoffMs?: number };
}

/** The names of one or more entries, from an input field that holds a string or a list of strings. */
export function namesIn(...values: unknown[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    for (const x of Array.isArray(v) ? v : [v]) if (typeof x === 'string' && x !== '' && !out.includes(x)) out.push(x);
  }
  return out;
}

/**
 * A measure a workflow reports. Runs feed it by emitting
 * `emit({ type: 'measure.recorded', measure: name, value, openedAt, dims })` when the measured moment
 * happens (acknowledge, resolve, close); the engine keeps the figures as they come.
 */
export interface KpiDefinition {
  /** camelCase, after the KPI tables in docs/models/: `mtta`, `meanTimeToResolve`, `changeSuccessRate`. */
  name: string;
  label: string;
  unit: 'ms' | 'ratio' | 'count' | 'perDay';
  /**
   * mean of the recorded values (ms, ratio of 0/1 values), their sum (count), count per day of the
   * window, median or p90; or, read from the runs open now rather than from recorded measures, `open`
   * (how many) and `openAge` (their mean age in ms), optionally only those in `states`.
   */
  aggregate: 'mean' | 'count' | 'perDay' | 'median' | 'p90' | 'open' | 'openAge';
  /**
   * Read the figure from another measure's entries and divide by how many of `per.measure` there are,
   * times `scale` (breaches per 100 incidents). `measure` defaults to the KPI's name.
   */
  measure?: string;
  per?: { measure: string; scale: number };
  /** For `open`/`openAge`: count only runs in these top-level states. */
  states?: string[];
  /** Dimensions (`priority`, `service`, `source`, ...) to break the figure down by; open-run KPIs also offer `state` and `age`. */
  breakdown?: string[];
  description?: string;
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

const RUN_REF = Symbol.for('servicechart.runRef');

/**
 * Another run as a `sendTo` target: the engine delivers the event to that run once, through its outbox
 * (typically a child run whose id a `start_run` task returned). A live XState actor sending to it does nothing.
 * @example
 * sendTo(({ context }) => runRef(context.changeRunId), { type: 'CANCEL' })
 */
export function runRef(runId: string): AnyActorRef {
  const ref = { id: `run:${runId}`, sessionId: `run:${runId}`, [RUN_REF]: String(runId), _send() {}, send() {} };
  return ref as unknown as AnyActorRef;
}

/** The run id of a `runRef`, or null for any other value. */
export function runIdOfRef(value: unknown): string | null {
  return value !== null && typeof value === 'object' && typeof (value as Record<symbol, unknown>)[RUN_REF] === 'string' ? (value as Record<symbol, string>)[RUN_REF] : null;
}
