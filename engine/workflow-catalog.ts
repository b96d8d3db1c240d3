// Owns which workflows an installation has: code workflows registered in this process, and JSON
// workflows stored in Redis (one version per registration) and compiled on first use.
import type { RedisClient } from './clients.ts';
import type { Clock } from './clock.ts';
import { ErrorCode, ServicechartError, notFound, validationError } from './errors.ts';
import { compileJsonWorkflow, type JsonWorkflowInput } from './json-workflow/compile.ts';
import type { Keys } from './keys.ts';
import { checkMachineNames, type Registry, type RegisteredWorkflow } from './registry.ts';
import type { TaskDeclaration, TaskDefinition } from './tasks.ts';
import type { WorkflowDefinition } from './definition/define.ts';

export interface WorkflowSummary {
  name: string;
  version: number;
  description: string;
  builtIn: boolean;
}

export interface WorkflowDetail extends WorkflowSummary {
  definition: unknown;
  inputSchema: unknown;
  versions: number[];
}

/** A JSON workflow as stored, one hash field per version. */
export interface StoredJsonWorkflow {
  schemaVersion: 1;
  name: string;
  version: number;
  description: string;
  definition: unknown;
  inputSchema: Record<string, unknown> | null;
  /** The workflow's task declarations (external tasks and their schemas). */
  tasks?: Record<string, TaskDeclaration>;
  createdAt: number;
  actor: string;
}

export interface WorkflowCatalogDeps {
  redis: RedisClient;
  keys: Keys;
  clock: Clock;
  registry: Registry;
  /** The workflows defined in code at start. */
  workflows: WorkflowDefinition[];
  /** Task types at least one live worker serves now (the task catalog). */
  liveTaskNames(): Promise<Set<string>>;
}

/** The catalog's state: its dependencies, the names code owns, and the JSON workflows being compiled. */
interface CatalogState extends WorkflowCatalogDeps {
  /** Names owned by code (built in or registered in TypeScript); the API cannot replace them. */
  codeWorkflows: Set<string>;
  loading: Map<string, Promise<RegisteredWorkflow | undefined>>;
}

/** A stored JSON workflow, compiled once per process and version (concurrent loads share one compile). */
async function loadJson(s: CatalogState, name: string, version?: number): Promise<RegisteredWorkflow | undefined> {
  const key = s.keys.workflowVersions(name);
  const v = version ?? (await s.redis.hlen(key));
  if (!v) return undefined;
  const cached = s.registry.get(name, v);
  if (cached) return cached;
  const cacheKey = `${name}@${v}`;
  let p = s.loading.get(cacheKey);
  if (!p) {
    p = (async () => {
      const raw = await s.redis.hget(key, String(v));
      if (!raw) return undefined;
      const stored = JSON.parse(raw) as StoredJsonWorkflow;
      const def = compileJsonWorkflow(
        { name: stored.name, version: stored.version, description: stored.description, definition: stored.definition, inputSchema: stored.inputSchema ?? undefined, tasks: stored.tasks ?? undefined },
        // Its task names were checked when it was registered; a task served only by remote workers
        // is not in this process's registry.
        { isTask: () => true },
      );
      return s.registry.get(name, v) ?? s.registry.registerWorkflow(def, { trusted: true });
    })();
    s.loading.set(cacheKey, p);
    void p.finally(() => s.loading.delete(cacheKey));
  }
  return p;
}

async function resolveWorkflow(s: CatalogState, name: string, version?: number): Promise<RegisteredWorkflow | undefined> {
  if (s.codeWorkflows.has(name)) return s.registry.get(name, version);
  return loadJson(s, name, version);
}

async function registerWorkflowChecked(s: CatalogState, def: WorkflowDefinition): Promise<void> {
  const served = await s.liveTaskNames();
  const problems = checkMachineNames(def.machine, (n) => s.registry.isTask(n) || def.tasks?.[n] !== undefined || served.has(n));
  if (problems.length) throw validationError(`workflow ${def.name}@${def.version} uses names that are not registered`, problems);
  s.registry.registerWorkflow(def, { trusted: true });
  s.codeWorkflows.add(def.name);
}

async function registerJsonWorkflow(s: CatalogState, input: Omit<JsonWorkflowInput, 'version'>, actor: string): Promise<{ name: string; version: number }> {
  if (s.codeWorkflows.has(input.name)) {
    throw new ServicechartError(ErrorCode.CONFLICT, `workflow ${input.name} is defined in code and cannot be replaced through the API`);
  }
  const key = s.keys.workflowVersions(input.name);
  for (let attempt = 0; attempt < 20; attempt++) {
    const version = (await s.redis.hlen(key)) + 1;
    // Compiling checks every name; it throws VALIDATION_FAILED with each problem's path.
    // A task name is valid when this process has it, the workflow declares it, or a live worker serves it.
    const served = await s.liveTaskNames();
    compileJsonWorkflow({ ...input, version }, { isTask: (n) => s.registry.isTask(n) || served.has(n) });
    const stored: StoredJsonWorkflow = {
      schemaVersion: 1, name: input.name, version, description: input.description ?? '', definition: input.definition,
      inputSchema: (input.inputSchema as Record<string, unknown> | undefined) ?? null, createdAt: s.clock.now(), actor,
      ...(input.tasks ? { tasks: input.tasks } : {}),
    };
    if (await s.redis.hsetnx(key, String(version), JSON.stringify(stored))) {
      await s.redis.zadd(s.keys.workflowNames(), s.clock.now(), input.name);
      return { name: input.name, version };
    }
  }
  throw new ServicechartError(ErrorCode.CONFLICT, `workflow ${input.name} is being registered concurrently; try again`);
}

async function listWorkflows(s: CatalogState): Promise<WorkflowSummary[]> {
  const out = new Map<string, WorkflowSummary>();
  for (const name of s.codeWorkflows) {
    const w = s.registry.get(name)!;
    out.set(name, { name, version: w.version, description: w.description, builtIn: true });
  }
  for (const name of await s.redis.zrange(s.keys.workflowNames(), '0', '-1')) {
    const w = await loadJson(s, name);
    if (w && !out.has(name)) out.set(name, { name, version: w.version, description: w.description, builtIn: false });
  }
  return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
}

async function getWorkflow(s: CatalogState, name: string, version?: number): Promise<WorkflowDetail> {
  const w = await resolveWorkflow(s, name, version);
  if (!w) throw notFound(`workflow ${name}${version ? ` version ${version}` : ''}`);
  const builtIn = s.codeWorkflows.has(name);
  const versions = builtIn ? s.registry.versions(name) : Array.from({ length: await s.redis.hlen(s.keys.workflowVersions(name)) }, (_, i) => i + 1);
  return {
    name: w.name, version: w.version, description: w.description, builtIn,
    definition: w.definition ?? (w.machine as { config: unknown }).config, inputSchema: w.inputSchema ?? null, versions,
  };
}

export function createWorkflowCatalog(deps: WorkflowCatalogDeps) {
  const s: CatalogState = { ...deps, codeWorkflows: new Set(deps.workflows.map((w) => w.name)), loading: new Map() };
  return {
    resolveWorkflow: (name: string, version?: number) => resolveWorkflow(s, name, version),
    registerWorkflowChecked: (def: WorkflowDefinition) => registerWorkflowChecked(s, def),
    registerJsonWorkflow: (input: Omit<JsonWorkflowInput, 'version'>, actor = 'api') => registerJsonWorkflow(s, input, actor),
    listWorkflows: () => listWorkflows(s),
    getWorkflow: (name: string, version?: number) => getWorkflow(s, name, version),
    registerTask(task: TaskDefinition<any, any>): void {
      s.registry.registerTask(task);
    },
    registerWorkflow(def: WorkflowDefinition): void {
      s.registry.registerWorkflow(def);
      s.codeWorkflows.add(def.name);
    },
  };
}

export type WorkflowCatalog = ReturnType<typeof createWorkflowCatalog>;
