// The run page: live diagram, events it accepts now, data, timeline, tasks, timers, SLA clocks, family.
import { api, qs, can, followRun } from './api.js';
import { h, clear, errorBox, fmtTime, fmtDuration, countdown, stateText, statusBadge, importSvg, announce } from './dom.js';

export async function renderRun(main, id) {
  let run = await api('GET', `/v1/runs/${encodeURIComponent(id)}`);
  const enc = encodeURIComponent(id);

  const title = h('h1', {});
  const summary = h('dl', { class: 'facts' });
  const diagram = h('figure', { class: 'diagram', 'aria-labelledby': 'diagram-caption' });
  const diagramCaption = h('figcaption', { id: 'diagram-caption' });
  const actions = h('section', { 'aria-labelledby': 'events-title', class: 'card' });
  const pending = h('section', { 'aria-labelledby': 'pending-title', class: 'card' });
  const slas = h('section', { 'aria-labelledby': 'sla-title', class: 'card' });
  const data = h('section', { 'aria-labelledby': 'data-title', class: 'card' });
  const family = h('section', { 'aria-labelledby': 'family-title', class: 'card' });
  const timeline = h('ol', { class: 'timeline', id: 'timeline' });
  const liveState = h('span', { class: 'hint', id: 'stream-state' }, 'connecting…');
  const errors = h('div');
  /** Tasks the history says no live worker serves (`task.unserved`). */
  const unserved = new Set();

  // Large models (incident, planning) are unreadable shrunk to the card: they open at their own size,
  // scrolled to the first active state, with a toggle to fit the whole chart.
  let fit = null;
  const zoom = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false', onclick: () => { fit = !isFit(); applyZoom(); } }, 'Fit to width');
  const isFit = () => diagram.classList.contains('fit');
  function applyZoom(svgNode = diagram.querySelector('svg')) {
    if (!svgNode) return;
    const natural = Number(svgNode.getAttribute('width')) || 0;
    const wantFit = fit ?? natural <= diagram.clientWidth * 1.6;
    diagram.classList.toggle('fit', wantFit);
    zoom.textContent = wantFit ? 'Actual size' : 'Fit to width';
    zoom.setAttribute('aria-pressed', String(wantFit));
    if (!wantFit) {
      const active = svgNode.querySelector('[aria-current="true"][data-kind="atomic"]') ?? svgNode.querySelector('[aria-current="true"]');
      if (active && active.getBBox) {
        const box = active.getBBox();
        diagram.scrollLeft = Math.max(0, box.x - diagram.clientWidth / 3);
        diagram.scrollTop = Math.max(0, box.y - diagram.clientHeight / 3);
      }
    }
  }


  main.append(
    title, summary, errors,
    h('div', { class: 'run-grid' },
      h('div', { class: 'col-main' },
        h('section', { class: 'card', 'aria-labelledby': 'diagram-title' }, h('div', { class: 'card-head' }, h('h2', { id: 'diagram-title' }, 'Statechart'), zoom), diagram),
        actions, data),
      h('div', { class: 'col-side' },
        pending, slas, family,
        h('section', { class: 'card', 'aria-labelledby': 'history-title' }, h('h2', { id: 'history-title' }, 'History ', liveState), timeline))),
  );

  async function drawDiagram() {
    try {
      const svg = await api('GET', `/v1/runs/${enc}/diagram?format=svg`);
      const node = importSvg(svg);
      diagramCaption.textContent = `Active: ${stateText(run.state)}`;
      clear(diagram).append(node);
      applyZoom(node);
      if (!diagramCaption.isConnected) diagram.after(diagramCaption);
    } catch (err) {
      clear(diagram).append(errorBox(err));
    }
  }

  function drawSummary() {
    title.textContent = `Run ${run.id}`;
    const item = (k, ...v) => [h('dt', {}, k), h('dd', {}, ...v)];
    clear(summary).append(
      ...item('Workflow', h('a', { href: `#/workflows/${encodeURIComponent(run.workflow)}` }, run.workflow), ` v${run.version}`),
      ...item('Status', statusBadge(run.status)),
      ...item('State', h('span', { id: 'run-state' }, stateText(run.state))),
      ...item('Business key', run.businessKey ?? '—'),
      ...item('Started', fmtTime(run.createdAt)),
      ...item(run.endedAt ? 'Ended' : 'Updated', fmtTime(run.endedAt ?? run.updatedAt)),
      ...(run.archived ? item('Stored', h('span', { class: 'badge', id: 'run-archived' }, 'archived'), ' past retention: read from the archive') : []),
    );
  }

  function drawActions() {
    clear(actions).append(h('h2', { id: 'events-title' }, 'Events'));
    if (run.status !== 'running') {
      actions.append(h('p', {}, `This run has ended (${run.status}).`));
      return;
    }
    if (!can('operator')) {
      actions.append(h('p', {}, `Accepts now: ${run.nextEvents.join(', ') || 'nothing'} (sending events needs the operator role).`));
      return;
    }
    const formSlot = h('div');
    const buttons = h('div', { class: 'buttons', role: 'group', 'aria-label': 'Events this run accepts now' },
      run.nextEvents.length ? run.nextEvents.map((ev) => h('button', { type: 'button', 'data-event': ev, onclick: () => openEvent(ev, formSlot) }, ev)) : h('p', {}, 'It accepts no event now.'));
    const cancel = h('button', { type: 'button', class: 'danger', onclick: async () => {
      if (!confirm(`Cancel run ${run.id}? Its tasks and timers are withdrawn.`)) return;
      try {
        run = await api('POST', `/v1/runs/${enc}/cancel`, { reason: 'cancelled from the console' });
        refreshAll();
      } catch (err) { clear(formSlot).append(errorBox(err)); }
    } }, 'Cancel run');
    actions.append(buttons, formSlot, h('div', { class: 'buttons' }, cancel));
  }

  function openEvent(ev, slot) {
    const payload = h('textarea', { id: 'event-payload', rows: 4, spellcheck: 'false' }, '{}');
    const out = h('div');
    const form = h('form', { class: 'event-form', 'aria-label': `Send ${ev}`, onsubmit: async (e) => {
      e.preventDefault();
      clear(out);
      let body;
      try { body = JSON.parse(payload.value || '{}'); } catch (err) { out.append(errorBox({ code: 'BAD_JSON', message: err.message })); return; }
      if (!body || typeof body !== 'object' || Array.isArray(body)) { out.append(errorBox({ code: 'BAD_JSON', message: 'the payload must be a JSON object' })); return; }
      try {
        const res = await api('POST', `/v1/runs/${enc}/events`, { ...body, type: ev });
        run = res.run;
        announce(`${ev} applied; state ${stateText(run.state)}`);
        refreshAll();
      } catch (err) { out.append(errorBox(err)); }
    } },
    h('label', { for: 'event-payload' }, `Payload for ${ev} (JSON object; "type" is set for you)`), payload,
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, `Send ${ev}`), h('button', { type: 'button', class: 'secondary', onclick: () => clear(slot) }, 'Close')), out);
    clear(slot).append(form);
    payload.focus();
  }

  function drawPending() {
    const now = Date.now();
    const humans = run.humanTasks ?? [];
    clear(pending).append(h('h2', { id: 'pending-title' }, 'Pending work'));
    const open = run.tasks.filter((t) => t.status !== 'done');
    if (!open.length && !run.timers.length && !humans.length) { pending.append(h('p', {}, 'Nothing pending.')); return; }
    if (humans.length) pending.append(h('h3', {}, 'Human tasks'), h('ul', {}, humans.map((t) => h('li', {},
      h('a', { href: `#/inbox${qs({ workflow: run.workflow })}` }, t.title), ` · role ${t.role}`,
      t.dueAt ? h('span', { class: 'countdown', 'data-due': t.dueAt }, ` · due ${fmtTime(t.dueAt)} (${countdown(t.dueAt, now)})`) : null))));
    if (open.length) pending.append(h('h3', {}, 'Tasks'), h('ul', {}, open.map((t) => h('li', {}, `${t.name} · ${t.status} · attempt ${t.attempts}`,
      unserved.has(t.id) ? h('strong', { class: 'unserved' }, ` · no live worker serves ${t.name} (still waiting; see the task types page)`) : null))));
    if (run.timers.length) pending.append(h('h3', {}, 'Timers'), h('ul', {}, run.timers.map((t) => h('li', {},
      `${t.timer ?? t.event}${String(t.event).startsWith("xstate.") ? "" : ` → ${t.event}`} · due ${fmtTime(t.dueAt)} `, h('span', { class: 'countdown', 'data-due': t.dueAt }, `(${countdown(t.dueAt, now)})`)))));
  }

  function drawSlas() {
    clear(slas).append(h('h2', { id: 'sla-title' }, 'SLA clocks'));
    const clocks = run.context && typeof run.context.sla === 'object' && run.context.sla ? Object.entries(run.context.sla) : [];
    const valid = clocks.filter(([, c]) => c && typeof c === 'object');
    if (!valid.length) { slas.append(h('p', {}, 'This run has no SLA clocks.')); return; }
    const now = Date.now();
    slas.append(h('ul', { class: 'slas' }, valid.map(([name, c]) => {
      const target = c.dueAt && c.startedAt ? new Date(c.dueAt) - new Date(c.startedAt) - (c.pausedMs ?? 0) : null;
      const elapsed = c.elapsedMs ?? null;
      const state = c.breached ? 'breached' : c.met ? 'met' : c.paused ? 'paused' : 'running';
      const ratio = target > 0 && elapsed !== null ? Math.min(1, elapsed / target) : 0;
      return h('li', { class: `sla sla-${state}` },
        h('strong', {}, name), ` · ${state}`,
        h('div', {}, `elapsed ${fmtDuration(elapsed)} of ${fmtDuration(target)}`, c.pausedMs ? ` · paused ${fmtDuration(c.pausedMs)}` : ''),
        h('progress', { max: 1, value: ratio, 'aria-label': `${name}: ${Math.round(ratio * 100)}% of target used` }),
        c.dueAt ? h('div', {}, `due ${fmtTime(c.dueAt)} `, state === 'running' ? h('span', { class: 'countdown', 'data-due': c.dueAt }, `(${countdown(c.dueAt, now)})`) : null) : null);
    })));
  }

  function drawData() {
    const json = (v) => h('pre', { class: 'json' }, JSON.stringify(v, null, 2));
    clear(data).append(h('h2', { id: 'data-title' }, 'Data'),
      h('h3', {}, 'Business key'), h('p', {}, run.businessKey ?? '—'),
      h('h3', {}, 'Input'), json(run.input),
      h('h3', {}, 'Context'), h('div', { id: 'run-context' }, json(run.context)),
      run.output !== null && run.output !== undefined ? [h('h3', {}, 'Output'), json(run.output)] : null,
      run.error ? [h('h3', {}, 'Error'), json(run.error)] : null);
  }

  async function drawFamily() {
    clear(family).append(h('h2', { id: 'family-title' }, 'Related runs'));
    if (run.parentRunId) family.append(h('p', {}, 'Parent: ', h('a', { href: `#/runs/${encodeURIComponent(run.parentRunId)}` }, run.parentRunId)));
    try {
      const [hot, archived] = await Promise.all([
        api('GET', `/v1/runs${qs({ parentRunId: run.id, limit: 100 })}`),
        api('GET', `/v1/runs${qs({ parentRunId: run.id, archived: 'true', limit: 100 })}`).catch(() => ({ items: [] })),
      ]);
      const kids = { items: [...hot.items, ...archived.items] };
      if (kids.items.length) family.append(h('p', {}, 'Children:'), h('ul', {}, kids.items.map((k) => h('li', {}, h('a', { href: `#/runs/${encodeURIComponent(k.id)}` }, k.id), ` · ${k.workflow} · `, statusBadge(k.status)))));
      else if (!run.parentRunId) family.append(h('p', {}, 'No parent or child runs.'));
    } catch (err) { family.append(errorBox(err)); }
  }

  function entryItem(e) {
    if (e.type === 'task.unserved' && e.taskId && !unserved.has(e.taskId)) { unserved.add(e.taskId); drawPending(); }
    const what = e.state ?? e.task ?? e.timer ?? e.event ?? '';
    const extra = e.type === 'event.received' && e.payload && Object.keys(e.payload).length ? JSON.stringify(e.payload) : e.error ? JSON.stringify(e.error) : e.message ?? '';
    return h('li', { 'data-seq': e.seq, class: `entry t-${String(e.type).replace(/[^a-z]/g, '-')}` },
      h('time', { datetime: e.at }, fmtTime(e.at)), ' ',
      h('strong', {}, e.type), what ? ` ${typeof what === 'string' ? what : JSON.stringify(what)}` : '',
      e.actor ? h('span', { class: 'hint' }, ` · ${e.actor}`) : null,
      extra ? h('code', { class: 'payload' }, extra) : null);
  }

  async function loadHistory() {
    let cursor = null;
    let last = 0;
    do {
      const page = await api('GET', `/v1/runs/${enc}/history${qs({ limit: 500, cursor })}`);
      for (const e of page.items) { timeline.append(entryItem(e)); last = e.seq; }
      cursor = page.nextCursor;
    } while (cursor);
    return last;
  }

  let refreshing = null;
  let again = false;
  async function refreshAll() {
    if (refreshing) { again = true; return refreshing; }
    refreshing = (async () => {
      try {
        do {
          again = false;
          run = await api('GET', `/v1/runs/${enc}`);
          drawSummary(); drawActions(); drawPending(); drawSlas(); drawData();
          await drawDiagram();
        } while (again);
        clear(errors);
      } catch (err) { clear(errors).append(errorBox(err)); }
      refreshing = null;
    })();
    return refreshing;
  }

  drawSummary(); drawActions(); drawPending(); drawSlas(); drawData();
  await Promise.all([drawDiagram(), drawFamily()]);
  const lastSeq = await loadHistory();
  if (run.archived) {
    // An archived run has ended and left Redis: its history is complete, nothing to follow.
    liveState.textContent = '(archived)';
    return () => {};
  }
  const stop = followRun(run.id, lastSeq, (entry) => {
    if (!timeline.querySelector(`[data-seq="${entry.seq}"]`)) timeline.append(entryItem(entry));
    refreshAll();
  }, (s) => { liveState.textContent = s === 'live' ? '(live)' : '(reconnecting…)'; });
  const tick = setInterval(() => {
    for (const el of main.querySelectorAll('.countdown[data-due]')) {
      const text = countdown(el.dataset.due);
      el.textContent = el.textContent.startsWith(' ·') ? el.textContent.replace(/\([^)]*\)$/, `(${text})`) : `(${text})`;
    }
  }, 1000);
  return () => { stop(); clearInterval(tick); };
}
