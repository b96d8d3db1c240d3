// The measures page: each KPI of a workflow per day or week bucket, drawn as an SVG bar chart with
// the run counts, and the same numbers as a table.
import { api, qs } from './api.js';
import { h, s, clear, errorBox, fmtDuration } from './dom.js';

const DAY = 86_400_000;

export function formatValue(value, unit) {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  if (unit === 'ms') return fmtDuration(value);
  if (unit === 'ratio') return `${(value * 100).toFixed(1)}%`;
  if (unit === 'perDay') return `${value.toFixed(2)}/day`;
  return String(Math.round(value * 100) / 100);
}

export async function renderMeasures(main, params) {
  const { items } = await api('GET', '/v1/workflows');
  const workflow = params.workflow ?? items.find((w) => ['incident', 'change', 'delivery', 'planning'].includes(w.name))?.name ?? items[0]?.name ?? '';
  const bucket = params.bucket === 'day' ? 'day' : 'week';
  const count = Math.min(Math.max(Number(params.buckets) || (bucket === 'day' ? 14 : 8), 1), 26);

  const wf = h('select', { id: 'm-workflow' }, items.map((w) => h('option', { value: w.name, selected: w.name === workflow }, w.name)));
  const bk = h('select', { id: 'm-bucket' }, ['week', 'day'].map((b) => h('option', { value: b, selected: b === bucket }, `per ${b}`)));
  const n = h('input', { id: 'm-count', type: 'number', min: 1, max: 26, value: String(count) });
  const charts = h('div', { class: 'charts', 'aria-live': 'polite' });
  main.append(
    h('h1', {}, 'Measures'),
    h('form', { class: 'filters', 'aria-label': 'Choose measures', onsubmit: (e) => {
      e.preventDefault();
      location.hash = `#/measures${qs({ workflow: wf.value, bucket: bk.value, buckets: n.value })}`;
    } },
    h('div', { class: 'field' }, h('label', { for: 'm-workflow' }, 'Workflow'), wf),
    h('div', { class: 'field' }, h('label', { for: 'm-bucket' }, 'Bucket'), bk),
    h('div', { class: 'field' }, h('label', { for: 'm-count' }, 'How many'), n),
    h('button', { type: 'submit' }, 'Show')),
    charts);
  if (!workflow) return;

  // Buckets end at the next UTC midnight (days) or the next Monday (weeks), oldest first.
  const size = bucket === 'day' ? DAY : 7 * DAY;
  const today = new Date(); today.setUTCHours(0, 0, 0, 0);
  let end = today.getTime() + DAY;
  if (bucket === 'week') end = today.getTime() + ((8 - (today.getUTCDay() || 7)) % 7 || 7) * DAY;
  const ranges = Array.from({ length: count }, (_, i) => ({ since: new Date(end - (count - i) * size), until: new Date(end - (count - i - 1) * size) }));
  charts.append(h('p', { class: 'hint' }, 'Loading…'));
  let results;
  try {
    results = await Promise.all(ranges.map((r) => api('GET', `/v1/kpis${qs({ workflow, since: r.since.toISOString(), until: r.until.toISOString() })}`)));
  } catch (err) {
    clear(charts).append(errorBox(err));
    return;
  }
  clear(charts);
  const names = [];
  for (const r of results) for (const k of r.kpis ?? []) if (!names.some((x) => x.name === k.name)) names.push({ name: k.name, label: k.label ?? k.name, unit: k.unit });
  if (!names.length) { charts.append(h('p', {}, `${workflow} declares no KPIs.`)); return; }
  const label = (d) => d.toISOString().slice(5, 10);
  for (const kpi of names) {
    const points = results.map((r, i) => {
      const k = (r.kpis ?? []).find((x) => x.name === kpi.name);
      return { label: label(ranges[i].since), value: typeof k?.value === 'number' ? k.value : null, count: k?.count ?? 0 };
    });
    charts.append(chartCard(kpi, points, bucket));
  }
}

function chartCard(kpi, points, bucket) {
  const id = `chart-${kpi.name}`;
  return h('section', { class: 'card chart', 'aria-labelledby': id, 'data-kpi': kpi.name },
    h('h2', { id }, kpi.label, h('span', { class: 'hint' }, ` (${kpi.unit}, per ${bucket})`)),
    barChart(kpi, points),
    h('details', {}, h('summary', {}, 'Numbers'),
      h('table', {}, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, bucket === 'day' ? 'Day' : 'Week from'), h('th', { scope: 'col' }, 'Value'), h('th', { scope: 'col' }, 'Runs'))),
        h('tbody', {}, points.map((p) => h('tr', {}, h('td', {}, p.label), h('td', {}, formatValue(p.value, kpi.unit)), h('td', {}, String(p.count))))))));
}

/** Bars for values (empty buckets drawn as a dash), run counts under each bar. */
export function barChart(kpi, points) {
  const W = 640, H = 220, left = 64, bottom = 44, top = 12;
  const max = Math.max(...points.map((p) => p.value ?? 0), kpi.unit === 'ratio' ? 1 : 0) || 1;
  const bw = (W - left - 8) / points.length;
  const y = (v) => top + (H - top - bottom) * (1 - v / max);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, width: '100%', role: 'img', 'aria-label': `${kpi.label} per bucket`, class: 'bar-chart' });
  svg.append(s('title', {}, `${kpi.label}: ${points.map((p) => `${p.label} ${formatValue(p.value, kpi.unit)} (${p.count} runs)`).join('; ')}`));
  // With nothing recorded there is no scale to show: one baseline and a note instead of three zeros.
  const empty = points.every((p) => p.value === null);
  if (empty) {
    svg.append(s('text', { x: (left + W) / 2, y: (top + H - bottom) / 2, 'text-anchor': 'middle', 'font-size': 12, fill: '#475467' }, 'no runs recorded this measure in these buckets'));
  }
  for (const f of empty ? [0] : [0, 0.5, 1]) {
    const v = max * f;
    svg.append(s('line', { x1: left, x2: W - 4, y1: y(v), y2: y(v), stroke: '#d0d5dd', 'stroke-width': 1 }),
      s('text', { x: left - 6, y: y(v) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#344054' }, formatValue(v, kpi.unit)));
  }
  points.forEach((p, i) => {
    const x = left + i * bw + bw * 0.15;
    const w = bw * 0.7;
    if (p.value !== null) {
      svg.append(s('rect', { x, y: y(p.value), width: w, height: Math.max(0, y(0) - y(p.value)), fill: '#1d4ed8' }, s('title', {}, `${p.label}: ${formatValue(p.value, kpi.unit)} from ${p.count} runs`)));
    } else {
      svg.append(s('text', { x: x + w / 2, y: y(0) - 4, 'text-anchor': 'middle', 'font-size': 11, fill: '#475467' }, '–'));
    }
    svg.append(
      s('text', { x: x + w / 2, y: H - bottom + 16, 'text-anchor': 'middle', 'font-size': 11, fill: '#344054' }, p.label),
      s('text', { x: x + w / 2, y: H - bottom + 32, 'text-anchor': 'middle', 'font-size': 10, fill: '#475467' }, `n=${p.count}`));
  });
  return svg;
}
