// End-to-end plumbing for the topology tests: real `servicechart api` and `worker` processes on a
// Redis topology, an HTTP client that times every answer, writes retried with their Idempotency-Key
// until acknowledged, and the workload (incidents, demo runs with timers, standard changes with human
// tasks and timers) with the checks that every run ends and every acknowledged write applied once.
import * as assert from 'uvu/assert';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePortForTest, kill9, spawnReady, waitFor } from '../helpers.ts';

const KEY = 'cluster-operator-key-0123';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Answer {
  status: number;
  body: any;
  ms: number;
}

export interface Servers {
  url: string;
  api: ChildProcess;
  workers: ChildProcess[];
  /** Every answer, for the checks on statuses and times. */
  answers: { what: string; status: number; ms: number; error?: string }[];
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer>;
  /** Send a write until it is acknowledged (2xx), retrying 503s (and dropped connections) with the same Idempotency-Key. */
  untilAcked(method: string, path: string, body: unknown, idempotencyKey: string | null, timeoutMs?: number): Promise<Answer & { refusals: number }>;
  stop(): Promise<void>;
}

/** Start one API process and `workers` worker processes on the Redis named by `env` (REDIS_*). */
export async function startServers(env: Record<string, string>, workers = 1): Promise<Servers> {
  const dir = mkdtempSync(join(tmpdir(), 'sc-e2e-'));
  const port = await freePortForTest();
  const base = {
    ...env, SERVICECHART_DATA_DIR: dir, SERVICECHART_API_KEYS: `ops:${KEY}:admin`, HOST: '127.0.0.1', PORT: String(port),
    SERVICECHART_RATE_LIMIT: '10000', LOG_LEVEL: 'info',
  };
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const c of children) await kill9(c);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  });
  try {
    const api = await spawnReady(['bin/servicechart.js', 'api'], base, /listening on/, 40_000);
    children.push(api);
    const ws: ChildProcess[] = [];
    for (let i = 0; i < workers; i++) {
      const w = await spawnReady(['bin/servicechart.js', 'worker'], base, /consumers running/, 40_000);
      children.push(w);
      ws.push(w);
    }
    const url = `http://127.0.0.1:${port}`;
    const answers: Servers['answers'] = [];
    const call: Servers['call'] = async (method, path, body, headers = {}) => {
      const started = Date.now();
      let status = 0;
      let parsed: any = null;
      try {
        const res = await fetch(url + path, {
          method,
          headers: { authorization: `Bearer ${KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(30_000),
        });
        status = res.status;
        const text = await res.text();
        parsed = text ? JSON.parse(text) : null;
      } catch (err) {
        parsed = { error: { code: 'CLIENT', message: String(err) } };
      }
      const ms = Date.now() - started;
      answers.push({ what: `${method} ${path}`, status, ms, ...(parsed?.error ? { error: String(parsed.error.message).slice(0, 200) } : {}) });
      return { status, body: parsed, ms };
    };
    return {
      url, api, workers: ws, answers, call,
      async untilAcked(method, path, body, idempotencyKey, timeoutMs = 60_000) {
        const deadline = Date.now() + timeoutMs;
        let refusals = 0;
        for (;;) {
          const res = await call(method, path, body, idempotencyKey ? { 'idempotency-key': idempotencyKey } : {});
          if (res.status >= 200 && res.status < 300) return { ...res, refusals };
          if (res.status !== 503 && res.status !== 0) return { ...res, refusals };
          refusals++;
          if (Date.now() > deadline) throw new Error(`${method} ${path} still refused after ${timeoutMs} ms: ${JSON.stringify(res.body)}`);
          await sleep(150);
        }
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Every answer was 2xx, 404 (not found yet), 409 (a retried completion already applied) or 503, and none took 5 s. */
export function assertAnswersHealthy(s: Servers): void {
  const bad = s.answers.filter((a) => ![200, 201, 202, 404, 409, 503].includes(a.status));
  assert.equal(bad.slice(0, 5), [], `answers other than 2xx/409/503: ${bad.length}`);
  const slow = s.answers.filter((a) => a.ms >= 5000);
  assert.equal(slow.slice(0, 5), [], 'no answer took 5 s or more');
}

export async function history(s: Servers, id: string): Promise<any[]> {
  const items: any[] = [];
  let cursor: string | null = null;
  do {
    const res = await s.call('GET', `/v1/runs/${id}/history?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
    if (res.status !== 200) throw new Error(`history of ${id}: ${res.status}`);
    items.push(...res.body.items);
    cursor = res.body.nextCursor;
  } while (cursor);
  return items;
}

export async function openTask(s: Servers, runId: string, role: string, timeoutMs = 30_000): Promise<any> {
  return waitFor(async () => {
    const res = await s.call('GET', `/v1/tasks?status=open&runId=${encodeURIComponent(runId)}`);
    return res.status === 200 ? (res.body.items.find((t: any) => t.role === role) ?? null) : null;
  }, timeoutMs, `an open ${role} task on ${runId}`);
}

/** Complete a human task until acknowledged; a 409 after an unconfirmed attempt means that attempt applied. */
export async function completeTask(s: Servers, taskId: string, outcome: string, by: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  let unconfirmed = false;
  for (;;) {
    const res = await s.call('POST', `/v1/tasks/${taskId}/complete`, { outcome, by });
    if (res.status === 200) return;
    if (res.status === 409 && unconfirmed) return;
    if (res.status !== 503 && res.status !== 0) throw new Error(`completing ${taskId}: ${res.status} ${JSON.stringify(res.body)}`);
    unconfirmed = true;
    if (Date.now() > deadline) throw new Error(`completing ${taskId} still refused after 60 s`);
    await sleep(150);
  }
}

const iso = (t: number) => new Date(t).toISOString();

export interface Workload {
  incidents: string[];
  demos: string[];
  changes: string[];
  /** Events sent per incident during the burst (UPDATE_PRIORITY n, with key `<id>-u<n>`). */
  updates: number;
}

/**
 * Start the workload: incidents, demo runs whose cool-down timer is pending for `timerMs`, and standard
 * changes planned `timerMs` ahead (a timer until their planned start, then an implementer task).
 */
export async function startWorkload(s: Servers, n: { incidents: number; demos: number; changes: number; updates: number; timerMs: number }, tag: string): Promise<Workload> {
  const start = async (body: unknown, key: string) => {
    const res = await s.untilAcked('POST', '/v1/runs', body, key);
    assert.is(res.status, 201, JSON.stringify(res.body));
    return res.body.id as string;
  };
  const now = Date.now();
  const incidents = await Promise.all(Array.from({ length: n.incidents }, (_, i) => start({
    workflow: 'incident', businessKey: `INC-${tag}-${i}`,
    input: { title: `Outage ${i}`, impact: 3, urgency: 3, category: 'network', caller: 'carl', service: 'shop', autoCloseAfterMs: 200 },
  }, `${tag}-inc-${i}`)));
  const demos = await Promise.all(Array.from({ length: n.demos }, (_, i) => start({ workflow: 'demo', input: { sleepMs: 100, coolDownMs: n.timerMs } }, `${tag}-demo-${i}`)));
  const changes = await Promise.all(Array.from({ length: n.changes }, (_, i) => start({
    workflow: 'change', businessKey: `CHG-${tag}-${i}`,
    input: {
      changeType: 'standard', templateId: 'rotation', requestedBy: 'rita', implementer: 'ivan', ci: [`web-${i}`],
      templates: { rotation: { active: true, implementationPlan: 'rotate', backoutPlan: 'restore', testPlan: 'curl' } },
      plannedStart: iso(now + n.timerMs), plannedEnd: iso(now + 3_600_000),
      schedules: { maintenance: { [`web-${i}`]: [{ start: iso(now - 3_600_000), end: iso(now + 360_000_000) }] } },
    },
  }, `${tag}-chg-${i}`)));
  return { incidents, demos, changes, updates: n.updates };
}

/** The burst: every incident gets `updates` events and every change its SUBMIT, all retried until acknowledged. */
export async function burst(s: Servers, w: Workload, onProgress: (acked: number) => void): Promise<{ refusals: number }> {
  let acked = 0;
  let refusals = 0;
  const incidentEvents = w.incidents.map(async (id) => {
    for (let u = 0; u < w.updates; u++) {
      const res = await s.untilAcked('POST', `/v1/runs/${id}/events`, { type: 'UPDATE_PRIORITY', impact: 1 + (u % 3), urgency: 3, by: 'dora' }, `${id}-u${u}`);
      assert.is(res.status, 200, JSON.stringify(res.body));
      refusals += res.refusals;
      onProgress(++acked);
    }
  });
  const submits = w.changes.map(async (id) => {
    const task = await openTask(s, id, 'change_requester');
    await completeTask(s, task.id, 'SUBMIT', 'rita');
    onProgress(++acked);
  });
  await Promise.all([...incidentEvents, ...submits]);
  return { refusals };
}

/** Drive every run to its end: incidents acknowledged and resolved (auto-close timer), changes implemented, demos on their timer. */
export async function finish(s: Servers, w: Workload): Promise<void> {
  await Promise.all(w.incidents.map(async (id) => {
    for (const [type, extra] of [['ACKNOWLEDGE', {}], ['RESOLVE', { code: 'fixed', comment: 'done' }]] as const) {
      const res = await s.untilAcked('POST', `/v1/runs/${id}/events`, { type, by: 'dora', ...extra }, `${id}-${type}`);
      assert.is(res.status, 200, JSON.stringify(res.body));
    }
  }));
  await Promise.all(w.changes.map(async (id) => {
    const task = await openTask(s, id, 'implementer', 60_000);
    await completeTask(s, task.id, 'SUCCESS', 'ivan');
  }));
  for (const id of [...w.incidents, ...w.demos, ...w.changes]) {
    await waitFor(async () => {
      const res = await s.call('GET', `/v1/runs/${id}`);
      return res.status === 200 && res.body.status === 'done';
    }, 60_000, `run ${id} to end`);
  }
}

/** Each acknowledged (or retried until acknowledged) write applied exactly once; each timer fired once; each task completed once. */
export async function assertAppliedOnce(s: Servers, w: Workload): Promise<void> {
  for (const id of w.incidents) {
    const h = await history(s, id);
    const received = (type: string) => h.filter((e) => e.type === 'event.received' && e.event === type).length;
    assert.is(received('UPDATE_PRIORITY'), w.updates, `incident ${id}: every UPDATE_PRIORITY applied once`);
    assert.is(received('ACKNOWLEDGE'), 1, `incident ${id}: ACKNOWLEDGE once`);
    assert.is(received('RESOLVE'), 1, `incident ${id}: RESOLVE once`);
    assertTasksOnce(h, id);
  }
  for (const id of w.demos) {
    const h = await history(s, id);
    assert.is(h.filter((e) => e.type === 'timer.fired').length, 1, `demo ${id}: its timer fired once`);
    assertTasksOnce(h, id);
  }
  for (const id of w.changes) {
    const h = await history(s, id);
    assert.is(h.filter((e) => e.type === 'timer.fired' && e.timer === 'untilPlannedStartDelay').length, 1, `change ${id}: the planned-start timer fired once`);
    assert.is(h.filter((e) => e.type === 'event.received' && e.event === 'SUBMIT').length, 1, `change ${id}: SUBMIT applied once`);
    assertTasksOnce(h, id);
  }
}

function assertTasksOnce(h: any[], id: string): void {
  const done = h.filter((e) => e.type === 'task.completed' && !e.ignored).map((e) => e.taskId ?? e.id ?? `${e.task}@${e.seq}`);
  assert.is(new Set(done).size, done.length, `run ${id}: no task result applied twice`);
}
