// The task types page: the live task catalog (where each type runs, its live workers, queue depth,
// oldest waiting age, failures in the last hour), with schema conflicts called out.
import { api } from './api.js';
import { h, fmtDuration, fmtTime } from './dom.js';

export async function renderTaskTypes(main) {
  const { items } = await api('GET', '/v1/task-types');
  const conflicts = items.filter((t) => t.conflict);
  const unserved = items.filter((t) => !t.workers.length && t.queue.waiting > 0);
  main.append(
    h('h1', {}, 'Task types'),
    h('p', { class: 'hint' }, 'Every task type the installation knows, with the workers serving it now (they drop out when their heartbeat stops).'),
    conflicts.length ? h('div', { class: 'error', role: 'alert', id: 'tt-conflicts' }, h('strong', {}, 'Schema conflicts: '),
      conflicts.map((t) => `${t.name} (${t.conflict.workers.map((w) => w.workerId).join(', ')})`).join('; ')) : null,
    unserved.length ? h('div', { class: 'error', role: 'status', id: 'tt-unserved' }, h('strong', {}, 'Waiting with no live worker: '), unserved.map((t) => t.name).join(', ')) : null,
    h('div', { class: 'table-wrap' }, h('table', { id: 'task-types' },
      h('caption', { class: 'visually-hidden' }, 'Task types'),
      h('thead', {}, h('tr', {}, ['Type', 'Runs', 'Live workers', 'Queued', 'Oldest waiting', 'Failed (1 h)', 'Schemas'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, items.map((t) => h('tr', { 'data-type': t.name },
        h('th', { scope: 'row' }, t.name, t.description ? h('div', { class: 'hint' }, t.description) : null),
        h('td', {}, t.execution),
        h('td', {}, t.workers.length ? h('ul', {}, t.workers.map((w) => h('li', {}, `${w.workerId} · ${w.kind} · ${w.version} · beat ${fmtTime(w.heartbeatAt)}`))) : h('span', { class: 'hint' }, 'none')),
        h('td', {}, String(t.queue.waiting + t.queue.delayed)),
        h('td', {}, t.queue.oldestWaitingMs === null ? '—' : fmtDuration(t.queue.oldestWaitingMs)),
        h('td', {}, String(t.failuresLastHour)),
        h('td', {}, t.conflict ? h('strong', {}, 'conflict') : t.output ? h('details', {}, h('summary', {}, 'show'), h('pre', { class: 'json' }, JSON.stringify({ input: t.input, output: t.output }, null, 2))) : '—')))))),
  );
}
