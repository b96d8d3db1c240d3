// The inbox: every open human task, filterable by role and workflow, completed with an outcome.
import { api, qs, can } from './api.js';
import { h, clear, errorBox, fmtTime, countdown, announce } from './dom.js';

const BY = 'servicechart.by';

export async function renderInbox(main, params) {
  const role = h('input', { id: 'i-role', value: params.role ?? '' });
  const workflow = h('input', { id: 'i-workflow', value: params.workflow ?? '' });
  const list = h('ul', { class: 'tasks', id: 'tasks' });
  const status = h('p', { class: 'hint', 'aria-live': 'polite' });
  const errors = h('div');
  const cards = new Map();

  main.append(
    h('h1', {}, 'Inbox'),
    h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter tasks', onsubmit: (e) => {
      e.preventDefault();
      location.hash = `#/inbox${qs({ role: role.value.trim(), workflow: workflow.value.trim() })}`;
    } },
    h('div', { class: 'field' }, h('label', { for: 'i-role' }, 'Role'), role),
    h('div', { class: 'field' }, h('label', { for: 'i-workflow' }, 'Workflow'), workflow),
    h('button', { type: 'submit' }, 'Filter')),
    errors, status, list);

  function card(t) {
    const n = t.id.replace(/[^A-Za-z0-9_-]/g, '_');
    const out = h('div');
    const outcome = h('select', { id: `o-${n}`, required: true }, Object.keys(t.outcomes ?? {}).map((o) => h('option', { value: o }, o)));
    const comment = h('textarea', { id: `c-${n}`, rows: 2 });
    const by = h('input', { id: `b-${n}`, required: true, maxlength: 200, value: sessionStorage.getItem(BY) ?? '', autocomplete: 'name' });
    const form = h('form', { 'aria-label': `Complete ${t.title}`, onsubmit: async (e) => {
      e.preventDefault();
      clear(out);
      sessionStorage.setItem(BY, by.value.trim());
      for (const other of list.querySelectorAll('input[autocomplete=name]')) if (!other.value) other.value = by.value.trim();
      const btn = form.querySelector('button[type=submit]');
      btn.disabled = true;
      try {
        await api('POST', `/v1/tasks/${encodeURIComponent(t.id)}/complete`, { outcome: outcome.value, by: by.value.trim(), ...(comment.value.trim() ? { comment: comment.value } : {}) });
        announce(`${t.title}: ${outcome.value} recorded`);
        li.replaceChildren(h('p', { class: 'done', role: 'status' }, `Completed "${t.title}" with ${outcome.value}.`));
        cards.delete(t.id);
        setTimeout(() => li.remove(), 4000);
      } catch (err) {
        btn.disabled = false;
        out.append(errorBox(err));
      }
    } },
    h('div', { class: 'row' },
      h('div', { class: 'field' }, h('label', { for: `o-${n}` }, 'Outcome'), outcome),
      h('div', { class: 'field' }, h('label', { for: `b-${n}` }, 'Your name'), by),
      h('div', { class: 'field grow' }, h('label', { for: `c-${n}` }, 'Comment'), comment),
      h('button', { type: 'submit' }, 'Complete')),
    out);
    const li = h('li', { class: 'card task', 'data-task': t.id },
      h('h2', {}, t.title),
      h('p', {}, `${t.workflow} · role ${t.role}${t.businessKey ? ` · ${t.businessKey}` : ''} · opened ${fmtTime(t.createdAt)}`,
        t.dueAt ? ` · due ${fmtTime(t.dueAt)} (${countdown(t.dueAt)})` : '', ' · ',
        h('a', { href: `#/runs/${encodeURIComponent(t.runId)}` }, `run ${t.runId}`)),
      can('operator') ? form : h('p', { class: 'hint' }, 'Completing tasks needs the operator role.'));
    return li;
  }

  async function load() {
    try {
      const res = await api('GET', `/v1/tasks${qs({ status: 'open', role: params.role, workflow: params.workflow, limit: 200 })}`);
      clear(errors);
      const seen = new Set();
      for (const t of res.items) {
        seen.add(t.id);
        if (!cards.has(t.id)) { const c = card(t); cards.set(t.id, c); list.append(c); }
      }
      // Tasks completed elsewhere disappear; a card being typed into stays until it is submitted.
      for (const [id, c] of cards) if (!seen.has(id) && !c.contains(document.activeElement)) { c.remove(); cards.delete(id); }
      status.textContent = `${cards.size} open task${cards.size === 1 ? '' : 's'} · updates every 5 s`;
    } catch (err) { clear(errors).append(errorBox(err)); }
  }
  await load();
  const timer = setInterval(() => { if (!document.hidden) load(); }, 5000);
  return () => clearInterval(timer);
}
