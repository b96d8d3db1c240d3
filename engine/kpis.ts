// Owns service measurement: keeps each workflow's figures as runs record their measures
// (`measure.recorded` history entries) and answers a KPI request from those figures, never by
// reading run histories.
//
// Per workflow, under one hash tag:
//   :e          entry id -> entry (measure, value, openedAt, dims)
//   :t          entries by openedAt (window edges are read entry by entry)
//   :all, :d:N  running count and sum per measure and per `dim=value`, all time and per UTC day N
//   :q:M|D      values of a median/p90 measure M (D = `dim=value` or empty), scored by value
//   :qt:M       the same entries by openedAt, for a window, each member `value\tdims\tid`
//   :r:RUN      the entries of a run; :x runs left out (cancelled)
import type { RedisClient } from './clients.ts';
import type { KpiDefinition } from './definition/define.ts';
import { timeOf } from './definition/time.ts';
import type { Keys } from './keys.ts';
import type { Scripts } from './scripts.ts';

const DAY = 86_400_000;

/** One measured moment of a run, as an outbox op carries it. */
export interface MeasureEntry {
  id: string;
  measure: string;
  value: number;
  openedAt: number;
  dims: Record<string, string>;
  /** A median or p90 KPI reads this measure: keep its values in order too. */
  q?: boolean;
  /**
   * A correction: `value` moves the sum of a measure the run recorded before, and the count stays (a
   * change found to have caused an incident after it closed successful counts as failed).
   */
  correction?: boolean;
}

export interface KpiFigure {
  name: string;
  label: string;
  value: number | null;
  unit: KpiDefinition['unit'];
  count: number;
  description?: string;
  breakdown?: Record<string, { key: string; value: number | null; count: number }[]>;
}

/** A run open now, as open-run KPIs (backlog, age) read it. */
export interface OpenRun {
  openedAt: number;
  states: string[];
  context: Record<string, unknown>;
}

export interface KpiReport {
  workflow: string;
  since: string | null;
  until: string | null;
  kpis: KpiFigure[];
}

/** Turn a step's `measure.recorded` history entries into measure entries; malformed ones are skipped. */
export function measureEntries(runId: string, seq: number, createdAt: number, history: { type: string; [k: string]: unknown }[], quantiles: ReadonlySet<string>): MeasureEntry[] {
  const out: MeasureEntry[] = [];
  history.forEach((h, i) => {
    if (h.type !== 'measure.recorded' || typeof h.measure !== 'string' || !/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(h.measure)) return;
    const value = typeof h.value === 'boolean' ? Number(h.value) : h.value;
    if (typeof value !== 'number' || !Number.isFinite(value)) return;
    out.push({ id: `${runId}:${seq}.${i}`, measure: h.measure, value, openedAt: timeOf(h.openedAt) ?? createdAt, dims: dimsOf(h.dims), q: quantiles.has(h.measure) });
  });
  return out;
}

/** Dimension values as short strings; `|`, `=`, `,` and tabs would break the field and member names, so they become `_`. */
function dimsOf(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!v || typeof v !== 'object') return out;
  for (const [k, raw] of Object.entries(v as Record<string, unknown>)) {
    if (raw === null || raw === undefined || typeof raw === 'object' || !/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(k)) continue;
    out[k] = String(raw).replace(/[|=,\t]/g, '_').slice(0, 200);
  }
  return out;
}

/** A measure entry as the `:e` hash keeps it (kpiRecord writes it, kpiDrop and the window edges read it). */
interface StoredMeasure {
  m: string;
  v: number;
  o: number;
  day: number;
  dims: string[];
  runId: string;
  /** Its member in `:qt:M`, when a median/p90 KPI reads the measure. */
  qm?: string;
  /** 0 for a correction, which moves the sum and not the count; absent means 1. */
  n?: 0;
}

interface Agg {
  n: number;
  s: number;
}

/** Running figures of one scope, read from a `:all` or `:d:N` hash. */
type Sums = Map<string, Agg>;

function addSums(into: Sums, field: string, n: number, s: number): void {
  const a = into.get(field);
  if (a) {
    a.n += n;
    a.s += s;
  } else into.set(field, { n, s });
}

function readHash(into: Sums, hash: Record<string, string>): void {
  for (const [field, raw] of Object.entries(hash)) {
    const kind = field.slice(-1);
    const key = field.slice(0, -2);
    if (kind === 'n') addSums(into, key, Number(raw), 0);
    else if (kind === 's') addSums(into, key, 0, Number(raw));
  }
}

/** What the store works with: the connection, the key names and the KPI scripts. */
interface KpiState {
  redis: RedisClient;
  keys: Keys;
  scripts: Scripts;
}

/** Record a step's entries (one script call); entries recorded before are skipped. Answers how many were new. */
async function record(s: KpiState, workflow: string, runId: string, entries: MeasureEntry[]): Promise<number> {
  if (!entries.length) return 0;
  const args: string[] = [runId];
  for (const e of entries) {
    const dims = Object.entries(e.dims).map(([k, v]) => `${k}=${v}`);
    const day = Math.floor(e.openedAt / DAY);
    const qm = e.q && !e.correction ? quantileMember(e.value, dims, e.id) : '';
    const stored: StoredMeasure = { m: e.measure, v: e.value, o: e.openedAt, day, dims, runId, ...(qm ? { qm } : {}), ...(e.correction ? { n: 0 as const } : {}) };
    const json = JSON.stringify(stored);
    args.push(e.id, e.measure, String(e.value), String(e.openedAt), String(day), qm, json, e.correction ? '0' : '1', String(dims.length), ...dims);
  }
  return s.scripts.kpiRecord(s.keys.kpiBase(workflow), args);
}

/**
 * Correct what a run recorded for a mean or count measure after the fact: `set` the run's value (a
 * change failure found later: 0 → 1) or `add` to it (a score penalty). Once per `key`; the count of
 * runs behind the figure stays. Answers false when the run recorded no such measure (or the key was used).
 */
async function amend(s: KpiState, workflow: string, runId: string, measure: string, change: { set: number } | { add: number }, key: string): Promise<boolean> {
  const b = s.keys.kpiBase(workflow);
  const ids = await s.redis.smembers(`${b}:r:${runId}`);
  if (!ids.length) return false;
  const raws = await s.redis.hmget(`${b}:e`, ...ids);
  const mine = raws.filter((r): r is string => !!r).map((r) => JSON.parse(r) as StoredMeasure).filter((e) => e.m === measure);
  const original = mine.find((e) => e.n !== 0);
  if (!original) return false;
  const current = mine.reduce((sum, e) => sum + e.v, 0);
  const delta = 'set' in change ? change.set - current : change.add;
  if (delta === 0) return false;
  const dims = Object.fromEntries(original.dims.map((d) => d.split('=') as [string, string]));
  const entry: MeasureEntry = { id: `${runId}:fix:${measure}:${key}`, measure, value: delta, openedAt: original.o, dims, correction: true };
  // The script records an id once: a key used before records nothing.
  return (await record(s, workflow, runId, [entry])) > 0;
}

function drop(s: KpiState, workflow: string, runId: string): Promise<number> {
  return s.scripts.kpiDrop(s.keys.kpiBase(workflow), runId);
}

/** Entries whose openedAt is in [from, to), read one by one (window edges, quantiles in a window). */
async function entriesBetween(s: KpiState, zset: string, eHash: string, from: number | null, to: number | null): Promise<StoredMeasure[]> {
  if (from !== null && to !== null && to <= from) return [];
  const out: StoredMeasure[] = [];
  const ids = await s.redis.zrangebyscore(zset, from ?? '-inf', to === null ? '+inf' : `(${to}`);
  for (let i = 0; i < ids.length; i += 1000) {
    const raws = await s.redis.hmget(eHash, ...ids.slice(i, i + 1000));
    for (const raw of raws) if (raw) out.push(JSON.parse(raw) as StoredMeasure);
  }
  return out;
}

/** A quantile of a value-scored set, read by rank without loading the set. */
async function rankQuantile(s: KpiState, zset: string, q: number): Promise<{ value: number | null; count: number }> {
  const count = await s.redis.zcard(zset);
  if (!count) return { value: null, count: 0 };
  const [lo, hi] = quantileRanks(count, q);
  const scores = await s.redis.zrange(zset, String(lo), String(hi), 'WITHSCORES');
  return { value: (Number(scores[1]) + Number(scores[scores.length - 1])) / 2, count };
}

function quantileOf(values: number[], q: number): number | null {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const [lo, hi] = quantileRanks(sorted.length, q);
  return (sorted[lo] + sorted[hi]) / 2;
}

/** What a report reads its figures from: the running sums in the window, and whether the window holds every entry. */
interface WindowSums {
  sums: Sums;
  whole: boolean;
  /** The first entry's openedAt, null when the workflow recorded none. */
  minAt: number | null;
}

/**
 * The running sums of runs opened in [since, until): whole days from the day hashes, the two partial days at
 * the window's edges entry by entry; a window that holds every entry reads the all-time hash.
 */
async function windowSums(s: KpiState, b: string, since: number | null, until: number | null): Promise<WindowSums> {
  const [first, last] = await Promise.all([s.redis.zrange(`${b}:t`, '0', '0', 'WITHSCORES'), s.redis.zrange(`${b}:t`, '-1', '-1', 'WITHSCORES')]);
  const minAt = first.length ? Number(first[1]) : null;
  const maxAt = last.length ? Number(last[1]) : null;
  // A window that holds every entry is the same as no window: use the all-time figures.
  const whole = minAt === null || ((since === null || since <= minAt) && (until === null || until > maxAt!));
  const sums: Sums = new Map();
  if (whole) {
    readHash(sums, await s.redis.hgetall(`${b}:all`));
    return { sums, whole, minAt };
  }
  const from = Math.max(since ?? minAt!, minAt!);
  const to = Math.min(until ?? maxAt! + 1, maxAt! + 1);
  const firstFull = Math.ceil(from / DAY);
  const endFull = Math.floor(to / DAY);
  if (endFull > firstFull) {
    const pipe = s.redis.pipeline();
    for (let d = firstFull; d < endFull; d++) pipe.hgetall(`${b}:d:${d}`);
    for (const [err, hash] of (await pipe.exec()) ?? []) if (!err) readHash(sums, hash as Record<string, string>);
    const edges = [...(await entriesBetween(s, `${b}:t`, `${b}:e`, from, firstFull * DAY)), ...(await entriesBetween(s, `${b}:t`, `${b}:e`, endFull * DAY, to))];
    for (const e of edges) addEntry(sums, e);
  } else {
    for (const e of await entriesBetween(s, `${b}:t`, `${b}:e`, from, to)) addEntry(sums, e);
  }
  return { sums, whole, minAt };
}

/**
 * The values of a median measure in [since, until), per dimension (`''` for all): in a window, a median
 * measure's entries are read once and every breakdown is cut from them.
 */
function windowValuesReader(s: KpiState, b: string, since: number | null, until: number | null): (measure: string) => Promise<Map<string, number[]>> {
  const windowed = new Map<string, Promise<Map<string, number[]>>>();
  return (measure: string) => {
    let p = windowed.get(measure);
    if (!p) {
      p = s.redis.zrangebyscore(`${b}:qt:${measure}`, since ?? '-inf', until === null ? '+inf' : `(${until}`).then((members) => {
        const byDim = new Map<string, number[]>([['', []]]);
        for (const member of members) {
          const e = parseQuantileMember(member);
          for (const dim of ['', ...e.dims]) {
            const list = byDim.get(dim);
            if (list) list.push(e.v);
            else byDim.set(dim, [e.v]);
          }
        }
        return byDim;
      });
      windowed.set(measure, p);
    }
    return p;
  };
}

/** What one report's measured figures are cut from. */
interface ReportScope extends WindowSums {
  s: KpiState;
  b: string;
  /** The days perDay divides by. */
  days: number;
  windowValues: (measure: string) => Promise<Map<string, number[]>>;
}

/** One measured KPI's value and count, over all runs (`dim` empty) or one `dim=value`. */
async function measuredValue(r: ReportScope, k: KpiDefinition, dim: string): Promise<{ value: number | null; count: number }> {
  const measure = k.measure ?? k.name;
  if (k.aggregate === 'median' || k.aggregate === 'p90') {
    const q = k.aggregate === 'median' ? 0.5 : 0.9;
    if (r.whole) return rankQuantile(r.s, `${r.b}:q:${measure}|${dim}`, q);
    const values = (await r.windowValues(measure)).get(dim) ?? [];
    return { value: quantileOf(values, q), count: values.length };
  }
  const a = r.sums.get(`${measure}|${dim}`) ?? { n: 0, s: 0 };
  if (k.per) {
    const of = r.sums.get(`${k.per.measure}|${dim}`) ?? { n: 0, s: 0 };
    return { value: of.n ? (a.s / of.n) * k.per.scale : null, count: of.n };
  }
  if (k.aggregate === 'count') return { value: Math.round(a.s * 1e9) / 1e9, count: a.n };
  if (k.aggregate === 'perDay') return { value: a.n / r.days, count: a.n };
  return { value: a.n ? a.s / a.n : null, count: a.n };
}

/** A measured KPI's figure with its breakdowns. */
async function measuredFigure(r: ReportScope, k: KpiDefinition): Promise<KpiFigure> {
  const total = await measuredValue(r, k, '');
  const figure: KpiFigure = { name: k.name, label: k.label, value: total.value, unit: k.unit, count: total.count };
  if (k.description) figure.description = k.description;
  if (k.breakdown?.length) {
    figure.breakdown = {};
    for (const dimName of k.breakdown) {
      // The sums read for this report name every dimension value a measure has in it, medians' too.
      const values = dimValues(r.sums, k.per?.measure ?? k.measure ?? k.name, dimName);
      const rows = [];
      for (const v of values.sort()) {
        const f = await measuredValue(r, k, `${dimName}=${v}`);
        if (f.count) rows.push({ key: v, value: f.value, count: f.count });
      }
      figure.breakdown[dimName] = rows;
    }
  }
  return figure;
}

/**
 * The figures of `kpis` for runs opened in [since, until). Means and counts come from the running
 * sums (whole days from the day hashes, the two partial days at the window's edges entry by entry);
 * medians from the value-ordered sets.
 */
async function report(
  s: KpiState,
  workflow: string,
  kpis: KpiDefinition[],
  window: { since?: number | null; until?: number | null; now: number },
  openRuns: () => Promise<OpenRun[]> = async () => [],
): Promise<KpiReport> {
  const b = s.keys.kpiBase(workflow);
  const since = window.since ?? null;
  const until = window.until ?? null;
  const sums = await windowSums(s, b, since, until);
  // perDay divides by the window's days: the asked window, else first opening to now.
  const spanFrom = since ?? sums.minAt ?? window.now;
  const spanTo = until ?? window.now;
  const days = Math.max(1, (spanTo - spanFrom) / DAY);
  const scope: ReportScope = { ...sums, s, b, days, windowValues: windowValuesReader(s, b, since, until) };
  let open: Promise<OpenRun[]> | null = null;
  const out: KpiFigure[] = [];
  for (const k of kpis) {
    if (k.aggregate === 'open' || k.aggregate === 'openAge') {
      open ??= openRuns().then((runs) => runs.filter((r) => (since === null || r.openedAt >= since) && (until === null || r.openedAt < until)));
      out.push(openFigure(k, await open, window.now));
    } else {
      out.push(await measuredFigure(scope, k));
    }
  }
  return { workflow, since: since === null ? null : new Date(since).toISOString(), until: until === null ? null : new Date(until).toISOString(), kpis: out };
}

/** Service measurement over Redis: record and correct measures as runs step, answer KPI reports from the sums. */
export function createKpiStore(redis: RedisClient, keys: Keys, scripts: Scripts) {
  const s: KpiState = { redis, keys, scripts };
  return {
    record: (workflow: string, runId: string, entries: MeasureEntry[]) => record(s, workflow, runId, entries),
    drop: (workflow: string, runId: string) => drop(s, workflow, runId),
    report: (workflow: string, kpis: KpiDefinition[], window: { since?: number | null; until?: number | null; now: number }, openRuns?: () => Promise<OpenRun[]>) =>
      report(s, workflow, kpis, window, openRuns),
    amend: (workflow: string, runId: string, measure: string, change: { set: number } | { add: number }, key: string) => amend(s, workflow, runId, measure, change, key),
  };
}

function quantileMember(value: number, dims: string[], id: string): string {
  return `${value}\t${dims.join(',')}\t${id}`;
}

function parseQuantileMember(member: string): { v: number; dims: string[] } {
  const [v, dims] = member.split('\t');
  return { v: Number(v), dims: dims ? dims.split(',') : [] };
}

/**
 * The ranks whose mean is the quantile: the median is the middle value, or the mean of the two middle
 * values of an even count; other quantiles are nearest-rank.
 */
function quantileRanks(count: number, q: number): [number, number] {
  if (q === 0.5 && count % 2 === 0) return [count / 2 - 1, count / 2];
  const rank = Math.max(0, Math.ceil(q * count) - 1);
  return [rank, rank];
}

const AGE_BUCKETS: [string, number][] = [['<1d', DAY], ['1-7d', 7 * DAY], ['7-30d', 30 * DAY], ['>30d', Infinity]];

/** Backlog figures from the runs open now: how many, or their mean age, with breakdowns. */
function openFigure(k: KpiDefinition, all: OpenRun[], now: number): KpiFigure {
  const runs = k.states?.length ? all.filter((r) => r.states.some((s) => k.states!.includes(s))) : all;
  const value = (rs: OpenRun[]) => (k.aggregate === 'open' ? rs.length : rs.length ? rs.reduce((a, r) => a + (now - r.openedAt), 0) / rs.length : null);
  const figure: KpiFigure = { name: k.name, label: k.label, value: value(runs), unit: k.unit, count: runs.length };
  if (k.description) figure.description = k.description;
  if (k.breakdown?.length) {
    figure.breakdown = {};
    for (const dim of k.breakdown) {
      const groups = new Map<string, OpenRun[]>();
      for (const r of runs) {
        let keysOf: string[];
        if (dim === 'state') keysOf = r.states;
        else if (dim === 'age') keysOf = [AGE_BUCKETS.find(([, max]) => now - r.openedAt < max)![0]];
        else {
          const v = r.context[dim] ?? (r.context.source as Record<string, unknown> | undefined)?.[dim === 'source' ? 'tool' : dim];
          keysOf = v === undefined || v === null || typeof v === 'object' ? [] : [String(v)];
        }
        for (const key of keysOf) groups.set(key, [...(groups.get(key) ?? []), r]);
      }
      figure.breakdown[dim] = [...groups.keys()].sort().map((key) => ({ key, value: value(groups.get(key)!), count: groups.get(key)!.length }));
    }
  }
  return figure;
}

function addEntry(sums: Sums, e: StoredMeasure): void {
  const n = e.n ?? 1;
  addSums(sums, `${e.m}|`, n, e.v);
  for (const d of e.dims) addSums(sums, `${e.m}|${d}`, n, e.v);
}

function dimValues(sums: Sums, measure: string, dimName: string): string[] {
  const prefix = `${measure}|${dimName}=`;
  const out: string[] = [];
  for (const [field, a] of sums) if (field.startsWith(prefix) && a.n > 0) out.push(field.slice(prefix.length));
  return out;
}

export type KpiStore = ReturnType<typeof createKpiStore>;

/** The measures that median/p90 KPIs of a workflow read. */
export function quantileMeasures(kpis: KpiDefinition[] | undefined): Set<string> {
  return new Set((kpis ?? []).filter((k) => k.aggregate === 'median' || k.aggregate === 'p90').map((k) => k.measure ?? k.name));
}
