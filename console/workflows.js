// The workflows pages: the list, one workflow's versions and diagram, and registering a new version.
import { api, can } from './api.js';
import { h, clear, errorBox, importSvg } from './dom.js';

export async function renderWorkflows(main) {
  const { items } = await api('GET', '/v1/workflows');
  main.append(
    h('h1', {}, 'Workflows'),
    h('div', { class: 'table-wrap' }, h('table', {},
      h('caption', { class: 'visually-hidden' }, 'Workflows, latest version of each'),
      h('thead', {}, h('tr', {}, ['Name', 'Latest version', 'Description', 'Kind'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, items.map((w) => h('tr', {},
        h('td', {}, h('a', { href: `#/workflows/${encodeURIComponent(w.name)}` }, w.name)),
        h('td', {}, String(w.version)), h('td', {}, w.description ?? ''), h('td', {}, w.builtIn ? 'built in' : 'JSON')))))),
    can('admin') ? registerForm() : h('p', { class: 'hint' }, 'Registering workflows needs the admin role.'),
  );
}

export async function renderWorkflow(main, name, params) {
  const enc = encodeURIComponent(name);
  const latest = await api('GET', `/v1/workflows/${enc}`);
  const version = params.version ? Number(params.version) : latest.version;
  const wf = version === latest.version ? latest : await api('GET', `/v1/workflows/${enc}/versions/${version}`);
  const versions = latest.versions ?? Array.from({ length: latest.version }, (_, i) => i + 1);
  const diagram = h('figure', { class: 'diagram' });
  main.append(
    h('h1', {}, `Workflow ${wf.name}`),
    h('p', {}, wf.description ?? ''),
    h('nav', { 'aria-label': 'Versions', class: 'versions' }, 'Versions: ', versions.map((v) => [h('a', { href: `#/workflows/${enc}?version=${v}`, 'aria-current': v === version ? 'page' : null }, `v${v}`), ' '])),
    h('section', { class: 'card', 'aria-labelledby': 'wf-diagram' }, h('h2', { id: 'wf-diagram' }, `Statechart (v${latest.version})`), diagram),
    h('section', { class: 'card', 'aria-labelledby': 'wf-def' }, h('h2', { id: 'wf-def' }, `Definition (v${version})`),
      wf.definition ? h('pre', { class: 'json' }, JSON.stringify(wf.definition, null, 2)) : h('p', {}, 'A built-in workflow written in TypeScript.'),
      wf.inputSchema ? [h('h3', {}, 'Input schema'), h('pre', { class: 'json' }, JSON.stringify(wf.inputSchema, null, 2))] : null),
    can('admin') && !wf.builtIn ? registerForm(wf) : null,
  );
  try {
    diagram.append(importSvg(await api('GET', `/v1/workflows/${enc}/diagram?format=svg`)));
  } catch (err) { diagram.append(errorBox(err)); }
}

const example = { initial: 'open', states: { open: { on: { CLOSE: 'closed' } }, closed: { type: 'final' } } };

function registerForm(from) {
  const name = h('input', { id: 'r-name', required: true, pattern: '[a-z][a-z0-9_\\-]{0,63}', title: 'lower case letters, digits, _ and -; starts with a letter', value: from?.name ?? '' });
  const description = h('input', { id: 'r-description', value: from?.description ?? '' });
  const definition = h('textarea', { id: 'r-definition', rows: 16, spellcheck: 'false', required: true }, JSON.stringify(from?.definition ?? example, null, 2));
  const inputSchema = h('textarea', { id: 'r-input-schema', rows: 4, spellcheck: 'false' }, from?.inputSchema ? JSON.stringify(from.inputSchema, null, 2) : '');
  const slots = { name: h('div', { id: 'r-name-problems' }), description: h('div', { id: 'r-description-problems' }), definition: h('div', { id: 'r-definition-problems' }), inputSchema: h('div', { id: 'r-input-schema-problems' }), other: h('div') };
  for (const [k, el] of Object.entries({ name, description, definition, inputSchema })) el.setAttribute('aria-describedby', slots[k].id);
  const out = h('div', { 'aria-live': 'polite' });
  const fieldOf = { name, description, definition, inputSchema };

  const form = h('form', { class: 'card', id: 'register', 'aria-labelledby': 'register-title', onsubmit: async (e) => {
    e.preventDefault();
    for (const s of Object.values(slots)) clear(s);
    for (const f of Object.values(fieldOf)) f.removeAttribute('aria-invalid');
    clear(out);
    const body = { name: name.value.trim() };
    if (description.value.trim()) body.description = description.value.trim();
    try { body.definition = JSON.parse(definition.value); } catch (err) { return problems([{ path: '/definition', message: `not JSON: ${err.message}` }]); }
    if (inputSchema.value.trim()) {
      try { body.inputSchema = JSON.parse(inputSchema.value); } catch (err) { return problems([{ path: '/inputSchema', message: `not JSON: ${err.message}` }]); }
    }
    try {
      const res = await api('POST', '/v1/workflows', body);
      out.append(h('p', { role: 'status', class: 'done' }, `Registered ${res.name} v${res.version}. `, h('a', { href: `#/workflows/${encodeURIComponent(res.name)}?version=${res.version}` }, 'Open it')));
    } catch (err) {
      if (err.code === 'VALIDATION_FAILED' && Array.isArray(err.details)) problems(err.details, err);
      else out.append(errorBox(err));
    }
  } },
  h('h2', { id: 'register-title' }, from ? 'Register a new version' : 'Register a workflow'),
  h('div', { class: 'field' }, h('label', { for: 'r-name' }, 'Name'), name, slots.name),
  h('div', { class: 'field' }, h('label', { for: 'r-description' }, 'Description'), description, slots.description),
  h('div', { class: 'field' }, h('label', { for: 'r-definition' }, 'Definition (XState machine config as JSON)'), definition, slots.definition),
  h('div', { class: 'field' }, h('label', { for: 'r-input-schema' }, 'Input schema (JSON Schema, optional)'), inputSchema, slots.inputSchema),
  slots.other,
  h('button', { type: 'submit' }, 'Register'),
  out);

  // Each problem is shown under the field its path points into (/definition/states/x/on → Definition).
  function problems(list, err) {
    out.append(h('p', { role: 'alert', class: 'error' }, `${list.length} problem${list.length === 1 ? '' : 's'}: ${err?.message ?? 'fix the JSON'}`));
    for (const p of list) {
      const path = String(p.path ?? '');
      const top = path.replace(/^\/(body\/)?/, '').split('/')[0];
      const slot = slots[top] ?? slots.other;
      fieldOf[top]?.setAttribute('aria-invalid', 'true');
      slot.append(h('p', { class: 'problem' }, h('code', {}, path || '/'), ` ${p.message ?? ''}`));
    }
  }
  return form;
}
