// The PostgreSQL archive end to end against a real server this test starts: migrations, the same
// scenario as the directory store, and SQL a reporting tool would run.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { createPostgresStore } from '../../engine/index.ts';
import { archiveScenario } from './scenario.ts';
import { startPostgres, type PgServer } from './pg-harness.ts';

const test = suite<{ pg: PgServer }>('archive: postgres store', {} as { pg: PgServer });
test.before(async (ctx) => {
  ctx.pg = await startPostgres();
});
test.after((ctx) => ctx.pg.destroy());

test('runs past retention leave Redis for PostgreSQL rows, once each, and stay readable through the API', async ({ pg: server }) => {
  const sql = new pg.Client({ connectionString: server.url });
  await sql.connect();
  try {
    await archiveScenario({
      open: () => createPostgresStore(server.url),
      env: { SERVICECHART_ARCHIVE_URL: server.url },
      async copies() {
        return Number((await sql.query('SELECT count(*) AS n FROM servicechart_runs')).rows[0].n);
      },
    });
    // Migrated once, by version, although two processes raced to do it.
    assert.equal((await sql.query('SELECT version, name FROM servicechart_migrations')).rows, [{ version: 1, name: 'runs and history' }]);
    // Reporting with SQL: finished work per workflow, and history entries by type.
    const per = (await sql.query('SELECT workflow, status, count(*)::int AS n FROM servicechart_runs GROUP BY 1, 2 ORDER BY 1, 2')).rows;
    assert.equal(per, [
      { workflow: 'approval', status: 'done', n: 1 },
      { workflow: 'demo', status: 'cancelled', n: 2 },
      { workflow: 'demo', status: 'done', n: 1 },
      { workflow: 'incident', status: 'done', n: 1 },
    ]);
    const resolved = (await sql.query(`SELECT r.business_key FROM servicechart_history h JOIN servicechart_runs r ON r.id = h.run_id WHERE h.type = 'event.received' AND h.entry->>'event' = 'RESOLVE'`)).rows;
    assert.equal(resolved, [{ business_key: 'INC-A1' }]);
  } finally {
    await sql.end();
  }
});

test.run();
