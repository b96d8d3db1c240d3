// The console shell: sign-in, navigation and hash routing to the pages.
import { api, session, ApiError } from './api.js';
import { h, clear, errorBox } from './dom.js';
import { renderRuns } from './runs.js';
import { renderRun } from './run.js';
import { renderInbox } from './inbox.js';
import { renderWorkflows, renderWorkflow } from './workflows.js';
import { renderMeasures } from './measures.js';
import { renderTaskTypes } from './task-types.js';
import { renderServices, renderService, renderCis, renderCi, renderRegistry } from './registry.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
let cleanup = null;
let generation = 0;

function signInPage(problem) {
  nav.hidden = true;
  clear(who);
  const key = h('input', { id: 'key', name: 'key', type: 'password', autocomplete: 'off', required: true, 'aria-describedby': 'key-help' });
  const form = h('form', { class: 'card narrow', 'aria-labelledby': 'signin-title', onsubmit: async (e) => {
    e.preventDefault();
    const btn = form.querySelector('button');
    btn.disabled = true;
    try {
      const me = await api('GET', '/v1/whoami', undefined, { key: key.value.trim() });
      session.key = key.value.trim();
      session.name = me.name;
      session.role = me.role;
      if (!location.hash || location.hash === '#/' || location.hash === '#/signin') location.hash = '#/runs';
      else route();
    } catch (err) {
      btn.disabled = false;
      form.querySelector('.error')?.remove();
      form.append(errorBox(err));
      key.focus();
    }
  } },
  h('h1', { id: 'signin-title' }, 'Sign in'),
  h('label', { for: 'key' }, 'API key'),
  key,
  h('p', { id: 'key-help', class: 'hint' }, 'The key stays in this browser tab only (sessionStorage) and is sent as a Bearer header to the API.'),
  h('button', { type: 'submit' }, 'Sign in'),
  problem ? errorBox(problem) : null);
  clear(main).append(form);
  key.focus();
}

function showSession() {
  nav.hidden = false;
  clear(who).append(
    session.role === 'admin' ? h('button', { type: 'button', class: 'link', title: 'bull-board, read-only; opens a 15-minute session', onclick: openBoard }, 'Queue board') : null,
    h('span', {}, `${session.name} (${session.role})`),
    h('button', { type: 'button', class: 'link', onclick: () => { session.key = null; session.role = null; location.hash = '#/signin'; signInPage(); } }, 'Sign out'),
  );
}

// A navigation cannot carry the Bearer header: the key buys a short-lived HttpOnly cookie for the board.
async function openBoard() {
  try {
    const res = await api('POST', '/v1/console/board-session', {});
    location.assign(res.path);
  } catch (err) {
    main.prepend(errorBox(err));
  }
}

async function ensureSession() {
  if (!session.key) return false;
  if (session.role) return true;
  try {
    const me = await api('GET', '/v1/whoami');
    session.name = me.name;
    session.role = me.role;
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) session.key = null;
    return false;
  }
}

async function route(e) {
  const token = ++generation;
  cleanup?.();
  cleanup = null;
  if (!(await ensureSession())) return token === generation ? signInPage() : undefined;
  if (token !== generation) return;
  showSession();
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  const params = Object.fromEntries(new URLSearchParams(query));
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  for (const a of nav.querySelectorAll('a')) {
    if (a.getAttribute('href') === `#/${parts[0] ?? 'runs'}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  // Each navigation renders into its own view; a slower, older render that finishes late is dropped.
  const view = h('div', { class: 'view' });
  clear(main).append(view);
  const page = parts[0] ?? 'runs';
  let stop = null;
  try {
    if (page === 'runs' && parts[1]) stop = await renderRun(view, parts[1]);
    else if (page === 'runs') stop = await renderRuns(view, params);
    else if (page === 'inbox') stop = await renderInbox(view, params);
    else if (page === 'workflows' && parts[1]) stop = await renderWorkflow(view, parts[1], params);
    else if (page === 'workflows') stop = await renderWorkflows(view);
    else if (page === 'measures') stop = await renderMeasures(view, params);
    else if (page === 'task-types') stop = await renderTaskTypes(view);
    else if (page === 'services' && parts[1]) stop = await renderService(view, parts[1]);
    else if (page === 'services') stop = await renderServices(view, params);
    else if (page === 'cis' && parts[1]) stop = await renderCi(view, parts[1]);
    else if (page === 'cis') stop = await renderCis(view, params);
    else if (page === 'registry') stop = await renderRegistry(view);
    else { location.hash = '#/runs'; return; }
  } catch (err) {
    view.append(errorBox(err));
  }
  if (token !== generation) { stop?.(); return; }
  cleanup = stop ?? null;
  const heading = main.querySelector('h1');
  document.title = heading ? `${heading.textContent} · Servicechart` : 'Servicechart console';
  // After a navigation, keyboard and screen reader users start at the new page's heading.
  if (e?.type === 'hashchange' && heading && !main.contains(document.activeElement)) {
    heading.setAttribute('tabindex', '-1');
    heading.focus();
  }
}

window.addEventListener('hashchange', route);
window.addEventListener('sc:signed-out', () => { session.key = null; session.role = null; signInPage({ code: 'UNAUTHENTICATED', message: 'the key was refused; sign in again' }); });
route();
