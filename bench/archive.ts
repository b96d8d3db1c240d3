// The archive's part of `npm run bench`: Redis memory per finished run before and after archiving,
// and how many runs per second the sweeper moves to each store (a directory, a real PostgreSQL).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { setup, type AnyStateMachine } from 'xstate';
import { createDirectoryStore, createPostgresStore, defineWorkflow, parseRetention, type ArchiveStore } from '../engine/index.ts';
import { createEngineInstance as createEngine } from '../engine/testing.ts';
import { startPostgres } from '../test/archive/pg-harness.ts';

/** Ten events, one state each: a run with a history of the size a short ticket has. */
function tenSteps() {
  const states: Record<string, object> = {};
  for (let i = 0; i < 10; i++) states[`s${i}`] = { on: { NEXT: i === 9 ? 'done' : `s${i + 1}` } };
  states.done = { type: 'final' };
  const machine = setup({}).createMachine({ id: 'tensteps', initial: 's0', states } as never) as unknown as AnyStateMachine;
  return defineWorkflow({ name: 'tensteps', version: 1, description: 'ten events', machine });
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
}

export interface ArchiveFigures {
  store: string;
  runs: number;
  bytesBefore: number;
  bytesAfter: number;
  runsPerSecond: number;
  /** Keys left under the prefix that name an archived run (the target is 0). */
  keysNamingRuns: number;
}

async function one(url: string, kind: string, store: ArchiveStore, sweeperStore: ArchiveStore, runs: number): Promise<ArchiveFigures> {
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  const prefix = `bench-archive-${kind}`;
  const engine = createEngine({ redis, prefix, workflows: [tenSteps()], archive: store });
  const mem0 = await usedMemory(redis);
  for (let i = 0; i < runs; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, runs - i) }, async () => {
      const { run } = await engine.startRun({ workflow: 'tensteps', businessKey: `T-${Math.random().toString(36).slice(2)}` });
      for (let s = 0; s < 10; s++) await engine.sendEvent(run.id, { type: 'NEXT' });
    }));
  }
  // One node, one partition: every run's index entries are in partition 0.
  const ended = engine.keys.runsEndedByWorkflow(0, 'tensteps');
  const ids = new Set(await redis.zrange(engine.keys.runsAll(0), '0', '-1'));
  while ((await redis.zcard(ended)) < runs) await new Promise((r) => setTimeout(r, 20));
  const mem1 = await usedMemory(redis);
  // The sweeper's clock runs an hour ahead, so every run is past a 1-minute retention at once.
  const sweeper = createEngine({ redis, prefix, workflows: [tenSteps()], archive: sweeperStore, clock: { now: () => Date.now() + 3_600_000 } });
  const started = performance.now();
  sweeper.startArchiver({ retention: parseRetention('*=1m'), everyMs: 20, batchSize: 100 });
  while ((await redis.zcard(ended)) > 0) await new Promise((r) => setTimeout(r, 10));
  const seconds = (performance.now() - started) / 1000;
  await sweeper.close();
  const mem2 = await usedMemory(redis);
  let keysNamingRuns = 0;
  for (const pattern of [`${prefix}:*`, `{${prefix}-*`]) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      for (const k of keys) if ((k.match(/r[0-9a-z]{8,40}/g) ?? []).some((id) => ids.has(id))) keysNamingRuns++;
    } while (cursor !== '0');
  }
  await engine.close();
  await redis.quit();
  return { store: kind, runs, bytesBefore: (mem1 - mem0) / runs, bytesAfter: (mem2 - mem0) / runs, runsPerSecond: runs / seconds, keysNamingRuns };
}

export async function archiveBench(url: string, runs: number): Promise<ArchiveFigures[]> {
  const out: ArchiveFigures[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'sc-bench-archive-'));
  try {
    out.push(await one(url, 'directory', createDirectoryStore(dir), createDirectoryStore(dir), runs));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const pg = await startPostgres();
  const a = createPostgresStore(pg.url);
  const b = createPostgresStore(pg.url);
  try {
    out.push(await one(url, 'postgres', a, b, runs));
  } finally {
    await a.close();
    await b.close();
    pg.destroy();
  }
  return out;
}
