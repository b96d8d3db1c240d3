// End-to-end plumbing for the topology tests: real `servicechart` processes (`api`, `worker` and `start`)
// on a Redis topology, an HTTP client that times every answer and spreads calls over every serving
// process, writes retried with their Idempotency-Key until acknowledged, and the workload with every
// built-in workflow (incidents, demo runs with timers, standard changes with human tasks and timers,
// canary deliveries through a real standard change, planning demands handed off to a child delivery)
// with the checks that every run ends and every acknowledged write, timer and task result applied once.
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
  /** The first serving process. */
  api: ChildProcess;
  /** Every process that serves HTTP (`api` or `start`), in the order asked for; calls go round-robin. */
  serving: ChildProcess[];
  workers: ChildProcess[];
  /** Every answer, for the checks on statuses and times. */
  answers: { what: string; status: number; ms: number; code?: string; retryAfter?: string | null; error?: string }[];
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer>;
  /** Send a write until it is acknowledged (2xx), retrying 503s (and dropped connections) with the same Idempotency-Key. */
  untilAcked(method: string, path: string, body: unknown, idempotencyKey: string | null, timeoutMs?: number): Promise<Answer & { refusals: number }>;
  stop(): Promise<void>;
}

/**
 * Start the serving processes (`servicechart api` by default; `start` runs the API and the consumers in
 * one process) and `workers` worker processes on the Redis named by `env` (REDIS_*).
 */
export async function startServers(env: Record<string, string>, workers = 1, serving: ('api' | 'start')[] = ['api']): Promise<Servers> {
  const dir = mkdtempSync(join(tmpdir(), 'sc-e2e-'));
  const base = {
    ...env, SERVICECHART_DATA_DIR: dir, SERVICECHART_API_KEYS: `ops:${KEY}:admin`, HOST: '127.0.0.1',
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
    const urls: string[] = [];
    const servingProcesses: ChildProcess[] = [];
    for (const role of serving) {
      // Another process on the machine may take the port between picking it and the bind: pick again then.
      for (let attempt = 0; ; attempt++) {
        const port = await freePortForTest();
        try {
          const p = await spawnReady(['bin/servicechart.js', role], { ...base, PORT: String(port) }, /listening on/, 40_000);
          children.push(p);
          servingProcesses.push(p);
          urls.push(`http://127.0.0.1:${port}`);
          break;
        } catch (err) {
          if (attempt === 2 || !/EADDRINUSE/.test(String(err))) throw err;
        }
      }
    }
    const ws: ChildProcess[] = [];
    for (let i = 0; i < workers; i++) {
      const w = await spawnReady(['bin/servicechart.js', 'worker'], base, /consumers running/, 40_000);
      children.push(w);
      ws.push(w);
    }
    const url = urls[0];
    const answers: Servers['answers'] = [];
    let turn = 0;
    const call: Servers['call'] = async (method, path, body, headers = {}) => {
      const started = Date.now();
      const to = urls[turn++ % urls.length];
      let status = 0;
      let parsed: any = null;
      let retryAfter: string | null = null;
      try {
        const res = await fetch(to + path, {
          method,
          headers: { authorization: `Bearer ${KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(30_000),
        });
        status = res.status;
        retryAfter = res.headers.get('retry-after');
        const text = await res.text();
        parsed = text ? JSON.parse(text) : null;
      } catch (err) {
        parsed = { error: { code: 'CLIENT', message: String(err) } };
      }
      const ms = Date.now() - started;
      answers.push({ what: `${method} ${to}${path}`, status, ms, ...(parsed?.error ? { code: parsed.error.code, retryAfter, error: String(parsed.error.message).slice(0, 200) } : {}) });
      return { status, body: parsed, ms };
    };
    return {
      url, api: servingProcesses[0], serving: servingProcesses, workers: ws, answers, call,
      async untilAcked(method, path, body, idempotencyKey, timeoutMs = 90_000) {
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

/**
 * Every answer was 2xx, 404 (not found yet), 409 (a retried completion already applied) or a 503
 * UNAVAILABLE with a retry hint (never a 500, never a dropped connection), and none took 5 s.
 */
export function assertAnswersHealthy(s: Servers): void {
  const bad = s.answers.filter((a) => ![200, 201, 202, 404, 409, 503].includes(a.status));
  assert.equal(bad.slice(0, 5), [], `answers other than 2xx/409/503: ${bad.length}`);
  const refusals = s.answers.filter((a) => a.status === 503 && (a.code !== 'UNAVAILABLE' || a.retryAfter !== '1'));
  assert.equal(refusals.slice(0, 5), [], 'every 503 is UNAVAILABLE with Retry-After');
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
  return explained(s, runId, waitFor(async () => {
    const res = await s.call('GET', `/v1/tasks?status=open&runId=${encodeURIComponent(runId)}`);
    return res.status === 200 ? (res.body.items.find((t: any) => t.role === role) ?? null) : null;
  }, timeoutMs, `an open ${role} task on ${runId}`));
}

/** A wait on a run that failed says where the run stands: its state and its last history entries. */
async function explained<T>(s: Servers, runId: string, wait: Promise<T>): Promise<T> {
  try {
    return await wait;
  } catch (err) {
    const run = await s.call('GET', `/v1/runs/${runId}`);
    const h = await s.call('GET', `/v1/runs/${runId}/history?limit=500`);
    const tail = h.status === 200 ? h.body.items.slice(-8).map((e: any) => [e.at, e.type, e.event ?? e.timer ?? e.task ?? e.state ?? e.role ?? ''].join(' ')) : [h.status];
    throw new Error(`${(err as Error).message}; run ${run.body?.workflow} status ${run.body?.status} state ${JSON.stringify(run.body?.state)}; last entries: ${tail.join(' | ')}`);
  }
}

/**
 * Complete a human task until acknowledged; a 409 after an unconfirmed attempt means that attempt applied.
 * Answers 'gone' on a 404: the step that opened the task was lost in a failover (an engine write), so the
 * run went back a moment and opens it again.
 */
export async function completeTask(s: Servers, taskId: string, outcome: string, by: string, comment?: string): Promise<'done' | 'gone'> {
  const deadline = Date.now() + 90_000;
  let unconfirmed = false;
  for (;;) {
    const res = await s.call('POST', `/v1/tasks/${taskId}/complete`, { outcome, by, ...(comment ? { comment } : {}) });
    if (res.status === 200) return 'done';
    if (res.status === 409 && unconfirmed) return 'done';
    if (res.status === 404 && !unconfirmed) return 'gone';
    if (res.status !== 503 && res.status !== 0) throw new Error(`completing ${taskId}: ${res.status} ${JSON.stringify(res.body)}`);
    unconfirmed = true;
    if (Date.now() > deadline) throw new Error(`completing ${taskId} still refused after 90 s`);
    await sleep(150);
  }
}

/** Find the run's open task of `role` and complete it, again if the task was gone (see completeTask). */
export async function completeOpenTask(s: Servers, runId: string, role: string, outcome: string, by: string, comment?: string, timeoutMs = 90_000): Promise<void> {
  for (let tries = 0; ; tries++) {
    const task = await openTask(s, runId, role, timeoutMs);
    if ((await completeTask(s, task.id, outcome, by, comment)) === 'done') return;
    if (tries === 5) throw new Error(`the ${role} task of ${runId} kept disappearing`);
  }
}

const iso = (t: number) => new Date(t).toISOString();

export interface Workload {
  incidents: string[];
  demos: string[];
  changes: string[];
  /** Canary deliveries, each gated by a real standard change it starts (planned `timerMs` ahead). */
  deliveries: string[];
  /** Planning demands, each handed off to a child delivery at once when its plan is confirmed. */
  plannings: string[];
  /** Events sent per incident during the burst (UPDATE_PRIORITY n, with key `<id>-u<n>`). */
  updates: number;
}

const DIGEST = `sha256:${'c'.repeat(64)}`;
const HOUR = 3_600_000;
/** Short delays for the delivery models: canary steps, bake and early life support in moments. */
const FAST_DELIVERY = { canaryIntervalDelay: 150, bakeDelay: 150, elsDelay: 150, stepProgressDeadlineDelay: 60_000, rollbackDeadlineDelay: 60_000 };

/** A canary release of `service` in staging then production, through an automatic standard change planned at `changeAt`. */
function deliveryInput(tag: string, i: number, changeAt: number): Record<string, unknown> {
  const now = Date.now();
  const service = `svc-${tag}-${i}`;
  return {
    release: { id: `REL-${tag}-${i}`, version: '2.0.0', service, artifacts: [{ name: service, digest: DIGEST }], commits: [{ sha: 'c0ffee', committedAt: iso(now - HOUR) }] },
    environments: ['staging', 'production'], strategy: 'canary', changePolicy: 'auto-standard', requestedBy: 'dev-dana', previousVersion: '1.9.9',
    approvers: { releaseManager: ['rita'], serviceOwner: ['sam'], changeManager: ['carla'] },
    change: {
      templateId: 'deploy', templates: { deploy: { active: true } }, plannedStart: iso(changeAt), plannedEnd: iso(now + 100 * HOUR),
      schedules: { maintenance: { [service]: [{ start: iso(now - HOUR), end: iso(now + 100 * HOUR) }] } },
    },
    delaysMs: FAST_DELIVERY,
  };
}

/** A demand with all four assessments, release windows days ahead, each handed off at once to a big-bang delivery with no change gate. */
function planningInput(tag: string, i: number): Record<string, unknown> {
  const now = Date.now();
  const day = 24 * HOUR;
  return {
    demand: {
      id: `DEM-${tag}-${i}`, title: `Demand ${i}`, businessCase: 'cart abandonment', requestedBy: 'pm-paula', services: [`shop-${tag}-${i}`],
      targetDate: iso(now + 30 * day), size: 'M', strategicGoal: 'conversion',
    },
    approvers: {
      demandManager: ['dm-dora'], portfolioBoard: ['board-bo'], releaseManager: ['rita'], capacityManager: ['cap-carl'],
      serviceOwner: ['sam'], finance: ['fin-fay'], businessOwner: ['biz-ben'],
    },
    capacity: { current: { [`shop-${tag}-${i}`]: 0.5 }, expectedLoad: 0.05 },
    schedules: { releaseWindows: [{ start: iso(now + 2 * day), end: iso(now + 2 * day + 2 * HOUR) }], blackout: [] },
    delivery: { environments: ['production'], changePolicy: 'none', strategy: 'bigBang', release: { version: '5.0.0' }, delaysMs: FAST_DELIVERY },
    delaysMs: { handoffDelay: 5 * day },
  };
}

/** The planning run's human tasks in order: role, outcome, who, comment (the assessments carry their scores). */
const PLANNING_STEPS: [string, string, string, string?][] = [
  ['change_requester', 'SUBMIT', 'pm-paula'],
  ['demand_manager', 'SCREEN', 'dm-dora'],
  ['business_owner', 'SUBMITTED', 'biz-ben', 'score 8'],
  ['service_owner', 'SUBMITTED', 'sam', '7'],
  ['capacity_manager', 'CONFIRM', 'cap-carl', 'forecast accepted'],
  ['finance', 'SUBMITTED', 'fin-fay', 'within budget, 6'],
  ['portfolio_board', 'APPROVE', 'board-bo'],
  ['release_manager', 'CONFIRM', 'rita'],
];

/** The child runs of `parentId` of a workflow (waits for `count` of them). */
export async function childRuns(s: Servers, parentId: string, workflow: string, count = 1, timeoutMs = 90_000): Promise<any[]> {
  return waitFor(async () => {
    const res = await s.call('GET', `/v1/runs?parentRunId=${parentId}&workflow=${workflow}&limit=50`);
    return res.status === 200 && res.body.items.length >= count ? res.body.items : null;
  }, timeoutMs, `${count} ${workflow} children of ${parentId}`);
}

async function runDone(s: Servers, id: string, timeoutMs = 90_000): Promise<any> {
  return explained(s, id, waitFor(async () => {
    const res = await s.call('GET', `/v1/runs/${id}`);
    return res.status === 200 && res.body.status === 'done' ? res.body : null;
  }, timeoutMs, `run ${id} to end`));
}

/**
 * Start the workload: incidents, demo runs whose cool-down timer is pending for `timerMs`, and standard
 * changes planned `timerMs` ahead (a timer until their planned start, then an implementer task).
 */
export async function startWorkload(
  s: Servers,
  n: { incidents: number; demos: number; changes: number; deliveries?: number; plannings?: number; updates: number; timerMs: number },
  tag: string,
): Promise<Workload> {
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
  const deliveries = await Promise.all(Array.from({ length: n.deliveries ?? 0 }, (_, i) => start({
    workflow: 'delivery', businessKey: `REL-${tag}-${i}`, input: deliveryInput(tag, i, now + n.timerMs),
  }, `${tag}-rel-${i}`)));
  const plannings = await Promise.all(Array.from({ length: n.plannings ?? 0 }, (_, i) => start({
    workflow: 'planning', businessKey: `PLAN-${tag}-${i}`, input: planningInput(tag, i),
  }, `${tag}-plan-${i}`)));
  return { incidents, demos, changes, deliveries, plannings, updates: n.updates };
}

/**
 * The burst: every incident gets `updates` events, every change its SUBMIT, every delivery its GO and every
 * demand its way through screening to a confirmed plan (eight human tasks), all retried until acknowledged.
 */
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
    await completeOpenTask(s, id, 'change_requester', 'SUBMIT', 'rita');
    onProgress(++acked);
  });
  const goes = w.deliveries.map(async (id) => {
    await completeOpenTask(s, id, 'release_manager', 'GO', 'rita');
    onProgress(++acked);
  });
  const demands = w.plannings.map(async (id) => {
    // The four assessments are open at once; the other steps one after another.
    const step = async ([role, outcome, by, comment]: (typeof PLANNING_STEPS)[number]) => {
      await completeOpenTask(s, id, role, outcome, by, comment);
      onProgress(++acked);
    };
    for (const st of PLANNING_STEPS.slice(0, 2)) await step(st);
    await Promise.all(PLANNING_STEPS.slice(2, 6).map(step));
    for (const st of PLANNING_STEPS.slice(6)) await step(st);
  });
  await Promise.all([...incidentEvents, ...submits, ...goes, ...demands]);
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
    await completeOpenTask(s, id, 'implementer', 'SUCCESS', 'ivan');
  }));
  // A delivery's standard change implements at its planned start and the release rolls out; the change
  // closes on the result (a review task, if one opens, is accepted by the change manager).
  await Promise.all(w.deliveries.map(async (id) => {
    const [change] = await childRuns(s, id, 'change');
    await runDone(s, id);
    await waitFor(async () => {
      const res = await s.call('GET', `/v1/runs/${change.id}`);
      if (res.status === 200 && res.body.status === 'done') return true;
      const open = await s.call('GET', `/v1/tasks?status=open&runId=${change.id}`);
      for (const t of open.status === 200 ? open.body.items : []) if (t.outcomes?.ACCEPT) await completeTask(s, t.id, 'ACCEPT', 'carla');
      return false;
    }, 90_000, `change ${change.id} of delivery ${id} to close`);
  }));
  // A demand's child delivery waits for its window days ahead: START it now, then GO.
  await Promise.all(w.plannings.map(async (id) => {
    const [child] = await childRuns(s, id, 'delivery');
    const started = await s.untilAcked('POST', `/v1/runs/${child.id}/events`, { type: 'START', by: 'rita' }, `${child.id}-START`);
    assert.is(started.status, 200, JSON.stringify(started.body));
    await completeOpenTask(s, child.id, 'release_manager', 'GO', 'rita');
  }));
  for (const id of [...w.incidents, ...w.demos, ...w.changes, ...w.deliveries, ...w.plannings]) await runDone(s, id);
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
  const received = (h: any[], type: string) => h.filter((e) => e.type === 'event.received' && e.event === type).length;
  for (const id of w.deliveries) {
    const run = (await s.call('GET', `/v1/runs/${id}`)).body;
    assert.is(run.output.outcome, 'completed', `delivery ${id} completed`);
    const h = await history(s, id);
    // Each canary step is one timer firing: a timer applied twice would skip a weight or repeat one.
    assert.equal(h.filter((e) => e.type === 'delivery.weight_set').map((e) => e.weight), [10, 20, 30, 40, 50], `delivery ${id}: every canary step once`);
    for (const type of ['CHANGE_AUTHORIZED', 'CHANGE_IMPLEMENT_STARTED']) assert.is(received(h, type), 1, `delivery ${id}: ${type} from its change once`);
    assertTasksOnce(h, id);
    const [change] = await childRuns(s, id, 'change');
    const ch = await history(s, change.id);
    assert.is((await s.call('GET', `/v1/runs/${change.id}`)).body.context.closeCode, 'successful', `change ${change.id} closed successful`);
    assert.is(ch.filter((e) => e.type === 'timer.fired' && e.timer === 'untilPlannedStartDelay').length, 1, `change ${change.id}: the planned-start timer fired once`);
    assert.is(received(ch, 'DEPLOYMENT_RESULT'), 1, `change ${change.id}: the delivery's result applied once`);
    assertTasksOnce(ch, change.id);
  }
  for (const id of w.plannings) {
    const run = (await s.call('GET', `/v1/runs/${id}`)).body;
    assert.is(run.output.outcome, 'completed', `demand ${id} completed`);
    const h = await history(s, id);
    assert.is(h.filter((e) => e.type === 'human.completed').length, PLANNING_STEPS.length, `demand ${id}: each human task completed once`);
    assert.is(h.filter((e) => e.type === 'timer.fired' && e.timer === 'handoffDelay').length, 1, `demand ${id}: the handoff timer fired once`);
    assert.is(received(h, 'DELIVERY_COMPLETED'), 1, `demand ${id}: its delivery's completion applied once`);
    assertTasksOnce(h, id);
    const children = await childRuns(s, id, 'delivery');
    assert.is(children.length, 1, `demand ${id}: one child delivery`);
    const ch = await history(s, children[0].id);
    assert.is((await s.call('GET', `/v1/runs/${children[0].id}`)).body.output.outcome, 'completed');
    assert.is(received(ch, 'START'), 1, `delivery ${children[0].id}: START applied once`);
    assertTasksOnce(ch, children[0].id);
  }
}

/** No task result, timer or human task completion applied twice (each by its id). */
function assertTasksOnce(h: any[], id: string): void {
  const once = (type: string, field: string, what: string) => {
    const ids = h.filter((e) => e.type === type && !e.ignored).map((e) => e[field]);
    assert.ok(ids.every((x) => typeof x === 'string'), `run ${id}: every ${type} entry names its ${field}`);
    assert.is(new Set(ids).size, ids.length, `run ${id}: no ${what} applied twice`);
  };
  once('task.completed', 'taskId', 'task result');
  once('timer.fired', 'timerId', 'timer');
  once('human.completed', 'humanTaskId', 'human task completion');
  // At least once: every task the run scheduled got its result (or was withdrawn by the run moving on).
  const settled = new Set(h.filter((e) => ['task.completed', 'task.failed', 'task.withdrawn'].includes(e.type)).map((e) => e.taskId));
  const lost = h.filter((e) => e.type === 'task.scheduled' && !settled.has(e.taskId)).map((e) => `${e.task} ${e.taskId}`);
  assert.equal(lost, [], `run ${id}: every scheduled task ran to a result`);
}
