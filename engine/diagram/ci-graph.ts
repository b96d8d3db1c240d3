// Draws a CI's dependency neighbourhood (engine/cmdb.ts `graph`): laid out by ELK as a self-contained SVG, or
// as Mermaid text. CIs are boxes (the one asked about highlighted), services rounded, and every arrow
// points from what depends to what it depends on (a CI to the CI it needs, a CI to the service it serves).
import ELK from 'elkjs/lib/elk.bundled.js';
import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api.js';
import type { CiGraph } from '../cmdb-graph.ts';
import { edgePath, escapeXml, num, rectAttrs, svgDocument, textWidth, type Box } from './svg.ts';

const NODE_HEIGHT = 44;
const COLOURS = {
  ciFill: '#f4f6f8', ciStroke: '#5b6b7b', focusFill: '#1f5fbf', focusText: '#ffffff', serviceFill: '#f3ecfb', serviceStroke: '#7a4fb5',
  text: '#1b2733', detail: '#4a5866', edge: '#4a5866',
};

export async function ciGraphSvg(graph: CiGraph): Promise<string> {
  const ids = new Map(graph.nodes.map((n, i) => [n.id, `n${i}`]));
  const elk: ElkNode = {
    id: 'graph',
    layoutOptions: {
      'elk.algorithm': 'layered', 'elk.direction': 'DOWN', 'elk.edgeRouting': 'ORTHOGONAL',
      'elk.padding': '[top=12,left=12,bottom=12,right=12]', 'elk.spacing.nodeNode': '20', 'elk.layered.spacing.nodeNodeBetweenLayers': '36',
      'elk.json.shapeCoords': 'ROOT', 'elk.json.edgeCoords': 'ROOT',
    },
    children: graph.nodes.map((n) => ({ id: ids.get(n.id)!, width: Math.max(90, textWidth(n.label) + 24, textWidth(n.detail) * 0.85 + 24), height: NODE_HEIGHT })),
    edges: graph.edges.map((e, i): ElkExtendedEdge => ({ id: `e${i}`, sources: [ids.get(e.from)!], targets: [ids.get(e.to)!] })),
  };
  // elkjs is CommonJS typed as an ES default export (see diagram.ts).
  const laid = await new ELK.default().layout(elk);
  const boxes = new Map<string, Box>((laid.children ?? []).map((c) => [c.id, { x: c.x ?? 0, y: c.y ?? 0, width: c.width ?? 0, height: c.height ?? 0 }]));
  const laidEdges = new Map((laid.edges ?? []).map((e) => [e.id, e]));
  const out: string[] = [];
  graph.edges.forEach((e, i) => {
    const edge = laidEdges.get(`e${i}`);
    if (!edge) return;
    const dash = e.kind === 'serves' ? ' stroke-dasharray="5 4"' : '';
    out.push(`  <path class="edge ${e.kind}" data-from="${escapeXml(e.from)}" data-to="${escapeXml(e.to)}" d="${edgePath(edge)}" fill="none" stroke="${COLOURS.edge}" stroke-width="1.5"${dash} marker-end="url(#sc-arrow)"/>`);
  });
  for (const n of graph.nodes) {
    const box = boxes.get(ids.get(n.id)!)!;
    const fill = n.kind === 'service' ? COLOURS.serviceFill : n.focus ? COLOURS.focusFill : COLOURS.ciFill;
    const stroke = n.kind === 'service' ? COLOURS.serviceStroke : COLOURS.ciStroke;
    const text = n.focus ? COLOURS.focusText : COLOURS.text;
    const detail = n.focus ? COLOURS.focusText : COLOURS.detail;
    out.push(`  <g class="node ${n.kind}${n.focus ? ' focus' : ''}" data-node="${escapeXml(n.id)}"${n.focus ? ' aria-current="true"' : ''}>`);
    out.push(`    <rect ${rectAttrs(box)} rx="${n.kind === 'service' ? 18 : 4}" fill="${fill}" stroke="${stroke}" stroke-width="1.5"/>`);
    out.push(`    <text x="${num(box.x + box.width / 2)}" y="${num(box.y + 17)}" text-anchor="middle" fill="${text}" font-weight="600">${escapeXml(n.label)}</text>`);
    out.push(`    <text x="${num(box.x + box.width / 2)}" y="${num(box.y + 33)}" text-anchor="middle" fill="${detail}" font-size="11">${escapeXml(n.detail)}</text>`);
    out.push('  </g>');
  }
  const width = num(laid.width ?? 0);
  const height = num(laid.height ?? 0);
  const title = escapeXml(`Dependencies of ${graph.ci}${graph.truncated ? ' (truncated)' : ''}`);
  return svgDocument(title, width, height, COLOURS.edge, out);
}

export function ciGraphMermaid(graph: CiGraph): string {
  const ids = new Map(graph.nodes.map((n, i) => [n.id, `n${i}`]));
  const label = (s: string) => s.replace(/["<>]/g, (c) => `#${c.charCodeAt(0)};`);
  const lines = ['flowchart TB'];
  for (const n of graph.nodes) {
    const text = `${label(n.label)}<br/>${label(n.detail)}`;
    lines.push(n.kind === 'service' ? `  ${ids.get(n.id)}(["${text}"])` : `  ${ids.get(n.id)}["${text}"]`);
  }
  for (const e of graph.edges) lines.push(`  ${ids.get(e.from)} ${e.kind === 'serves' ? '-.->' : '-->'} ${ids.get(e.to)}`);
  const focus = graph.nodes.find((n) => n.focus);
  if (focus) lines.push(`  style ${ids.get(focus.id)} fill:#1f5fbf,color:#ffffff`);
  return lines.join('\n') + '\n';
}
