import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createSqliteSource } from '../../connectors/sqlite/sqlite-source.js';
import { bindNamesOf } from '../../src/config/params.js';
import { extractFileSchema, type FormatOptions } from '../../src/config/schema.js';
import type { BindValue, Source } from '../../src/core/source.js';
import { ensureDemoSis } from '../../src/demo/demo-sis.js';
import { encodeCsv } from '../../src/formats/csv.js';
import { buildManifest } from '../../src/formats/oneroster/manifest.js';
import { parseCsv } from '../../src/formats/oneroster/parse-csv.js';
import { ONEROSTER_SPECS, type OneRosterFileName } from '../../src/formats/oneroster/spec.js';
import { validateOneRosterFiles } from '../../src/formats/oneroster/validate.js';

/** The seven OneRoster 1.1 demo extracts and the file each one writes. */
const EXTRACTS: readonly (readonly [dir: string, file: OneRosterFileName])[] = [
  ['oneroster-orgs', 'orgs'],
  ['oneroster-academic-sessions', 'academicSessions'],
  ['oneroster-courses', 'courses'],
  ['oneroster-classes', 'classes'],
  ['oneroster-users', 'users'],
  ['oneroster-enrollments', 'enrollments'],
  ['oneroster-demographics', 'demographics'],
];

const SQLITE_DIR = join(import.meta.dirname, '..', '..', 'extracts', 'sqlite');
const FORMAT: FormatOptions = { kind: 'csv', delimiter: ',', lineEnding: 'crlf', bom: false, header: true, booleans: ['true', 'false'], dateFormat: 'YYYY-MM-DD' };
/** Values as the SQLite connector receives them for the standard filters and the required districtId. */
const BINDS: Record<string, BindValue> = { districtId: 'hilltop-csd', schoolYear: 2027 };

let dir: string;
let source: Source;
const files = new Map<string, string>();

async function runExtract(extractDir: string): Promise<string> {
  const root = join(SQLITE_DIR, extractDir);
  const spec = extractFileSchema.parse(parse(readFileSync(join(root, 'extract.yaml'), 'utf8')));
  const text = readFileSync(join(root, 'query.sql'), 'utf8');
  const values: Record<string, BindValue> = {};
  for (const name of bindNamesOf(spec)) {
    const value = BINDS[name];
    if (value === undefined) throw new Error(`${extractDir}: no test value for :${name}`);
    values[name] = value;
  }
  let csv = '';
  for await (const chunk of encodeCsv(source.stream({ text, values }), spec.columns, FORMAT, 'oneroster-demo', { rows: 0 })) csv += chunk;
  return csv;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-oneroster-demo-'));
  const dbPath = join(dir, 'sis.db');
  ensureDemoSis(dbPath);
  source = createSqliteSource({ id: 'demo-sis', path: dbPath });
  for (const [extractDir, file] of EXTRACTS) files.set(`${file}.csv`, await runExtract(extractDir));
});

afterAll(async () => {
  await source?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('OneRoster 1.1 demo extracts (sqlite)', () => {
  it.each(EXTRACTS.map(([d, f]) => [d, f] as const))('%s writes the %s.csv header in spec order and has rows', (_dir, file) => {
    const csv = files.get(`${file}.csv`) ?? '';
    const { records, error } = parseCsv(csv);
    expect(error).toBeUndefined();
    const [header, ...rows] = records;
    expect(header).toEqual([...(ONEROSTER_SPECS.get(file)?.headers ?? [])]);
    expect(rows.length, file).toBeGreaterThan(0);
  });

  it('form a bulk bundle that validates with no problems', () => {
    const present = new Set(EXTRACTS.map(([, f]) => f));
    const bundle = new Map(files);
    bundle.set('manifest.csv', buildManifest(present, 'bulk', { systemName: 'Ferry demo SIS' }));
    const result = validateOneRosterFiles(bundle, { mode: 'bulk' });
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.files.map((f) => f.name).sort()).toEqual([...files.keys()].sort());
    for (const f of result.files) expect(f.rows, f.name).toBeGreaterThan(0);
  });

  it('maps the demo SIS as expected', () => {
    const rows = (file: string) => {
      const [header = [], ...data] = parseCsv(files.get(file) ?? '').records;
      return data.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ''])));
    };
    const orgs = rows('orgs.csv');
    expect(orgs.map((o) => [o.sourcedId, o.type, o.parentSourcedId])).toEqual([
      ['hilltop-csd', 'district', ''],
      ['HES', 'school', 'hilltop-csd'],
      ['HHS', 'school', 'hilltop-csd'],
      ['HMS', 'school', 'hilltop-csd'],
    ]);
    expect(rows('academicSessions.csv')).toEqual([
      {
        sourcedId: 'hilltop-csd-2027', status: '', dateLastModified: '', title: '2026-2027', type: 'schoolYear',
        startDate: '2026-07-01', endDate: '2027-06-30', parentSourcedId: '', schoolYear: '2027',
      },
    ]);
    const users = rows('users.csv');
    const students = users.filter((u) => u.role === 'student');
    const teachers = users.filter((u) => u.role === 'teacher');
    expect(students.length).toBeGreaterThan(500);
    expect(teachers.length).toBeGreaterThan(10);
    expect(new Set(students.map((u) => u.grades))).toEqual(new Set(['PK', 'KG', '01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11', '12']));
    expect(new Set(users.map((u) => u.enabledUser))).toEqual(new Set(['true', 'false']));
    expect(new Set(rows('classes.csv').map((c) => c.classType))).toEqual(new Set(['homeroom', 'scheduled']));
    // Exactly one primary teacher per class.
    const enrollments = rows('enrollments.csv');
    const primaries = enrollments.filter((e) => e.primary === 'true');
    expect(primaries.every((e) => e.role === 'teacher')).toBe(true);
    expect(new Set(primaries.map((e) => e.classSourcedId)).size).toBe(primaries.length);
    expect(primaries.length).toBe(rows('classes.csv').length);
    const demographics = rows('demographics.csv');
    expect(demographics.map((d) => d.sourcedId).sort()).toEqual(students.map((u) => u.sourcedId).sort());
    expect(new Set(demographics.map((d) => d.sex))).toEqual(new Set(['male', 'female', '']));
  });
});
