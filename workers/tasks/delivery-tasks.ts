// The release-and-deployment tasks of the `delivery` model (docs/models/delivery.md §3.7): artifact checks,
// idempotent deploy steps, traffic shifting, health and smoke checks, and the deployment record.
//
// Test hooks: `health_check`, `run_smoke_tests` and `deploy_step` read an optional `simulate` object
// from their input (the delivery run passes its input's `simulate` through), so a test or a dry run can
// make a check fail, report "cannot evaluate", or make a step hang, without a real target:
//   simulate.health: [{ env?, phase?, minWeight?, wave?, result: 'fail' | 'unknown' | 'pass' }]
//     the first rule whose fields all match decides the check instead of the metrics;
//   simulate.smokeFailEnvs: ['staging']     smoke tests fail in these environments;
//   simulate.deployHang: [{ env?, weight?, wave? }]   the step never reports (until withdrawn).
import { defineTask, NonRetryableTaskError, type TaskDefinition } from '../../engine/index.ts';
import type { FromSchema } from 'json-schema-to-ts';
import { deliver, type AdapterConfig } from '../adapters/index.ts';
import { effectTask } from './effect.ts';

interface HealthRule { env?: string; phase?: string; minWeight?: number; wave?: number; result: 'fail' | 'unknown' | 'pass' }
interface Simulate {
  health?: HealthRule[];
  smokeFailEnvs?: string[];
  deployHang?: { env?: string; weight?: number; wave?: number }[];
}

/** A health check: a metric compared with thresholds, or an HTTP probe whose latency is the value. */
export interface HealthCheckSpec {
  name: string;
  /** PromQL or a description; the value arrives as `observed` (here or in the input's `observed` map). */
  query?: string;
  /** HTTP probe: healthy when it answers < 400 within `max` ms (when `max` is set). */
  url?: string;
  min?: number;
  max?: number;
  observed?: number;
}

export interface HealthCheckInput {
  env: string;
  phase: string;
  weight?: number;
  wave?: number;
  version?: string;
  checks?: HealthCheckSpec[];
  observed?: Record<string, number>;
  simulate?: Simulate;
}

export interface HealthCheckResult {
  name: string;
  value: number | null;
  min?: number;
  max?: number;
  ok: boolean | null;
}

export interface HealthCheckOutput {
  /** Every check evaluated and inside its thresholds. */
  healthy: boolean;
  /** False when some check had no value to judge: the rollout pauses rather than guess (§3.8). */
  evaluated: boolean;
  results: HealthCheckResult[];
}

/** The test hooks (see the head of this file). */
const simulateSchema = {
  type: 'object',
  properties: {
    health: {
      type: 'array',
      items: {
        type: 'object', required: ['result'],
        properties: { env: { type: 'string' }, phase: { type: 'string' }, minWeight: { type: 'number' }, wave: { type: 'integer' }, result: { enum: ['fail', 'unknown', 'pass'] } },
      },
    },
    smokeFailEnvs: { type: 'array', items: { type: 'string' } },
    deployHang: { type: 'array', items: { type: 'object', properties: { env: { type: 'string' }, weight: { type: 'number' }, wave: { type: 'integer' } } } },
  },
  additionalProperties: true,
} as const;

function matches(rule: { env?: string; phase?: string; minWeight?: number; wave?: number; weight?: number }, i: { env: string; phase?: string; weight?: number; wave?: number }): boolean {
  if (rule.env !== undefined && rule.env !== i.env) return false;
  if (rule.phase !== undefined && rule.phase !== i.phase) return false;
  if (rule.minWeight !== undefined && (i.weight ?? 0) < rule.minWeight) return false;
  if (rule.weight !== undefined && i.weight !== rule.weight) return false;
  if (rule.wave !== undefined && rule.wave !== i.wave) return false;
  return true;
}

async function probe(url: string, signal: AbortSignal): Promise<number | null> {
  const started = performance.now();
  try {
    const res = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(5000)]) });
    await res.arrayBuffer().catch(() => undefined);
    return res.status < 400 ? Math.round(performance.now() - started) : Number.POSITIVE_INFINITY;
  } catch {
    // An unreachable target is an unhealthy one, not an unknown one.
    return Number.POSITIVE_INFINITY;
  }
}

/** Judge every check against its thresholds (Flagger-style: success rate >= min, latency <= max). */
export async function evaluateHealth(input: HealthCheckInput, signal: AbortSignal): Promise<HealthCheckOutput> {
  const rule = input.simulate?.health?.find((r) => matches(r, input));
  if (rule && rule.result !== 'pass') {
    return { healthy: false, evaluated: rule.result === 'fail', results: [{ name: 'simulated', value: null, ok: rule.result === 'fail' ? false : null }] };
  }
  if (rule) return { healthy: true, evaluated: true, results: [{ name: 'simulated', value: null, ok: true }] };
  const results: HealthCheckResult[] = [];
  for (const c of input.checks ?? []) {
    let value: number | null = c.observed ?? (input.observed && Object.hasOwn(input.observed, c.name) ? input.observed[c.name] : null) ?? null;
    if (value === null && c.url) value = await probe(c.url, signal);
    const ok = value === null ? null : (c.min === undefined || value >= c.min) && (c.max === undefined || value <= c.max);
    results.push({ name: c.name, value: value === Number.POSITIVE_INFINITY ? null : value, min: c.min, max: c.max, ok: value === Number.POSITIVE_INFINITY ? false : ok });
  }
  const evaluated = results.every((r) => r.ok !== null);
  return { healthy: evaluated && results.every((r) => r.ok === true), evaluated, results };
}

export const healthCheck = defineTask({
  name: 'health_check',
  description: 'Evaluate health checks (observed metric values or HTTP probes) against their thresholds; `evaluated: false` when a value is missing.',
  input: {
    type: 'object',
    required: ['env', 'phase'],
    properties: {
      env: { type: 'string' }, phase: { type: 'string' }, weight: { type: 'number' }, wave: { type: 'integer' }, version: { type: 'string' },
      checks: { type: 'array', items: { type: 'object', required: ['name'], properties: { name: { type: 'string' } }, additionalProperties: true } },
      observed: { type: 'object', additionalProperties: { type: 'number' } },
      simulate: simulateSchema,
    },
    additionalProperties: true,
  },
  output: { type: 'object', required: ['healthy', 'evaluated', 'results'], properties: { healthy: { type: 'boolean' }, evaluated: { type: 'boolean' }, results: { type: 'array' } }, additionalProperties: false },
  retry: { attempts: 3, backoffMs: 200 },
  timeoutMs: 30_000,
  handler: (input, ctx) => evaluateHealth(input, ctx.signal),
});

interface SmokeInput { env: string; version?: string; tests?: { name: string; url: string }[]; simulate?: Simulate }

export const runSmokeTests = defineTask({
  name: 'run_smoke_tests',
  description: 'Run smoke tests (HTTP GETs that must answer < 400) against an environment; `passed: false` lists the failures.',
  input: {
    type: 'object',
    required: ['env'],
    properties: {
      env: { type: 'string' }, version: { type: 'string' },
      tests: { type: 'array', items: { type: 'object', required: ['name', 'url'], properties: { name: { type: 'string' }, url: { type: 'string' } } } },
      simulate: simulateSchema,
    },
    additionalProperties: true,
  },
  output: { type: 'object', required: ['passed', 'failed', 'ran'], properties: { passed: { type: 'boolean' }, failed: { type: 'array', items: { type: 'string' } }, ran: { type: 'integer' } }, additionalProperties: false },
  retry: { attempts: 2, backoffMs: 500 },
  timeoutMs: 60_000,
  handler: async (input, ctx) => {
    if (input.simulate?.smokeFailEnvs?.includes(input.env)) return { passed: false, failed: ['simulated'], ran: 1 };
    const failed: string[] = [];
    for (const t of input.tests ?? []) {
      if ((await probe(t.url, ctx.signal)) === Number.POSITIVE_INFINITY) failed.push(t.name);
    }
    return { passed: failed.length === 0, failed, ran: input.tests?.length ?? 0 };
  },
});

interface Artifact { name: string; digest: string; signature?: string }

export const verifyArtifacts = defineTask({
  name: 'verify_artifacts',
  description: 'Check every release artifact names a sha256 digest (and a signature when required); a bad artifact fails at once (ARTIFACT_INVALID).',
  input: {
    type: 'object',
    properties: { artifacts: { type: 'array', items: { type: 'object' } }, requireSignatures: { type: 'boolean' } },
    additionalProperties: true,
  },
  // The run id comes back so the release can name itself in the incidents and changes it raises.
  output: { type: 'object', required: ['verified', 'runId'], properties: { verified: { type: 'integer' }, runId: { type: 'string' } }, additionalProperties: false },
  retry: { attempts: 3, backoffMs: 500 },
  handler: async (input, ctx) => {
    const bad: string[] = [];
    for (const a of input.artifacts ?? []) {
      if (typeof a.name !== 'string' || !a.name) bad.push('(unnamed)');
      else if (typeof a.digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(a.digest)) bad.push(`${a.name}: digest`);
      else if (input.requireSignatures && !a.signature) bad.push(`${a.name}: signature`);
    }
    // Retrying cannot fix a wrong digest: fail the invocation now.
    if (bad.length) throw new NonRetryableTaskError(`invalid artifacts: ${bad.join(', ')}`, { code: 'ARTIFACT_INVALID' });
    return { verified: input.artifacts?.length ?? 0, runId: ctx.runId };
  },
});

const deployStepInput = {
  type: 'object',
  required: ['env', 'version'],
  properties: {
    env: { type: 'string' }, version: { type: 'string' }, weight: { type: 'number' }, wave: { type: 'integer' },
    /** What the run knows is running in `env` now; deploying that again is a no-op. */
    current: { anyOf: [{ type: 'null' }, { type: 'object', required: ['version'], properties: { version: { type: 'string' }, wave: { type: ['integer', 'null'] } } }] },
    simulate: simulateSchema,
  },
  additionalProperties: true,
} as const;
const deployStepOutput = {
  type: 'object', required: ['env', 'version', 'weight', 'wave', 'noop'],
  properties: { env: { type: 'string' }, version: { type: 'string' }, weight: { type: ['number', 'null'] }, wave: { type: ['integer', 'null'] }, noop: { type: 'boolean' } },
  additionalProperties: true,
} as const;
export type DeployStepInput = FromSchema<typeof deployStepInput>;
export type DeployStepOutput = FromSchema<typeof deployStepOutput>;

export function deployStepTask(adapters: AdapterConfig) {
  return defineTask({
    name: 'deploy_step',
    description: 'Deploy a version to an environment (optionally a wave); deploying the version already running there is a no-op success.',
    input: deployStepInput,
    output: deployStepOutput,
    retry: { attempts: 5, backoffMs: 500 },
    timeoutMs: 15 * 60_000,
    handler: async (input, ctx) => {
      const out = { env: input.env, version: input.version, weight: input.weight ?? null, wave: input.wave ?? null };
      if (input.simulate?.deployHang?.some((r) => matches(r, input))) {
        // A step that never reports: the run's progress deadline decides, and withdrawing aborts us.
        await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }));
      }
      if (input.current && input.current.version === input.version && (input.wave === undefined || input.current.wave === input.wave)) {
        return { ...out, noop: true };
      }
      // The idempotency key goes to the target: a retried attempt lands on the same deployment.
      const delivery = await deliver(adapters.deploy_step, 'deploy_step', { ...out }, ctx);
      return { ...delivery, ...out, noop: false };
    },
  });
}

/** The delivery tasks, with their adapters (record by default). */
export function deliveryTasks(adapters: AdapterConfig): TaskDefinition<any, any>[] {
  return [
    verifyArtifacts, healthCheck, runSmokeTests, deployStepTask(adapters),
    effectTask({ name: 'set_traffic_weight', description: 'Route `weight` % of production traffic to the canary (service mesh or load balancer).' }, adapters),
    effectTask({
      name: 'record_deployment',
      description: 'Store a deployment start or end with its commit times, deploy time and outcome: the facts DORA metrics need.',
    }, adapters),
  ];
}
