// The demand-planning tasks of the `planning` model (docs/models/planning.md §4.7): capacity forecast, cost
// estimate, the weighted portfolio score, the freeze-aware schedule search, and two pure effects
// (asking assessors, updating the roadmap).
import { defineTask, type TaskDefinition } from '../../engine/index.ts';
import type { AdapterConfig } from '../adapters/index.ts';
import { effectTask } from './effect.ts';

// ---------------------------------------------------------------------------------------------------
// forecast_capacity

/** Added utilisation by demand size when the demand gives no expected load (choice, documented). */
export const LOAD_BY_SIZE: Record<string, number> = { XS: 0.01, S: 0.02, M: 0.05, L: 0.1, XL: 0.2 };

export interface ForecastInput {
  services: string[];
  size?: string;
  /** Current peak utilisation (0..1) per service; a service missing here is read with its query. */
  current?: Record<string, number>;
  /** Added peak utilisation (0..1), one number for every service or one per service. */
  expectedLoad?: number | Record<string, number>;
  headroomThreshold?: number;
  /** PromQL per service, read from `prometheusUrl` (`/api/v1/query`) when `current` has no value. */
  metricQueries?: { service: string; query: string }[];
  prometheusUrl?: string;
}

export type ForecastOutput = {
  perService: { service: string; current: number | null; added: number; peak: number | null }[];
  peakUtilisation: number | null;
  headroom: number | null;
  headroomThreshold: number;
  capacityRisk: boolean;
  /** Services whose current utilisation could not be read: the capacity manager must judge them. */
  unknown: string[];
};

async function promQuery(url: string, query: string, signal: AbortSignal): Promise<number | null> {
  const res = await fetch(`${url.replace(/\/$/, '')}/api/v1/query?query=${encodeURIComponent(query)}`, { signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) });
  if (!res.ok) throw new Error(`Prometheus answered ${res.status}`);
  const body = (await res.json()) as { data?: { result?: { value?: [number, string] }[] } };
  const v = body.data?.result?.[0]?.value?.[1];
  return v === undefined ? null : Number(v);
}

/** Peak utilisation after the demand = current peak + the demand's expected load, per service. */
export async function forecast(input: ForecastInput, signal: AbortSignal): Promise<ForecastOutput> {
  const threshold = input.headroomThreshold ?? 0.8;
  const perService: ForecastOutput['perService'] = [];
  const unknown: string[] = [];
  for (const service of input.services) {
    let current = (input.current && Object.hasOwn(input.current, service) ? input.current[service] : null) ?? null;
    const q = input.metricQueries?.find((m) => m.service === service);
    if (current === null && q && input.prometheusUrl) current = await promQuery(input.prometheusUrl, q.query, signal);
    const added = typeof input.expectedLoad === 'number' ? input.expectedLoad
      : (input.expectedLoad && Object.hasOwn(input.expectedLoad, service) ? input.expectedLoad[service] : undefined) ?? LOAD_BY_SIZE[String(input.size ?? 'M').toUpperCase()] ?? LOAD_BY_SIZE.M;
    if (current === null) unknown.push(service);
    perService.push({ service, current, added, peak: current === null ? null : round(current + added) });
  }
  const peaks = perService.map((p) => p.peak).filter((p): p is number => p !== null);
  const peak = peaks.length ? Math.max(...peaks) : null;
  return {
    perService, peakUtilisation: peak, headroom: peak === null ? null : round(1 - peak), headroomThreshold: threshold,
    capacityRisk: peak !== null && peak > threshold, unknown,
  };
}

function round(n: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export const forecastCapacity = defineTask({
  name: 'forecast_capacity',
  description: "Forecast peak utilisation per service after the demand (current + expected load) against the headroom threshold (default 80 %).",
  input: {
    type: 'object',
    required: ['services'],
    properties: {
      services: { type: 'array', items: { type: 'string' } }, size: { type: 'string' },
      current: { type: 'object', additionalProperties: { type: 'number' } },
      expectedLoad: { anyOf: [{ type: 'number' }, { type: 'object', additionalProperties: { type: 'number' } }] },
      headroomThreshold: { type: 'number', minimum: 0, maximum: 1 },
      metricQueries: { type: 'array', items: { type: 'object', required: ['service', 'query'], properties: { service: { type: 'string' }, query: { type: 'string' } } } },
      prometheusUrl: { type: 'string' },
    },
    additionalProperties: true,
  },
  output: { type: 'object', required: ['perService', 'peakUtilisation', 'capacityRisk'], additionalProperties: true },
  retry: { attempts: 3, backoffMs: 1000 },
  handler: (input, ctx) => forecast(input, ctx.signal),
});

// ---------------------------------------------------------------------------------------------------
// estimate_cost

/** Cost by T-shirt size when the demand carries no estimate (choice, documented; currency-neutral units). */
export const COST_BY_SIZE: Record<string, number> = { XS: 5_000, S: 20_000, M: 80_000, L: 250_000, XL: 800_000 };

export const estimateCost = defineTask({
  name: 'estimate_cost',
  description: 'Estimate the cost (the demand\'s own estimate, else by size) and whether it fits the budget; finance confirms.',
  input: { type: 'object', properties: { size: { type: 'string' }, costEstimate: { type: 'number' }, budget: { type: 'number' } }, additionalProperties: true },
  output: {
    type: 'object', required: ['cost', 'source', 'budget', 'withinBudget'],
    properties: { cost: { type: 'number' }, source: { type: 'string' }, budget: { type: ['number', 'null'] }, withinBudget: { type: ['boolean', 'null'] } },
    additionalProperties: false,
  },
  handler: async (input) => {
    const cost = input.costEstimate ?? COST_BY_SIZE[String(input.size ?? 'M').toUpperCase()] ?? COST_BY_SIZE.M;
    const budget = input.budget ?? null;
    return { cost, source: input.costEstimate !== undefined ? 'demand' : 'size', budget, withinBudget: budget === null ? null : cost <= budget };
  },
});

// ---------------------------------------------------------------------------------------------------
// compute_score

export const DEFAULT_WEIGHTS = { value: 0.35, strategicAlignment: 0.2, risk: 0.15, cost: 0.15, capacity: 0.15 } as const;
export type Criterion = keyof typeof DEFAULT_WEIGHTS;

export interface ScoreInput {
  /** 0..10 per criterion, 10 best (low risk, low cost, ample capacity); a missing one is left out. */
  scores: Partial<Record<Criterion, number | null>>;
  weights?: Partial<Record<Criterion, number>>;
}

export interface ScoreOutput {
  totalScore: number | null;
  breakdown: { criterion: Criterion; score: number; weight: number; contribution: number }[];
  missing: Criterion[];
}

/** Weighted mean over the criteria that have a score, renormalised by their weights (0..10, 2 decimals). */
export function weightedScore(input: ScoreInput): ScoreOutput {
  const weights = { ...DEFAULT_WEIGHTS, ...(input.weights ?? {}) };
  const breakdown: ScoreOutput['breakdown'] = [];
  const missing: Criterion[] = [];
  for (const c of Object.keys(DEFAULT_WEIGHTS) as Criterion[]) {
    const s = input.scores[c];
    if (typeof s !== 'number' || Number.isNaN(s)) {
      missing.push(c);
      continue;
    }
    breakdown.push({ criterion: c, score: Math.min(10, Math.max(0, s)), weight: weights[c], contribution: 0 });
  }
  const totalWeight = breakdown.reduce((a, b) => a + b.weight, 0);
  for (const b of breakdown) b.contribution = totalWeight ? round((b.score * b.weight) / totalWeight, 4) : 0;
  const total = totalWeight ? round(breakdown.reduce((a, b) => a + b.contribution, 0), 2) : null;
  return { totalScore: total, breakdown, missing };
}

export const computeScore = defineTask({
  name: 'compute_score',
  description: 'Weighted portfolio score (value, strategic alignment, risk, cost, capacity; 0..10) over the criteria assessed.',
  input: { type: 'object', required: ['scores'], properties: { scores: { type: 'object' }, weights: { type: 'object', additionalProperties: { type: 'number', minimum: 0 } } }, additionalProperties: true },
  output: {
    type: 'object', required: ['totalScore', 'breakdown', 'missing'],
    properties: { totalScore: { type: ['number', 'null'] }, breakdown: { type: 'array' }, missing: { type: 'array', items: { type: 'string' } } },
    additionalProperties: false,
  },
  handler: async (input) => weightedScore(input),
});

// ---------------------------------------------------------------------------------------------------
// propose_schedule

export interface Span { start: string; end: string }
export interface ScheduleInput {
  releases: { id: string; service: string }[];
  releaseWindows: Span[];
  blackout?: Span[];
  /** Windows already taken by other changes per CI/service (`changeSchedule`): those are skipped for that service. */
  busy?: { ci: string; start: string; end: string }[];
  /** Earliest window start (the plan is made now; a revision may push it later). */
  notBefore: string;
  /** Handoff happens this long before the window (default 14 days). */
  handoffLeadMs?: number;
  targetDate?: string;
  /** Windows a revision asked to avoid (by start). */
  exclude?: string[];
}

export interface ScheduleOutput {
  found: boolean;
  releases: { id: string; service: string; window: Span; handoffAt: string }[];
  targetDateMissed: boolean;
  skipped: { window: Span; reason: 'blackout' | 'busy' | 'too_early' | 'excluded' | 'taken' }[];
  unplaced: string[];
}

const overlaps = (a0: number, a1: number, b0: number, b1: number) => a0 < b1 && b0 < a1;

/**
 * Give each release, in order, the earliest release window that starts after `notBefore` (and after the
 * previous release's window), does not overlap a blackout, is not busy for its service and is not taken,
 * as change conflict detection would (§4.7). A window past `targetDate` is used but flags the miss.
 */
export function proposeSchedule(input: ScheduleInput): ScheduleOutput {
  const ms = (s: string) => Date.parse(s);
  const windows = [...input.releaseWindows].sort((a, b) => ms(a.start) - ms(b.start));
  const blackouts = (input.blackout ?? []).map((b) => [ms(b.start), ms(b.end)] as const);
  const lead = input.handoffLeadMs ?? 14 * 86_400_000;
  const out: ScheduleOutput = { found: true, releases: [], targetDateMissed: false, skipped: [], unplaced: [] };
  const taken = new Set<string>();
  let earliest = ms(input.notBefore);
  for (const r of input.releases) {
    let chosen: Span | null = null;
    for (const w of windows) {
      const [s, e] = [ms(w.start), ms(w.end)];
      const skip = (reason: ScheduleOutput['skipped'][number]['reason']) => {
        if (!out.skipped.some((k) => k.window.start === w.start && k.reason === reason)) out.skipped.push({ window: w, reason });
      };
      if (s < earliest) { skip('too_early'); continue; }
      if (input.exclude?.includes(w.start)) { skip('excluded'); continue; }
      if (taken.has(w.start)) { skip('taken'); continue; }
      if (blackouts.some(([b0, b1]) => overlaps(s, e, b0, b1))) { skip('blackout'); continue; }
      if (input.busy?.some((b) => b.ci === r.service && overlaps(s, e, ms(b.start), ms(b.end)))) { skip('busy'); continue; }
      chosen = w;
      break;
    }
    if (!chosen) {
      out.unplaced.push(r.id);
      continue;
    }
    taken.add(chosen.start);
    earliest = ms(chosen.start);
    const handoff = Math.max(ms(input.notBefore), ms(chosen.start) - lead);
    out.releases.push({ id: r.id, service: r.service, window: chosen, handoffAt: new Date(handoff).toISOString() });
    if (input.targetDate && ms(chosen.end) > ms(input.targetDate)) out.targetDateMissed = true;
  }
  out.found = out.unplaced.length === 0 && out.releases.length > 0;
  return out;
}

const spanSchema = { type: 'object', required: ['start', 'end'], properties: { start: { type: 'string' }, end: { type: 'string' } } } as const;

export const proposeScheduleTask = defineTask({
  name: 'propose_schedule',
  description: 'Place each release in the first free release window after notBefore that avoids blackouts and busy CIs; flags a missed target date.',
  input: {
    type: 'object',
    required: ['releases', 'releaseWindows', 'notBefore'],
    properties: {
      releases: { type: 'array', items: { type: 'object', required: ['id', 'service'], properties: { id: { type: 'string' }, service: { type: 'string' } } } },
      releaseWindows: { type: 'array', items: spanSchema },
      blackout: { type: 'array', items: spanSchema },
      busy: { type: 'array', items: { type: 'object', required: ['ci', 'start', 'end'], properties: { ci: { type: 'string' }, start: { type: 'string' }, end: { type: 'string' } } } }, notBefore: { type: 'string' }, handoffLeadMs: { type: 'integer', minimum: 0 },
      targetDate: { type: 'string' }, exclude: { type: 'array', items: { type: 'string' } },
    },
    additionalProperties: true,
  },
  output: {
    type: 'object', required: ['found', 'releases', 'targetDateMissed', 'skipped', 'unplaced'],
    properties: { found: { type: 'boolean' }, releases: { type: 'array' }, targetDateMissed: { type: 'boolean' }, skipped: { type: 'array' }, unplaced: { type: 'array', items: { type: 'string' } } },
    additionalProperties: false,
  },
  handler: async (input) => proposeSchedule(input),
});

/** The planning tasks, with their adapters (record by default). */
export function planningTasks(adapters: AdapterConfig): TaskDefinition<any, any>[] {
  return [
    forecastCapacity, estimateCost, computeScore, proposeScheduleTask,
    effectTask({ name: 'collect_assessment', description: 'Ask an assessment area\'s owners for their assessment (task or survey in their tool).' }, adapters),
    effectTask({ name: 'update_roadmap', description: 'Publish the demand\'s plan or outcome to the roadmap (Jira Product Discovery, ServiceNow SPM, ...).' }, adapters),
  ];
}
