import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSchoolToolSource, type SchoolToolSourceOptions } from '../../connectors/schooltool/schooltool-source.js';
import { FerryError } from '../../src/core/errors.js';
import type { BindValue, BoundQuery, RowBatch, Source, StreamOptions } from '../../src/core/source.js';
import { freePort } from '../helpers/postgres.js';
import { startTdsServer, type TdsServer } from '../servers/tds/server.js';

const INTEGRATION = 'hilltop-schooltool';
const USER = 'ferry_reader';
const PASSWORD = 'Tds-Secret-9f3b!';
const DATABASE = 'SchoolTool_Hilltop';
const ROWS = 100_000;

type Row = RowBatch['rows'][number];

/** The SQL Server-ish fixture: a large roster and a few students covering every type, NULLs and non-ASCII names. */
function createFixture(file: string): void {
  const db = new Database(file);
  db.exec(`
    CREATE TABLE big_roster (id INT NOT NULL, label NVARCHAR(200) NOT NULL, enrolled DATE NOT NULL);
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${ROWS})
    INSERT INTO big_roster
      SELECT i, printf('student-%06d-', i) || hex(zeroblob(45)), date('2026-09-01', '+' || (i % 300) || ' days') FROM n;

    CREATE TABLE students (
      student_id NVARCHAR(20) NOT NULL, first_name NVARCHAR(100), last_name NVARCHAR(100) NOT NULL,
      grade_level INT NOT NULL, school_code VARCHAR(10) NOT NULL, birth_date DATE, active BIT NOT NULL,
      balance DECIMAL(10,2), external_id BIGINT, updated_at DATETIME2);
    INSERT INTO students VALUES
      ('S001', 'Zoë', 'Ångström', 3, 'HES', '2016-12-31', 1, 12.5, 5000000001, '2026-12-31 23:59:59'),
      ('S002', 'José', 'Núñez', 5, 'HES', '2015-01-01', 1, 0, 5000000002, '2027-01-01 00:00:00'),
      ('S003', '🙂', 'Smile', 7, 'HMS', '2013-06-15', 0, 99.99, 5000000003, NULL),
      ('S004', '李', '小龙', 9, 'HHS', '2011-02-28', 1, NULL, NULL, '2026-06-01 08:30:00.5'),
      ('S005', NULL, 'O''Brien', 11, 'HHS', NULL, 1, 250.75, 42, NULL);
  `);
  db.close();
}

async function drain(source: Source, query: BoundQuery, options?: StreamOptions): Promise<{ columns: readonly string[]; rows: Row[]; batches: number }> {
  let columns: readonly string[] = [];
  const rows: Row[] = [];
  let batches = 0;
  for await (const batch of source.stream(query, options)) {
    columns = batch.columns;
    rows.push(...batch.rows);
    batches++;
  }
  return { columns, rows, batches };
}

async function failureOf(work: Promise<unknown>): Promise<unknown> {
  try {
    await work;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

describe('SchoolTool source: the real mssql client through the TDS test server', () => {
  let dir: string;
  let file: string;
  let server: TdsServer;
  const opened: Source[] = [];

  const open = (overrides: Partial<SchoolToolSourceOptions> = {}): Source => {
    const source = createSchoolToolSource({
      id: 'sis',
      host: server.host,
      port: server.port,
      database: DATABASE,
      user: USER,
      password: () => PASSWORD,
      encrypt: false,
      trustServerCertificate: false,
      connectTimeoutSeconds: 10,
      requestTimeoutSeconds: 60,
      readOnlyIntent: true,
      integration: INTEGRATION,
      ...overrides,
    });
    opened.push(source);
    return source;
  };
  const ids = (rows: readonly Row[]) => rows.map((r) => r[0]);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-tds-'));
    file = join(dir, 'schooltool.sqlite');
    createFixture(file);
    server = await startTdsServer({ db: file, user: USER, password: PASSWORD });
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  afterAll(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
    if (server) {
      await server.waitFor(() => server.connections() === 0);
      await server.close();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('testConnection reports the server version and the database; the login says who is asking and that it only reads', async () => {
    expect(await open().testConnection!()).toEqual({ server: 'SQL Server 16.0.4135.4', details: { database: DATABASE } });
    expect(server.logins().at(-1)).toEqual({ user: USER, database: DATABASE, appName: 'ferry', readOnlyIntent: true, packetSize: 4096, encrypted: false });
  });

  it('streams 100,000 rows in batches without holding them (heap growth far below the rows held)', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const query: BoundQuery = { text: 'SELECT id, label, enrolled FROM big_roster WHERE id <= @n ORDER BY id', values: { n: ROWS } };
    const truth = new Database(file, { readonly: true });
    const expectedRow = (id: number) => Object.values(truth.prepare('SELECT id, label, enrolled FROM big_roster WHERE id = ?').get(id) as object);
    const [first, last] = [expectedRow(1), expectedRow(ROWS)];
    truth.close();
    const MB = 1024 * 1024;

    const measure = async (keep: boolean) => {
      const held: Row[][] = [];
      const source = open();
      gc();
      const start = process.memoryUsage().heapUsed;
      let peak = 0;
      let rows = 0;
      let batches = 0;
      let firstRow: Row | undefined;
      let lastRow: Row | undefined;
      for await (const batch of source.stream(query)) {
        rows += batch.rows.length;
        if (batch.rows.length > 0) batches++;
        firstRow ??= batch.rows[0];
        lastRow = batch.rows.at(-1) ?? lastRow;
        if (keep) {
          held.push([...batch.rows]);
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
      return { rows, batches, peak, firstRow, lastRow };
    };

    const streamed = await measure(false);
    expect(streamed.rows).toBe(ROWS);
    expect(streamed.batches).toBe(ROWS / 2000);
    expect(streamed.firstRow).toEqual(first);
    expect(streamed.lastRow).toEqual(last);
    expect(streamed.peak).toBeLessThan(12 * MB);
    // Calibration: holding the same rows does cross the bound, so the bound above can tell the two apart.
    const held = await measure(true);
    expect(held.rows).toBe(ROWS);
    expect(held.peak).toBeGreaterThan(12 * MB);
  });

  it('a consumer that falls behind pauses the request, and the server then waits on the socket instead of the rows piling up', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const MB = 1024 * 1024;
    const source = open();
    const stallsBefore = server.stalls();
    gc();
    const start = process.memoryUsage().heapUsed;
    const batches = source.stream({ text: 'SELECT id, label, enrolled FROM big_roster ORDER BY id', values: {} })[Symbol.asyncIterator]();
    const first = await batches.next();
    expect(first.value?.rows[0]?.[0]).toBe(1);
    // The consumer holds still: two batches ahead the request pauses, TCP fills, and the server's writes back up.
    await server.waitFor(() => server.stalls() > stallsBefore);
    gc();
    expect(process.memoryUsage().heapUsed - start).toBeLessThan(12 * MB); // all 100,000 rows held take about 23 MB
    let rows = first.value?.rows.length ?? 0;
    let lastId: unknown;
    for (let next = await batches.next(); !next.done; next = await batches.next()) {
      rows += next.value.rows.length;
      lastId = next.value.rows.at(-1)?.[0] ?? lastId;
    }
    expect(rows).toBe(ROWS);
    expect(lastId).toBe(ROWS);
  });

  it('hands over every column type as Ferry expects: NULLs, non-ASCII text, dates as text, bit as boolean, decimal and bigint as text', async () => {
    const { columns, rows } = await drain(open(), { text: 'SELECT * FROM students ORDER BY student_id', values: {} });
    expect(columns).toEqual(['student_id', 'first_name', 'last_name', 'grade_level', 'school_code', 'birth_date', 'active', 'balance', 'external_id', 'updated_at']);
    expect(rows).toEqual([
      ['S001', 'Zoë', 'Ångström', 3, 'HES', '2016-12-31', true, '12.50', '5000000001', '2026-12-31T23:59:59'],
      ['S002', 'José', 'Núñez', 5, 'HES', '2015-01-01', true, '0.00', '5000000002', '2027-01-01T00:00:00'],
      ['S003', '🙂', 'Smile', 7, 'HMS', '2013-06-15', false, '99.99', '5000000003', null],
      ['S004', '李', '小龙', 9, 'HHS', '2011-02-28', true, null, null, '2026-06-01T08:30:00.5'],
      ['S005', null, "O'Brien", 11, 'HHS', null, true, '250.75', '42', null],
    ]);
  });

  // UTC+14 and UTC-10: a date handled as local midnight anywhere on the way would land on another day.
  it.each([
    ['Pacific/Kiritimati', -14 * 60],
    ['Pacific/Honolulu', 10 * 60],
  ] as const)('keeps dates next to midnight on their day, bound and returned, with TZ=%s', async (zone, offsetMinutes) => {
    const saved = process.env.TZ;
    process.env.TZ = zone;
    try {
      expect(new Date(2026, 11, 31).getTimezoneOffset()).toBe(offsetMinutes); // the zone really is in effect
      const source = open();
      const exact = await drain(source, { text: 'SELECT student_id, birth_date, updated_at FROM students WHERE birth_date = @asOf', values: { asOf: '2016-12-31' } });
      expect(exact.rows).toEqual([['S001', '2016-12-31', '2026-12-31T23:59:59']]);
      const before = await drain(source, { text: 'SELECT student_id, birth_date FROM students WHERE birth_date < @cutoff ORDER BY birth_date', values: { cutoff: '2015-01-02' } });
      expect(before.rows).toEqual([
        ['S004', '2011-02-28'],
        ['S003', '2013-06-15'],
        ['S002', '2015-01-01'],
      ]);
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });

  describe('parameters are bound by type, never pasted into the text', () => {
    const cases: [string, string, Record<string, BindValue>, string, string[]][] = [
      ['int', 'grade_level = @grade', { grade: 5 }, '@grade int', ['S002']],
      ['bigint', 'external_id = @externalId', { externalId: 5_000_000_003 }, '@externalId bigint', ['S003']],
      ['bit', 'active = @activeOnly', { activeOnly: false }, '@activeOnly bit', ['S003']],
      ['nvarchar', 'last_name = @lastName', { lastName: 'Núñez' }, '@lastName nvarchar(5)', ['S002']],
      ['date', 'birth_date = @asOf', { asOf: '2011-02-28' }, '@asOf date', ['S004']],
      ['decimal', 'balance > @minBalance', { minBalance: 99.5 }, '@minBalance decimal(18, 1)', ['S003', 'S005']],
      ['list', "school_code IN (SELECT value FROM STRING_SPLIT(@buildings, ','))", { buildings: ['HES', 'HMS'] }, '@buildings nvarchar(7)', ['S001', 'S002', 'S003']],
      ['empty list', "(@buildings = '' OR school_code IN (SELECT value FROM STRING_SPLIT(@buildings, ',')))", { buildings: [] }, '@buildings nvarchar(1)', ['S001', 'S002', 'S003', 'S004', 'S005']],
    ];

    it.each(cases)('%s', async (_type, where, values, declaration, expected) => {
      const text = `SELECT student_id FROM students WHERE ${where} ORDER BY student_id`;
      const { rows } = await drain(open(), { text, values: { ...values, unused: 'bound only when the text uses it' } });
      expect(ids(rows)).toEqual(expected);
      const received = server.statements().at(-1)!;
      expect(received).toMatchObject({ kind: 'rpc', statement: text, declaration });
    });

    it('SQL inside a value is only data: no rows, no error, the table survives, the value comes back intact', async () => {
      const evil = "x'; DROP TABLE students; --";
      const source = open();
      expect((await drain(source, { text: 'SELECT student_id FROM students WHERE last_name = @lastName', values: { lastName: evil } })).rows).toEqual([]);
      const list = "SELECT student_id FROM students WHERE school_code IN (SELECT value FROM STRING_SPLIT(@buildings, ','))";
      expect((await drain(source, { text: list, values: { buildings: [evil, 'HMS'] } })).rows).toEqual([['S003']]);
      expect((await drain(source, { text: 'SELECT @v AS v', values: { v: evil } })).rows).toEqual([[evil]]);
      expect((await drain(source, { text: 'SELECT COUNT(*) AS n FROM students', values: {} })).rows).toEqual([[5]]);
      expect(server.statements().some((s) => s.statement.includes('DROP TABLE'))).toBe(false);
    });

    it('a value longer than a packet travels as nvarchar(max) and comes back unchanged', async () => {
      const note = 'Ünïcödé 🙂 '.repeat(700); // > 4000 UTF-16 units and several 4 KiB packets each way
      const { rows } = await drain(open(), { text: 'SELECT @note AS note', values: { note } });
      expect(rows).toEqual([[note]]);
      expect(server.statements().at(-1)?.declaration).toBe('@note nvarchar(max)');
    });
  });

  describe('failures carry a kind, a field and a message without secrets', () => {
    const query: BoundQuery = { text: 'SELECT 1 AS one', values: {} };

    it('an unknown table is source_query with the server message, and the source stays usable', async () => {
      const source = open();
      const fe = (await failureOf(drain(source, { text: 'SELECT * FROM no_such_table', values: {} }))) as FerryError;
      expect(fe).toBeInstanceOf(FerryError);
      expect(fe.kind).toBe('source_query');
      expect(fe.field).toBe('query.sql');
      expect(fe.integration).toBe(INTEGRATION);
      expect(fe.message).toContain(INTEGRATION);
      expect(fe.message).toContain("Invalid object name 'no_such_table'.");
      expect((fe.cause as { code?: string; number?: number }).code).toBe('EREQUEST');
      expect((await drain(source, query)).rows).toEqual([[1]]);
    });

    it('a wrong password is source_auth on sources.<id>.password and the message does not repeat it', async () => {
      const wrong = 'not-the-password-4f9c1e7a';
      const fe = (await failureOf(drain(open({ password: () => wrong }), query))) as FerryError;
      expect(fe).toBeInstanceOf(FerryError);
      expect(fe.kind).toBe('source_auth');
      expect(fe.retryable).toBe(false);
      expect(fe.field).toBe('sources.sis.password');
      expect(fe.message).toContain(INTEGRATION);
      expect(fe.message).toContain(`Login failed for user '${USER}'.`);
      expect(fe.message).not.toContain(wrong);
      expect(fe.message).not.toContain(PASSWORD);
      expect((fe.cause as { code?: string }).code).toBe('ELOGIN');
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
  });

  it('a server that goes away mid-stream is source_transient (retryable), not a short result', async () => {
    const doomed = await startTdsServer({ db: file, user: USER, password: PASSWORD });
    try {
      const source = open({ port: doomed.port });
      let rows = 0;
      const err = await failureOf(
        (async () => {
          for await (const batch of source.stream({ text: 'SELECT id, label FROM big_roster', values: {} }, { batchSize: 1000 })) {
            rows += batch.rows.length;
            if (rows === 1000) void doomed.close();
          }
        })(),
      );
      expect(rows).toBeLessThan(ROWS);
      expect(err).toBeInstanceOf(FerryError);
      const fe = err as FerryError;
      expect([fe.kind, fe.retryable]).toEqual(['source_transient', true]);
      expect(fe.message).toBe(`integration ${INTEGRATION}: source sis: SQL Server at 127.0.0.1:${doomed.port} lost the connection mid-query (${(fe.cause as { code: string }).code})`);
    } finally {
      await doomed.close();
    }
  });

  it('a deadlock victim (1205) mid-result is source_transient, after the rows before it, and the source reads again', async () => {
    const source = open();
    const query: BoundQuery = { text: 'SELECT id FROM big_roster ORDER BY id', values: {} };
    server.faults.errorAfterRows = {
      rows: 2500,
      number: 1205,
      message: 'Transaction (Process ID 52) was deadlocked on lock resources with another process and has been chosen as the deadlock victim. Rerun the transaction.',
    };
    let rows = 0;
    const fe = (await failureOf(
      (async () => {
        for await (const batch of source.stream(query, { batchSize: 1000 })) rows += batch.rows.length;
      })(),
    )) as FerryError;
    expect(rows).toBe(2000);
    expect([fe.kind, fe.retryable, fe.message]).toEqual(['source_transient', true, `integration ${INTEGRATION}: source sis: SQL Server at 127.0.0.1:${server.port} chose the query as a deadlock victim (error 1205)`]);
    expect((await drain(source, query)).rows).toHaveLength(ROWS);
  });

  it('a conversion error names its number and never quotes the value', async () => {
    server.faults.errorAfterRows = { rows: 3, number: 245, class: 16, message: "Conversion failed when converting the nvarchar value 'Ångström' to data type int." };
    const fe = (await failureOf(drain(open(), { text: 'SELECT student_id, last_name FROM students', values: {} }))) as FerryError;
    expect([fe.kind, fe.retryable, fe.field]).toEqual(['source_query', false, 'query.sql']);
    expect(fe.message).toBe(`integration ${INTEGRATION}: source sis: SQL Server at 127.0.0.1:${server.port} could not convert a value in the data (error 245)`);
    expect((fe.cause as Error).message).toContain('Ångström');
  });

  // A pipeline that is aborted stops pulling and closes its iterator; a plain loop pulls once more and gets the abort.
  it.each([
    ['keeps pulling', false],
    ['stops pulling (as a stream pipeline does)', true],
  ] as const)('aborting mid-stream cancels the request and closes the connection when the consumer %s', async (_how, stopPulling) => {
    const source = open();
    const controller = new AbortController();
    const attentionsBefore = server.attentions();
    let rows = 0;
    const outcome = await (async () => {
      try {
        for await (const batch of source.stream({ text: 'SELECT id, label FROM big_roster', values: {} }, { signal: controller.signal, batchSize: 1000 })) {
          rows += batch.rows.length;
          expect(server.connections()).toBeGreaterThan(0);
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
    // The server is told (ATTENTION) and the connection is closed by the abort itself, before anyone calls close().
    await server.waitFor(() => server.attentions() > attentionsBefore && server.connections() === 0);
  });

  it('closing the source while a stream is paused cancels it: the consumer gets an error, not a short result', async () => {
    const source = open();
    const batches = source.stream({ text: 'SELECT id FROM big_roster ORDER BY id', values: {} }, { batchSize: 1000 })[Symbol.asyncIterator]();
    expect((await batches.next()).value?.rows.length).toBe(1000);
    await source.close();
    let rows = 0;
    const err = await failureOf(
      (async () => {
        for (let next = await batches.next(); !next.done; next = await batches.next()) rows += next.value.rows.length;
      })(),
    );
    expect(rows).toBeLessThan(ROWS - 1000);
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).kind).toBe('aborted');
    await server.waitFor(() => server.connections() === 0);
  });

  it('the server stops streaming when a client hangs up mid-result, and keeps serving others', async () => {
    const { Connection, Request } = await import('tedious');
    const connection = new Connection({
      server: server.host,
      options: { port: server.port, database: DATABASE, encrypt: false },
      authentication: { type: 'default', options: { userName: USER, password: PASSWORD } },
    });
    connection.on('error', () => undefined);
    await server.waitFor(() => server.connections() === 0); // earlier tests' connections have gone
    await new Promise<void>((resolve, reject) => connection.connect((err) => (err ? reject(err) : resolve())));
    expect(server.connections()).toBe(1);
    const request = new Request('SELECT id, label FROM big_roster', () => undefined);
    let rows = 0;
    const someRows = new Promise<void>((resolve) =>
      request.on('row', () => {
        if (++rows === 1000) {
          request.pause();
          resolve();
        }
      }),
    );
    connection.execSql(request);
    await someRows;
    connection.close();
    await server.waitFor(() => server.connections() === 0);
    expect((await drain(open(), { text: 'SELECT COUNT(*) AS n FROM big_roster', values: {} })).rows).toEqual([[ROWS]]);
  });

  it('a consumer that stops early cancels the rest, and the same source runs the next query', async () => {
    const source = open();
    const attentionsBefore = server.attentions();
    for await (const batch of source.stream({ text: 'SELECT id FROM big_roster ORDER BY id', values: {} }, { batchSize: 500 })) {
      expect(batch.rows[0]).toEqual([1]);
      break;
    }
    await server.waitFor(() => server.attentions() > attentionsBefore);
    expect((await drain(source, { text: 'SELECT COUNT(*) AS n FROM big_roster', values: {} })).rows).toEqual([[ROWS]]);
  });
});
