// The runs page: every run newest first, 50 a page, filters, live refresh, and starting a run.
import { api, qs, can } from './api.js';
import { h, clear, errorBox, fmtTime, stateText, statusBadge } from './dom.js';

export async function renderRuns(main, params) {
  const workflows = (await api('GET', '/v1/workflows')).items;
  const filters = { workflow: params.workflow ?? '', status: params.status ?? '', state: params.state ?? '', businessKey: params.businessKey ?? '', archived: params.archived === 'true' ? 'true' : '' };
  const archivedView = filters.archived === 'true';
  const cursors = [null];
  let page = 0;

  const field = (id, label, input) => h('div', { class: 'field' }, h('label', { for: id }, label), input);
  const wf = h('select', { id: 'f-workflow', name: 'workflow' }, h('option', { value: '' }, 'any'), workflows.map((w) => h('option', { value: w.name, selected: w.name === filters.workflow }, w.name)));
  const st = h('select', { id: 'f-status', name: 'status' }, ['', 'running', 'done', 'failed', 'cancelled'].map((v) => h('option', { value: v, selected: v === filters.status }, v || 'any')));
  const state = h('input', { id: 'f-state', name: 'state', value: filters.state, placeholder: 'top-level state' });
  const bk = h('input', { id: 'f-bk', name: 'businessKey', value: filters.businessKey });
  const arch = h('input', { id: 'f-archived', name: 'archived', type: 'checkbox', checked: archivedView });
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter runs', onsubmit: (e) => {
    e.preventDefault();
    location.hash = `#/runs${qs({ workflow: wf.value, status: st.value, state: state.value.trim(), businessKey: bk.value.trim(), archived: arch.checked ? 'true' : '' })}`;
  } }, field('f-workflow', 'Workflow', wf), field('f-status', 'Status', st), field('f-state', 'State', state), field('f-bk', 'Business key', bk),
  field('f-archived', 'Archived (past retention)', arch), h('button', { type: 'submit' }, 'Filter'));

  const tbody = h('tbody');
  const status = h('p', { class: 'hint', 'aria-live': 'polite' });
  const prev = h('button', { type: 'button', disabled: true, onclick: () => { page--; load(); } }, 'Previous page');
  const next = h('button', { type: 'button', disabled: true, onclick: () => { page++; load(); } }, 'Next page');
  const errors = h('div');

  async function load() {
    try {
      const res = await api('GET', `/v1/runs${qs({ ...filters, limit: 50, cursor: cursors[page] })}`);
      cursors[page + 1] = res.nextCursor;
      clear(errors);
      clear(tbody).append(...res.items.map((r) => h('tr', { 'data-run': r.id },
        h('td', { class: 'nowrap mono' }, h('a', { href: `#/runs/${encodeURIComponent(r.id)}` }, r.id)),
        h('td', { class: 'nowrap' }, `${r.workflow} v${r.version}`),
        h('td', { class: 'nowrap' }, statusBadge(r.status)),
        h('td', { class: 'state-cell' }, stateText(r.state)),
        h('td', { class: 'nowrap' }, r.businessKey ?? '—'),
        h('td', { class: 'nowrap' }, fmtTime(archivedView ? r.endedAt : r.createdAt)),
        h('td', { class: 'state-cell' }, r.nextEvents.length ? r.nextEvents.join(', ') : '—'))));
      if (!res.items.length) tbody.append(h('tr', {}, h('td', { colspan: 7 }, 'No runs match.')));
      prev.disabled = page === 0;
      next.disabled = !res.nextCursor;
      status.textContent = `Page ${page + 1}, ${res.items.length} ${archivedView ? 'archived runs, newest end first' : 'runs'}${page === 0 && !archivedView ? ' · updates every 3 s' : ''}`;
    } catch (err) {
      clear(errors).append(errorBox(err));
    }
  }

  main.append(
    h('h1', {}, 'Runs'),
    can('operator') ? startForm(workflows) : null,
    form,
    errors,
    h('div', { class: 'table-wrap' }, h('table', {},
      h('caption', { class: 'visually-hidden' }, archivedView ? 'Archived runs, newest end first' : 'Runs, newest first'),
      h('thead', {}, h('tr', {}, ['Run', 'Workflow', 'Status', 'State', 'Business key', archivedView ? 'Ended' : 'Created', 'Accepts now'].map((t) => h('th', { scope: 'col' }, t)))),
      tbody)),
    h('div', { class: 'pager' }, prev, next, status),
  );
  await load();
  const timer = setInterval(() => { if (page === 0 && !archivedView && !document.hidden) load(); }, 3000);
  return () => clearInterval(timer);
}

function startForm(workflows) {
  const wf = h('select', { id: 's-workflow', required: true }, workflows.map((w) => h('option', { value: w.name }, w.name)));
  const bk = h('input', { id: 's-bk', maxlength: 200 });
  const input = h('textarea', { id: 's-input', rows: 3, spellcheck: 'false' }, '{}');
  const out = h('div');
  const form = h('form', { class: 'card', 'aria-labelledby': 'start-title', onsubmit: async (e) => {
    e.preventDefault();
    clear(out);
    let parsed;
    try { parsed = JSON.parse(input.value || '{}'); } catch (err) { out.append(errorBox({ code: 'BAD_JSON', message: `input: ${err.message}` })); return; }
    try {
      const run = await api('POST', '/v1/runs', { workflow: wf.value, input: parsed, ...(bk.value.trim() ? { businessKey: bk.value.trim() } : {}) });
      location.hash = `#/runs/${encodeURIComponent(run.id)}`;
    } catch (err) {
      out.append(errorBox(err));
    }
  } },
  h('h2', { id: 'start-title' }, 'Start a run'),
  h('div', { class: 'row' },
    h('div', { class: 'field' }, h('label', { for: 's-workflow' }, 'Workflow'), wf),
    h('div', { class: 'field' }, h('label', { for: 's-bk' }, 'Business key (optional)'), bk),
    h('div', { class: 'field grow' }, h('label', { for: 's-input' }, 'Input (JSON)'), input),
    h('button', { type: 'submit' }, 'Start run')),
  out);
  return h('details', { class: 'start' }, h('summary', {}, 'Start a run'), form);
}
