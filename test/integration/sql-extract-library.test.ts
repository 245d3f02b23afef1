import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresSource } from '../../connectors/postgres/postgres-source.js';
import { createSchoolToolSource } from '../../connectors/schooltool/schooltool-source.js';
import { createSqliteSource } from '../../connectors/sqlite/sqlite-source.js';
import { loadExtracts } from '../../src/config/load-extracts.js';
import type { District, Extract } from '../../src/config/model.js';
import { resolveParams } from '../../src/config/params.js';
import type { FormatOptions } from '../../src/config/schema.js';
import type { Source } from '../../src/core/source.js';
import { ensureDemoSis, loadDemoSisIntoPostgres } from '../../src/demo/demo-sis.js';
import { validateCleverFiles } from '../../src/formats/clever/validate.js';
import { csvPrefix, encodeCsv, lfToCrlfOutsideQuotes } from '../../src/formats/csv.js';
import { parseCsv } from '../../src/formats/oneroster/parse-csv.js';
import { CLEVER_CSV } from '../../src/pipeline/execute-bundle.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg-database.js';
import { makeSchoolToolDatabase } from '../helpers/schooltool-views.js';
import { startTdsServer, type TdsServer } from '../servers/tds/server.js';

/**
 * The SQL extract library: every extract below exists for SQLite (`<name>`), PostgreSQL (`<name>-pg`) and SchoolTool
 * (`<name>-st`, T-SQL over the site-mapped ferry_* views, run by the real mssql client against the TDS test server),
 * and the three must write byte-identical files from the same demo SIS.
 */
const LIBRARY = [
  'clever-schools',
  'clever-students',
  'clever-teachers',
  'clever-sections',
  'clever-enrollments',
  'clever-staff',
  'lunch-balances',
  'daily-attendance',
  'staff-directory',
  'parent-contacts',
  'oneroster-orgs',
  'oneroster-academic-sessions',
  'oneroster-courses',
  'oneroster-classes',
  'oneroster-users',
  'oneroster-enrollments',
  'oneroster-demographics',
] as const;
const CLEVER = ['schools', 'students', 'teachers', 'sections', 'enrollments', 'staff'] as const;
const DISTRICTS = ['hilltop-csd', 'riverbend-ufsd'] as const;
/** A school day (Monday); the run's as-of date unless a case names another. */
const NOW = new Date('2026-11-23T15:00:00Z');
const SCHOOL_DAY = '2026-11-23';
const SATURDAY = '2026-11-21';
/** One building and a grade band per district, to exercise the filters. */
const SOME_BUILDING: Record<(typeof DISTRICTS)[number], string> = { 'hilltop-csd': 'HMS', 'riverbend-ufsd': 'RHS' };

const KINDS = ['sqlite', 'postgres', 'schooltool'] as const;
type Kind = (typeof KINDS)[number];
const SUFFIX: Record<Kind, string> = { sqlite: '', postgres: '-pg', schooltool: '-st' };
const FORMAT: FormatOptions = { kind: 'csv', delimiter: ',', lineEnding: 'crlf', bom: false, header: true, booleans: ['true', 'false'], dateFormat: 'YYYY-MM-DD' };

type Supplied = Record<string, unknown>;

describe('SQL extract library: SQLite, PostgreSQL and SchoolTool twins', () => {
  let dir: string;
  let pgDb: TestDatabase;
  let tds: TdsServer;
  let extracts: Map<string, Extract>;
  const problems: string[] = [];
  const sources = {} as Record<Kind, () => Source>;
  const opened: Source[] = [];

  beforeAll(async () => {
    extracts = loadExtracts(join(import.meta.dirname, '..', '..', 'extracts'), (file, field, message) => problems.push(`${file} ${field}: ${message}`));
    dir = mkdtempSync(join(tmpdir(), 'ferry-sql-library-'));
    const litePath = join(dir, 'sis.db');
    ensureDemoSis(litePath);
    sources.sqlite = () => createSqliteSource({ id: 'demo-sis', path: litePath });

    pgDb = await createTestDatabase('sql_library');
    const admin = new pg.Client({ connectionString: pgDb.url });
    await admin.connect();
    try {
      await loadDemoSisIntoPostgres(admin);
    } finally {
      await admin.end();
    }
    const url = new URL(pgDb.url);
    sources.postgres = () =>
      createPostgresSource({
        id: 'demo-sis-pg',
        host: url.hostname,
        port: Number(url.port),
        database: pgDb.name,
        user: decodeURIComponent(url.username),
        password: () => decodeURIComponent(url.password),
        ssl: false,
        connectTimeoutSeconds: 10,
        integration: 'sql-library',
      });

    tds = await startTdsServer({ db: makeSchoolToolDatabase(dir), user: 'ferry_reader', password: 'tds-library-pw-1' });
    sources.schooltool = () =>
      createSchoolToolSource({
        id: 'schooltool',
        host: tds.host,
        port: tds.port,
        database: 'SchoolTool_Demo',
        user: 'ferry_reader',
        password: () => 'tds-library-pw-1',
        encrypt: false,
        trustServerCertificate: false,
        connectTimeoutSeconds: 10,
        requestTimeoutSeconds: 60,
        readOnlyIntent: true,
        integration: 'sql-library',
      });
  });

  afterAll(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
    await tds?.close();
    await pgDb?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const extractOf = (name: string, kind: Kind): Extract => {
    const extract = extracts.get(`${name}${SUFFIX[kind]}`);
    if (!extract) throw new Error(`extract ${name}${SUFFIX[kind]} was not loaded`);
    expect(extract.sourceKind).toBe(kind);
    return extract;
  };
  const district = (id: string): District => ({ id, name: id, gradeBands: {}, blackouts: [], file: `${id}.yaml` });
  /** The parameters the way a run resolves them: declared defaults, the standard filters, asOf from NOW in New York. */
  const bindsOf = (extract: Extract, districtId: string, supplied: Supplied) =>
    resolveParams('sql-library', extract, district(districtId), { districtId, ...supplied }, NOW, 'America/New_York').binds;
  const open = (kind: Kind): Source => {
    const source = sources[kind]();
    opened.push(source);
    return source;
  };

  /** The file as the pipeline's row path writes it. */
  async function rowPathCsv(kind: Kind, name: string, districtId: string, supplied: Supplied = {}, format = FORMAT): Promise<string> {
    const extract = extractOf(name, kind);
    const source = open(kind);
    let csv = '';
    const query = { text: extract.sql, values: bindsOf(extract, districtId, supplied) };
    for await (const chunk of encodeCsv(source.stream(query), extract.columns, format, 'sql-library', { rows: 0 })) csv += chunk;
    await source.close();
    return csv;
  }

  /** PostgreSQL's COPY fast path, as the pipeline runs it (header from Ferry, CR added outside quotes). */
  async function copyPathCsv(name: string, districtId: string, supplied: Supplied = {}, format = FORMAT): Promise<string> {
    const extract = extractOf(name, 'postgres');
    const source = open('postgres');
    const copy = await source.copyCsv!({ query: { text: extract.sql, values: bindsOf(extract, districtId, supplied) }, columns: extract.columns, format });
    expect(copy, `${name}-pg takes the COPY fast path`).toBeDefined();
    // Bytes, decoded once at the end: a chunk may end inside a multi-byte character (Zoë).
    const chunks: Buffer[] = [Buffer.from(csvPrefix(extract.columns, format), 'utf8')];
    for await (const chunk of lfToCrlfOutsideQuotes(copy!.body)) chunks.push(chunk);
    await source.close();
    return Buffer.concat(chunks).toString('utf8');
  }

  const dataLines = (csv: string) => csv.split('\r\n').slice(1, -1);

  async function expectTwins(name: string, districtId: string, supplied: Supplied = {}): Promise<string> {
    const expected = await rowPathCsv('sqlite', name, districtId, supplied);
    const outputs: [string, string][] = [
      [`${name}-pg`, await rowPathCsv('postgres', name, districtId, supplied)],
      [`${name}-pg (COPY)`, await copyPathCsv(name, districtId, supplied)],
      [`${name}-st`, await rowPathCsv('schooltool', name, districtId, supplied)],
    ];
    for (const [label, actual] of outputs) {
      expect(Buffer.from(actual, 'utf8').equals(Buffer.from(expected, 'utf8')), label).toBe(true);
      expect(actual, label).toBe(expected); // on a mismatch, the line diff shows where
    }
    return expected;
  }

  it('every extract of the library loads for each source kind with no validation problem', () => {
    const mine = problems.filter((p) => LIBRARY.some((n) => p.includes(`/${n}/`) || p.includes(`/${n}-pg/`) || p.includes(`/${n}-st/`)));
    expect(mine).toEqual([]);
    for (const name of LIBRARY) for (const kind of KINDS) extractOf(name, kind);
  });

  describe.each(DISTRICTS)('%s', (districtId) => {
    it.each(LIBRARY)('%s: the -pg and -st twins write byte-identical CSV', async (name) => {
      const csv = await expectTwins(name, districtId);
      // More than the header, so two empty results could not pass as a match.
      expect(dataLines(csv).length, name).toBeGreaterThan(0);
    });

    // Non-default parameter values, so each filter and parameter is compared too, not only its default.
    const building = SOME_BUILDING[districtId];
    it.each([
      ['clever-students', { buildings: [building], grades: '7-12', includeEmail: false }],
      ['clever-enrollments', { buildings: [building], grades: '7-12' }],
      ['clever-sections', { buildings: [building] }],
      ['clever-teachers', { buildings: [building] }],
      ['clever-staff', { buildings: [building] }],
      ['clever-schools', { buildings: [building] }],
      ['lunch-balances', { belowCents: 0 }],
      ['lunch-balances', { belowCents: 500, buildings: [building], grades: '7-8' }],
      ['daily-attendance', { unexcusedOnly: true }],
      ['daily-attendance', { asOf: '2026-12-01', buildings: [building] }],
      ['staff-directory', { activeOnly: false }],
      ['parent-contacts', { correspondenceOnly: false, buildings: [building] }],
    ] as const)('%s with %j: twins agree', async (name, supplied) => {
      const csv = await expectTwins(name, districtId, supplied);
      expect(dataLines(csv).length, name).toBeGreaterThan(0);
    });

    it.each([...KINDS, 'postgres (COPY)'] as const)('%s: the Clever set, written as a Clever run writes it, passes the Clever validator', async (how) => {
      const kind: Kind = how === 'postgres (COPY)' ? 'postgres' : how;
      const files = new Map<string, string>();
      for (const file of CLEVER) {
        const csv = how === kind ? await rowPathCsv(kind, `clever-${file}`, districtId, {}, CLEVER_CSV) : await copyPathCsv(`clever-${file}`, districtId, {}, CLEVER_CSV);
        files.set(`${file}.csv`, csv);
      }
      const result = validateCleverFiles(files);
      expect(result.problems).toEqual([]);
      expect(result.ok).toBe(true);
      for (const summary of result.files) expect(summary.rows, summary.name).toBeGreaterThan(0);
      // Teachers and other staff are two files with nobody in both.
      const ids = (file: string, column: string) => new Set(rowsOf(files.get(file)!).map((r) => r[column]));
      const teachers = ids('teachers.csv', 'Teacher_id');
      expect([...ids('staff.csv', 'Staff_id')].filter((id) => teachers.has(id))).toEqual([]);
    });

    it('lunch balances: two decimals, negative balances included, belowCents 0 sends exactly those', async () => {
      const all = rowsOf(await rowPathCsv('sqlite', 'lunch-balances', districtId));
      expect(all.length).toBeGreaterThan(100);
      for (const r of all) expect(r['balance']).toMatch(/^-?\d+\.\d\d$/);
      const owing = all.filter((r) => r['balance']!.startsWith('-'));
      expect(owing.length).toBeGreaterThan(0);
      const low = rowsOf(await rowPathCsv('schooltool', 'lunch-balances', districtId, { belowCents: 0 }));
      expect(low.map((r) => r['student_id'])).toEqual(owing.map((r) => r['student_id']));
    });

    it.each(KINDS)('%s: daily attendance has rows for a school day and none for a Saturday', async (kind) => {
      const day = rowsOf(await rowPathCsv(kind, 'daily-attendance', districtId, { asOf: SCHOOL_DAY }));
      expect(day.length).toBeGreaterThan(0);
      for (const r of day) {
        expect(r['attendance_date']).toBe(SCHOOL_DAY);
        expect(['A', 'AE', 'T', 'TE', 'D']).toContain(r['code']);
        expect(r['excused']).toBe(['AE', 'TE', 'D'].includes(r['code']!) ? 'true' : 'false');
      }
      expect(dataLines(await rowPathCsv(kind, 'daily-attendance', districtId, { asOf: SATURDAY }))).toEqual([]);
    });
  });
});

/** Data rows by header name, read with Ferry's strict RFC 4180 reader. */
function rowsOf(csv: string): Record<string, string>[] {
  const parsed = parseCsv(csv);
  expect(parsed.error).toBeUndefined();
  const [names = [], ...records] = parsed.records;
  return records.map((cells) => Object.fromEntries(names.map((n, i) => [n, cells[i] ?? ''])));
}
