import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createPostgresSource, type PostgresSourceOptions } from '../../connectors/postgres/postgres-source.js';
import type { District, Extract } from '../../src/config/model.js';
import { resolveParams } from '../../src/config/params.js';
import { extractFileSchema } from '../../src/config/schema.js';
import { FerryError } from '../../src/core/errors.js';
import type { BindValue, BoundQuery, RowBatch, Source, StreamOptions } from '../../src/core/source.js';
import { loadDemoSisIntoPostgres } from '../../src/demo/demo-sis.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg-database.js';
import { freePort } from '../helpers/postgres.js';
import { startTcpRelay } from '../servers/tcp-relay.js';

const EXTRACTS_DIR = join(import.meta.dirname, '..', '..', 'extracts');
const INTEGRATION = 'hilltop-fastbridge-pg';
const HILLTOP: District = { id: 'hilltop-csd', name: 'Hilltop', gradeBands: { ES: 'K-5' }, blackouts: [], file: 'test' };
const AS_OF = new Date('2026-11-23T15:00:00Z');

/** An extract as the loader builds it, read from the repository's extracts folder. */
function loadExtract(name: string): Extract {
  const dir = join(EXTRACTS_DIR, 'postgres', name);
  const meta = extractFileSchema.parse(parse(readFileSync(join(dir, 'extract.yaml'), 'utf8')));
  return {
    name: meta.name,
    description: meta.description,
    sourceKind: meta.source,
    filters: meta.filters,
    params: meta.params,
    columns: meta.columns,
    sql: readFileSync(join(dir, 'query.sql'), 'utf8'),
    file: join(dir, 'extract.yaml'),
  };
}

/** The extract's SQL with parameters resolved exactly as a run resolves them. */
function boundExtract(extract: Extract, params: Record<string, unknown>): BoundQuery {
  const resolved = resolveParams(INTEGRATION, extract, HILLTOP, params, AS_OF, 'America/New_York');
  return { text: extract.sql, values: resolved.binds };
}

async function drain(source: Source, query: BoundQuery, options?: StreamOptions): Promise<{ columns: readonly string[]; rows: RowBatch['rows'][number][] }> {
  let columns: readonly string[] = [];
  const rows: RowBatch['rows'][number][] = [];
  for await (const batch of source.stream(query, options)) {
    columns = batch.columns;
    rows.push(...batch.rows);
  }
  return { columns, rows };
}

async function failureOf(work: Promise<unknown>): Promise<unknown> {
  try {
    await work;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

describe('PostgreSQL source against a real server with the demo SIS', () => {
  let db: TestDatabase;
  let admin: pg.Client;
  let conn: Pick<PostgresSourceOptions, 'host' | 'port' | 'database' | 'user'> & { password: string };
  const opened: Source[] = [];

  const open = (overrides: Partial<PostgresSourceOptions> = {}): Source => {
    const source = createPostgresSource({
      id: 'sis',
      host: conn.host,
      port: conn.port,
      database: conn.database,
      user: conn.user,
      password: () => conn.password,
      ssl: false,
      connectTimeoutSeconds: 10,
      integration: INTEGRATION,
      ...overrides,
    });
    opened.push(source);
    return source;
  };

  /** Ferry's own sessions on this test database (other test files share the server). */
  const ferrySessions = async (): Promise<number> => {
    const { rows } = await admin.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'ferry' AND datname = $1",
      [db.name],
    );
    return Number(rows[0]?.n);
  };

  /** The server drops a backend a moment after its client hangs up; wait for that, bounded. */
  const settleSessions = async (): Promise<number> => {
    const deadline = Date.now() + 5_000;
    let n = await ferrySessions();
    while (n > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      n = await ferrySessions();
    }
    return n;
  };

  beforeAll(async () => {
    db = await createTestDatabase('pg_source');
    const url = new URL(db.url);
    conn = {
      host: url.hostname,
      port: Number(url.port),
      database: db.name,
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
    };
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await loadDemoSisIntoPostgres(admin);
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  afterAll(async () => {
    await admin?.end();
    await db?.drop();
  });

  describe('streaming an extract', () => {
    const extract = loadExtract('students-basic-pg');

    it('returns the declared columns and every matching row', async () => {
      const { columns, rows } = await drain(open(), boundExtract(extract, { districtId: 'hilltop-csd' }));
      expect(columns).toEqual(extract.columns.map((c) => c.name));
      const { rows: expected } = await admin.query<{ n: string }>(
        `SELECT count(*) AS n FROM student_enrollments e JOIN students s USING (district_id, student_id)
          WHERE e.district_id = 'hilltop-csd' AND e.school_year = 2027 AND s.active`,
      );
      expect(rows.length).toBe(Number(expected[0]?.n));
      expect(rows.length).toBeGreaterThan(500);
    });

    it('hands DATE columns over as the stored YYYY-MM-DD text and booleans as booleans', async () => {
      const { columns, rows } = await drain(open(), boundExtract(extract, { districtId: 'hilltop-csd', activeOnly: false }));
      const col = (name: string) => columns.indexOf(name);
      const { rows: truth } = await admin.query<{ student_id: string; school_code: string; birth: string; entry: string; active: boolean }>(
        `SELECT s.student_id, e.school_code, to_char(s.birth_date, 'YYYY-MM-DD') AS birth, to_char(e.entry_date, 'YYYY-MM-DD') AS entry, s.active
           FROM student_enrollments e JOIN students s USING (district_id, student_id)
          WHERE e.district_id = 'hilltop-csd' AND e.school_year = 2027`,
      );
      const byKey = new Map(truth.map((t) => [`${t.student_id}/${t.school_code}/${t.entry}`, t]));
      expect(rows.length).toBe(truth.length);
      for (const row of rows) {
        const birth = row[col('birth_date')];
        const entry = row[col('entry_date')];
        expect(typeof birth).toBe('string');
        expect(typeof entry).toBe('string');
        const t = byKey.get(`${String(row[col('student_id')])}/${String(row[col('school_code')])}/${String(entry)}`);
        expect(t, 'row must exist in the table').toBeDefined();
        expect(birth).toBe(t!.birth);
        expect(typeof row[col('active')]).toBe('boolean');
        expect(row[col('active')]).toBe(t!.active);
      }
      // Both values occur, so a 't'/'f' text or 0/1 regression could not pass unnoticed.
      const actives = new Set(rows.map((r) => r[col('active')]));
      expect(actives).toEqual(new Set([true, false]));
    });

    it('keeps a date next to midnight on its day whatever the process time zone', async () => {
      const saved = process.env.TZ;
      // UTC+14: a DATE turned into a local-midnight JS Date would print as the previous day in UTC.
      process.env.TZ = 'Pacific/Kiritimati';
      try {
        expect(new Date(2026, 11, 31).toISOString().slice(0, 10)).toBe('2026-12-30'); // the zone really is in effect
        const { rows } = await drain(open(), {
          text: "SELECT DATE '2026-12-31' AS last_day, DATE '2027-01-01' AS first_day, TIMESTAMPTZ '2026-12-31 23:59:59+00' AS ts, :d::date AS bound",
          values: { d: '2026-12-31' },
        });
        expect(rows).toEqual([['2026-12-31', '2027-01-01', '2026-12-31 23:59:59+00', '2026-12-31']]);
      } finally {
        if (saved === undefined) delete process.env.TZ;
        else process.env.TZ = saved;
      }
    });
  });

  describe('standard filters are bound as parameters', () => {
    const extract = loadExtract('students-basic-pg');
    const gradeOf = (columns: readonly string[], row: RowBatch['rows'][number]) => Number(row[columns.indexOf('grade_level')]);

    it('grades K-5 narrows the rows to kindergarten through grade 5', async () => {
      const all = await drain(open(), boundExtract(extract, { districtId: 'hilltop-csd' }));
      const k5 = await drain(open(), boundExtract(extract, { districtId: 'hilltop-csd', grades: 'K-5' }));
      expect(k5.rows.length).toBeGreaterThan(0);
      expect(k5.rows.length).toBeLessThan(all.rows.length);
      const grades = new Set(k5.rows.map((r) => gradeOf(k5.columns, r)));
      expect(Math.min(...grades)).toBe(0);
      expect(Math.max(...grades)).toBe(5);
      expect(k5.rows.length).toBe(all.rows.filter((r) => gradeOf(all.columns, r) >= 0 && gradeOf(all.columns, r) <= 5).length);
    });

    it('a buildings list narrows the rows to those buildings', async () => {
      const all = await drain(open(), boundExtract(extract, { districtId: 'hilltop-csd' }));
      const some = await drain(open(), boundExtract(extract, { districtId: 'hilltop-csd', buildings: ['HES', 'HHS'] }));
      const schools = (d: typeof all) => d.rows.map((r) => r[d.columns.indexOf('school_code')]);
      expect(new Set(schools(all))).toEqual(new Set(['HES', 'HMS', 'HHS']));
      expect(new Set(schools(some))).toEqual(new Set(['HES', 'HHS']));
      expect(some.rows.length).toBe(schools(all).filter((s) => s !== 'HMS').length);
    });

    it('SQL inside a parameter value is only data: no rows, no error, the table survives', async () => {
      const evil = "x'); drop table students; --";
      const byBuilding = await drain(open(), boundExtract(extract, { districtId: 'hilltop-csd', buildings: [evil] }));
      expect(byBuilding.rows).toEqual([]);
      // districtId always comes from the district block (a slug), so the hostile value is bound directly.
      const hilltop = boundExtract(extract, { districtId: 'hilltop-csd' });
      const byDistrict = await drain(open(), { ...hilltop, values: { ...hilltop.values, districtId: evil } });
      expect(byDistrict.rows).toEqual([]);
      // The value reaches the server intact, as a value.
      const echo = await drain(open(), { text: 'SELECT :v::text AS v, :list::text[] AS list', values: { v: evil, list: [evil, 'HES'] } });
      expect(echo.rows).toEqual([[evil, [evil, 'HES']]]);
      const { rows } = await admin.query<{ n: string }>('SELECT count(*) AS n FROM students');
      expect(Number(rows[0]?.n)).toBeGreaterThan(1000);
    });
  });

  describe('failures carry a kind, a field and a message without secrets', () => {
    const query: BoundQuery = { text: 'SELECT 1 AS one', values: {} };

    it('a wrong password is source_auth on sources.<id>.password and the message does not repeat the password', async () => {
      const wrong = 'not-the-password-4f9c1e7a';
      const err = await failureOf(drain(open({ password: () => wrong }), query));
      expect(err).toBeInstanceOf(FerryError);
      const fe = err as FerryError;
      expect(fe.kind).toBe('source_auth');
      expect(fe.retryable).toBe(false);
      expect(fe.field).toBe('sources.sis.password');
      expect(fe.integration).toBe(INTEGRATION);
      expect(fe.message).toContain(INTEGRATION);
      expect(fe.message).not.toContain(wrong);
      expect(fe.message).not.toContain(conn.password);
      expect((fe.cause as { code?: string }).code).toBe('28P01');
    });

    it('a port nobody listens on is source_connect on sources.<id>.host', async () => {
      const port = await freePort();
      const fe = (await failureOf(drain(open({ port }), query))) as FerryError;
      expect(fe).toBeInstanceOf(FerryError);
      expect(fe.kind).toBe('source_connect');
      expect(fe.retryable).toBe(true);
      expect(fe.field).toBe('sources.sis.host');
      expect(fe.message).toContain(`127.0.0.1:${port}`);
    });

    it('an SQL error is source_query', async () => {
      const fe = (await failureOf(drain(open(), { text: 'SELECT * FROM no_such_table', values: {} }))) as FerryError;
      expect(fe).toBeInstanceOf(FerryError);
      expect(fe.kind).toBe('source_query');
      expect(fe.message).toContain('no_such_table');
      expect(fe.message).toContain(INTEGRATION);
    });
  });

  describe('the server\'s error codes decide the kind (pg-errors.ts), and no message quotes a row value', () => {
    /** Reads `g` and raises SQLSTATE `code` on the server at row `at`, as a deadlock or data error would mid-result. */
    const failingAt = (at: number, code: string): BoundQuery => ({
      text: `SELECT g, ferry_test_raise(g, ${at}, '${code}') AS ok FROM generate_series(1, 100000) AS g`,
      values: {},
    });
    beforeAll(async () => {
      await admin.query(`CREATE FUNCTION ferry_test_raise(g int, at int, code text) RETURNS int LANGUAGE plpgsql AS $$
        BEGIN IF g = at THEN RAISE EXCEPTION 'raised %', code USING ERRCODE = code; END IF; RETURN g; END $$`);
    });

    it.each([
      ['40001', 'source_transient', 'cancelled the query (serialization failure)'],
      ['40P01', 'source_transient', 'cancelled the query (deadlock detected)'],
      ['08006', 'source_transient', 'lost the connection'],
      ['22012', 'source_query', 'could not handle a value in the data'],
    ] as const)('SQLSTATE %s raised mid-stream is %s, after the rows before it', async (code, kind, what) => {
      let rows = 0;
      const fe = (await failureOf(
        (async () => {
          for await (const batch of open().stream(failingAt(2500, code), { batchSize: 1000 })) rows += batch.rows.length;
        })(),
      )) as FerryError;
      expect(rows).toBe(2000);
      expect([fe.kind, fe.retryable, fe.message]).toEqual([kind, kind === 'source_transient', `integration ${INTEGRATION}: source sis: PostgreSQL at ${conn.host}:${conn.port} ${what} (SQLSTATE ${code})`]);
      expect((fe.cause as { code: string }).code).toBe(code);
    });

    it('a value the query cannot convert is named by SQLSTATE, never quoted', async () => {
      const fe = (await failureOf(drain(open(), { text: "SELECT last_name::int FROM students WHERE last_name <> ''", values: {} }))) as FerryError;
      expect((fe.cause as Error).message).toMatch(/^invalid input syntax for type integer: ".+"$/);
      expect([fe.kind, fe.retryable, fe.field]).toEqual(['source_query', false, 'query.sql']);
      expect(fe.message).toBe(`integration ${INTEGRATION}: source sis: PostgreSQL at ${conn.host}:${conn.port} could not handle a value in the data (SQLSTATE 22P02)`);
    });

    it('pg_terminate_backend mid-stream (57P01) is source_transient, and the same source then reconnects and reads everything', async () => {
      const source = open();
      const query: BoundQuery = { text: 'SELECT g FROM generate_series(1, 50000) AS g', values: {} };
      let rows = 0;
      const fe = (await failureOf(
        (async () => {
          for await (const batch of source.stream(query, { batchSize: 1000 })) {
            if (rows === 0) await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'ferry' AND datname = $1", [db.name]);
            rows += batch.rows.length;
          }
        })(),
      )) as FerryError;
      expect(rows).toBe(1000);
      // The server says 57P01 and closes the socket; on a busy machine the client may hit the closed socket (EPIPE,
      // ECONNRESET) before it reads that message. Either way the read is transient and retried.
      expect([fe.kind, fe.retryable]).toEqual(['source_transient', true]);
      expect(['57P01', 'EPIPE', 'ECONNRESET']).toContain((fe.cause as { code: string }).code);
      expect(fe.message).toMatch(/closed the connection \(administrator shutdown or pg_terminate_backend\) \(SQLSTATE 57P01\)|lost the connection mid-query/);
      expect((await drain(source, query)).rows).toHaveLength(50_000);
    });

    it('a socket cut mid-stream (a network drop, through a TCP relay) is source_transient', async () => {
      const relay = await startTcpRelay(conn);
      try {
        const source = open({ host: relay.host, port: relay.port });
        let rows = 0;
        const fe = (await failureOf(
          (async () => {
            for await (const batch of source.stream({ text: 'SELECT g FROM generate_series(1, 50000) AS g', values: {} }, { batchSize: 1000 })) {
              rows += batch.rows.length;
              relay.cutAll();
            }
          })(),
        )) as FerryError;
        expect(rows).toBe(1000);
        expect([fe.kind, fe.retryable]).toEqual(['source_transient', true]);
        expect(fe.message).toMatch(/PostgreSQL at 127\.0\.0\.1:\d+ lost the connection mid-query( \((ECONNRESET|EPIPE)\))?$/);
      } finally {
        await relay.close();
      }
    });
  });

  // A pipeline that is aborted stops pulling and closes its iterator; a plain loop pulls once more and gets the abort.
  it.each([
    ['keeps pulling', false],
    ['stops pulling (as a stream pipeline does)', true],
  ] as const)('aborting mid-stream stops the stream and releases the connection when the consumer %s', async (_how, stopPulling) => {
    const source = open();
    const controller = new AbortController();
    let rows = 0;
    const outcome = await (async () => {
      try {
        for await (const batch of source.stream({ text: 'SELECT g FROM generate_series(1, 1000000) AS g', values: {} }, { signal: controller.signal, batchSize: 1000 })) {
          rows += batch.rows.length;
          expect(await ferrySessions()).toBe(1);
          controller.abort(new Error('shutting down'));
          if (stopPulling) return 'stopped';
        }
        return 'ran to the end';
      } catch (err) {
        const fe = err as FerryError;
        return `${fe.kind}: ${(fe.cause as Error).message}`;
      }
    })();
    expect(outcome).toBe(stopPulling ? 'stopped' : 'aborted: shutting down');
    expect(rows).toBe(1000);
    // Released by the abort itself, before anyone calls close().
    expect(await settleSessions()).toBe(0);
  });

  it('streams 300,000 rows in batches without holding them (heap growth far below the rows held)', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const query: BoundQuery = {
      text: `SELECT g AS id, md5(g::text) AS a, md5((g + 1)::text) AS b, repeat(chr(65 + g % 26), 100) AS c, DATE '2026-09-02' + (g % 300) AS d
               FROM generate_series(1, :n) AS g`,
      values: { n: 300_000 } satisfies Record<string, BindValue>,
    };
    const MB = 1024 * 1024;

    const measure = async (keep: boolean): Promise<{ rows: number; batches: number; peak: number }> => {
      const held: unknown[] = [];
      const source = open();
      gc();
      const start = process.memoryUsage().heapUsed;
      let peak = 0;
      let rows = 0;
      let batches = 0;
      for await (const batch of source.stream(query)) {
        rows += batch.rows.length;
        if (batch.rows.length > 0) batches++;
        if (keep) {
          held.push(batch.rows); // what is held only grows: one sample at the end is its peak
          continue;
        }
        gc();
        peak = Math.max(peak, process.memoryUsage().heapUsed - start);
      }
      if (keep) {
        gc();
        peak = process.memoryUsage().heapUsed - start;
      }
      await source.close();
      held.length = 0;
      return { rows, batches, peak };
    };

    const streamed = await measure(false);
    expect(streamed.rows).toBe(300_000);
    expect(streamed.batches).toBeGreaterThanOrEqual(30);
    expect(streamed.peak).toBeLessThan(60 * MB);
    // Calibration: holding the same rows does cross the bound, so the bound above can tell the two apart.
    const held = await measure(true);
    expect(held.rows).toBe(300_000);
    expect(held.peak).toBeGreaterThan(60 * MB);
  });
});
