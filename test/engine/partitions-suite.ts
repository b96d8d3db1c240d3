// The partitioned layout, tested through the engine's API and real worker processes. Run on one node
// (partitions.test.ts) and on a real 3-master Redis Cluster (partitions-cluster.test.ts).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import calculateSlot from 'cluster-key-slot';
import type { ChildProcess } from 'node:child_process';
import { emit, setup, type AnyStateMachine } from 'xstate';
import { defineWorkflow, masters, LayoutError, type RedisClient, type RunId, type WorkflowDefinition } from '../../engine/index.ts';
import { createEngineInstance as createEngine, type EngineInstance as Engine } from '../../engine/testing.ts';
import { runIdFromKey } from '../../engine/ids.ts';
import { builtInWorkflows } from '../../workflows/index.ts';
import { builtInTasks } from '../../workers/tasks/index.ts';
import { counter } from '../fixtures/workflows.ts';
import { dropPrefix, kill9, manualClock, newPrefix, spawnReady, waitFor } from '../helpers.ts';

export interface Topology {
  name: string;
  /** A new client to the Redis under test (closed by the suite). */
  connect(): Promise<RedisClient>;
  /** Environment that points a child process at the same Redis. */
  env(): Record<string, string>;
  /** Whether it is a Redis Cluster (each master is checked to hold keys). */
  cluster: boolean;
  /** Stop what the topology started, after the suite. */
  stop?(): Promise<void>;
}

const P = 4;

const review = defineWorkflow({
  name: 'review', version: 1, description: 'one human task',
  machine: setup({}).createMachine({
    id: 'review', initial: 'waiting',
    states: {
      waiting: { meta: { humanTask: { role: 'reviewer', title: 'Review it', outcomes: { OK: 'APPROVE' } } }, on: { APPROVE: 'done' } },
      done: { type: 'final' },
    },
  }) as unknown as AnyStateMachine,
});

const scored = defineWorkflow({
  name: 'scored', version: 1, description: 'records a score when closed',
  kpis: [
    { name: 'score', label: 'Mean score', unit: 'count', aggregate: 'mean', breakdown: ['team'] },
    { name: 'scoreMedian', measure: 'score', label: 'Median score', unit: 'count', aggregate: 'median', breakdown: ['team'] },
    { name: 'backlog', label: 'Open', unit: 'count', aggregate: 'open' },
  ],
  machine: setup({ types: {} as { context: { team: string; score: number; openedAt: number }; input: { team: string; score: number; $at: number } } }).createMachine({
    id: 'scored', initial: 'open',
    context: ({ input }) => ({ team: input.team, score: input.score, openedAt: input.$at }),
    states: {
      open: {
        on: {
          CLOSE: {
            target: 'closed',
            actions: emit(({ context }) => ({ type: 'measure.recorded', measure: 'score', value: context.score, openedAt: context.openedAt, dims: { team: context.team } })),
          },
        },
      },
      closed: { type: 'final' },
    },
  }) as unknown as AnyStateMachine,
});

const workflows: WorkflowDefinition[] = [...builtInWorkflows, counter, review, scored];

interface Ctx {
  redis: RedisClient;
  prefixes: string[];
  engines: Engine[];
  children: ChildProcess[];
}

export function partitionSuite(t: Topology) {
  const test = suite<Ctx>(`partitions (${t.name})`, { redis: null!, prefixes: [], engines: [], children: [] } as Ctx);

  test.before(async (ctx) => {
    ctx.redis = await t.connect();
  });

  // Never throws: uvu would report the clean-up's error instead of the test's.
  test.after.each(async (ctx) => {
    for (const c of ctx.children.splice(0)) await kill9(c);
    for (const e of ctx.engines.splice(0)) await e.close().catch(() => undefined);
    for (const p of ctx.prefixes.splice(0)) await dropPrefix(ctx.redis, p).catch((err) => process.stderr.write(`dropPrefix ${p}: ${String(err)}\n`));
  });

  test.after(async (ctx) => {
    await ctx.redis.quit().catch(() => ctx.redis.disconnect());
    await t.stop?.();
  });

  function engine(ctx: Ctx, prefix: string, partitions: number, extra: Partial<Parameters<typeof createEngine>[0]> = {}): Engine {
    if (!ctx.prefixes.includes(prefix)) ctx.prefixes.push(prefix);
    const e = createEngine({ redis: ctx.redis, prefix, partitions, workflows, tasks: builtInTasks, ...extra });
    ctx.engines.push(e);
    return e;
  }

  function worker(ctx: Ctx, prefix: string, env: Record<string, string> = {}): Promise<ChildProcess> {
    const child = spawnReady(['--import', 'tsx', 'test/fixtures/worker-process.ts'], { ...t.env(), SERVICECHART_PREFIX: prefix, SERVICECHART_PARTITIONS: String(P), ...env }, /ready/, 40_000);
    return child.then((c) => {
      ctx.children.push(c);
      return c;
    });
  }

  test('runs spread over every partition, each partition in a slot of its own', async (ctx) => {
    const e = engine(ctx, newPrefix(), P);
    await e.ready();
    const byPartition = new Map<number, string[]>();
    for (let i = 0; i < 24; i++) {
      const { run } = await e.startRun({ workflow: 'counter', idempotencyKey: `spread-${i}` });
      const p = e.keys.partitionOf(run.id);
      byPartition.set(p, [...(byPartition.get(p) ?? []), run.id]);
    }
    assert.equal([...byPartition.keys()].sort(), [0, 1, 2, 3], 'every partition holds runs');
    const slots = new Set(e.keys.all.map((p) => calculateSlot(e.keys.queuePrefix(p))));
    assert.is(slots.size, P, 'each partition has its own slot');
    for (const [p, ids] of byPartition) {
      assert.is(await ctx.redis.zcard(e.keys.runsAll(p)), ids.length, `partition ${p}'s index holds its runs`);
      for (const id of ids) {
        assert.is(calculateSlot(e.keys.run(id as RunId)), calculateSlot(e.keys.runsAll(p)), 'a run lives in its partition slot');
        assert.is(await ctx.redis.exists(e.keys.run(id as RunId)), 1);
      }
    }
    if (t.cluster) {
      const holding = (await Promise.all(masters(ctx.redis).map((m) => m.dbsize()))).filter((n) => n > 0);
      assert.ok(holding.length >= 2, `runs sit on ${holding.length} masters`);
    }
    const listed = await e.listRuns({ workflow: 'counter', limit: 500 });
    assert.is(listed.items.length, 24);
    assert.is(await e.countRuns('running'), 24);
  });

  test('listing runs and human tasks gives the same pages and cursors with 4 partitions as with 1', async (ctx) => {
    const clock = manualClock(Date.UTC(2026, 2, 1));
    const one = engine(ctx, newPrefix(), 1, { clock });
    const four = engine(ctx, newPrefix(), P, { clock });
    const base = clock.now();
    // The same runs in both installations: ids from idempotency keys, times from one clock (in threes, so
    // equal times are ordered by id).
    for (const e of [one, four]) {
      for (let i = 0; i < 30; i++) {
        clock.set(base + Math.floor(i / 3) * 1000);
        const { run } = await e.startRun({ workflow: 'counter', idempotencyKey: `list-${i}`, businessKey: i % 4 === 0 ? 'BK-A' : null });
        if (i % 5 === 0) await e.sendEvent(run.id, { type: 'DONE' });
        else if (i % 7 === 0) await e.sendEvent(run.id, { type: 'PAUSE' });
      }
      for (let i = 0; i < 12; i++) {
        clock.set(base + 60_000 + Math.floor(i / 2) * 1000);
        await e.startRun({ workflow: 'review', idempotencyKey: `review-${i}` });
      }
      clock.set(base + 120_000);
      const open = await e.listHumanTasks({ limit: 500 });
      for (const h of open.items.filter((_, i) => i % 3 === 0)) await e.completeHumanTask(h.id, { outcome: 'OK', by: 'ana' });
    }
    const filters = [{}, { workflow: 'counter' }, { status: 'done' as const }, { status: 'running' as const, state: 'paused' }, { businessKey: 'BK-A' }, { state: 'counting' }];
    for (const f of filters) {
      for (const limit of [1, 4, 7, 50]) {
        const walk = async (e: Engine) => {
          const pages: [string[], string | null][] = [];
          let cursor: string | null = null;
          do {
            const page = await e.listRuns({ ...f, limit, cursor });
            pages.push([page.items.map((r) => r.id), page.nextCursor]);
            cursor = page.nextCursor;
          } while (cursor && pages.length < 100);
          return pages;
        };
        const [a, b] = [await walk(one), await walk(four)];
        assert.equal(b, a, `runs ${JSON.stringify(f)} by ${limit}`);
        const ids = a.flatMap(([p]) => p);
        assert.is(new Set(ids).size, ids.length, 'no run twice');
        if (limit === 50 && !('state' in f)) assert.ok(ids.length > 0, 'the filter matches runs');
      }
    }
    const all = (await four.listRuns({ limit: 500 })).items;
    assert.is(all.length, 42);
    for (let i = 1; i < all.length; i++) {
      const [x, y] = [all[i - 1], all[i]];
      assert.ok(x.createdAt > y.createdAt || (x.createdAt === y.createdAt && x.id > y.id), 'newest first, then by id');
    }
    for (const status of ['open', 'done'] as const) {
      for (const limit of [1, 3, 50]) {
        const walk = async (e: Engine) => {
          const pages: [string[], string | null][] = [];
          let cursor: string | null = null;
          do {
            const page = await e.listHumanTasks({ status, role: 'reviewer', limit, cursor });
            pages.push([page.items.map((h) => h.id), page.nextCursor]);
            cursor = page.nextCursor;
          } while (cursor && pages.length < 100);
          return pages;
        };
        const [a, b] = [await walk(one), await walk(four)];
        assert.equal(b, a, `human tasks ${status} by ${limit}`);
        assert.is(a.flatMap(([p]) => p).length, status === 'open' ? 8 : 4);
      }
    }
    try {
      await four.listRuns({ cursor: 'not-a-cursor' });
      assert.unreachable();
    } catch (err) {
      assert.is((err as { code: string }).code, 'VALIDATION_FAILED');
    }
  });

  test('KPIs read the same figures with 4 partitions as with 1, open runs gathered from every partition', async (ctx) => {
    const clock = manualClock(Date.UTC(2026, 2, 1));
    const reports = [];
    for (const partitions of [1, P]) {
      const e = engine(ctx, newPrefix(), partitions, { clock });
      for (let i = 0; i < 10; i++) {
        clock.set(Date.UTC(2026, 2, 1) + i * 3_600_000);
        const { run } = await e.startRun({ workflow: 'scored', idempotencyKey: `kpi-${i}`, input: { team: i % 2 ? 'red' : 'blue', score: i * 10 } });
        if (i < 7) await e.sendEvent(run.id, { type: 'CLOSE' });
      }
      // Measures reach the figures through the outbox, flushed after each commit.
      const report = await waitFor(async () => {
        const r = await e.kpiReport('scored');
        return r.kpis[0].count === 7 ? r : null;
      }, 5000, 'every measure recorded');
      reports.push(report);
      const byName = Object.fromEntries(report.kpis.map((k) => [k.name, k]));
      assert.is(byName.score.value, 30);
      assert.is(byName.scoreMedian.value, 30);
      assert.equal(byName.score.breakdown!.team.map((b) => [b.key, b.count]), [['blue', 4], ['red', 3]]);
      assert.is(byName.backlog.value, 3, 'the open runs of every partition');
      const windowed = await e.kpiReport('scored', { since: Date.UTC(2026, 2, 1, 2), until: Date.UTC(2026, 2, 1, 5) });
      assert.is(windowed.kpis[0].count, 3);
    }
    assert.equal(reports[1], reports[0]);
  });

  test("the webhook delivery log reads every partition's stream as one, newest first", async (ctx) => {
    const e = engine(ctx, newPrefix(), P);
    await e.ready();
    const store = e.deliveries;
    for (let i = 0; i < 10; i++) {
      await store.log({ source: i % 2 ? 'grafana' : 'alertmanager', deliveryId: `d${i}`, receivedAt: Date.UTC(2026, 0, 1) + i, status: 200, results: [], reason: null });
      // Entries a millisecond apart are ordered by time across streams.
      await new Promise((r) => setTimeout(r, 2));
    }
    const used = new Set<number>();
    for (const p of e.keys.all) if ((await ctx.redis.xlen(e.keys.hookDeliveries(p))) > 0) used.add(p);
    assert.is(used.size, P, 'entries spread over every partition');
    const read = async (source?: string) => {
      const out: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await store.list({ source, limit: 3, cursor });
        out.push(...page.items.map((d) => d.deliveryId!));
        cursor = page.nextCursor;
      } while (cursor);
      return out;
    };
    assert.equal(await read(), ['d9', 'd8', 'd7', 'd6', 'd5', 'd4', 'd3', 'd2', 'd1', 'd0']);
    assert.equal(await read('grafana'), ['d9', 'd7', 'd5', 'd3', 'd1']);
  });

  test('the partition count is fixed at first use: another count, or data of the release before partitions, is refused', async (ctx) => {
    const prefix = newPrefix();
    await engine(ctx, prefix, P).ready();
    const other = engine(ctx, prefix, 2);
    const err = await other.ready().then(() => null, (e: unknown) => e);
    assert.instance(err, LayoutError);
    assert.is((err as LayoutError).code, 'PARTITIONS_CHANGED');
    assert.match((err as Error).message, /created with 4 partitions.*configured with 2.*SERVICECHART_PARTITIONS=4/);
    const write = await other.startRun({ workflow: 'counter' }).then(() => null, (e: unknown) => e);
    assert.instance(write, LayoutError, 'nothing is written with the wrong count');
    await engine(ctx, prefix, P).ready();

    const legacy = newPrefix();
    ctx.prefixes.push(legacy);
    await ctx.redis.zadd(`${legacy}:runs`, 1, 'r0000000000');
    const old = await engine(ctx, legacy, 1).ready().then(() => null, (e: unknown) => e);
    assert.is((old as LayoutError).code, 'LEGACY_LAYOUT');
    assert.match((old as Error).message, /earlier Servicechart release/);

    // The CLI refuses to start and says why (on a cluster: test/cluster/startup.test.ts).
    if (t.cluster) return;
    const started = await spawnReady(['bin/servicechart.js', 'worker'], { ...t.env(), SERVICECHART_PREFIX: prefix, SERVICECHART_PARTITIONS: '2' }, /never/, 30_000).then(
      (c) => {
        ctx.children.push(c);
        return '';
      },
      (e: Error) => e.message,
    );
    assert.match(started, /process exited [1-9]/);
    assert.match(started, /created with 4 partitions/);
  });

  test("worker processes consume every partition's queues, and the sweeper finishes a step left half-flushed in a non-zero partition", async (ctx) => {
    const prefix = newPrefix();
    const e = engine(ctx, prefix, P);
    await e.ready();
    // A run in a partition other than 0, and a worker that dies right after its first commit, before
    // that step's outbox (the cool-down timer) reaches BullMQ.
    let key = 0;
    while (e.keys.partitionOf(runIdFromKey('start', `strand-${key}`)) === 0) key++;
    const { run: stranded } = await e.startRun({ workflow: 'demo', idempotencyKey: `strand-${key}`, input: { sleepMs: 10, coolDownMs: 300 } });
    const p = e.keys.partitionOf(stranded.id);
    const doomed = await worker(ctx, prefix, { CRASH_AFTER_COMMIT: '1' });
    await new Promise((r) => (doomed.exitCode !== null || doomed.signalCode !== null ? r(null) : doomed.once('exit', r)));
    assert.is(doomed.signalCode, 'SIGKILL');
    assert.is((await e.getRun(stranded.id)).state, 'coolingDown', 'the step was committed');
    assert.ok((await ctx.redis.hlen(e.keys.outbox(stranded.id as RunId))) > 0, 'its outbox was left behind');
    assert.is(await ctx.redis.zcard(e.keys.outboxPending(p)), 1, `the marker waits in partition ${p}`);
    assert.is(await ctx.redis.zcard(`${e.keys.queuePrefix(p)}:timers:delayed`), 0, 'the timer never reached BullMQ');

    // Two ordinary workers share every partition.
    const ids: string[] = [];
    for (let i = 0; i < 16; i++) ids.push((await e.startRun({ workflow: 'demo', idempotencyKey: `work-${i}`, input: { sleepMs: 10, coolDownMs: 50 } })).run.id);
    assert.equal([...new Set(ids.map((id) => e.keys.partitionOf(id)))].sort(), [0, 1, 2, 3]);
    await Promise.all([worker(ctx, prefix), worker(ctx, prefix)]);
    for (const id of [stranded.id, ...ids]) {
      await waitFor(async () => (await e.getRun(id)).status === 'done', 30_000, `run ${id} (partition ${e.keys.partitionOf(id)}) to finish`);
      const hist = (await e.getHistory(id, { limit: 200 })).items;
      assert.is(hist.filter((h) => h.type === 'timer.fired').length, 1, 'its timer fired once');
      assert.is(hist.filter((h) => h.type === 'task.completed' && !h.ignored).length, 1, 'its task result applied once');
    }
    await waitFor(async () => (await ctx.redis.zcard(e.keys.outboxPending(p))) === 0, 5000, 'the marker cleared');
    assert.is(await ctx.redis.hlen(e.keys.outbox(stranded.id as RunId)), 0);
  });

  return test;
}
