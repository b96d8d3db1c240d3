// DOM helpers: every element is built with createElement and every text set with textContent, so
// nothing the API returns is ever parsed as markup.

/**
 * h('a', { href: '#/runs', class: 'x', onclick: fn }, 'text', child)
 * Attributes beginning with "on" become listeners; `style` is refused (the CSP forbids inline styles).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'style') throw new Error('inline styles are not allowed');
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** Parse an SVG document from our own server and adopt its root: no innerHTML anywhere. */
export function importSvg(text) {
  const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
  const root = doc.documentElement;
  if (root.nodeName !== 'svg' || doc.querySelector('parsererror')) throw new Error('the diagram is not valid SVG');
  // Our diagrams carry no scripts or handlers; drop any that could appear anyway.
  for (const bad of root.querySelectorAll('script, foreignObject')) bad.remove();
  for (const el of [root, ...root.querySelectorAll('*')]) {
    for (const a of [...el.attributes]) if (/^on/i.test(a.name) || /javascript:/i.test(a.value)) el.removeAttribute(a.name);
  }
  return document.importNode(root, true);
}

export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const neg = ms < 0;
  let t = Math.abs(Math.round(ms / 1000));
  const d = Math.floor(t / 86400); t -= d * 86400;
  const hr = Math.floor(t / 3600); t -= hr * 3600;
  const m = Math.floor(t / 60); const sec = t - m * 60;
  const parts = d ? [`${d}d`, `${hr}h`] : hr ? [`${hr}h`, `${m}m`] : m ? [`${m}m`, `${sec}s`] : [`${sec}s`];
  return (neg ? '-' : '') + parts.join(' ');
}

/** "in 3m 2s" or "4s ago", from now. */
export function countdown(iso, now = Date.now()) {
  const ms = new Date(iso).getTime() - now;
  return ms >= 0 ? `in ${fmtDuration(ms)}` : `${fmtDuration(-ms)} overdue`;
}

export function stateText(value) {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'string') return value;
  const paths = [];
  const walk = (v, prefix) => {
    if (typeof v === 'string') paths.push(prefix + v);
    else if (v && typeof v === 'object') for (const [k, c] of Object.entries(v)) walk(c, `${prefix}${k}.`);
  };
  walk(value, '');
  return paths.join(', ');
}

export function announce(text) {
  const live = document.getElementById('live');
  if (live) live.textContent = text;
}

/** An alert box for an API error: message, code and each problem at its path. */
export function errorBox(err) {
  const details = Array.isArray(err?.details) ? err.details : [];
  return h('div', { class: 'error', role: 'alert' },
    h('strong', {}, err?.code ? `${err.code}: ` : 'Error: '), err?.message ?? String(err),
    details.length ? h('ul', { class: 'problems' }, details.map((d) => (d.entry
      ? h('li', {}, h('code', {}, d.entry), ' is referenced by ', (d.referencedBy ?? []).join(', '))
      : h('li', {}, d.line ? `line ${d.line} ` : '', h('code', {}, d.path || '/'), ' ', d.message ?? JSON.stringify(d))))) : null,
    err?.code === 'EVENT_NOT_ACCEPTED' && err?.details?.nextEvents ? h('p', {}, `Accepted now: ${err.details.nextEvents.join(', ') || 'none'}`) : null,
  );
}

export function statusBadge(status) {
  return h('span', { class: `badge status-${String(status).replace(/[^a-z]/g, '')}` }, status);
}
