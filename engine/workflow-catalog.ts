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

export function createWorkflowCatalog(deps: WorkflowCatalogDeps) {
  const { redis, keys, clock, registry } = deps;
  // Names owned by code (built in or registered in TypeScript); the API cannot replace them.
  const codeWorkflows = new Set(deps.workflows.map((w) => w.name));
  const loading = new Map<string, Promise<RegisteredWorkflow | undefined>>();

  /** A stored JSON workflow, compiled once per process and version (concurrent loads share one compile). */
  async function loadJson(name: string, version?: number): Promise<RegisteredWorkflow | undefined> {
    const key = keys.workflowVersions(name);
    const v = version ?? (await redis.hlen(key));
    if (!v) return undefined;
    const cached = registry.get(name, v);
    if (cached) return cached;
    const cacheKey = `${name}@${v}`;
    let p = loading.get(cacheKey);
    if (!p) {
      p = (async () => {
        const raw = await redis.hget(key, String(v));
        if (!raw) return undefined;
        const stored = JSON.parse(raw) as StoredJsonWorkflow;
        const def = compileJsonWorkflow(
          { name: stored.name, version: stored.version, description: stored.description, definition: stored.definition, inputSchema: stored.inputSchema ?? undefined, tasks: stored.tasks ?? undefined },
          // Its task names were checked when it was registered; a task served only by remote workers
          // is not in this process's registry.
          { isTask: () => true },
        );
        return registry.get(name, v) ?? registry.registerWorkflow(def, { trusted: true });
      })();
      loading.set(cacheKey, p);
      void p.finally(() => loading.delete(cacheKey));
    }
    return p;
  }

  async function resolveWorkflow(name: string, version?: number): Promise<RegisteredWorkflow | undefined> {
    if (codeWorkflows.has(name)) return registry.get(name, version);
    return loadJson(name, version);
  }

  async function registerWorkflowChecked(def: WorkflowDefinition): Promise<void> {
    const served = await deps.liveTaskNames();
    const problems = checkMachineNames(def.machine, (n) => registry.isTask(n) || def.tasks?.[n] !== undefined || served.has(n));
    if (problems.length) throw validationError(`workflow ${def.name}@${def.version} uses names that are not registered`, problems);
    registry.registerWorkflow(def, { trusted: true });
    codeWorkflows.add(def.name);
  }

  async function registerJsonWorkflow(input: Omit<JsonWorkflowInput, 'version'>, actor = 'api'): Promise<{ name: string; version: number }> {
    if (codeWorkflows.has(input.name)) {
      throw new ServicechartError(ErrorCode.CONFLICT, `workflow ${input.name} is defined in code and cannot be replaced through the API`);
    }
    const key = keys.workflowVersions(input.name);
    for (let attempt = 0; attempt < 20; attempt++) {
      const version = (await redis.hlen(key)) + 1;
      // Compiling checks every name; it throws VALIDATION_FAILED with each problem's path.
      // A task name is valid when this process has it, the workflow declares it, or a live worker serves it.
      const served = await deps.liveTaskNames();
      compileJsonWorkflow({ ...input, version }, { isTask: (n) => registry.isTask(n) || served.has(n) });
      const stored: StoredJsonWorkflow = {
        schemaVersion: 1, name: input.name, version, description: input.description ?? '', definition: input.definition,
        inputSchema: (input.inputSchema as Record<string, unknown> | undefined) ?? null, createdAt: clock.now(), actor,
        ...(input.tasks ? { tasks: input.tasks } : {}),
      };
      if (await redis.hsetnx(key, String(version), JSON.stringify(stored))) {
        await redis.zadd(keys.workflowNames(), clock.now(), input.name);
        return { name: input.name, version };
      }
    }
    throw new ServicechartError(ErrorCode.CONFLICT, `workflow ${input.name} is being registered concurrently; try again`);
  }

  async function listWorkflows(): Promise<WorkflowSummary[]> {
    const out = new Map<string, WorkflowSummary>();
    for (const name of codeWorkflows) {
      const w = registry.get(name)!;
      out.set(name, { name, version: w.version, description: w.description, builtIn: true });
    }
    for (const name of await redis.zrange(keys.workflowNames(), '0', '-1')) {
      const w = await loadJson(name);
      if (w && !out.has(name)) out.set(name, { name, version: w.version, description: w.description, builtIn: false });
    }
    return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  async function getWorkflow(name: string, version?: number): Promise<WorkflowDetail> {
    const w = await resolveWorkflow(name, version);
    if (!w) throw notFound(`workflow ${name}${version ? ` version ${version}` : ''}`);
    const builtIn = codeWorkflows.has(name);
    const versions = builtIn ? registry.versions(name) : Array.from({ length: await redis.hlen(keys.workflowVersions(name)) }, (_, i) => i + 1);
    return {
      name: w.name, version: w.version, description: w.description, builtIn,
      definition: w.definition ?? (w.machine as { config: unknown }).config, inputSchema: w.inputSchema ?? null, versions,
    };
  }

  return {
    resolveWorkflow, registerWorkflowChecked, registerJsonWorkflow, listWorkflows, getWorkflow,
    registerTask(task: TaskDefinition<any, any>): void {
      registry.registerTask(task);
    },
    registerWorkflow(def: WorkflowDefinition): void {
      registry.registerWorkflow(def);
      codeWorkflows.add(def.name);
    },
  };
}

export type WorkflowCatalog = ReturnType<typeof createWorkflowCatalog>;
