// Owns the registry as one process holds it in memory (entries, reverse dependsOn edges, the CIs of each
// service) and the walks over its dependency graph: cycles, what depends on a CI, what is related to it,
// and a CI's neighbourhood for a diagram. Pure: cmdb.ts loads and stores.
import type { CiDoc, EntryKind, ServiceDoc } from './definition/cmdb-types.ts';

export interface State {
  version: number;
  services: Map<string, ServiceDoc>;
  cis: Map<string, CiDoc>;
  /** id → the CIs whose dependsOn names it. */
  dependents: Map<string, Set<string>>;
  /** service → the CIs that name it. */
  cisOfService: Map<string, Set<string>>;
  sortedServices?: string[];
  sortedCis?: string[];
}

export function buildState(version: number, services: Map<string, ServiceDoc>, cis: Map<string, CiDoc>): State {
  const dependents = new Map<string, Set<string>>();
  const cisOfService = new Map<string, Set<string>>();
  for (const ci of cis.values()) {
    for (const d of ci.dependsOn ?? []) {
      let s = dependents.get(d);
      if (!s) dependents.set(d, (s = new Set()));
      s.add(ci.id);
    }
    for (const name of ci.services ?? []) {
      let s = cisOfService.get(name);
      if (!s) cisOfService.set(name, (s = new Set()));
      s.add(ci.id);
    }
  }
  return { version, services, cis, dependents, cisOfService };
}

/** A dependsOn cycle in the graph, as the ids along it (first repeated last), or null. Iterative: no stack limit. */
export function findCycle(cis: Map<string, CiDoc>, from: Iterable<string>): string[] | null {
  const colour = new Map<string, 1 | 2>();
  for (const root of from) {
    if (colour.has(root) || !cis.has(root)) continue;
    const stack: { id: string; next: number }[] = [{ id: root, next: 0 }];
    colour.set(root, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const deps = cis.get(top.id)?.dependsOn ?? [];
      if (top.next >= deps.length) {
        colour.set(top.id, 2);
        stack.pop();
        continue;
      }
      const d = deps[top.next++];
      const c = colour.get(d);
      if (c === 1) {
        const at = stack.findIndex((f) => f.id === d);
        return [...stack.slice(at).map((f) => f.id), d];
      }
      if (c === undefined && cis.has(d)) {
        colour.set(d, 1);
        stack.push({ id: d, next: 0 });
      }
    }
  }
  return null;
}

/** The CIs that depend on `id`, directly (depth 1) or through their own dependsOn, by depth; `id` itself is at 0. */
export function dependentsOf(state: State, id: string): Map<string, number> {
  const depth = new Map<string, number>([[id, 0]]);
  let frontier = [id];
  for (let d = 1; frontier.length; d++) {
    const next: string[] = [];
    for (const f of frontier) {
      for (const dep of state.dependents.get(f) ?? []) {
        if (depth.has(dep)) continue;
        depth.set(dep, d);
        next.push(dep);
      }
    }
    frontier = next;
  }
  return depth;
}

/** The services of these CIs, each with the first CI (in the order given) that serves it. */
export function servicesOf(state: State, cis: Iterable<string>): Map<string, { service: ServiceDoc; through: string }> {
  const out = new Map<string, { service: ServiceDoc; through: string }>();
  for (const ci of cis) {
    for (const name of state.cis.get(ci)?.services ?? []) {
      const service = state.services.get(name);
      if (service && !out.has(name)) out.set(name, { service, through: ci });
    }
  }
  return out;
}

/** CIs related to these through dependsOn, either way (what they need and what needs them), these included. */
export function relatedTo(state: State, ids: string[]): string[] {
  const out = new Set<string>();
  for (const start of ids) {
    out.add(start);
    for (const edges of [(c: string) => state.cis.get(c)?.dependsOn ?? [], (c: string) => state.dependents.get(c) ?? []]) {
      const seen = new Set([start]);
      const queue = [start];
      while (queue.length) {
        for (const n of edges(queue.shift()!)) {
          if (seen.has(n)) continue;
          seen.add(n);
          out.add(n);
          queue.push(n);
        }
      }
    }
  }
  return [...out];
}

/** A CI's dependency neighbourhood: CIs (`ci:<id>`) and services (`service:<name>`), `dependsOn` and `serves` edges. */
export interface CiGraph {
  ci: string;
  nodes: { id: string; kind: EntryKind; label: string; detail: string; focus: boolean }[];
  edges: { from: string; to: string; kind: 'dependsOn' | 'serves' }[];
  truncated: boolean;
}

/**
 * A CI's neighbourhood for a diagram: what it depends on and what depends on it, breadth first up to
 * `maxNodes` CIs, with the services of each. `truncated` says nodes were left out.
 */
export function neighbourhood(state: State, id: string, maxNodes: number): CiGraph {
  const nodes = new Map<string, CiGraph['nodes'][number]>();
  const edges: CiGraph['edges'] = [];
  let truncated = false;
  const addCi = (cid: string) => {
    const ci = state.cis.get(cid)!;
    nodes.set(`ci:${cid}`, { id: `ci:${cid}`, kind: 'ci', label: cid, detail: [ci.type, ci.environment].filter(Boolean).join(' · '), focus: cid === id });
  };
  addCi(id);
  const queue = [id];
  const seen = new Set([id]);
  const edgeKeys = new Set<string>();
  while (queue.length) {
    const cur = queue.shift()!;
    const next = [...(state.cis.get(cur)?.dependsOn ?? []).map((d) => [cur, d] as const), ...[...(state.dependents.get(cur) ?? [])].map((d) => [d, cur] as const)];
    for (const [from, to] of next) {
      const other = from === cur ? to : from;
      if (!seen.has(other)) {
        if (seen.size >= maxNodes) {
          truncated = true;
          continue;
        }
        seen.add(other);
        addCi(other);
        queue.push(other);
      }
      if (edgeKeys.has(`${from}>${to}`)) continue;
      edgeKeys.add(`${from}>${to}`);
      edges.push({ from: `ci:${from}`, to: `ci:${to}`, kind: 'dependsOn' });
    }
  }
  for (const cid of seen) {
    for (const name of state.cis.get(cid)?.services ?? []) {
      const svc = state.services.get(name);
      if (!svc) continue;
      if (!nodes.has(`service:${name}`)) nodes.set(`service:${name}`, { id: `service:${name}`, kind: 'service', label: name, detail: `criticality ${svc.criticality}`, focus: false });
      edges.push({ from: `ci:${cid}`, to: `service:${name}`, kind: 'serves' });
    }
  }
  return { ci: id, nodes: [...nodes.values()], edges, truncated };
}
