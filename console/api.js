// The console's only way to the server: the public HTTP API with the key kept in sessionStorage.

const KEY = 'servicechart.apiKey';

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  set key(v) { if (v) sessionStorage.setItem(KEY, v); else sessionStorage.removeItem(KEY); },
  name: null,
  role: null,
};

const rank = { viewer: 1, operator: 2, admin: 3 };
export function can(role) { return (rank[session.role] ?? 0) >= rank[role]; }

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code ?? `HTTP_${status}`;
    this.details = body?.error?.details;
  }
}

/** Call the API; JSON in and out (text for diagrams). Throws ApiError with the contract's code. */
export async function api(method, path, body, opts = {}) {
  const headers = { authorization: `Bearer ${opts.key ?? session.key}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  // `opts.raw`: text sent as it is, with its media type in `opts.type` (a registry import).
  if (opts.raw !== undefined) headers['content-type'] = opts.type ?? 'text/plain';
  let res;
  try {
    res = await fetch(path, { method, headers, body: opts.raw ?? (body === undefined ? undefined : JSON.stringify(body)), signal: opts.signal });
  } catch (err) {
    if (err?.name === 'AbortError') throw err;
    throw new ApiError(0, { error: { code: 'UNAVAILABLE', message: 'the server cannot be reached' } });
  }
  const type = res.headers.get('content-type') ?? '';
  const data = type.includes('json') ? await res.json().catch(() => null) : await res.text();
  if (!res.ok) {
    if (res.status === 401 && !opts.key) window.dispatchEvent(new CustomEvent('sc:signed-out'));
    throw new ApiError(res.status, data);
  }
  return data;
}

export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}

/**
 * Follow a run's history over SSE. EventSource cannot send an Authorization header, so this reads the
 * stream with fetch and parses the events itself; it reconnects after the last seq it saw.
 */
export function followRun(id, after, onEntry, onState) {
  const ctl = new AbortController();
  let last = after;
  (async () => {
    while (!ctl.signal.aborted) {
      try {
        const res = await fetch(`/v1/runs/${encodeURIComponent(id)}/stream${qs({ after: last })}`, { headers: { authorization: `Bearer ${session.key}`, accept: 'text/event-stream' }, signal: ctl.signal });
        if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
        onState?.('live');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let event = 'message';
            const data = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) event = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
            }
            if (event === 'history' && data.length) {
              const entry = JSON.parse(data.join('\n'));
              last = Math.max(last ?? 0, entry.seq);
              onEntry(entry);
            }
          }
        }
      } catch (err) {
        if (ctl.signal.aborted) return;
        onState?.('reconnecting');
        if (err instanceof ApiError && (err.status === 404 || err.status === 401 || err.status === 403)) return;
      }
      if (!ctl.signal.aborted) await new Promise((r) => setTimeout(r, 2000));
    }
  })();
  return () => ctl.abort();
}
