// Owns the directory archive: gzipped JSON Lines, one line per run, in segment files named by the UTC
// day the runs ended. Each sweeper batch writes one new segment per day it touches (temp file, fsync,
// rename, fsync of the directory) instead of rewriting the day's file: a write costs the batch, not
// the day. A day with many segments is merged back into one (same steps; the old segments are deleted
// only after the merged one is durable). Readers pick days by name, so a day range reads only those
// days, and a run found twice (a crash between archive write and Redis removal) is read once, newest copy.
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { ARCHIVE_FORMAT, byEndDesc, newer, parseArchiveCursor, type ArchiveFilter, type ArchiveStore, type ArchivedRun } from './types.ts';
import { topLevelStates } from '../state-value.ts';
import type { Page } from '../types.ts';

const SEGMENT = /^(\d{4}-\d{2}-\d{2})\.([0-9a-z]+-[0-9a-f]+)\.jsonl\.gz$/;
/** A day holding more segments than this is merged into one on the next write to it. */
const MERGE_AFTER = 24;
/** Parsed runs kept in memory across reads (whole segments, oldest dropped first). */
const CACHED_RUNS = 5000;

export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function dayStart(day: string): number {
  return Date.parse(`${day}T00:00:00Z`);
}

export function matchesFilter(r: ArchivedRun, f: ArchiveFilter): boolean {
  const run = r.run;
  if (f.workflow && run.workflow !== f.workflow) return false;
  if (f.status && run.status !== f.status) return false;
  if (f.businessKey && run.businessKey !== f.businessKey) return false;
  if (f.parentRunId && run.parentRunId !== f.parentRunId) return false;
  const ended = run.endedAt ?? 0;
  if (f.since != null && ended < f.since) return false;
  if (f.until != null && ended >= f.until) return false;
  if (f.state && !topLevelStates((run.snapshot as { value?: unknown } | null)?.value).includes(f.state)) return false;
  return true;
}

/** A directory store's state: its directory, the parsed segments it keeps, and the run id index. */
interface DirState {
  dir: string;
  // segment file name → its runs (parsed), bounded by CACHED_RUNS; segments never change once renamed in.
  cache: Map<string, ArchivedRun[]>;
  cachedRuns: number;
  // run id → segments holding it, from the `.ids` side files.
  idIndex: Map<string, Set<string>>;
  indexed: Set<string>;
}

async function segments(ds: DirState): Promise<{ name: string; day: string }[]> {
  let names: string[];
  try {
    names = await readdir(ds.dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: { name: string; day: string }[] = [];
  for (const name of names) {
    const m = SEGMENT.exec(name);
    if (m) out.push({ name, day: m[1] });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

async function readSegment(ds: DirState, name: string): Promise<ArchivedRun[]> {
  const hit = ds.cache.get(name);
  if (hit) return hit;
  const text = gunzipSync(await readFile(join(ds.dir, name))).toString('utf8');
  const runs: ArchivedRun[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const r = JSON.parse(line) as ArchivedRun;
    if (r.format !== ARCHIVE_FORMAT) throw new Error(`${name}: a line of format ${String(r.format)}, not ${ARCHIVE_FORMAT}`);
    if (r.v !== 1) throw new Error(`${name}: archive format version ${String(r.v)} is newer than this release reads`);
    runs.push(r);
  }
  ds.cache.set(name, runs);
  ds.cachedRuns += runs.length;
  while (ds.cachedRuns > CACHED_RUNS && ds.cache.size > 1) {
    const oldest = ds.cache.keys().next().value!;
    ds.cachedRuns -= ds.cache.get(oldest)!.length;
    ds.cache.delete(oldest);
  }
  return runs;
}

/** The runs of one day, each once (newest copy). */
async function readDay(ds: DirState, names: string[]): Promise<ArchivedRun[]> {
  const byId = new Map<string, ArchivedRun>();
  for (const name of names) {
    let runs: ArchivedRun[];
    try {
      runs = await readSegment(ds, name);
    } catch (err) {
      // Merged away between listing and reading: its runs are in the merged segment.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    for (const r of runs) {
      const prev = byId.get(r.run.id);
      byId.set(r.run.id, prev ? newer(prev, r) : r);
    }
  }
  return [...byId.values()];
}

function sideFile(segment: string): string {
  return segment.replace(/\.jsonl\.gz$/, '.ids');
}

async function refreshIndex(ds: DirState): Promise<void> {
  const present = new Set<string>();
  for (const { name } of await segments(ds)) {
    present.add(name);
    if (ds.indexed.has(name)) continue;
    let ids: string[];
    try {
      ids = (await readFile(join(ds.dir, sideFile(name)), 'utf8')).split('\n').filter(Boolean);
    } catch {
      ids = (await readSegment(ds, name).catch(() => [])).map((r) => r.run.id);
    }
    for (const id of ids) {
      let set = ds.idIndex.get(id);
      if (!set) ds.idIndex.set(id, (set = new Set()));
      set.add(name);
    }
    ds.indexed.add(name);
  }
  for (const name of ds.indexed) if (!present.has(name)) ds.indexed.delete(name);
}

/** Write a file durably under its final name: temp file, fsync, rename. */
async function writeDurably(ds: DirState, name: string, data: Buffer | string): Promise<void> {
  const tmp = join(ds.dir, `.${name}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', 0o640);
  try {
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(ds.dir, name));
  } catch (err) {
    // A full disk or a failed sync leaves no half file behind under any name.
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

function syncDir(ds: DirState): void {
  const fd = openSync(ds.dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

async function writeSegment(ds: DirState, day: string, runs: ArchivedRun[]): Promise<string> {
  const name = `${day}.${Date.now().toString(36)}-${randomBytes(4).toString('hex')}.jsonl.gz`;
  // The side file first: a segment never exists without it (a stray side file is ignored).
  await writeDurably(ds, sideFile(name), runs.map((r) => r.run.id).join('\n') + '\n');
  await writeDurably(ds, name, gzipSync(runs.map((r) => JSON.stringify(r)).join('\n') + '\n'));
  return name;
}

async function mergeDay(ds: DirState, day: string): Promise<void> {
  const names = (await segments(ds)).filter((s) => s.day === day).map((s) => s.name);
  if (names.length <= MERGE_AFTER) return;
  const runs = (await readDay(ds, names)).sort((a, b) => -byEndDesc(a, b));
  await writeSegment(ds, day, runs);
  syncDir(ds);
  for (const name of names) {
    await unlink(join(ds.dir, name)).catch(() => undefined);
    await unlink(join(ds.dir, sideFile(name))).catch(() => undefined);
    ds.cachedRuns -= ds.cache.get(name)?.length ?? 0;
    ds.cache.delete(name);
  }
  syncDir(ds);
}

/** Each day's runs as one new segment, the directory synced, then days with too many segments merged. */
async function put(ds: DirState, records: ArchivedRun[]): Promise<void> {
  await mkdir(ds.dir, { recursive: true });
  const byDay = new Map<string, ArchivedRun[]>();
  for (const r of records) {
    const day = dayOf(r.run.endedAt ?? r.run.updatedAt);
    byDay.set(day, [...(byDay.get(day) ?? []), r]);
  }
  for (const [day, runs] of byDay) await writeSegment(ds, day, runs);
  // The renames are durable only once the directory itself is synced.
  syncDir(ds);
  // Merging is an optimisation of reads: the batch is durable already, and a merge that fails (a
  // full disk) is tried again on the next write to that day.
  for (const day of byDay.keys()) await mergeDay(ds, day).catch(() => undefined);
}

/** A run by id, through the id index (refreshed from the side files when it does not know the id). */
async function get(ds: DirState, runId: string): Promise<ArchivedRun | null> {
  if (!ds.idIndex.has(runId)) await refreshIndex(ds);
  const names = ds.idIndex.get(runId);
  if (!names) return null;
  let best: ArchivedRun | null = null;
  for (const name of [...names]) {
    let runs: ArchivedRun[];
    try {
      runs = await readSegment(ds, name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      names.delete(name);
      continue;
    }
    for (const r of runs) if (r.run.id === runId) best = best ? newer(best, r) : r;
  }
  if (!best && names.size === 0) {
    ds.idIndex.delete(runId);
    await refreshIndex(ds);
    return ds.idIndex.has(runId) ? get(ds, runId) : null;
  }
  return best;
}

/** Newest end first, reading only the days the filter and cursor can reach. */
async function list(ds: DirState, f: ArchiveFilter): Promise<Page<ArchivedRun>> {
  const limit = f.limit ?? 50;
  const after = parseArchiveCursor(f.cursor);
  const byDay = new Map<string, string[]>();
  for (const s of await segments(ds)) byDay.set(s.day, [...(byDay.get(s.day) ?? []), s.name]);
  const days = [...byDay.keys()].sort().reverse().filter((day) => {
    const start = dayStart(day);
    if (f.until != null && start >= f.until) return false;
    if (f.since != null && start + 86_400_000 <= f.since) return false;
    if (after && start > after.endedAt) return false;
    return true;
  });
  const items: ArchivedRun[] = [];
  for (const day of days) {
    const runs = (await readDay(ds, byDay.get(day)!)).filter((r) => matchesFilter(r, f)).sort(byEndDesc);
    for (const r of runs) {
      if (after) {
        const e = r.run.endedAt ?? 0;
        if (e > after.endedAt || (e === after.endedAt && r.run.id >= after.id)) continue;
      }
      items.push(r);
      if (items.length > limit) break;
    }
    if (items.length > limit) break;
  }
  const more = items.length > limit;
  const page = items.slice(0, limit);
  const last = page[page.length - 1];
  return { items: page, nextCursor: more && last ? `${last.run.endedAt ?? 0}:${last.run.id}` : null } satisfies Page<ArchivedRun>;
}

async function* exportRange(ds: DirState, since: number | null, until: number | null): AsyncIterable<ArchivedRun> {
  const byDay = new Map<string, string[]>();
  for (const s of await segments(ds)) byDay.set(s.day, [...(byDay.get(s.day) ?? []), s.name]);
  for (const day of [...byDay.keys()].sort()) {
    const start = dayStart(day);
    if (until != null && start >= until) continue;
    if (since != null && start + 86_400_000 <= since) continue;
    const runs = (await readDay(ds, byDay.get(day)!)).filter((r) => matchesFilter(r, { since, until })).sort((a, b) => -byEndDesc(a, b));
    yield* runs;
  }
}

async function check(ds: DirState): Promise<void> {
  await mkdir(ds.dir, { recursive: true });
  const probe = join(ds.dir, `.probe-${randomBytes(4).toString('hex')}`);
  await writeFile(probe, 'ok');
  await unlink(probe);
}

async function close(ds: DirState): Promise<void> {
  ds.cache.clear();
  ds.cachedRuns = 0;
}

export function createDirectoryStore(dir: string): ArchiveStore {
  const ds: DirState = { dir, cache: new Map(), cachedRuns: 0, idIndex: new Map(), indexed: new Set() };
  return {
    kind: 'directory',
    put: (records) => put(ds, records),
    get: (runId) => get(ds, runId),
    list: (f) => list(ds, f),
    exportRange: (since, until) => exportRange(ds, since, until),
    check: () => check(ds),
    close: () => close(ds),
  };
}
