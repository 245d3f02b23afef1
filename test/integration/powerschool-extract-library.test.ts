import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPowerSchoolSource } from '../../connectors/powerschool/powerschool-source.js';
import { createSqliteSource } from '../../connectors/sqlite/sqlite-source.js';
import { loadExtracts } from '../../src/config/load-extracts.js';
import type { District, Extract } from '../../src/config/model.js';
import { resolveParams } from '../../src/config/params.js';
import type { FormatOptions } from '../../src/config/schema.js';
import type { Source } from '../../src/core/source.js';
import { CURRENT_SCHOOL_YEAR, DEMO_DISTRICTS } from '../../src/demo/demo-sis-fixtures.js';
import { ensureDemoSis } from '../../src/demo/demo-sis.js';
import { validateCleverFiles } from '../../src/formats/clever/validate.js';
import { encodeCsv } from '../../src/formats/csv.js';
import { buildManifest } from '../../src/formats/oneroster/manifest.js';
import { parseCsv } from '../../src/formats/oneroster/parse-csv.js';
import { ONEROSTER_SPECS, type OneRosterFileName } from '../../src/formats/oneroster/spec.js';
import { validateOneRosterFiles } from '../../src/formats/oneroster/validate.js';
import { CLEVER_CSV, ONEROSTER_CSV } from '../../src/pipeline/execute-bundle.js';
import { failureOf } from '../helpers/api-source.js';
import { startFakePowerSchool, type FakePowerSchool } from '../servers/powerschool/fake-powerschool.js';
import { grantedFields, readPlugin } from '../servers/powerschool/plugin-xml.js';
import { psDemoDb } from '../servers/powerschool/ps-demo-db.js';
import { psSchoolNumberOf } from '../servers/powerschool/ps-records.js';

/**
 * The PowerSchool extract library (extracts/powerschool/*-ps) run the way a run reads it: parameters resolved by Ferry,
 * the real PowerSchool connector, the fake PowerSchool answering the Ferry plugin's named queries (paged, /count first,
 * string values) and the /ws/v1 student resource, then Ferry's CSV writer. The OneRoster files must form a valid
 * bundle, the Clever files a valid Clever set, and the row counts must equal the SQLite twins' on the same demo SIS.
 */
const DISTRICTS = ['hilltop-csd', 'riverbend-ufsd'] as const;
/** One building per district, to exercise the buildings filter (given to PowerSchool as its school number). */
const SOME_BUILDING: Record<(typeof DISTRICTS)[number], string> = { 'hilltop-csd': 'HMS', 'riverbend-ufsd': 'RHS' };
/** A Monday of the school year: the as-of date of every run here unless a case names another. */
const NOW = new Date('2026-11-23T15:00:00Z');
const SCHOOL_DAY = '2026-11-23';
const SATURDAY = '2026-11-21';
const ONEROSTER: readonly (readonly [string, OneRosterFileName])[] = [
  ['oneroster-orgs', 'orgs'],
  ['oneroster-academic-sessions', 'academicSessions'],
  ['oneroster-courses', 'courses'],
  ['oneroster-classes', 'classes'],
  ['oneroster-users', 'users'],
  ['oneroster-enrollments', 'enrollments'],
  ['oneroster-demographics', 'demographics'],
];
const CLEVER = ['schools', 'students', 'teachers', 'sections', 'enrollments', 'staff'] as const;
const TRANSFERS = ['staff-directory', 'parent-contacts', 'lunch-balances', 'daily-attendance'] as const;
const LIBRARY = [...ONEROSTER.map(([n]) => n), ...CLEVER.map((f) => `clever-${f}`), ...TRANSFERS];
const CSV: FormatOptions = { ...ONEROSTER_CSV };

type Supplied = Record<string, unknown>;

describe.each(DISTRICTS)('PowerSchool extract library against the fake PowerSchool: %s', (districtId) => {
  const spec = DEMO_DISTRICTS.find((d) => d.id === districtId)!;
  const usDate = (iso: string) => `${iso.slice(5, 7)}/${iso.slice(8, 10)}/${iso.slice(0, 4)}`;
  let fake: FakePowerSchool;
  let dir: string;
  let extracts: Map<string, Extract>;
  const problems: string[] = [];
  const opened: Source[] = [];
  let sqlitePath: string;

  beforeAll(async () => {
    extracts = loadExtracts(join(import.meta.dirname, '..', '..', 'extracts'), (file, field, message) => problems.push(`${file} ${field}: ${message}`));
    fake = await startFakePowerSchool({ clientId: 'ferry-plugin', clientSecret: 'ps-library-secret-4c1e', district: districtId, maxPageSize: 100 });
    dir = mkdtempSync(join(tmpdir(), 'ferry-ps-library-'));
    sqlitePath = join(dir, 'sis.db');
    ensureDemoSis(sqlitePath);
  });
  afterAll(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
    await fake?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const district: District = { id: districtId, name: districtId, gradeBands: {}, blackouts: [], file: `${districtId}.yaml` };
  const extractOf = (name: string): Extract => {
    const e = extracts.get(name);
    if (!e) throw new Error(`extract ${name} was not loaded`);
    return e;
  };
  const psSource = (url = fake.url): Source => {
    const s = createPowerSchoolSource({
      id: `${districtId}-ps`, baseUrl: url, clientId: () => 'ferry-plugin', clientSecret: () => 'ps-library-secret-4c1e',
      timeoutSeconds: 10, maxConcurrency: 2, pageSize: 100, retries: 1, integration: 'ps-library',
    });
    opened.push(s);
    return s;
  };

  /** The extract's CSV as the pipeline's row path writes it (Clever files with the Clever writer's MM/DD/YYYY dates). */
  async function csvOf(source: Source, extract: Extract, supplied: Supplied, format: FormatOptions = CSV): Promise<string> {
    const values = resolveParams('ps-library', extract, district, supplied, NOW, 'America/New_York').binds;
    let csv = '';
    for await (const chunk of encodeCsv(source.stream({ text: extract.sql, values, request: extract.request, columns: extract.columns }), extract.columns, format, 'ps-library', { rows: 0 })) csv += chunk;
    return csv;
  }
  const runPs = (name: string, supplied: Supplied = {}, format?: FormatOptions) => csvOf(psSource(), extractOf(`${name}-ps`), supplied, format);
  const runTwin = (name: string, supplied: Supplied = {}) => {
    const s = createSqliteSource({ id: 'demo-sis', path: sqlitePath });
    opened.push(s);
    return csvOf(s, extractOf(name), { districtId: districtId, ...supplied });
  };

  it('every -ps extract loads with no validation problem, describes itself, its params and every column', () => {
    expect(problems.filter((p) => p.includes('/powerschool/'))).toEqual([]);
    for (const name of LIBRARY) {
      const e = extractOf(`${name}-ps`);
      expect(e.sourceKind).toBe('powerschool');
      expect(e.description.length, name).toBeGreaterThan(40);
      for (const [p, decl] of Object.entries(e.params)) expect(decl.description, `${name} ${p}`).toBeTruthy();
      for (const c of e.columns) expect(c.description, `${name} ${c.name}`).toBeTruthy();
    }
  });

  it.each(LIBRARY)('%s: reads every page through the PowerSchool source and writes data rows', async (name) => {
    const before = fake.requests.length;
    const rows = rowsOf(await runPs(name));
    expect(rows.length, name).toBeGreaterThan(0);
    // A run fails on a declared column empty in every row (its path matches nothing) unless the extract marks it optional.
    const empty = extractOf(`${name}-ps`).columns.filter((c) => !c.optional && rows.every((r) => (r[c.name] ?? '') === ''));
    expect(empty.map((c) => `${c.name} (path ${c.path ?? c.name})`), name).toEqual([]);
    const calls = fake.requests.slice(before);
    const e = extractOf(`${name}-ps`);
    const pq = e.request?.['powerQuery'];
    if (typeof pq === 'string') {
      const count = calls.filter((r) => r.path === `/ws/schema/query/${pq}/count`);
      // Page reads; the one-record re-reads of page seams that end every read (paging.ts) are left out.
      const pages = calls.filter((r) => r.path === `/ws/schema/query/${pq}` && r.query['pagesize'] !== '1');
      expect(count).toHaveLength(1);
      // /count first, then pages 1…n of at most 100 records (more records than rows when filters apply after the fetch).
      expect(calls.indexOf(count[0]!)).toBeLessThan(calls.indexOf(pages[0]!));
      expect(pages.map((p) => Number(p.query['page'])).sort((a, b) => a - b)).toEqual(pages.map((_, i) => i + 1));
      expect(pages.length).toBeGreaterThanOrEqual(Math.ceil(rows.length / 100));
      expect(pages.every((p) => p.status === 200 && p.query['pagesize'] === '100')).toBe(true);
    }
  });

  it('the PowerQuery args carry the bound parameters as the JSON body', async () => {
    const before = fake.requests.length;
    await runPs('clever-students', { includeEmail: false });
    await runPs('daily-attendance', { asOf: SCHOOL_DAY });
    const bodies = fake.requests.slice(before).filter((r) => r.path.startsWith('/ws/schema/query/') && !r.path.endsWith('/count')).map((r) => r.json);
    expect(bodies).toContainEqual({ school_year: CURRENT_SCHOOL_YEAR, include_email: false });
    expect(bodies).toContainEqual({ att_date: SCHOOL_DAY });
  });

  describe('OneRoster 1.1', () => {
    const files = new Map<string, string>();
    beforeAll(async () => {
      for (const [name, file] of ONEROSTER) files.set(`${file}.csv`, await runPs(name));
    });

    it.each(ONEROSTER.map(([n, f]) => [n, f] as const))('%s-ps declares exactly the %s.csv headers, in order', (name, file) => {
      expect(extractOf(`${name}-ps`).columns.map((c) => c.name)).toEqual([...ONEROSTER_SPECS.get(file)!.headers]);
      expect(parseCsv(files.get(`${file}.csv`)!).records[0]).toEqual([...ONEROSTER_SPECS.get(file)!.headers]);
    });

    it('the seven files form a bulk bundle that validates with no problems', () => {
      const bundle = new Map(files);
      bundle.set('manifest.csv', buildManifest(new Set(ONEROSTER.map(([, f]) => f)), 'bulk', { systemName: 'PowerSchool' }));
      const result = validateOneRosterFiles(bundle, { mode: 'bulk' });
      expect(result.problems).toEqual([]);
      expect(result.ok).toBe(true);
      for (const f of result.files) expect(f.rows, f.name).toBeGreaterThan(0);
    });

    it.each(ONEROSTER.map(([n]) => n))('%s-ps has as many rows as its SQLite twin', async (name) => {
      const file = ONEROSTER.find(([n]) => n === name)![1];
      expect(rowsOf(files.get(`${file}.csv`)!).length).toBe(rowsOf(await runTwin(name)).length);
    });

    it('maps PowerSchool ids as documented', () => {
      const orgs = rowsOf(files.get('orgs.csv')!);
      const db = psDemoDb(districtId);
      expect(orgs.map((o) => [o['sourcedId'], o['type'], o['parentSourcedId']])).toEqual([
        [db.districtNumber, 'district', ''],
        ...spec.schools.map((sc) => [String(psSchoolNumberOf(districtId, sc.code)), 'school', db.districtNumber]),
      ]);
      expect(rowsOf(files.get('academicSessions.csv')!)).toEqual([
        expect.objectContaining({ sourcedId: '3600', type: 'schoolYear', schoolYear: '2027', startDate: spec.firstDay, endDate: '2027-06-25' }),
      ]);
      const users = rowsOf(files.get('users.csv')!);
      expect(new Set(users.map((u) => u['sourcedId']!.slice(0, 1)))).toEqual(new Set(['S', 'T']));
      expect(new Set(rowsOf(files.get('classes.csv')!).map((c) => c['classType']))).toEqual(new Set(['homeroom', 'scheduled']));
    });

    it('a school year PowerSchool has no term for gives empty files, not an error', async () => {
      expect(rowsOf(await runPs('oneroster-classes', { schoolYear: 2031 }))).toEqual([]);
    });
  });

  describe('Clever', () => {
    const files = new Map<string, string>();
    beforeAll(async () => {
      for (const f of CLEVER) files.set(`${f}.csv`, await runPs(`clever-${f}`, {}, CLEVER_CSV));
    });

    it('the six files pass the Clever validator, dates written MM/DD/YYYY by the Clever writer', () => {
      const result = validateCleverFiles(files);
      expect(result.problems).toEqual([]);
      expect(result.ok).toBe(true);
      for (const f of result.files) expect(f.rows, f.name).toBeGreaterThan(0);
      expect(rowsOf(files.get('students.csv')!)[0]!['Dob']).toMatch(/^\d\d\/\d\d\/\d{4}$/);
      expect(rowsOf(files.get('sections.csv')!)[0]!['Term_start']).toBe(usDate(spec.firstDay));
      const teachers = new Set(rowsOf(files.get('teachers.csv')!).map((r) => r['Teacher_id']));
      expect(rowsOf(files.get('staff.csv')!).filter((r) => teachers.has(r['Staff_id']))).toEqual([]);
    });

    it.each(CLEVER.map((f) => `clever-${f}`))('%s-ps has as many rows as its SQLite twin', async (name) => {
      expect(rowsOf(files.get(`${name.slice(7)}.csv`)!).length).toBe(rowsOf(await runTwin(name)).length);
    });

    it('the buildings, grades and includeEmail parameters narrow the same students as the twin (a building is its school number)', async () => {
      const code = SOME_BUILDING[districtId];
      const hms = String(psSchoolNumberOf(districtId, code));
      const ps = rowsOf(await runPs('clever-students', { buildings: [hms], grades: '7-8', includeEmail: false }));
      const twin = rowsOf(await runTwin('clever-students', { buildings: [code], grades: '7-8', includeEmail: false }));
      expect(ps.length).toBeGreaterThan(0);
      expect(ps.map((r) => r['State_id']).sort()).toEqual(twin.map((r) => r['State_id']).sort());
      expect(ps.every((r) => r['School_id'] === hms && r['Student_email'] === '' && ['7', '8'].includes(r['Grade']!))).toBe(true);
      const enrollments = rowsOf(await runPs('clever-enrollments', { buildings: [hms], grades: '7-8' }));
      expect(enrollments.length).toBe(rowsOf(await runTwin('clever-enrollments', { buildings: [code], grades: '7-8' })).length);
    });
  });

  describe('everyday transfers', () => {
    it.each(TRANSFERS)('%s-ps has as many rows as its SQLite twin', async (name) => {
      expect(rowsOf(await runPs(name)).length).toBe(rowsOf(await runTwin(name)).length);
    });

    it('parent-contacts-ps: correspondenceOnly false adds the contacts who receive no mail, as in the twin', async () => {
      const all = rowsOf(await runPs('parent-contacts', { correspondenceOnly: false }));
      const mail = rowsOf(await runPs('parent-contacts'));
      expect(all.length).toBeGreaterThan(mail.length);
      expect(new Set(mail.map((r) => r['receives_correspondence']))).toEqual(new Set(['true']));
      expect(all.length).toBe(rowsOf(await runTwin('parent-contacts', { correspondenceOnly: false })).length);
    });

    it('staff-directory-ps: activeOnly false adds the former staff, as in the twin', async () => {
      const all = rowsOf(await runPs('staff-directory', { activeOnly: false }));
      expect(new Set(all.map((r) => r['active']))).toEqual(new Set(['true', 'false']));
      expect(all.length).toBe(rowsOf(await runTwin('staff-directory', { activeOnly: false })).length);
    });

    it('daily-attendance-ps: the as-of day only, and an empty file for a Saturday', async () => {
      const day = rowsOf(await runPs('daily-attendance', { asOf: SCHOOL_DAY }));
      expect(day.length).toBeGreaterThan(0);
      for (const r of day) {
        expect(r['attendance_date']).toBe(SCHOOL_DAY);
        expect(['A', 'AE', 'T', 'TE', 'D']).toContain(r['code']);
        expect(r['presence_status']).toBe(['A', 'AE'].includes(r['code']!) ? 'Absent' : 'Present');
      }
      expect(rowsOf(await runPs('daily-attendance', { asOf: SATURDAY }))).toEqual([]);
    });

    it('lunch-balances-ps: balances in dollars from the lunch expansion, debts included', async () => {
      const rows = rowsOf(await runPs('lunch-balances'));
      expect(rows.some((r) => r['balance']!.startsWith('-'))).toBe(true);
      for (const r of rows) expect(r['balance']).toMatch(/^-?\d+(\.\d{1,2})?$/);
      const page = fake.requests.filter((r) => r.path === '/ws/v1/district/student').at(-1)!;
      expect(page.query['expansions']).toBe('school_enrollment,lunch');
    });
  });

  it('the fake answers a plugin query like PowerSchool: flat string records, nulls left out, pages, /count, 400 on bad args', async () => {
    const basic = Buffer.from('ferry-plugin:ps-library-secret-4c1e').toString('base64');
    const tokenRes = await fetch(`${fake.url}/oauth/access_token`, {
      method: 'POST',
      headers: { Authorization: `Basic ${basic}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    const { access_token: token } = (await tokenRes.json()) as { access_token: string };
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${fake.url}${path}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const q = '/ws/schema/query/org.ferry.oneroster.users';
    const count = await post(`${q}/count`, { school_year: CURRENT_SCHOOL_YEAR });
    expect(count.status).toBe(200);
    const n = count.body['count'] as number;
    expect(n).toBeGreaterThan(100);
    const page = await post(`${q}?page=2&pagesize=7`, { school_year: String(CURRENT_SCHOOL_YEAR) });
    expect(page.body['name']).toBe('org.ferry.oneroster.users');
    const records = page.body['record'] as Record<string, unknown>[];
    expect(records).toHaveLength(7);
    for (const r of records) {
      for (const v of Object.values(r)) expect(typeof v).toBe('string');
      expect(r['user_role']).toBe('student');
      expect('phone' in r).toBe(false); // NULL for students: the key is left out
    }
    const last = await post(`${q}?page=${Math.ceil(n / 100)}&pagesize=100`, { school_year: CURRENT_SCHOOL_YEAR });
    expect((last.body['record'] as unknown[]).length).toBe(n - 100 * (Math.ceil(n / 100) - 1));
    expect((await post(q, {})).status).toBe(400); // school_year is required
    expect((await post(q, { school_year: CURRENT_SCHOOL_YEAR, schoolid: 101 })).status).toBe(400); // not a declared arg
    expect((await post('/ws/schema/query/org.ferry.oneroster.nothing', {})).status).toBe(404);
  });

  it('a field missing from the access_request: the fake answers Validation Failed and the run fails naming the field', async () => {
    const access = [...grantedFields(readPlugin())].filter((f) => f !== 'students.dob');
    const narrow = await startFakePowerSchool({ clientId: 'ferry-plugin', clientSecret: 'ps-library-secret-4c1e', district: districtId, pluginAccess: access });
    try {
      const err = await failureOf(csvOf(psSource(narrow.url), extractOf('oneroster-demographics-ps'), {}));
      expect(err.message).toMatch(/PowerQuery org\.ferry\.oneroster\.demographics: no access to field students\.dob — grant it in the plugin's access_request/);
      // Queries that do not read the field still run.
      expect(rowsOf(await csvOf(psSource(narrow.url), extractOf('oneroster-orgs-ps'), {})).length).toBeGreaterThan(0);
    } finally {
      await narrow.close();
    }
  });
});

/** Data rows by header name, read with Ferry's strict RFC 4180 reader. */
function rowsOf(csv: string): Record<string, string>[] {
  const parsed = parseCsv(csv);
  expect(parsed.error).toBeUndefined();
  const [names = [], ...records] = parsed.records;
  return records.map((cells) => Object.fromEntries(names.map((n, i) => [n, cells[i] ?? ''])));
}
