// What a KPI request costs as ended runs pile up: the incident report at 10,000 and 100,000 runs, for
// all time and for 30-day and 1-day windows, beside a baseline measured in the same run: reading every
// recorded measure once (the least any approach that aggregates per request would read).
import { Redis } from 'ioredis';
import { createKeys } from '../engine/keys.ts';
import { createScripts } from '../engine/scripts.ts';
import { createKpiStore, measureEntries, quantileMeasures } from '../engine/kpis.ts';
import { incidentKpis } from '../workflows/incident.ts';

const DAY = 86_400_000;
const MIN = 60_000;

export interface KpiBenchRow {
  runs: number;
  entries: number;
  kpis: number;
  allMs: number;
  window30Ms: number;
  window1Ms: number;
  scanAllMs: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timed(fn: () => Promise<unknown>, times: number): Promise<number> {
  const out: number[] = [];
  for (let i = 0; i < times; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return median(out);
}

/** The measures an ended incident run records, in the shape the model emits them. */
function runMeasures(i: number, openedAt: number) {
  const dims = { priority: 1 + (i % 4), service: `svc-${i % 20}`, source: ['api', 'alertmanager', 'pagerduty'][i % 3] };
  const mtta = (1 + (i % 60)) * MIN;
  const ttr = (30 + ((i * 7) % 600)) * MIN;
  const m = (measure: string, value: number) => ({ type: 'measure.recorded', measure, value, openedAt, dims });
  return [
    m('mtta', mtta), m('meanTimeToResolve', ttr), m('meanTimeToResolveSla', ttr),
    m('slaComplianceResponse', i % 10 ? 1 : 0), m('slaComplianceResolution', i % 7 ? 1 : 0), m('reopenRate', i % 25 ? 0 : 1),
  ];
}

export async function kpiBench(url: string, sizes = [10_000, 100_000]): Promise<KpiBenchRow[]> {
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  const keys = createKeys('kbench');
  const store = createKpiStore(redis, keys, createScripts(redis));
  const quantiles = quantileMeasures(incidentKpis);
  const now = Date.now();
  const spanDays = 90;
  const rows: KpiBenchRow[] = [];
  let filled = 0;
  let entries = 0;
  for (const size of sizes) {
    // Runs opened evenly over the last 90 days; recorded 500 at a time.
    for (; filled < size; ) {
      const batch: Promise<unknown>[] = [];
      for (let j = 0; j < 500 && filled < size; j++, filled++) {
        const openedAt = now - spanDays * DAY + Math.floor((filled * 7919) % (spanDays * DAY / MIN)) * MIN;
        const list = measureEntries(`run-${filled}`, 3, openedAt, runMeasures(filled, openedAt), quantiles);
        entries += list.length;
        batch.push(store.record('incident', `run-${filled}`, list));
      }
      await Promise.all(batch);
    }
    const report = (since: number | null) => store.report('incident', incidentKpis, { since, until: null, now });
    const allMs = await timed(() => report(null), 15);
    const window30Ms = await timed(() => report(now - 30 * DAY - 3_600_000), 15);
    const window1Ms = await timed(() => report(now - DAY), 15);
    const scanAllMs = await timed(() => redis.hgetall(`${keys.kpiBase('incident')}:e`), 3);
    rows.push({ runs: size, entries, kpis: incidentKpis.length, allMs, window30Ms, window1Ms, scanAllMs });
  }
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', 'kbench:*', 'COUNT', 1000);
    cursor = next;
    if (found.length) await redis.unlink(...found);
  } while (cursor !== '0');
  await redis.quit();
  return rows;
}
