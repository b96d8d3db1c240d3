// What the service and CI registry costs at 1,000 services and 10,000 CIs: an import of all of it (as
// the API receives it: JSON Lines parsed, checked, validated, written in one script), an unchanged
// re-import, and `impact` for a CI at the bottom of the dependency graph and for a typical one.
import { Redis } from 'ioredis';
import { createEngine } from '../engine/index.ts';
import { parseImport } from '../api/routes/registry.ts';

export interface RegistryBenchRow {
  services: number;
  cis: number;
  bytes: number;
  importMs: number;
  reimportMs: number;
  impactDeepMs: number;
  impactDeepDependents: number;
  impactDeepServices: number;
  impactTypicalMs: number;
  redisBytes: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * A layered estate: CIs in 8 layers (storage at the bottom, load balancers at the top), each depending
 * on 1–3 CIs of the layer below, each serving 1–2 services.
 */
export function estate(services: number, cis: number): string {
  const lines: string[] = [];
  for (let s = 0; s < services; s++) {
    lines.push(JSON.stringify({
      kind: 'service', name: `svc-${s}`, title: `Service ${s}`, criticality: 1 + (s % 4), ownerGroup: `owners-${s % 50}`, supportGroup: `support-${s % 80}`,
      approvers: { changeManager: ['carla'], cab: [`cab-${s % 7}`, `cab-${(s + 1) % 7}`], serviceOwner: [`owner-${s}`], incidentManager: ['ian'] },
      oncall: { policy: `PD-${s}`, levels: [`primary-${s % 30}`, `secondary-${s % 30}`] },
      windows: { maintenance: [{ start: '2027-01-03T02:00:00Z', end: '2027-01-03T06:00:00Z' }] },
      labels: { tier: ['gold', 'silver', 'bronze'][s % 3] },
    }));
  }
  const layers = 8;
  const perLayer = Math.ceil(cis / layers);
  const types = ['storage', 'database', 'cache', 'queue', 'application', 'application', 'server', 'load_balancer'];
  for (let i = 0; i < cis; i++) {
    const layer = Math.floor(i / perLayer);
    const below = layer === 0 ? [] : [0, 1, 2].slice(0, 1 + (i % 3)).map((k) => `ci-${(layer - 1) * perLayer + ((i * 7 + k * 131) % perLayer)}`);
    lines.push(JSON.stringify({
      kind: 'ci', id: `ci-${i}`, type: types[layer], title: `CI ${i}`, services: [`svc-${i % services}`, ...(i % 2 ? [`svc-${(i * 3) % services}`] : [])].filter((v, k, a) => a.indexOf(v) === k),
      environment: i % 5 ? 'production' : 'staging', owner: `team-${i % 40}`, dependsOn: [...new Set(below)], attributes: { rack: `r${i % 100}` },
    }));
  }
  return lines.join('\n');
}

export async function registryBench(url: string, services = 1000, cis = 10_000): Promise<RegistryBenchRow> {
  const redis = new Redis(url, { maxRetriesPerRequest: 3 });
  const prefix = 'bench-reg';
  const engine = createEngine({ redis, prefix });
  const text = estate(services, cis);
  const body = Buffer.from(text);
  const before = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
  let t0 = performance.now();
  const res = await engine.cmdb.importItems(parseImport(body), 'bench');
  const importMs = performance.now() - t0;
  if (res.created !== services + cis) throw new Error(`imported ${res.created} of ${services + cis}`);
  const redisBytes = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]) - before;
  t0 = performance.now();
  await engine.cmdb.importItems(parseImport(body), 'bench');
  const reimportMs = performance.now() - t0;
  // Warm the process's copy once (another process would, after the import), then time.
  const deep = await engine.cmdb.impact('ci-0');
  const deepTimes: number[] = [];
  for (let i = 0; i < 20; i++) {
    t0 = performance.now();
    await engine.cmdb.impact('ci-0');
    deepTimes.push(performance.now() - t0);
  }
  const typical: number[] = [];
  for (let i = 0; i < 50; i++) {
    const id = `ci-${(i * 997) % cis}`;
    t0 = performance.now();
    await engine.cmdb.impact(id);
    typical.push(performance.now() - t0);
  }
  for (const key of await redis.keys(`{${prefix}-reg}*`)) await redis.unlink(key);
  await engine.close();
  await redis.quit();
  return {
    services, cis, bytes: body.length, importMs, reimportMs, impactDeepMs: median(deepTimes), impactDeepDependents: deep.dependents.length,
    impactDeepServices: deep.services.length, impactTypicalMs: median(typical), redisBytes,
  };
}
