import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { createESchoolDataSource } from '../../connectors/eschooldata/eschooldata-source.js';
import { createSqliteSource } from '../../connectors/sqlite/sqlite-source.js';
import { loadExtracts } from '../../src/config/load-extracts.js';
import type { District, Extract } from '../../src/config/model.js';
import { resolveParams } from '../../src/config/params.js';
import type { FormatOptions } from '../../src/config/schema.js';
import type { Source } from '../../src/core/source.js';
import { ensureDemoSis } from '../../src/demo/demo-sis.js';
import { CLEVER_SPECS } from '../../src/formats/clever/spec.js';
import { validateCleverFiles } from '../../src/formats/clever/validate.js';
import { encodeCsv } from '../../src/formats/csv.js';
import { buildManifest } from '../../src/formats/oneroster/manifest.js';
import { parseCsv } from '../../src/formats/oneroster/parse-csv.js';
import { ONEROSTER_SPECS, type OneRosterFileName } from '../../src/formats/oneroster/spec.js';
import { readZipEntries } from '../../src/formats/oneroster/read-zip.js';
import { validateOneRosterFiles } from '../../src/formats/oneroster/validate.js';
import { openRuntime } from '../../src/runtime/runtime.js';
import { failureOf, readAll } from '../helpers/api-source.js';
import { startFakeESchoolData, type FakeESchoolData } from '../servers/eschooldata/fake-eschooldata.js';
import { agreementsWith } from '../helpers/agreements.js';

/**
 * The eSchoolData extract library (extracts/eschooldata/*-esd), each run by the real eSchoolData source against the
 * fake GURU API built from the demo SIS, and compared with its SQLite twin over the same demo SIS: same rows on the
 * columns both write, once student ids are translated (the fake gives students eSD's numeric id, 50000 + the demo
 * sequence number, where the demo SIS has DEMO-H-000123).
 */
const REPO = join(import.meta.dirname, '..', '..');
const DISTRICT = 'hilltop-csd';
const NOW = new Date('2026-11-23T15:00:00Z'); // a Monday: asOf 2026-11-23 in New York, school year 2027
const SATURDAY = '2026-11-21';
const CLIENT_ID = '7d1e5b2c-0f4a.guru.eschooldata.com/api';
const CLIENT_SECRET = 'esd-library-secret-5c2e91';
const CSV: FormatOptions = { kind: 'csv', delimiter: ',', lineEnding: 'crlf', bom: false, header: true, booleans: ['true', 'false'], dateFormat: 'YYYY-MM-DD' };
const CLEVER_CSV: FormatOptions = { ...CSV, dateFormat: 'MM/DD/YYYY' };

const ONEROSTER: readonly (readonly [name: string, file: OneRosterFileName])[] = [
  ['oneroster-orgs', 'orgs'],
  ['oneroster-academic-sessions', 'academicSessions'],
  ['oneroster-courses', 'courses'],
  ['oneroster-classes', 'classes'],
  ['oneroster-users', 'users'],
  ['oneroster-enrollments', 'enrollments'],
  ['oneroster-demographics', 'demographics'],
];
const CLEVER = ['schools', 'students', 'teachers', 'sections', 'enrollments', 'staff'] as const;
/** Columns whose values differ by design: eSD sends grade codes (K, 01) where the SQLite twin writes -1 … 12. */
const DIFFERENT_BY_DESIGN: Record<string, readonly string[]> = {
  'parent-contacts': ['grade_level'],
  'lunch-balances': ['grade_level'],
  'daily-attendance': ['grade_level'],
};
const EVERYDAY = ['staff-directory', 'parent-contacts', 'lunch-balances', 'daily-attendance'] as const;

type Supplied = Record<string, unknown>;
type Row = Record<string, string>;

let extracts: Map<string, Extract>;
const loadProblems: string[] = [];
let fake: FakeESchoolData;
let dir: string;
let sqlitePath: string;
const opened: Source[] = [];

beforeAll(async () => {
  extracts = loadExtracts(join(REPO, 'extracts'), (file, field, message) => loadProblems.push(`${file} ${field}: ${message}`));
  fake = await startFakeESchoolData({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, district: DISTRICT });
  dir = mkdtempSync(join(tmpdir(), 'ferry-esd-library-'));
  sqlitePath = join(dir, 'sis.db');
  ensureDemoSis(sqlitePath);
});
afterAll(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  await fake?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  fake.faults.disabledEndpoints = [];
});

const district: District = { id: DISTRICT, name: DISTRICT, gradeBands: {}, blackouts: [], file: `${DISTRICT}.yaml` };
const extractNamed = (name: string): Extract => {
  const e = extracts.get(name);
  if (!e) throw new Error(`extract ${name} was not loaded`);
  return e;
};
const esdSource = (): Source => {
  const s = createESchoolDataSource({
    id: 'hilltop-esd',
    tokenUrl: fake.tokenUrl,
    apiBase: fake.apiBase,
    clientId: () => CLIENT_ID,
    clientSecret: () => CLIENT_SECRET,
    timeoutSeconds: 10,
    maxConcurrency: 2,
    pageSize: 100,
    integration: 'esd-library',
  });
  opened.push(s);
  return s;
};
const esdQuery = (extract: Extract, supplied: Supplied) => ({
  text: '',
  values: resolveParams('esd-library', extract, district, supplied, NOW, 'America/New_York').binds,
  request: extract.request,
  columns: extract.columns,
});

/** The -esd extract's file, as the pipeline's row path writes it. */
async function esdCsv(name: string, supplied: Supplied = {}, format = CSV): Promise<string> {
  const extract = extractNamed(`${name}-esd`);
  expect(extract.sourceKind).toBe('eschooldata');
  let csv = '';
  for await (const chunk of encodeCsv(esdSource().stream(esdQuery(extract, supplied)), extract.columns, format, 'esd-library', { rows: 0 })) csv += chunk;
  return csv;
}

async function sqliteCsv(name: string, supplied: Supplied = {}, format = CSV): Promise<string> {
  const extract = extractNamed(name);
  const source = createSqliteSource({ id: 'demo-sis', path: sqlitePath });
  opened.push(source);
  const values = resolveParams('esd-library', extract, district, { districtId: DISTRICT, ...supplied }, NOW, 'America/New_York').binds;
  let csv = '';
  for await (const chunk of encodeCsv(source.stream({ text: extract.sql, values }), extract.columns, format, 'esd-library', { rows: 0 })) csv += chunk;
  return csv;
}

function table(csv: string): { header: string[]; rows: Row[] } {
  const { records, error } = parseCsv(csv);
  expect(error).toBeUndefined();
  const [header = [], ...data] = records;
  return { header, rows: data.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? '']))) };
}

/** DEMO-H-000123 → 50123 wherever a student id appears (also inside an enrolment's sourcedId). */
const esdIds = (v: string) => v.replace(/DEMO-H-(\d{6})(?!\d)/g, (_m, n: string) => String(50_000 + Number(n)));

/** Both files' rows on the columns both write (minus those that differ by design), as sorted lines. */
function comparable(esd: string, sqlite: string, ignore: readonly string[] = []) {
  const a = table(esd);
  const b = table(sqlite);
  const shared = a.header.filter((h) => b.header.includes(h) && !ignore.includes(h));
  const lines = (rows: Row[], map: (v: string) => string) => rows.map((r) => shared.map((h) => map(r[h] ?? '')).join('|')).sort();
  return { shared, esd: lines(a.rows, (v) => v), sqlite: lines(b.rows, esdIds) };
}

async function expectSameAsTwin(name: string, supplied: Supplied = {}, format = CSV): Promise<string> {
  const esd = await esdCsv(name, supplied, format);
  const c = comparable(esd, await sqliteCsv(name, supplied, format), DIFFERENT_BY_DESIGN[name]);
  expect(c.shared.length, `${name}: columns in common`).toBeGreaterThanOrEqual(3);
  expect(c.esd.length, `${name}: row count`).toBe(c.sqlite.length);
  expect(c.esd, name).toEqual(c.sqlite);
  return esd;
}

describe('eSchoolData extract library against the fake GURU API', () => {
  it('every -esd extract loads with no validation problem and reads rows through the real source', async () => {
    expect(loadProblems.filter((p) => p.includes('/eschooldata/'))).toEqual([]);
    const names = readdirSync(join(REPO, 'extracts', 'eschooldata'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    expect(names.length).toBeGreaterThanOrEqual(18);
    for (const name of names) {
      const extract = extractNamed(name);
      const out = await readAll(esdSource(), esdQuery(extract, {}));
      expect(out.columns, name).toEqual(extract.columns.map((c) => c.name));
      expect(out.rows.length, name).toBeGreaterThan(0);
      // A run fails on a declared column empty in every row (its path matches nothing) unless the extract marks it optional.
      const empty = extract.columns.filter((c, i) => !c.optional && out.rows.every((r) => r[i] === null || r[i] === undefined || r[i] === ''));
      expect(empty.map((c) => `${c.name} (path ${c.path ?? c.name})`), name).toEqual([]);
    }
  });

  it('OneRoster 1.1: headers in spec order, a bundle that validates, and the rows of the SQLite twins', async () => {
    const files = new Map<string, string>();
    for (const [name, file] of ONEROSTER) {
      const csv = await expectSameAsTwin(name);
      expect(table(csv).header, file).toEqual([...ONEROSTER_SPECS.get(file)!.headers]);
      files.set(`${file}.csv`, csv);
    }
    const bundle = new Map(files);
    bundle.set('manifest.csv', buildManifest(new Set(ONEROSTER.map(([, f]) => f)), 'bulk', { systemName: 'eSchoolData' }));
    const result = validateOneRosterFiles(bundle, { mode: 'bulk' });
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);

    const users = table(files.get('users.csv')!).rows;
    expect(new Set(users.map((u) => u.role))).toEqual(new Set(['student', 'teacher']));
    expect(new Set(users.filter((u) => u.role === 'student').map((u) => u.grades))).toEqual(new Set(['PK', 'KG', '01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11', '12']));
    const enrollments = table(files.get('enrollments.csv')!).rows;
    expect(enrollments.filter((e) => e.primary === 'true')).toHaveLength(table(files.get('classes.csv')!).rows.length);
  });

  it('Clever: the set validates, dates are written MM/DD/YYYY by the format, and each file has the rows of its SQLite twin', async () => {
    const files = new Map<string, string>();
    for (const file of CLEVER) {
      const csv = await expectSameAsTwin(`clever-${file}`, {}, CLEVER_CSV);
      const { header } = table(csv);
      expect(header.every((h) => CLEVER_SPECS.get(file)!.columns.includes(h)), file).toBe(true);
      files.set(`${file}.csv`, csv);
    }
    const result = validateCleverFiles(files);
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(table(files.get('students.csv')!).rows.every((s) => /^\d{2}\/\d{2}\/\d{4}$/.test(s.Dob ?? ''))).toBe(true);
    expect(new Set(table(files.get('sections.csv')!).rows.map((s) => s.Term_start))).toEqual(new Set(['07/01/2026']));
  });

  it('Clever with one building and a grade band still validates and matches the twins', async () => {
    const supplied = { buildings: ['HMS'] };
    const files = new Map<string, string>();
    for (const file of CLEVER) {
      const extra = file === 'students' || file === 'enrollments' ? { grades: '7-8' } : {};
      files.set(`${file}.csv`, await expectSameAsTwin(`clever-${file}`, { ...supplied, ...extra }, CLEVER_CSV));
    }
    expect(validateCleverFiles(files).problems).toEqual([]);
    expect(new Set(table(files.get('students.csv')!).rows.map((s) => s.Grade))).toEqual(new Set(['7', '8']));
  });

  it.each(EVERYDAY)('%s: the rows of the SQLite twin, with its defaults', async (name) => {
    const csv = await expectSameAsTwin(name);
    expect(table(csv).rows.length).toBeGreaterThan(0);
  });

  it.each([
    ['staff-directory', { buildings: ['HES'], activeOnly: false }],
    ['parent-contacts', { correspondenceOnly: false, buildings: ['HHS'], grades: '9-10' }],
    ['lunch-balances', { buildings: ['HES'], grades: 'K-2', activeOnly: false }],
    ['daily-attendance', { unexcusedOnly: true, asOf: '2026-11-20' }],
  ] as const)('%s %j: the rows of the SQLite twin with the same parameters', async (name, supplied) => {
    const csv = await expectSameAsTwin(name, supplied);
    expect(table(csv).rows.length).toBeGreaterThan(0);
  });

  it('daily-attendance sends the day as ?date=, keeps only that day, and is empty (one empty batch) on a Saturday', async () => {
    const extract = extractNamed('daily-attendance-esd');
    const before = fake.requests.length;
    const monday = await readAll(esdSource(), esdQuery(extract, {}));
    const sent = fake.requests.slice(before).filter((r) => r.path === '/api/v1/attendance/daily');
    expect(sent.every((r) => r.query['date'] === '2026-11-23')).toBe(true);
    expect(new Set(monday.rows.map((r) => r[6]))).toEqual(new Set(['2026-11-23']));
    const saturday = await readAll(esdSource(), esdQuery(extract, { asOf: SATURDAY }));
    expect(saturday).toMatchObject({ rows: [], batches: 1 });
  });

  it('a file read in parts fails plainly, naming the endpoint, when the district has not enabled one of them', async () => {
    fake.faults.disabledEndpoints = ['/api/v1/staff'];
    fake.faults.disabledStatus = 403;
    const err = await failureOf(readAll(esdSource(), esdQuery(extractNamed('oneroster-users-esd'), {})));
    expect([err.kind, err.field, err.message]).toEqual([
      'source_query',
      'request.parts.1.endpoint',
      'integration esd-library: source hilltop-esd: endpoint staff is not enabled for this district (HTTP 403)',
    ]);
    fake.faults.disabledEndpoints = ['/api/v1/sections'];
    const sections = await failureOf(readAll(esdSource(), esdQuery(extractNamed('clever-enrollments-esd'), {})));
    expect(sections.message).toContain('endpoint sections is not enabled');
  });
});

describe('eSchoolData OneRoster and Clever integrations, through the runner', () => {
  it('deliver a OneRoster zip and a Clever set that pass their checks', async () => {
    const cfgDir = join(dir, 'config');
    const out = join(dir, 'out');
    mkdirSync(join(cfgDir, 'integrations'), { recursive: true });
    process.env.FERRY_TEST_ESD_LIBRARY_SECRET = CLIENT_SECRET;
    writeFileSync(
      join(cfgDir, 'ferry.yaml'),
      YAML.stringify({
        dataDir: '../var',
        extractsDir: join(REPO, 'extracts'),
        sources: { esd: { kind: 'eschooldata', tokenUrl: fake.tokenUrl, apiBase: fake.apiBase, clientId: CLIENT_ID, clientSecret: { env: 'FERRY_TEST_ESD_LIBRARY_SECRET' }, timeoutSeconds: 10, pageSize: 100 } },
        destinations: { out: { kind: 'local', basePath: '../out' } },
      }),
    );
    const common = { source: 'esd', destination: 'out', schedule: { cron: '0 3 * * *', timezone: 'America/New_York' } };
    const files = (kind: 'oneroster' | 'clever') =>
      kind === 'oneroster' ? Object.fromEntries(ONEROSTER.map(([name, file]) => [`${file}.csv`, `${name}-esd`])) : Object.fromEntries(CLEVER.map((f) => [`${f}.csv`, `clever-${f}-esd`]));
    writeFileSync(
      join(cfgDir, 'integrations', 'hilltop.yaml'),
      YAML.stringify({
        district: { id: DISTRICT, name: 'Hilltop' },
        agreements: agreementsWith(['ClassLink', 'Clever']),
        integrations: [
          { id: 'esd-oneroster', bundle: { format: 'oneroster', mode: 'bulk', files: files('oneroster') }, remotePath: 'oneroster.zip', params: { schoolYear: 2027 }, inventory: { vendor: 'ClassLink', contact: 'SIS Admin', purpose: 'Rostering' }, ...common },
          { id: 'esd-clever', bundle: { format: 'clever', files: files('clever') }, remotePath: 'clever/', params: { schoolYear: 2027, asOf: '2026-11-23', activeOnly: true }, inventory: { vendor: 'Clever', contact: 'SIS Admin', purpose: 'Rostering' }, ...common },
        ],
      }),
    );
    const rt = await openRuntime({ configDir: cfgDir });
    try {
      for (const id of ['esd-oneroster', 'esd-clever']) {
        const r = await rt.runs.run(rt.config.integrations.get(id)!, { trigger: 'manual', requestedBy: 'test' });
        expect([id, r.run.status, r.run.error]).toEqual([id, 'succeeded', null]);
      }
    } finally {
      await rt.close();
    }
    const zip = await readZipEntries(join(out, 'oneroster.zip'));
    const bundle = new Map([...zip].map(([name, b]) => [name, b.toString('utf8')]));
    expect([...bundle.keys()].sort()).toEqual(['manifest.csv', ...ONEROSTER.map(([, f]) => `${f}.csv`)].sort());
    expect(validateOneRosterFiles(bundle, { mode: 'bulk' }).problems).toEqual([]);
    const clever = new Map(CLEVER.map((f) => [`${f}.csv`, readFileSync(join(out, 'clever', `${f}.csv`), 'utf8')]));
    expect(validateCleverFiles(clever).problems).toEqual([]);
    expect(table(clever.get('students.csv')!).rows.length).toBe(table(await sqliteCsv('clever-students', { asOf: '2026-11-23' }, CLEVER_CSV)).rows.length);
  });
});
