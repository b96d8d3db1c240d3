// Owns the PostgreSQL archive: a table of runs and one of history entries, indexed for the run
// filters so reporting tools can query finished work with SQL. The process creates and migrates its
// tables itself (versioned, under an advisory lock, so concurrent processes migrate once).
import type { Pool, PoolClient } from 'pg';
import { ARCHIVE_FORMAT, ARCHIVE_FORMAT_VERSION, parseArchiveCursor, type ArchiveFilter, type ArchiveStore, type ArchivedRun } from './types.ts';
import { topLevelStates } from '../state-value.ts';
import type { HistoryEntry, Logger, Page, StoredRun } from '../types.ts';
import type { HumanTaskDoc } from '../runs.ts';

/** Applied in order, each once, recorded in servicechart_migrations. Never edit one that shipped: add the next. */
export const MIGRATIONS: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'runs and history',
    sql: `
      CREATE TABLE servicechart_runs (
        id text PRIMARY KEY,
        workflow text NOT NULL,
        version integer NOT NULL,
        status text NOT NULL,
        state jsonb,
        top_states text[] NOT NULL,
        business_key text,
        parent_run_id text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        ended_at timestamptz NOT NULL,
        ended_ms bigint NOT NULL,
        seq integer NOT NULL,
        hseq integer NOT NULL,
        format_version integer NOT NULL,
        archived_at timestamptz NOT NULL,
        record jsonb NOT NULL,
        human_tasks jsonb NOT NULL
      );
      CREATE INDEX servicechart_runs_ended ON servicechart_runs (ended_ms DESC, id DESC);
      CREATE INDEX servicechart_runs_workflow ON servicechart_runs (workflow, ended_ms DESC, id DESC);
      CREATE INDEX servicechart_runs_status ON servicechart_runs (status, ended_ms DESC, id DESC);
      CREATE INDEX servicechart_runs_business_key ON servicechart_runs (business_key) WHERE business_key IS NOT NULL;
      CREATE INDEX servicechart_runs_parent ON servicechart_runs (parent_run_id) WHERE parent_run_id IS NOT NULL;
      CREATE INDEX servicechart_runs_top_states ON servicechart_runs USING gin (top_states);
      CREATE TABLE servicechart_history (
        run_id text NOT NULL REFERENCES servicechart_runs (id) ON DELETE CASCADE,
        seq integer NOT NULL,
        type text NOT NULL,
        at timestamptz NOT NULL,
        actor text NOT NULL,
        entry jsonb NOT NULL,
        PRIMARY KEY (run_id, seq)
      );
      CREATE INDEX servicechart_history_type ON servicechart_history (type, at);
    `,
  },
];

const RUN_COLUMNS = `id text, workflow text, version integer, status text, state jsonb, top_states text[], business_key text,
  parent_run_id text, created_at timestamptz, updated_at timestamptz, ended_at timestamptz, ended_ms bigint, seq integer, hseq integer,
  format_version integer, archived_at timestamptz, record jsonb, human_tasks jsonb`;

interface RunRow {
  record: StoredRun;
  hseq: number;
  archived_at: Date;
  human_tasks: HumanTaskDoc[];
  format_version: number;
}

function toArchived(row: RunRow, history: HistoryEntry[]): ArchivedRun {
  return { format: ARCHIVE_FORMAT, v: ARCHIVE_FORMAT_VERSION, archivedAt: row.archived_at.getTime(), run: row.record, hseq: row.hseq, history, humanTasks: row.human_tasks };
}

/** A PostgreSQL store's state: where it connects, and the pool and migration once started. */
interface PgState {
  url: string;
  logger?: Logger;
  // The driver loads on first use: processes that never touch the archive do not pay for it at start.
  poolPromise: Promise<Pool> | null;
  /** Set by the migration, before any query runs. */
  pool?: Pool;
  migrated: Promise<void> | null;
}

function getPool(ps: PgState): Promise<Pool> {
  ps.poolPromise ??= import('pg').then(({ default: pg }) => {
    const p = new pg.Pool({ connectionString: ps.url, max: 4, connectionTimeoutMillis: 3000, query_timeout: 30_000 });
    // A server that goes away breaks idle connections: the pool drops them; the next query reconnects.
    p.on('error', (err) => ps.logger?.warn({ err: err.message }, 'postgres connection lost'));
    return p;
  });
  return ps.poolPromise;
}
/** Run `work` in one transaction on a pooled client: committed, or rolled back when it throws. */
async function withTransaction(ps: PgState, work: (client: PoolClient) => Promise<void>): Promise<void> {
  const client = await ps.pool!.connect();
  try {
    await client.query('BEGIN');
    await work(client);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

async function migrate(ps: PgState): Promise<void> {
  ps.pool = await getPool(ps);
  await withTransaction(ps, async (client) => {
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('servicechart_migrations'))`);
    await client.query(`CREATE TABLE IF NOT EXISTS servicechart_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM servicechart_migrations')).rows.map((r) => r.version));
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO servicechart_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      ps.logger?.info({ version: m.version, name: m.name }, 'archive database migrated');
    }
  });
}

function ready(ps: PgState): Promise<void> {
  if (!ps.migrated) {
    ps.migrated = migrate(ps);
    // A server down at start: try again on the next call.
    ps.migrated.catch(() => (ps.migrated = null));
  }
  return ps.migrated;
}

/** Runs and their histories in one transaction; a copy archived again replaces an older one only. */
async function put(ps: PgState, records: ArchivedRun[]): Promise<void> {
  if (!records.length) return;
  await ready(ps);
  const runs = records.map((r) => ({
    id: r.run.id, workflow: r.run.workflow, version: r.run.version, status: r.run.status,
    state: (r.run.snapshot as { value?: unknown } | null)?.value ?? null, top_states: topLevelStates((r.run.snapshot as { value?: unknown } | null)?.value),
    business_key: r.run.businessKey, parent_run_id: r.run.parentRunId,
    created_at: new Date(r.run.createdAt).toISOString(), updated_at: new Date(r.run.updatedAt).toISOString(),
    ended_at: new Date(r.run.endedAt ?? r.run.updatedAt).toISOString(), ended_ms: r.run.endedAt ?? r.run.updatedAt,
    seq: r.run.seq, hseq: r.hseq, format_version: r.v, archived_at: new Date(r.archivedAt).toISOString(), record: r.run, human_tasks: r.humanTasks,
  }));
  const history = records.flatMap((r) => r.history.map((h) => ({ run_id: r.run.id, seq: h.seq, type: h.type, at: h.at, actor: h.actor ?? '', entry: h })));
  await withTransaction(ps, async (client) => {
    // A copy archived again after a crash replaces the stored one only when it is as new or newer.
    await client.query(
      `INSERT INTO servicechart_runs SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(${RUN_COLUMNS})
       ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, state = EXCLUDED.state, top_states = EXCLUDED.top_states,
         updated_at = EXCLUDED.updated_at, ended_at = EXCLUDED.ended_at, ended_ms = EXCLUDED.ended_ms, seq = EXCLUDED.seq, hseq = EXCLUDED.hseq,
         format_version = EXCLUDED.format_version, archived_at = EXCLUDED.archived_at, record = EXCLUDED.record, human_tasks = EXCLUDED.human_tasks
       WHERE (servicechart_runs.seq, servicechart_runs.hseq) <= (EXCLUDED.seq, EXCLUDED.hseq)`,
      [JSON.stringify(runs)],
    );
    // History entries never change once numbered: a second copy adds only what is new.
    await client.query(
      `INSERT INTO servicechart_history (run_id, seq, type, at, actor, entry)
       SELECT run_id, seq, type, at, actor, entry FROM jsonb_to_recordset($1::jsonb) AS x(run_id text, seq integer, type text, at timestamptz, actor text, entry jsonb)
       ON CONFLICT (run_id, seq) DO NOTHING`,
      [JSON.stringify(history)],
    );
  });
}

async function get(ps: PgState, runId: string): Promise<ArchivedRun | null> {
  await ready(ps);
  const res = await ps.pool!.query<RunRow>('SELECT record, hseq, archived_at, human_tasks, format_version FROM servicechart_runs WHERE id = $1', [runId]);
  if (!res.rows[0]) return null;
  const hist = await ps.pool!.query<{ entry: HistoryEntry }>('SELECT entry FROM servicechart_history WHERE run_id = $1 ORDER BY seq', [runId]);
  return toArchived(res.rows[0], hist.rows.map((r) => r.entry));
}

/** Newest end first, filtered in SQL; items carry no history. */
async function list(ps: PgState, f: ArchiveFilter): Promise<Page<ArchivedRun>> {
  await ready(ps);
  const limit = f.limit ?? 50;
  const where: string[] = [];
  const args: unknown[] = [];
  const arg = (v: unknown) => {
    args.push(v);
    return `$${args.length}`;
  };
  if (f.workflow) where.push(`workflow = ${arg(f.workflow)}`);
  if (f.status) where.push(`status = ${arg(f.status)}`);
  if (f.businessKey) where.push(`business_key = ${arg(f.businessKey)}`);
  if (f.parentRunId) where.push(`parent_run_id = ${arg(f.parentRunId)}`);
  if (f.state) where.push(`top_states @> ARRAY[${arg(f.state)}::text]`);
  if (f.since != null) where.push(`ended_ms >= ${arg(f.since)}`);
  if (f.until != null) where.push(`ended_ms < ${arg(f.until)}`);
  const after = parseArchiveCursor(f.cursor);
  if (after) where.push(`(ended_ms, id) < (${arg(after.endedAt)}::bigint, ${arg(after.id)}::text)`);
  const sql = `SELECT record, hseq, archived_at, human_tasks, format_version FROM servicechart_runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY ended_ms DESC, id DESC LIMIT ${arg(limit + 1)}`;
  const res = await ps.pool!.query<RunRow>(sql, args);
  const rows = res.rows.slice(0, limit);
  const last = rows[rows.length - 1];
  // Listing shows runs, not their histories: items carry an empty history.
  return { items: rows.map((r) => toArchived(r, [])), nextCursor: res.rows.length > limit && last ? `${last.record.endedAt ?? last.record.updatedAt}:${last.record.id}` : null };
}

async function* exportRange(ps: PgState, since: number | null, until: number | null): AsyncIterable<ArchivedRun> {
  await ready(ps);
  let cursor: { ended: number; id: string } | null = null;
  for (;;) {
    const args: unknown[] = [since ?? -1, until ?? Number.MAX_SAFE_INTEGER];
    let sql = 'SELECT id, record, hseq, archived_at, human_tasks, format_version FROM servicechart_runs WHERE ended_ms >= $1 AND ended_ms < $2';
    if (cursor) {
      args.push(cursor.ended, cursor.id);
      sql += ' AND (ended_ms, id) > ($3::bigint, $4::text)';
    }
    const res = await ps.pool!.query<RunRow & { id: string }>(`${sql} ORDER BY ended_ms, id LIMIT 200`, args);
    if (!res.rows.length) return;
    const hist = await ps.pool!.query<{ run_id: string; entry: HistoryEntry }>('SELECT run_id, entry FROM servicechart_history WHERE run_id = ANY($1) ORDER BY run_id, seq', [res.rows.map((r) => r.id)]);
    const byRun = new Map<string, HistoryEntry[]>();
    for (const h of hist.rows) {
      const list = byRun.get(h.run_id);
      if (list) list.push(h.entry);
      else byRun.set(h.run_id, [h.entry]);
    }
    for (const row of res.rows) yield toArchived(row, byRun.get(row.id) ?? []);
    const last = res.rows[res.rows.length - 1];
    cursor = { ended: last.record.endedAt ?? last.record.updatedAt, id: last.id };
  }
}

async function check(ps: PgState): Promise<void> {
  await ready(ps);
  await ps.pool!.query('SELECT 1');
}

async function close(ps: PgState): Promise<void> {
  if (ps.poolPromise) await (await ps.poolPromise).end();
}

export function createPostgresStore(url: string, logger?: Logger): ArchiveStore {
  const ps: PgState = { url, logger, poolPromise: null, migrated: null };
  return {
    kind: 'postgres',
    put: (records) => put(ps, records),
    get: (runId) => get(ps, runId),
    list: (f) => list(ps, f),
    exportRange: (since, until) => exportRange(ps, since, until),
    check: () => check(ps),
    close: () => close(ps),
  };
}
