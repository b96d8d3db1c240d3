// Draws a workflow's statechart, as Mermaid text or as a laid-out SVG, with a run's current states marked.
import ELK from 'elkjs/lib/elk.bundled.js';
import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api.js';
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { FONT_SIZE, cleanText, edgePath, escapeXml, num, rectAttrs, svgDocument, textWidth, type Box } from './svg.ts';

type StateKind = 'atomic' | 'compound' | 'parallel' | 'final' | 'history';

interface ChartState {
  /** The XState `_nodes` path joined by '.', as history entries name states; '' for the machine root. */
  path: string;
  key: string;
  kind: StateKind;
  deepHistory: boolean;
  parent: ChartState | undefined;
  children: ChartState[];
  initial: ChartState | undefined;
}

interface ChartEdge {
  source: ChartState;
  target: ChartState;
  label: string;
}

interface Chart {
  id: string;
  root: ChartState;
  edges: ChartEdge[];
}

// ---------------------------------------------------------------------------------------------------------------
// The machine as a plain tree of states and labelled edges, shared by both renderers.

function describe(machine: AnyStateMachine): Chart {
  const byNode = new Map<AnyStateNode, ChartState>();
  const build = (node: AnyStateNode, parent: ChartState | undefined): ChartState => {
    const state: ChartState = {
      path: node.path.join('.'),
      key: parent ? node.key : machine.id,
      kind: node.type,
      deepHistory: node.history === 'deep',
      parent,
      children: [],
      initial: undefined,
    };
    byNode.set(node, state);
    for (const child of Object.values(node.states) as AnyStateNode[]) state.children.push(build(child, state));
    return state;
  };
  const root = build(machine.root, undefined);

  const edges: ChartEdge[] = [];
  for (const [node, source] of byNode) {
    const initialTarget: AnyStateNode | undefined = node.type === 'compound' ? node.initial?.target[0] : undefined;
    source.initial = initialTarget ? byNode.get(initialTarget) : undefined;
    // A history node's default transition is a fallback of the history mechanism, not a transition a run takes.
    if (node.type === 'history') continue;
    const add = (def: { target?: readonly AnyStateNode[]; guard?: unknown }, event: string): void => {
      const guard = guardName(def.guard);
      const label = guard ? `${event} [${guard}]` : event;
      // A targetless transition runs actions without changing state, so it has no edge to draw.
      for (const targetNode of def.target ?? []) {
        const target = byNode.get(targetNode);
        if (target) edges.push({ source, target, label });
      }
    };
    for (const [eventType, defs] of node.transitions) {
      for (const def of defs) add(def, eventLabel(node, eventType));
    }
    for (const def of node.always ?? []) add(def, 'always');
  }
  return { id: machine.id, root, edges };
}

function eventLabel(node: AnyStateNode, eventType: string): string {
  if (eventType.startsWith('xstate.after.')) {
    const delayed = node.after.find((def) => def.eventType === eventType);
    const delay = delayed ? delayed.delay : eventType.slice('xstate.after.'.length).split('.')[0];
    return typeof delay === 'number' ? `after ${delay}ms` : `after ${String(delay)}`;
  }
  if (eventType.startsWith('xstate.done.actor.')) return `done: ${eventType.slice('xstate.done.actor.'.length)}`;
  if (eventType.startsWith('xstate.error.actor.')) return `error: ${eventType.slice('xstate.error.actor.'.length)}`;
  if (eventType.startsWith('xstate.done.state.')) return 'done';
  return eventType;
}

/** `'isVip'`, `{ type: 'isVip' }` and `and(['a', not('b')])` name themselves; an inline function does not. */
function guardName(guard: unknown): string | undefined {
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    const parts = (guard as { guards?: unknown }).guards;
    if (!Array.isArray(parts)) return undefined;
    return `${guard.name}(${parts.map((part) => guardName(part) ?? 'inline').join(', ')})`;
  }
  if (guard && typeof guard === 'object' && typeof (guard as { type?: unknown }).type === 'string') {
    return (guard as { type: string }).type;
  }
  return undefined;
}

function walk(state: ChartState, visit: (state: ChartState) => void): void {
  visit(state);
  for (const child of state.children) walk(child, visit);
}

// ---------------------------------------------------------------------------------------------------------------
// Mermaid

/**
 * The statechart as a Mermaid `stateDiagram-v2`; `active` holds dotted state paths (`open.work.new`) to highlight.
 *
 * @example
 * toMermaid(incident, ['open', 'open.work', 'open.work.new'])
 * // stateDiagram-v2\n  [*] --> open\n  state "open" as open{ …
 */
export function toMermaid(machine: AnyStateMachine, active: string[] = []): string {
  const chart = describe(machine);
  const rootIsDrawn = chart.edges.some((edge) => edge.source === chart.root);
  const ids = mermaidIds(chart.root);
  const activeSet = new Set(active);
  const lines = ['stateDiagram-v2'];

  // Mermaid cannot draw an edge across composite boundaries from inside a block, so each edge is written in the
  // block of the closest common ancestor that is a plain composite, after the states it refers to exist.
  const edgesByScope = new Map<ChartState | undefined, ChartEdge[]>();
  for (const edge of chart.edges) {
    const scope = edgeScope(edge, rootIsDrawn ? undefined : chart.root);
    edgesByScope.set(scope, [...(edgesByScope.get(scope) ?? []), edge]);
  }
  const writeEdges = (scope: ChartState | undefined, indent: string): void => {
    for (const edge of edgesByScope.get(scope) ?? []) {
      lines.push(`${indent}${ids.get(edge.source)} --> ${ids.get(edge.target)} : ${mermaidText(edge.label)}`);
    }
  };
  const writeState = (state: ChartState, indent: string): void => {
    const id = ids.get(state) as string;
    const label = state.kind === 'history' ? `${state.key} (H${state.deepHistory ? '*' : ''})` : state.key;
    if (state.children.length === 0) {
      lines.push(`${indent}state "${mermaidText(label)}" as ${id}`);
    } else {
      // No space before '{': Mermaid keeps everything between `as` and `{` as the id, trailing blanks included.
      lines.push(`${indent}state "${mermaidText(label)}" as ${id}{`);
      writeBody(state, `${indent}  `);
      lines.push(`${indent}}`);
    }
  };
  const writeBody = (state: ChartState, indent: string): void => {
    if (state.initial) lines.push(`${indent}[*] --> ${ids.get(state.initial)}`);
    state.children.forEach((child, i) => {
      if (state.kind === 'parallel' && i > 0 && (state !== chart.root || rootIsDrawn)) lines.push(`${indent}--`);
      writeState(child, indent);
    });
    for (const child of state.children) {
      if (child.kind === 'final') lines.push(`${indent}${ids.get(child)} --> [*]`);
    }
    writeEdges(state, indent);
  };

  if (rootIsDrawn) {
    lines.push(`  [*] --> ${ids.get(chart.root)}`);
    writeState(chart.root, '  ');
    writeEdges(undefined, '  ');
  } else {
    writeBody(chart.root, '  ');
  }

  const marked: string[] = [];
  walk(chart.root, (state) => {
    if (activeSet.has(state.path) && state !== chart.root) marked.push(ids.get(state) as string);
  });
  if (marked.length > 0) {
    lines.push(`  classDef active fill:${COLOURS.activeFill},stroke:${COLOURS.activeStroke},color:${COLOURS.activeText},stroke-width:2px`);
    lines.push(`  class ${marked.join(',')} active`);
  }
  return `${lines.join('\n')}\n`;
}

/** The deepest composite holding both ends in its own block; `undefined` is the diagram's top level. */
function edgeScope(edge: ChartEdge, top: ChartState | undefined): ChartState | undefined {
  const ancestors = new Set<ChartState>();
  for (let s = edge.source.parent; s; s = s.parent) ancestors.add(s);
  let scope = edge.target.parent;
  while (scope && (!ancestors.has(scope) || scope === edge.source)) scope = scope.parent;
  // Regions of a parallel block are split by `--`, so an edge between regions belongs further out.
  while (scope && scope.kind === 'parallel' && scope !== top) scope = scope.parent;
  return scope === undefined ? top : scope;
}

// Lexer rules of Mermaid's state grammar that an id must not start with (it matches them case-insensitively),
// and `root`, the id Mermaid gives its own top-level document.
const MERMAID_WORDS = /^(default|state|note|class|scale|hide|acc|direction|end|root)/i;

function mermaidIds(root: ChartState): Map<ChartState, string> {
  const ids = new Map<ChartState, string>();
  const used = new Set<string>();
  walk(root, (state) => {
    let base = state === root ? 'machine' : state.path.split('.').map((part) => part.replace(/[^A-Za-z0-9_]/g, '_')).join('__');
    if (base === '' || /^[0-9_]/.test(base) || MERMAID_WORDS.test(base)) base = `s_${base}`;
    // Mermaid names a composite's start and end pseudo-states `<id>_start` and `<id>_end`.
    if (/_(start|end)$/.test(base)) base = `${base}_`;
    let id = base;
    for (let n = 2; used.has(id); n++) id = `${base}_${n}`;
    used.add(id);
    ids.set(state, id);
  });
  return ids;
}

/** Mermaid entity codes (`#60;`) for anything its grammar or the browser could read as syntax. */
function mermaidText(text: string): string {
  return cleanText(text).replace(/[^A-Za-z0-9 _.,()[\]/+*=!?@-]/gu, (ch) => `#${ch.codePointAt(0)};`);
}

// ---------------------------------------------------------------------------------------------------------------
// SVG

const COLOURS = {
  text: '#111827',
  stateFill: '#ffffff',
  stateStroke: '#4b5563',
  groupFill: '#f3f4f6',
  regionFill: '#f9fafb',
  edge: '#374151',
  // White on blue-700 is 6.7:1 and blue-900 on blue-50 is 9.6:1, both above WCAG AA's 4.5:1.
  activeFill: '#1d4ed8',
  activeStroke: '#1e3a8a',
  activeText: '#ffffff',
  activeGroupFill: '#eff6ff',
  activeGroupText: '#1e3a8a',
} as const;

const LINE_HEIGHT = 18;
const STATE_HEIGHT = 36;
const HISTORY_SIZE = 28;
const INITIAL_SIZE = 12;
const HEADER = 30;

/** Where ELK put everything: each node's box and each edge's route, by id. */
interface Layout {
  boxes: Map<string, Box>;
  edges: Map<string, ElkExtendedEdge>;
}

/** What drawing a state needs besides the state: ids, the layout, which states are active. */
interface DrawContext {
  root: ChartState;
  nodeIds: Map<ChartState, string>;
  layout: Layout;
  active: Set<string>;
}

/** A state as an ELK node: a leaf sized to its label, a group with its children and its initial dot. */
function elkNode(state: ChartState, nodeIds: Map<ChartState, string>): ElkNode {
  const id = nodeIds.get(state) as string;
  if (state.kind === 'history') return { id, width: HISTORY_SIZE, height: HISTORY_SIZE };
  const labelWidth = textWidth(state.key) + 28;
  if (state.children.length === 0) return { id, width: Math.max(80, labelWidth), height: STATE_HEIGHT };
  const children = state.children.map((child) => elkNode(child, nodeIds));
  const edges: ElkExtendedEdge[] = [];
  if (state.initial) {
    children.unshift({ id: `${id}-initial`, width: INITIAL_SIZE, height: INITIAL_SIZE });
    edges.push({ id: `${id}-initial-edge`, sources: [`${id}-initial`], targets: [nodeIds.get(state.initial) as string] });
  }
  return {
    id,
    children,
    edges,
    layoutOptions: {
      'elk.padding': `[top=${HEADER + 8},left=14,bottom=14,right=14]`,
      'elk.nodeSize.constraints': 'MINIMUM_SIZE',
      'elk.nodeSize.minimum': `(${labelWidth},${HEADER + 20})`,
    },
  };
}

/** The chart as an ELK graph (left to right, orthogonal edges, coordinates relative to the root). */
function elkGraph(chart: Chart, nodeIds: Map<ChartState, string>): ElkNode {
  const edges: ElkExtendedEdge[] = chart.edges.map((edge, i) => ({
    id: `e${i}`,
    sources: [nodeIds.get(edge.source) as string],
    targets: [nodeIds.get(edge.target) as string],
    labels: [{ text: edge.label, width: textWidth(edge.label) + 8, height: LINE_HEIGHT }],
  }));
  return {
    id: 'graph',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.edgeRouting': 'ORTHOGONAL',
      'elk.padding': '[top=12,left=12,bottom=12,right=12]',
      'elk.spacing.nodeNode': '24',
      'elk.spacing.edgeLabel': '4',
      'elk.layered.spacing.nodeNodeBetweenLayers': '40',
      'elk.layered.spacing.edgeNodeBetweenLayers': '16',
      'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
      'elk.json.shapeCoords': 'ROOT',
      'elk.json.edgeCoords': 'ROOT',
    },
    children: [elkNode(chart.root, nodeIds)],
    edges,
  };
}

/** The boxes and edge routes of a laid-out graph, at every depth. */
function layoutOf(laidOut: ElkNode): Layout {
  const layout: Layout = { boxes: new Map(), edges: new Map() };
  const collect = (node: ElkNode): void => {
    layout.boxes.set(node.id, { x: node.x ?? 0, y: node.y ?? 0, width: node.width ?? 0, height: node.height ?? 0 });
    for (const edge of node.edges ?? []) layout.edges.set(edge.id, edge);
    for (const child of node.children ?? []) collect(child);
  };
  collect(laidOut);
  return layout;
}

/** The colours of a state: active ones stand out, groups and parallel regions are lighter than leaves. */
function stateStyle(state: ChartState, isActive: boolean) {
  const isGroup = state.children.length > 0;
  const isRegion = state.parent?.kind === 'parallel';
  const fill = isGroup
    ? isActive ? COLOURS.activeGroupFill : isRegion ? COLOURS.regionFill : COLOURS.groupFill
    : isActive ? COLOURS.activeFill : COLOURS.stateFill;
  return {
    isGroup,
    fill,
    stroke: isActive ? COLOURS.activeStroke : COLOURS.stateStroke,
    textFill: isActive ? (isGroup ? COLOURS.activeGroupText : COLOURS.activeText) : COLOURS.text,
    strokeWidth: isActive ? 2.5 : 1.5,
    dash: isRegion ? ' stroke-dasharray="6 4"' : '',
  };
}

/** The shape and label of one state: a round `H` for history, a box (doubled when final) for the rest. */
function stateShape(state: ChartState, box: Box, isRoot: boolean, style: ReturnType<typeof stateStyle>, indent: string): string[] {
  const { fill, stroke, strokeWidth, textFill } = style;
  if (state.kind === 'history') {
    const r = box.width / 2;
    return [
      `${indent}<rect ${rectAttrs(box)} rx="${num(r)}" fill="${fill}" stroke="${stroke}" stroke-width="${strokeWidth}"/>`,
      `${indent}<title>${escapeXml(state.key)}</title>`,
      `${indent}<text x="${num(box.x + r)}" y="${num(box.y + r)}" text-anchor="middle" dy="0.35em" font-size="11" fill="${textFill}">H${state.deepHistory ? '*' : ''}</text>`,
    ];
  }
  const out = [`${indent}<rect ${rectAttrs(box)} rx="${style.isGroup ? 8 : 6}" fill="${fill}" stroke="${stroke}" stroke-width="${strokeWidth}"${style.dash}/>`];
  if (state.kind === 'final') {
    const innerBox = { x: box.x + 4, y: box.y + 4, width: box.width - 8, height: box.height - 8 };
    out.push(`${indent}<rect class="final-border" ${rectAttrs(innerBox)} rx="4" fill="none" stroke="${stroke}" stroke-width="1.5"/>`);
  }
  const text = escapeXml(cleanText(state.key));
  if (style.isGroup) {
    const weight = isRoot ? ' font-weight="600"' : '';
    out.push(`${indent}<text x="${num(box.x + 12)}" y="${num(box.y + HEADER / 2 + 4)}" dy="0.35em" fill="${textFill}"${weight}>${text}</text>`);
  } else {
    out.push(`${indent}<text x="${num(box.x + box.width / 2)}" y="${num(box.y + box.height / 2)}" text-anchor="middle" dy="0.35em" fill="${textFill}">${text}</text>`);
  }
  return out;
}

/** A group's initial dot and its arrow to the initial child. */
function initialMarker(id: string, layout: Layout, indent: string): string[] {
  const dot = layout.boxes.get(`${id}-initial`) as Box;
  const r = dot.width / 2;
  const out = [`${indent}<circle class="initial" cx="${num(dot.x + r)}" cy="${num(dot.y + r)}" r="${num(r)}" fill="${COLOURS.text}"/>`];
  const edge = layout.edges.get(`${id}-initial-edge`);
  if (edge) out.push(`${indent}<path class="initial-edge" d="${edgePath(edge)}" fill="none" stroke="${COLOURS.edge}" stroke-width="1.5" marker-end="url(#sc-arrow)"/>`);
  return out;
}

/** One state as a `<g>` (the machine root included), its children nested inside. */
function drawState(state: ChartState, ctx: DrawContext, indent: string, out: string[]): void {
  const id = ctx.nodeIds.get(state) as string;
  const isRoot = state === ctx.root;
  const isActive = !isRoot && ctx.active.has(state.path);
  const classes = isRoot ? 'machine' : `state${isActive ? ' active' : ''}`;
  const attrs = isRoot
    ? ` data-machine="${escapeXml(state.key)}"`
    : ` data-state="${escapeXml(state.path)}" data-kind="${state.kind}"${isActive ? ' aria-current="true"' : ''}`;
  out.push(`${indent}<g class="${classes}"${attrs}>`);
  const inner = `${indent}  `;
  out.push(...stateShape(state, ctx.layout.boxes.get(id) as Box, isRoot, stateStyle(state, isActive), inner));
  if (state.initial) out.push(...initialMarker(id, ctx.layout, inner));
  for (const child of state.children) drawState(child, ctx, inner, out);
  out.push(`${indent}</g>`);
}

/** Every transition as a routed arrow with its label on a white backing. */
function drawTransitions(chart: Chart, layout: Layout): string[] {
  const out = ['  <g class="transitions">'];
  chart.edges.forEach((edge, i) => {
    const laid = layout.edges.get(`e${i}`);
    if (!laid) return;
    out.push(`    <g class="transition" data-source="${escapeXml(edge.source.path)}" data-target="${escapeXml(edge.target.path)}">`);
    out.push(`      <path d="${edgePath(laid)}" fill="none" stroke="${COLOURS.edge}" stroke-width="1.5" marker-end="url(#sc-arrow)"/>`);
    const label = laid.labels?.[0];
    if (label) {
      const box = { x: label.x ?? 0, y: label.y ?? 0, width: label.width ?? 0, height: label.height ?? 0 };
      out.push(`      <rect ${rectAttrs(box)} rx="3" fill="#ffffff" fill-opacity="0.9"/>`);
      out.push(`      <text x="${num(box.x + box.width / 2)}" y="${num(box.y + box.height / 2)}" text-anchor="middle" dy="0.35em" font-size="12" fill="${COLOURS.edge}">${escapeXml(cleanText(edge.label))}</text>`);
    }
    out.push('    </g>');
  });
  out.push('  </g>');
  return out;
}

/**
 * The statechart laid out by ELK as a self-contained SVG document; `active` holds dotted state paths to highlight.
 *
 * @example
 * const svg = await toSvg(incident, ['open', 'open.work', 'open.work.new']);
 * // <svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Statechart of incident" …
 */
export async function toSvg(machine: AnyStateMachine, active: string[] = []): Promise<string> {
  const chart = describe(machine);
  const nodeIds = new Map<ChartState, string>();
  walk(chart.root, (state) => nodeIds.set(state, `n${nodeIds.size}`));
  // elkjs is CommonJS typed as an ES default export: under NodeNext the import is the module object, which
  // elkjs makes work by setting `ELK.default = ELK` at run time.
  const laidOut = await new ELK.default().layout(elkGraph(chart, nodeIds));
  const layout = layoutOf(laidOut);

  const out: string[] = [];
  drawState(chart.root, { root: chart.root, nodeIds, layout, active: new Set(active) }, '  ', out);
  out.push(...drawTransitions(chart, layout));

  const width = num(laidOut.width ?? 0);
  const height = num(laidOut.height ?? 0);
  const title = escapeXml(`Statechart of ${cleanText(chart.id)}`);
  return svgDocument(title, width, height, COLOURS.edge, out);
}
