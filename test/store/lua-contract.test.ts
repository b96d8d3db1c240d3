// The Lua scripts' contract, called through the scripts module and the Redis run-storage adapter
// against a real redis-server: every reply code each script can give, and that a refusal writes nothing.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Redis } from 'ioredis';
import { createKeys, type Keys } from '../../engine/keys.ts';
import { createScripts, registeredName, type Scripts } from '../../engine/scripts.ts';
import { createRedisRunStorage } from '../../engine/store/redis-store.ts';
import type { RunStorage } from '../../engine/store/port.ts';
import { LUA_PRELUDE, Reply, SCRIPT_REPLIES, decodeReply, type ScriptName } from '../../engine/store/replies.ts';
import type { CommitPlan } from '../../engine/commit-plan.ts';
import type { RunId } from '../../engine/ids.ts';
import type { StoredRun } from '../../engine/types.ts';
import { connect, dropPrefix, newPrefix } from '../helpers.ts';

interface Ctx {
  redis: Redis;
  prefix: string;
  keys: Keys;
  scripts: Scripts;
  storage: RunStorage;
}

const test = suite<Ctx>('lua-contract', {} as Ctx);

test.before(async (ctx) => {
  ctx.redis = await connect();
  ctx.prefix = newPrefix();
  ctx.keys = createKeys(ctx.prefix, 1);
  ctx.scripts = createScripts(ctx.redis);
  ctx.storage = createRedisRunStorage({ redis: ctx.redis, keys: ctx.keys, scripts: ctx.scripts, layoutChecked: () => Promise.resolve() });
});

test.after(async (ctx) => {
  await dropPrefix(ctx.redis, ctx.prefix);
  await ctx.redis.quit();
});

/** Every key under the test's prefix with its whole content: what a refused script must leave as it was. */
async function contents(ctx: Ctx): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const pattern of [`${ctx.prefix}:*`, `{${ctx.prefix}-*`]) {
    for (const key of await ctx.redis.keys(pattern)) {
      const type = await ctx.redis.type(key);
      if (type === 'string') out[key] = await ctx.redis.get(key);
      else if (type === 'hash') out[key] = await ctx.redis.hgetall(key);
      else if (type === 'zset') out[key] = await ctx.redis.zrange(key, '0', '-1', 'WITHSCORES');
      else if (type === 'stream') out[key] = await ctx.redis.xrange(key, '-', '+');
      else if (type === 'set') out[key] = (await ctx.redis.smembers(key)).sort();
      else if (type === 'list') out[key] = await ctx.redis.lrange(key, 0, -1);
      else out[key] = type;
    }
  }
  return out;
}

let runCount = 0;
function newRun(ctx: Ctx, seq: number): StoredRun {
  runCount++;
  return {
    schemaVersion: 1, id: `01JCONTRACT${String(runCount).padStart(15, '0')}` as RunId, workflow: 'contract', version: 1, status: 'running',
    snapshot: { value: 'a', context: {} }, input: {}, businessKey: 'BK-1', parentRunId: null, createdAt: 1000, updatedAt: 1000, endedAt: null,
    output: null, error: null, nextEvents: ['GO'], tasks: {}, timers: {}, humanTasks: {}, seq,
  };
}

function planFor(run: StoredRun, over: Partial<CommitPlan> = {}): CommitPlan {
  return {
    runId: run.id, expectedSeq: 'new', record: run,
    history: [{ type: 'run.started', at: '2026-01-01T00:00:00.000Z', actor: 'test' }],
    outbox: [{ op: 'add', queue: 'tasks', name: 'noop', jobId: 'job-1', data: { runId: run.id } }],
    index: [
      { op: 'add', index: 'all', score: run.createdAt, member: run.id },
      { op: 'add', index: 'byStatus', value: 'running', score: run.createdAt, member: run.id },
      { op: 'add', index: 'humanTasksOpen', score: run.createdAt, member: `${run.id}.h1` },
    ],
    humanTasks: [],
    tasks: { await: [{ taskId: 't1', live: { status: 'queued', attempts: 0 } }], drop: [] },
    idempotency: null,
    at: 5000,
    ...over,
  };
}

test('every script file is versioned, registered under its versioned name, and names each of its reply codes', () => {
  const dir = new URL('../../engine/lua/', import.meta.url);
  const files = readdirSync(dir).filter((f) => f.endsWith('.lua'));
  assert.equal(files.map((f) => f.split('.')[0]).sort(), Object.keys(SCRIPT_REPLIES).sort());
  for (const file of files) {
    const m = /^([A-Za-z]+)\.v(\d+)-(\d+|n)\.lua$/.exec(file);
    assert.ok(m, `${file} is named <name>.v<version>-<keys>.lua`);
    const name = m![1] as ScriptName;
    assert.is(registeredName(name), `sc_${name}_v${m![2]}`);
    const lua = readFileSync(new URL(file, dir), 'utf8');
    for (const code of SCRIPT_REPLIES[name]) assert.ok(new RegExp(`\\b${code}\\b`).test(lua), `${file} returns or documents ${code}`);
    assert.not.match(lua, /return\s+\{?\s*-?\d/, `${file} returns a named code, not a number`);
  }
  assert.is(LUA_PRELUDE, `local ${Object.keys(Reply).join(', ')} = ${Object.values(Reply).join(', ')}\n`);
  assert.is(new Set(Object.values(Reply)).size, Object.keys(Reply).length, 'codes are distinct');
});

/**
 * The code of each released script version (comments and blank lines left out, the reply-code prelude
 * in). A body that changes under a released name would run side by side with the old one during a
 * rolling upgrade: give it the next version (rename the file) and record the new version here.
 */
const RELEASED: Record<string, string> = {
  'appendHistory.v1': 'a0fb6b740b4b861a7fd6970a0cb9ef929fd36d18',
  'archiveRemove.v1': '8be0a8192a45b565fc35a8d366f944ded1b59d86',
  'commitStep.v1': '9d7d4522780ee1ff6ea14616f7d9143f25342e74',
  'compareAndSet.v1': 'abf4489ac67f43200918411a2907201160b5f839',
  'extAdd.v1': '82a5bf7116154706f18437c68a718bf77be268da',
  'extFetch.v1': '8dd4aa44c130354c26a73443efeb72101bf41d9d',
  'extSettle.v1': '65b9bd948c394e73ddee7f75aebb2c1090246f85',
  'extWithdraw.v1': '6300867759297b8fb3b846daf4406fa11d287774',
  'kpiDrop.v1': '72066dadf23eb16080c5bf4784c6837b43d2752f',
  'kpiRecord.v1': '8767d8f6c463b56ce17db6ef533ffef2c70bfd17',
  'markTask.v1': 'ad9fa2184388687ecf6e1316e506d9c50c18f334',
  'registryWrite.v1': '62ab998581a84e4c0a08736657b8c5c76c7b2431',
};

test('a released script version keeps its code: a changed body takes the next version', () => {
  const dir = new URL('../../engine/lua/', import.meta.url);
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.lua'))) {
    const version = file.replace(/-(\d+|n)\.lua$/, '');
    const code = readFileSync(new URL(file, dir), 'utf8').split('\n').map((l) => l.replace(/--.*$/, '').trim()).filter(Boolean).join('\n');
    const digest = createHash('sha1').update(LUA_PRELUDE + code).digest('hex');
    if (RELEASED[version] === undefined) continue; // a new version, not released yet: record it here when it is
    assert.is(digest, RELEASED[version], `the code of ${version} changed: rename ${file} to the next version (and record its digest)`);
  }
});

test('the mapper names a code and refuses one the script may not give', () => {
  assert.equal(decodeReply('markTask', [Reply.NOT_AWAITED], SCRIPT_REPLIES.markTask), { code: 'NOT_AWAITED', values: [] });
  assert.equal(decodeReply('commitStep', [Reply.OK, 3, 4], SCRIPT_REPLIES.commitStep), { code: 'OK', values: [3, 4] });
  assert.throws(() => decodeReply('commitStep', [Reply.NOT_AWAITED], SCRIPT_REPLIES.commitStep), /commitStep replied -5/);
  assert.throws(() => decodeReply('appendHistory', [42], SCRIPT_REPLIES.appendHistory), /replied 42/);
});

test('commitStep: OK writes the record, history, outbox and marker, indexes, documents, live statuses and idempotency answer', async (ctx) => {
  const run = newRun(ctx, 1);
  const doc = { id: `${run.id}.h1`, runId: run.id, workflow: 'contract', businessKey: 'BK-1', title: 'T', role: 'r', outcomes: {}, status: 'open' as const, state: 'a', createdAt: 'x', dueAt: null, completedAt: null, outcome: null, by: null, comment: null };
  const res = await ctx.storage.commit(planFor(run, { humanTasks: [doc] }));
  assert.is(res.code, 'OK');
  assert.ok(res.ok && res.written.length === 1);
  const k = ctx.keys;
  const stored = await ctx.storage.read(run.id);
  assert.equal(stored, { run, live: { t1: { status: 'queued', attempts: 0 } } });
  assert.is((await ctx.redis.xrange(k.history(run.id), '-', '+')).length, 1);
  assert.equal(Object.keys(await ctx.redis.hgetall(k.outbox(run.id))), ['1.0']);
  assert.is(await ctx.redis.zscore(k.outboxPending(0), `${run.id}|1`), '5000');
  assert.is(await ctx.redis.zscore(k.runsAll(0), run.id), '1000');
  assert.is(await ctx.redis.zscore(k.runsByStatus(0, 'running'), run.id), '1000');
  assert.equal(JSON.parse((await ctx.redis.get(k.humanTask(doc.id)))!), doc);

  // A step with an idempotency key: the answer is kept, and the live status of a dropped task goes.
  const next = { ...run, seq: 2 };
  const step = await ctx.storage.commit(planFor(next, {
    expectedSeq: 1, history: [], outbox: [], index: [{ op: 'remove', index: 'humanTasksOpen', member: doc.id }],
    tasks: { await: [], drop: ['t1'] }, idempotency: { key: 'k1', value: '{"answer":1}' },
  }));
  assert.is(step.code, 'OK');
  assert.is(await ctx.storage.idempotent(run.id, 'k1'), '{"answer":1}');
  assert.ok(Number(await ctx.redis.ttl(k.eventIdem(run.id, 'events', 'k1'))) > 3600);
  assert.equal((await ctx.storage.read(run.id))!.live, {});
  assert.is(await ctx.redis.zscore(k.humanTasksOpen(0), doc.id), null);
});

test('commitStep: EXISTS, STALE and DUPLICATE refuse, and a refused commit writes nothing', async (ctx) => {
  const run = newRun(ctx, 1);
  assert.is((await ctx.storage.commit(planFor(run))).code, 'OK');
  assert.is((await ctx.storage.commit(planFor({ ...run, seq: 2 }, { expectedSeq: 1, idempotency: { key: 'used', value: '"first"' } }))).code, 'OK');
  const before = await contents(ctx);

  const exists = await ctx.storage.commit(planFor(run));
  assert.equal(exists, { ok: false, code: 'EXISTS' });
  const stale = await ctx.storage.commit(planFor({ ...run, seq: 3 }, { expectedSeq: 1 }));
  assert.equal(stale, { ok: false, code: 'STALE' });
  const missing = await ctx.storage.commit(planFor({ ...newRun(ctx, 1), seq: 2 }, { expectedSeq: 1 }));
  assert.equal(missing, { ok: false, code: 'STALE' }, 'a run that does not exist is STALE for a step');
  const duplicate = await ctx.storage.commit(planFor({ ...run, seq: 3 }, { expectedSeq: 2, idempotency: { key: 'used', value: '"second"' } }));
  assert.equal(duplicate, { ok: false, code: 'DUPLICATE', stored: '"first"' });

  assert.equal(await contents(ctx), before, 'nothing written by a refusal');
});

test('markTask: OK while the run awaits the task, NOT_AWAITED and MISSING otherwise (writing nothing)', async (ctx) => {
  const run = newRun(ctx, 1);
  await ctx.storage.commit(planFor(run));
  const entry = { type: 'task.started', at: '2026-01-01T00:00:00.000Z', actor: 'task:noop', task: 'noop', taskId: 't1', attempt: 1 };
  const ok = await ctx.storage.markTask(run.id, 't1', { status: 'running', attempts: 1 }, entry);
  assert.equal(ok, { ok: true, code: 'OK', seq: 2 });
  assert.equal((await ctx.storage.read(run.id))!.live.t1, { status: 'running', attempts: 1 });
  const quiet = await ctx.storage.markTask(run.id, 't1', { status: 'retrying', attempts: 2 }, null);
  assert.equal(quiet, { ok: true, code: 'OK', seq: 0 }, 'no entry: seq 0');
  const before = await contents(ctx);
  assert.equal(await ctx.storage.markTask(run.id, 'other', { status: 'running', attempts: 1 }, entry), { ok: false, code: 'NOT_AWAITED' });
  assert.equal(await ctx.storage.markTask(newRun(ctx, 1).id, 't1', { status: 'running', attempts: 1 }, entry), { ok: false, code: 'MISSING' });
  assert.equal(await contents(ctx), before);
});

test('appendHistory: OK appends after the last entry, MISSING creates nothing', async (ctx) => {
  const run = newRun(ctx, 1);
  await ctx.storage.commit(planFor(run));
  const note = { type: 'note', at: '2026-01-01T00:00:00.000Z', actor: 'test' };
  assert.is(await ctx.storage.appendHistory(run.id, [note, note]), true);
  assert.equal((await ctx.redis.xrange(ctx.keys.history(run.id), '-', '+')).map(([id]) => id), ['1-0', '2-0', '3-0']);
  const before = await contents(ctx);
  const gone = newRun(ctx, 1).id;
  assert.is(await ctx.storage.appendHistory(gone, [note]), false);
  assert.equal(await contents(ctx), before);
});

test('compareAndSet: OK replaces or deletes while the value is the expected one, CHANGED otherwise', async (ctx) => {
  const key = `${ctx.prefix}:cas`;
  await ctx.redis.set(key, 'a');
  assert.is(await ctx.scripts.compareAndSet(key, 'a', 'b', 60), true);
  assert.is(await ctx.redis.get(key), 'b');
  assert.ok((await ctx.redis.ttl(key)) > 0);
  assert.is(await ctx.scripts.compareAndSet(key, 'a', 'c'), false);
  assert.is(await ctx.redis.get(key), 'b');
  assert.is(await ctx.scripts.compareAndSet(key, 'b', ''), true);
  assert.is(await ctx.redis.exists(key), 0);
  assert.is(await ctx.scripts.compareAndSet(key, 'b', 'c'), false, 'nothing there: CHANGED');
});

test('kpiRecord and kpiDrop: entries recorded once, undone by a drop, refused after it', async (ctx) => {
  const base = ctx.keys.kpiBase('contract');
  const entry = (id: string, v: number) => [id, 'duration', String(v), '1000', '2026-01-01', '', JSON.stringify({ m: 'duration', v, day: '2026-01-01', dims: ['p1'] }), '1', '1', 'p1'];
  assert.is(await ctx.scripts.kpiRecord(base, ['run-1', ...entry('e1', 5), ...entry('e2', 7)]), 2);
  assert.is(await ctx.scripts.kpiRecord(base, ['run-1', ...entry('e1', 5)]), 0, 'recorded before');
  assert.is(await ctx.redis.hget(`${base}:all`, 'duration||s'), '12');
  assert.is(await ctx.scripts.kpiDrop(base, 'run-1'), 2);
  assert.is(Number(await ctx.redis.hget(`${base}:all`, 'duration||n')), 0);
  assert.is(Number(await ctx.redis.hget(`${base}:all`, 'duration|p1|s')), 0);
  assert.is(await ctx.scripts.kpiRecord(base, ['run-1', ...entry('e3', 1)]), 0, 'a dropped run records nothing more');
  assert.is(await ctx.scripts.kpiDrop(base, 'run-2'), 0);
});

test('extAdd, extFetch, extSettle, extWithdraw: every reply code', async (ctx) => {
  const k = ctx.keys;
  const add = (id: string) => ctx.scripts.extAdd([k.externalTask(id), k.externalReady('mail')], 1000, id, { type: 'mail', runId: 'r' });
  const fetch = (now: number, tokens: string[]) => ctx.scripts.extFetch([k.externalReady('mail'), k.externalLocked()], {
    taskPrefix: k.externalTaskPrefix(), readyPrefix: k.externalReadyPrefix(), now, lockMs: 1000, workerId: 'w1', tokens,
  });
  const settle = (id: string, action: 'begin' | 'finish' | 'retry' | 'extend', token: string, now: number, arg: number) =>
    ctx.scripts.extSettle([k.externalTask(id), k.externalLocked()], { action, token, now, arg, readyPrefix: k.externalReadyPrefix(), taskId: id });
  const withdraw = (id: string) => ctx.scripts.extWithdraw([k.externalTask(id), k.externalLocked()], k.externalReadyPrefix(), id);

  assert.is(await add('x1'), true);
  assert.is(await add('x1'), false, 'EXISTS');
  assert.is(await add('x2'), true);
  assert.is(await add('x3'), true);
  const locked = await fetch(1000, ['tok1', 'tok2', 'tok3']);
  assert.equal(locked.map((r) => [r.status, r.token]), [['locked', 'tok1'], ['locked', 'tok2'], ['locked', 'tok3']]);

  assert.equal(await settle('x1', 'extend', 'wrong', 1100, 500), { ok: false, code: 'STALE', status: 'locked' });
  assert.equal(await settle('x1', 'extend', 'tok1', 1100, 500), { ok: true, code: 'OK', value: 1600 });
  const begun = await settle('x1', 'begin', 'tok1', 1200, 5000);
  assert.ok(begun.ok && begun.record?.status === 'settling');
  assert.equal(await settle('x1', 'finish', 'tok1', 1300, 0), { ok: true, code: 'OK', value: undefined });
  assert.equal(await settle('x1', 'begin', 'tok1', 1400, 5000), { ok: false, code: 'DONE' });
  assert.equal(await settle('x2', 'retry', 'tok2', 1400, 9000), { ok: true, code: 'OK', value: 2 });
  assert.equal(await settle('x3', 'begin', 'tok3', 99_000, 5000), { ok: false, code: 'EXPIRED' });
  assert.is(await ctx.redis.zscore(k.externalReady('mail'), 'x3'), '99000', 'an expired lock offers the task again');
  assert.equal(await settle('nope', 'begin', 'tok', 1000, 0), { ok: false, code: 'MISSING' });

  assert.is(await withdraw('x3'), true);
  assert.equal(await settle('x3', 'begin', 'tok3', 99_000, 5000), { ok: false, code: 'WITHDRAWN' });
  assert.is(await withdraw('x3'), false, 'WITHDRAWN already');
  assert.is(await withdraw('x1'), false, 'DONE');
  assert.is(await withdraw('nope'), false, 'MISSING');
  // Through the registered command itself (not the wrapper's boolean): the reply is the named code.
  const command = (ctx.redis as unknown as Record<string, (...a: string[]) => Promise<unknown>>)[registeredName('extWithdraw')].bind(ctx.redis);
  assert.equal(await command(k.externalTask('x1'), k.externalLocked(), k.externalReadyPrefix(), 'x1'), [Reply.DONE]);
  assert.equal(await command(k.externalTask('nope'), k.externalLocked(), k.externalReadyPrefix(), 'nope'), [Reply.MISSING]);
});

test('registryWrite: OK applies and bumps the version, STALE writes nothing', async (ctx) => {
  const base = ctx.keys.registryBase();
  const k = { version: `${base}:version`, services: `${base}:services`, cis: `${base}:cis` };
  const write = { kind: 's' as const, key: 'mail', doc: '{"name":"mail"}', auditKey: `${base}:audit:s:mail`, audit: '{"a":1}' };
  assert.equal(await ctx.scripts.registryWrite(k, 0, 10, [write]), { ok: true, version: 1 });
  assert.equal(await ctx.scripts.registryWrite(k, null, 10, [{ ...write, doc: '{"name":"mail","v":2}' }]), { ok: true, version: 2 });
  const before = await contents(ctx);
  assert.equal(await ctx.scripts.registryWrite(k, 1, 10, [{ ...write, doc: '' }]), { ok: false, version: 2 });
  assert.equal(await contents(ctx), before);
});

test('archiveRemove: OK deletes the archived copy, CHANGED keeps a run that moved or has an outbox, MISSING for none', async (ctx) => {
  const run = newRun(ctx, 1);
  await ctx.storage.commit(planFor(run, { idempotency: null }));
  const k = ctx.keys;
  const own: [string, string, string] = [k.run(run.id), k.history(run.id), k.outbox(run.id)];
  assert.is(await ctx.scripts.archiveRemove(own, 1, 1, []), 'CHANGED', 'the outbox is not flushed yet');
  await ctx.redis.del(k.outbox(run.id));
  assert.is(await ctx.scripts.archiveRemove(own, 1, 0, []), 'CHANGED', 'history moved on');
  assert.is(await ctx.scripts.archiveRemove(own, 2, 1, []), 'CHANGED', 'seq moved on');
  const idem = k.eventIdem(run.id, 'events', 'x');
  await ctx.redis.set(idem, '1');
  assert.is(await ctx.scripts.archiveRemove(own, 1, 1, [idem]), 'OK');
  assert.is(await ctx.redis.exists(k.run(run.id), k.history(run.id), idem), 0);
  assert.is(await ctx.scripts.archiveRemove(own, 1, 1, []), 'MISSING');
});

test.run();
