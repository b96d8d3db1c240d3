// The registry pages: services and configuration items (lists with filters, one entry with the open
// runs that touch it, a CI's dependency graph, the audit history), and for admins editing, deleting,
// import and export.
import { api, qs, can } from './api.js';
import { h, clear, errorBox, fmtTime, importSvg } from './dom.js';

const field = (id, label, input) => h('div', { class: 'field' }, h('label', { for: id }, label), input);

/** A paged table: `load(cursor)` answers { items, nextCursor }; `row(item)` builds a <tr>. */
function pagedTable(caption, headers, load, row) {
  const cursors = [null];
  let page = 0;
  const tbody = h('tbody');
  const errors = h('div');
  const prev = h('button', { type: 'button', class: 'secondary', disabled: true, onclick: () => { page--; go(); } }, 'Previous page');
  const next = h('button', { type: 'button', class: 'secondary', disabled: true, onclick: () => { page++; go(); } }, 'Next page');
  async function go() {
    try {
      const res = await load(cursors[page]);
      cursors[page + 1] = res.nextCursor;
      clear(errors);
      clear(tbody).append(...res.items.map(row));
      if (!res.items.length) tbody.append(h('tr', {}, h('td', { colspan: headers.length }, 'Nothing matches.')));
      prev.disabled = page === 0;
      next.disabled = !res.nextCursor;
    } catch (err) { clear(errors).append(errorBox(err)); }
  }
  const el = [errors, h('div', { class: 'table-wrap' }, h('table', {},
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))), tbody)),
  h('div', { class: 'pager' }, prev, next)];
  return { el, go };
}

function runsTable(caption, runs) {
  if (!runs.length) return h('p', { class: 'hint' }, 'No open run touches it.');
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, ['Run', 'Workflow', 'Business key', 'Touches', 'Started'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, runs.map((r) => h('tr', { 'data-run': r.id },
      h('td', { class: 'mono nowrap' }, h('a', { href: `#/runs/${encodeURIComponent(r.id)}` }, r.id)),
      h('td', {}, r.workflow), h('td', {}, r.businessKey ?? '—'), h('td', {}, r.touches.join(', ')), h('td', { class: 'nowrap' }, fmtTime(r.createdAt)))))));
}

async function historyCard(kind, key) {
  const card = h('section', { class: 'card', 'aria-labelledby': 'audit-title' }, h('h2', { id: 'audit-title' }, 'Audit history'));
  try {
    const res = await api('GET', `/v1/${kind}/${encodeURIComponent(key)}/history?limit=100`);
    card.append(h('ul', { class: 'timeline', id: 'audit' }, res.items.map((e) => h('li', {},
      h('time', { datetime: e.at }, fmtTime(e.at)), ' ', h('strong', {}, e.action), ` by ${e.actor} (${e.source})`,
      h('details', {}, h('summary', {}, 'before / after'),
        h('pre', { class: 'json' }, `before: ${JSON.stringify(e.before, null, 2)}\n\nafter: ${JSON.stringify(e.after, null, 2)}`))))));
  } catch (err) { card.append(errorBox(err)); }
  return card;
}

/** Admin: the entry as JSON, saved with PUT (problems listed at their paths), and delete. */
function editor(kind, key, doc, template) {
  const path = `/v1/${kind}/${encodeURIComponent(key ?? '')}`;
  const text = h('textarea', { id: 'entry-json', rows: 18, spellcheck: 'false', 'aria-describedby': 'entry-out' }, JSON.stringify(doc ?? template, null, 2));
  const keyInput = key ? null : h('input', { id: 'entry-key', required: true, pattern: '[A-Za-z0-9][A-Za-z0-9._:\\-]{0,127}' });
  const out = h('div', { id: 'entry-out', 'aria-live': 'polite' });
  const form = h('form', { class: 'card', id: 'entry-editor', 'aria-labelledby': 'editor-title', onsubmit: async (e) => {
    e.preventDefault();
    clear(out);
    text.removeAttribute('aria-invalid');
    let body;
    try { body = JSON.parse(text.value); } catch (err) { text.setAttribute('aria-invalid', 'true'); return out.append(errorBox({ code: 'BAD_JSON', message: err.message })); }
    const target = key ?? keyInput.value.trim();
    try {
      await api('PUT', `/v1/${kind}/${encodeURIComponent(target)}`, body);
      // The page is not redrawn under the editor: the link reloads it with the new entry and history.
      out.append(h('p', { role: 'status', class: 'done' }, 'Saved. ', h('a', { href: `#/${kind}/${encodeURIComponent(target)}?saved=${Date.now()}` }, key ? 'Reload it' : 'Open it')));
    } catch (err) {
      text.setAttribute('aria-invalid', 'true');
      out.append(errorBox(err));
    }
  } },
  h('h2', { id: 'editor-title' }, key ? 'Edit' : `New ${kind === 'services' ? 'service' : 'CI'}`),
  keyInput ? field('entry-key', kind === 'services' ? 'Name' : 'Id', keyInput) : null,
  field('entry-json', 'The entry as JSON (replaces it whole)', text),
  h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Save'),
    key ? h('button', { type: 'button', class: 'danger', onclick: async () => {
      if (!confirm(`Delete ${key}?`)) return;
      clear(out);
      try {
        await api('DELETE', path);
        location.hash = `#/${kind}`;
      } catch (err) { out.append(errorBox(err)); }
    } }, 'Delete') : null),
  out);
  return form;
}

const facts = (pairs) => h('dl', { class: 'facts' }, pairs.filter(([, v]) => v !== undefined).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v === null || v === '' ? '—' : v)]));
const windowsText = (w) => (w?.length ? w.map((x) => `${fmtTime(x.start)} – ${fmtTime(x.end)}${x.name ? ` (${x.name})` : ''}`).join('; ') : '—');

export async function renderServices(main, params) {
  const crit = h('select', { id: 'f-crit' }, ['', '1', '2', '3', '4'].map((v) => h('option', { value: v, selected: v === (params.criticality ?? '') }, v || 'any')));
  const support = h('input', { id: 'f-support', value: params.supportGroup ?? '' });
  const label = h('input', { id: 'f-label', value: params.label ?? '', placeholder: 'key or key=value' });
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter services', onsubmit: (e) => {
    e.preventDefault();
    location.hash = `#/services${qs({ criticality: crit.value, supportGroup: support.value.trim(), label: label.value.trim() })}`;
  } }, field('f-crit', 'Criticality', crit), field('f-support', 'Support group', support), field('f-label', 'Label', label), h('button', { type: 'submit' }, 'Filter'));
  const table = pagedTable('Services', ['Name', 'Title', 'Criticality', 'Support group', 'On-call'],
    (cursor) => api('GET', `/v1/services${qs({ criticality: params.criticality, supportGroup: params.supportGroup, label: params.label, limit: 50, cursor })}`),
    (s) => h('tr', { 'data-service': s.name }, h('td', {}, h('a', { href: `#/services/${encodeURIComponent(s.name)}` }, s.name)), h('td', {}, s.title),
      h('td', {}, String(s.criticality)), h('td', {}, s.supportGroup ?? '—'), h('td', {}, s.oncall?.policy ?? '—')));
  main.append(h('h1', {}, 'Services'), h('p', {}, h('a', { href: '#/cis' }, 'Configuration items'), ' · ', h('a', { href: '#/registry' }, can('admin') ? 'Import and export' : 'Export')), form, ...table.el,
    can('admin') ? editor('services', null, null, { name: 'new-service', title: 'New service', criticality: 3, supportGroup: 'service-desk', approvers: { changeManager: [] } }) : null);
  await table.go();
}

export async function renderService(main, name) {
  const enc = encodeURIComponent(name);
  const [svc, runs, cis] = await Promise.all([api('GET', `/v1/services/${enc}`), api('GET', `/v1/services/${enc}/runs`), api('GET', `/v1/cis${qs({ service: name, limit: 200 })}`)]);
  main.append(
    h('h1', {}, `Service ${svc.name}`),
    h('p', {}, svc.title, svc.description ? ` — ${svc.description}` : ''),
    h('section', { class: 'card', 'aria-labelledby': 'svc-facts' }, h('h2', { id: 'svc-facts' }, 'Facts'),
      facts([['Criticality', String(svc.criticality)], ['Owner group', svc.ownerGroup ?? null], ['Support group', svc.supportGroup ?? null],
        ['On-call policy', svc.oncall?.policy ?? null], ['On-call levels', (svc.oncall?.levels ?? []).map((l) => (typeof l === 'string' ? l : l.target)).join(' → ') || null],
        ['Maintenance windows', windowsText(svc.windows?.maintenance)], ['Blackouts', windowsText(svc.windows?.blackout)],
        ['Labels', Object.entries(svc.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(', ') || null]]),
      h('h3', {}, 'Approvers'),
      facts(Object.entries(svc.approvers ?? {}).map(([g, people]) => [g, people.join(', ')])),
      svc.slaTargetsMs ? [h('h3', {}, 'SLA targets (ms)'), h('pre', { class: 'json' }, JSON.stringify(svc.slaTargetsMs, null, 2))] : null),
    h('section', { class: 'card', 'aria-labelledby': 'svc-runs' }, h('h2', { id: 'svc-runs' }, 'Open runs touching it'), runsTable('Open runs', runs.items)),
    h('section', { class: 'card', 'aria-labelledby': 'svc-cis' }, h('h2', { id: 'svc-cis' }, 'Configuration items'),
      cis.items.length ? h('ul', {}, cis.items.map((c) => h('li', {}, h('a', { href: `#/cis/${encodeURIComponent(c.id)}` }, c.id), ` ${c.type} · ${c.title}`))) : h('p', { class: 'hint' }, 'None.')),
    await historyCard('services', name),
    can('admin') ? editor('services', name, svc) : null,
  );
}

export async function renderCis(main, params) {
  const type = h('input', { id: 'f-type', value: params.type ?? '' });
  const service = h('input', { id: 'f-service', value: params.service ?? '' });
  const env = h('input', { id: 'f-env', value: params.environment ?? '' });
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter configuration items', onsubmit: (e) => {
    e.preventDefault();
    location.hash = `#/cis${qs({ type: type.value.trim(), service: service.value.trim(), environment: env.value.trim() })}`;
  } }, field('f-type', 'Type', type), field('f-service', 'Service', service), field('f-env', 'Environment', env), h('button', { type: 'submit' }, 'Filter'));
  const table = pagedTable('Configuration items', ['Id', 'Type', 'Title', 'Environment', 'Services', 'Depends on'],
    (cursor) => api('GET', `/v1/cis${qs({ type: params.type, service: params.service, environment: params.environment, limit: 50, cursor })}`),
    (c) => h('tr', { 'data-ci': c.id }, h('td', {}, h('a', { href: `#/cis/${encodeURIComponent(c.id)}` }, c.id)), h('td', {}, c.type), h('td', {}, c.title),
      h('td', {}, c.environment ?? '—'), h('td', {}, (c.services ?? []).join(', ') || '—'), h('td', {}, (c.dependsOn ?? []).join(', ') || '—')));
  main.append(h('h1', {}, 'Configuration items'), h('p', {}, h('a', { href: '#/services' }, 'Services'), ' · ', h('a', { href: '#/registry' }, can('admin') ? 'Import and export' : 'Export')), form, ...table.el,
    can('admin') ? editor('cis', null, null, { id: 'new-ci', type: 'server', title: 'New server', services: [], environment: 'production', dependsOn: [] }) : null);
  await table.go();
}

export async function renderCi(main, id) {
  const enc = encodeURIComponent(id);
  const [ci, impact] = await Promise.all([api('GET', `/v1/cis/${enc}`), api('GET', `/v1/cis/${enc}/impact`)]);
  const diagram = h('figure', { class: 'diagram fit', id: 'ci-diagram' });
  main.append(
    h('h1', {}, `CI ${ci.id}`),
    h('p', {}, `${ci.type} · ${ci.title}`),
    h('section', { class: 'card', 'aria-labelledby': 'ci-facts' }, h('h2', { id: 'ci-facts' }, 'Facts'),
      facts([['Environment', ci.environment ?? null], ['Owner', ci.owner ?? null],
        ['Services', (ci.services ?? []).length ? (ci.services ?? []).map((s, i) => [i ? ', ' : '', h('a', { href: `#/services/${encodeURIComponent(s)}` }, s)]) : null],
        ['Depends on', (ci.dependsOn ?? []).length ? ci.dependsOn.map((d, i) => [i ? ', ' : '', h('a', { href: `#/cis/${encodeURIComponent(d)}` }, d)]) : null],
        ['Maintenance windows', windowsText(ci.windows?.maintenance)], ['Blackouts', windowsText(ci.windows?.blackout)]]),
      ci.attributes ? [h('h3', {}, 'Attributes'), h('pre', { class: 'json' }, JSON.stringify(ci.attributes, null, 2))] : null),
    h('section', { class: 'card', 'aria-labelledby': 'ci-graph' }, h('h2', { id: 'ci-graph' }, 'Dependencies'),
      h('p', { class: 'hint' }, 'Arrows point from what depends to what it needs; dashed arrows to the services a CI serves.'), diagram),
    h('section', { class: 'card', 'aria-labelledby': 'ci-impact' }, h('h2', { id: 'ci-impact' }, 'Impact'),
      h('p', {}, `${impact.dependents.length} CI(s) depend on it; services affected:`),
      h('ul', { id: 'impact-services' }, impact.services.map((s) => h('li', {}, h('a', { href: `#/services/${encodeURIComponent(s.name)}` }, s.name), ` (criticality ${s.criticality}, through ${s.through})`))),
      h('h3', {}, 'Open runs touching them'), runsTable('Open runs', impact.openRuns)),
    await historyCard('cis', id),
    can('admin') ? editor('cis', id, ci) : null,
  );
  try {
    diagram.append(importSvg(await api('GET', `/v1/cis/${enc}/diagram?format=svg`)));
  } catch (err) { diagram.append(errorBox(err)); }
}

export async function renderRegistry(main) {
  const out = h('div', { 'aria-live': 'polite', id: 'import-out' });
  const text = h('textarea', { id: 'import-text', rows: 14, spellcheck: 'false', placeholder: '{"kind":"service","name":"checkout","title":"Checkout","criticality":1}\n{"kind":"ci","id":"db-01","type":"database","title":"DB","services":["checkout"]}' });
  const file = h('input', { id: 'import-file', type: 'file', accept: '.json,.jsonl,.ndjson,application/json', onchange: async () => {
    if (file.files?.[0]) text.value = await file.files[0].text();
  } });
  const exportOut = h('div');
  const download = h('button', { type: 'button', class: 'secondary', onclick: async () => {
    clear(exportOut);
    try {
      const body = await api('GET', '/v1/registry/export');
      const url = URL.createObjectURL(new Blob([body], { type: 'application/x-ndjson' }));
      const a = h('a', { href: url, download: 'registry.jsonl' }, 'registry.jsonl');
      exportOut.append(h('p', { role: 'status' }, 'Ready: ', a));
      a.click();
    } catch (err) { exportOut.append(errorBox(err)); }
  } }, 'Export (JSON Lines)');
  main.append(h('h1', {}, 'Registry import and export'),
    h('section', { class: 'card', 'aria-labelledby': 'export-title' }, h('h2', { id: 'export-title' }, 'Export'),
      h('p', { class: 'hint' }, 'Every service and CI, one per line, in the format import reads.'), download, exportOut),
    can('admin') ? h('form', { class: 'card', id: 'import', 'aria-labelledby': 'import-title', onsubmit: async (e) => {
      e.preventDefault();
      clear(out);
      const body = text.value;
      try {
        const res = await api('POST', '/v1/registry/import', undefined, { raw: body, type: body.trimStart().startsWith('[') ? 'application/json' : 'application/x-ndjson' });
        out.append(h('p', { role: 'status', class: 'done' }, `Imported: ${res.created} created, ${res.updated} updated, ${res.unchanged} unchanged.`));
      } catch (err) { out.append(errorBox(err)); }
    } }, h('h2', { id: 'import-title' }, 'Import'),
    h('p', { class: 'hint' }, 'A JSON array or JSON Lines of { "kind": "service" | "ci", ... }. All or nothing: every problem is listed with its line.'),
    field('import-file', 'From a file', file), field('import-text', 'Or paste it', text), h('button', { type: 'submit' }, 'Import'), out)
      : h('p', { class: 'hint' }, 'Importing needs the admin role.'));
}
