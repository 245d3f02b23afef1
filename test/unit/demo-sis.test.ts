import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { bindNamesOf } from '../../src/config/params.js';
import { extractFileSchema } from '../../src/config/schema.js';
import { findPlaceholders } from '../../src/core/named-sql.js';
import { demoSisSchemaForPostgres, ensureDemoSis } from '../../src/demo/demo-sis.js';
import { DEMO_SIS_TABLES } from '../../src/demo/demo-sis-schema.js';

/** The slice of better-sqlite3 this test uses (the package ships no type declarations). */
interface Statement {
  all(params?: Record<string, unknown>): Record<string, unknown>[];
  columns(): { name: string }[];
  run(): unknown;
}
interface Db {
  prepare(sql: string): Statement;
  close(): void;
}
const Database = createRequire(import.meta.url)('better-sqlite3') as new (path: string, options?: { readonly?: boolean }) => Db;

type ExtractSpec = ReturnType<typeof extractFileSchema.parse>;

const EXTRACTS_DIR = join(import.meta.dirname, '..', '..', 'extracts');
/** Standard-filter binds as the SQLite connector passes them: lists as JSON text, booleans as 1/0. */
const SQLITE_FILTER_VALUES: Record<string, unknown> = {
  schoolYear: 2027,
  buildings: '[]',
  gradeMin: -1,
  gradeMax: 12,
  activeOnly: 1,
  asOf: '2026-11-23',
};
/** The OneRoster 1.1 demo extracts, one per file, in directory order. */
const ONEROSTER_EXTRACTS = [
  'oneroster-academic-sessions',
  'oneroster-classes',
  'oneroster-courses',
  'oneroster-demographics',
  'oneroster-enrollments',
  'oneroster-orgs',
  'oneroster-users',
];
// Values for required params that have no default.
const REQUIRED_SAMPLES: Record<string, unknown> = { districtId: 'hilltop-csd' };

function extracts(kind: string): { dir: string; spec: ExtractSpec; sql: string }[] {
  const root = join(EXTRACTS_DIR, kind);
  return readdirSync(root)
    .sort()
    .map((name) => ({
      dir: name,
      // Parsed with Ferry's own extract-file schema, so a demo extract that the loader would reject fails here.
      spec: extractFileSchema.parse(parse(readFileSync(join(root, name, 'extract.yaml'), 'utf8'))),
      sql: readFileSync(join(root, name, 'query.sql'), 'utf8'),
    }));
}

/** Every declared filter and param is used, and nothing else: the SQL honours exactly what the YAML promises. */
function expectPlaceholdersMatch(spec: ExtractSpec, sql: string): void {
  expect(findPlaceholders(sql).sort(), spec.name).toEqual([...bindNamesOf(spec)].sort());
}

function sqliteBindings(spec: ExtractSpec, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const name of bindNamesOf(spec)) {
    const decl = spec.params[name];
    // An optional param with no default is bound as NULL, as the loader does.
    const value = SQLITE_FILTER_VALUES[name] ?? decl?.default ?? REQUIRED_SAMPLES[name] ?? (decl && !decl.required ? null : undefined);
    if (value === undefined) throw new Error(`no sample value for :${name}`);
    values[name] = typeof value === 'boolean' ? Number(value) : value;
  }
  return { ...values, ...overrides };
}

let dir: string;
let dbPath: string;
let db: Db;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-demo-sis-'));
  dbPath = join(dir, 'nested', 'demo', 'sis.db');
  const started = performance.now();
  const result = ensureDemoSis(dbPath);
  // Generous against a loaded CI box; locally the build takes about 200 ms.
  expect(performance.now() - started).toBeLessThan(5_000);
  expect(result.created).toBe(true);
  expect(result.students).toBeGreaterThan(1_100);
  db = new Database(dbPath, { readonly: true });
});

afterAll(() => {
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ensureDemoSis', () => {
  it('creates an owner-only file in owner-only folders', () => {
    expect(statSync(dbPath).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'nested', 'demo')).mode & 0o777).toBe(0o700);
    expect(readdirSync(join(dir, 'nested', 'demo'))).toEqual(['sis.db']);
  });

  it('is idempotent: a second call only counts', () => {
    const before = statSync(dbPath);
    const bytes = readFileSync(dbPath);
    const again = ensureDemoSis(dbPath);
    expect(again).toEqual({ created: false, students: db.prepare('SELECT count(*) AS n FROM students').all()[0]?.n });
    const after = statSync(dbPath);
    expect([after.ino, after.mtimeMs, after.size]).toEqual([before.ino, before.mtimeMs, before.size]);
    expect(readFileSync(dbPath).equals(bytes)).toBe(true);
  });

  it('rebuilds a demo SIS made by an older Ferry (older tables) and leaves a current one alone', () => {
    const otherDir = mkdtempSync(join(tmpdir(), 'ferry-demo-sis-'));
    try {
      const oldPath = join(otherDir, 'sis.db');
      const old = new Database(oldPath);
      old.prepare('CREATE TABLE students (student_id TEXT)').run();
      old.prepare('PRAGMA user_version = 1').run();
      old.close();
      const rebuilt = ensureDemoSis(oldPath);
      expect(rebuilt.created).toBe(true);
      const fresh = new Database(oldPath, { readonly: true });
      try {
        expect(fresh.prepare('SELECT count(*) AS n FROM lunch_accounts').all()[0]?.n).toBe(rebuilt.students);
        expect(Number(fresh.prepare('SELECT count(*) AS n FROM daily_attendance').all()[0]?.n)).toBeGreaterThan(1_000);
      } finally {
        fresh.close();
      }
      expect(statSync(oldPath).mode & 0o777).toBe(0o600);
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  it('is deterministic: two builds hold identical rows', () => {
    const otherDir = mkdtempSync(join(tmpdir(), 'ferry-demo-sis-'));
    try {
      const otherPath = join(otherDir, 'sis.db');
      ensureDemoSis(otherPath);
      const other = new Database(otherPath, { readonly: true });
      try {
        for (const table of DEMO_SIS_TABLES) {
          const sql = `SELECT * FROM ${table.name} ORDER BY ${table.primaryKey.join(', ')}`;
          expect(other.prepare(sql).all(), table.name).toEqual(db.prepare(sql).all());
        }
      } finally {
        other.close();
      }
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  it('holds two districts of clearly fake data that exercises CSV quoting and UTF-8', () => {
    const one = (sql: string): unknown => Object.values(db.prepare(sql).all()[0] ?? {})[0];
    expect(db.prepare('SELECT district_id, count(*) AS n FROM students GROUP BY 1 ORDER BY 1').all()).toEqual([
      { district_id: 'hilltop-csd', n: expect.any(Number) },
      { district_id: 'riverbend-ufsd', n: expect.any(Number) },
    ]);
    expect(one(`SELECT count(*) FROM schools`)).toBe(5);
    expect(one(`SELECT count(*) FROM students WHERE student_id NOT GLOB 'DEMO-[HR]-[0-9][0-9][0-9][0-9][0-9][0-9]'`)).toBe(0);
    for (const table of ['students', 'staff', 'guardians']) {
      expect(one(`SELECT count(*) FROM ${table} WHERE email IS NOT NULL AND email NOT LIKE '%example.org'`)).toBe(0);
    }
    expect(one(`SELECT count(*) FROM guardians WHERE phone NOT GLOB '[0-9][0-9][0-9]-555-01[0-9][0-9]'`)).toBe(0);
    expect(one(`SELECT count(*) FROM students WHERE active = 0`)).toBeGreaterThan(0);
    expect(one(`SELECT count(*) FROM students WHERE middle_name IS NULL`)).toBeGreaterThan(0);
    expect(one(`SELECT count(*) FROM students WHERE email IS NULL`)).toBeGreaterThan(0);
    expect(one(`SELECT count(*) FROM students WHERE last_name LIKE '%''%'`)).toBeGreaterThan(0);
    expect(one(`SELECT count(*) FROM students WHERE display_name LIKE '%, Jr.'`)).toBeGreaterThan(0);
    expect(one(`SELECT count(*) FROM students WHERE first_name IN ('Zoë', 'José')`)).toBeGreaterThan(0);
    // Age on 1 December of the school year is 5 + grade (a few held back a year).
    expect(
      one(`SELECT count(*) FROM student_enrollments e JOIN students s USING (district_id, student_id)
           WHERE (e.school_year - 1) - 5 - e.grade_level - CAST(substr(s.birth_date, 1, 4) AS INTEGER)
                 - (substr(s.birth_date, 6) > '12-01') NOT IN (0, 1)`),
    ).toBe(0);
  });
});

describe('sqlite demo extracts', () => {
  const all = extracts('sqlite');

  it('ships the demo extracts', () => {
    expect(all.map((e) => e.dir)).toEqual([
      'clever-enrollments',
      'clever-schools',
      'clever-sections',
      'clever-staff',
      'clever-students',
      'clever-teachers',
      'daily-attendance',
      'lunch-balances',
      ...ONEROSTER_EXTRACTS,
      'parent-contacts',
      'staff-directory',
      'students-basic',
    ]);
  });

  it.each(all.map((e) => [e.dir, e] as const))('%s runs and returns its declared columns', (dir, { spec, sql }) => {
    expect(spec.name).toBe(dir);
    expect(spec.source).toBe('sqlite');
    expectPlaceholdersMatch(spec, sql);
    const stmt = db.prepare(sql);
    expect(stmt.columns().map((c) => c.name)).toEqual(spec.columns.map((c) => c.name));
    const rows = stmt.all(sqliteBindings(spec));
    expect(rows.length).toBeGreaterThan(0);
  });

  it('the grades filter narrows to the requested grades', () => {
    const spec = all.find((e) => e.dir === 'students-basic');
    if (spec === undefined) throw new Error('students-basic missing');
    const stmt = db.prepare(spec.sql);
    const everyone = stmt.all(sqliteBindings(spec.spec));
    const k5 = stmt.all(sqliteBindings(spec.spec, { gradeMin: 0, gradeMax: 5 }));
    expect(k5.length).toBeGreaterThan(0);
    expect(k5.length).toBeLessThan(everyone.length);
    expect([...new Set(k5.map((r) => r.grade_level))].sort((a, b) => Number(a) - Number(b))).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('the buildings filter narrows to the requested buildings', () => {
    for (const { spec, sql } of all.filter((e) => e.spec.filters.includes('buildings'))) {
      const stmt = db.prepare(sql);
      const column = spec.columns.find((c) => /^school_(code|id)$/i.test(c.name))?.name ?? 'missing';
      const everyone = stmt.all(sqliteBindings(spec, { activeOnly: 0 }));
      const hes = stmt.all(sqliteBindings(spec, { activeOnly: 0, buildings: JSON.stringify(['HES']) }));
      expect(hes.length, spec.name).toBeGreaterThan(0);
      expect(hes.length, spec.name).toBeLessThan(everyone.length);
      expect(new Set(hes.map((r) => r[column])), spec.name).toEqual(new Set(['HES']));
    }
  });

  it('binds booleans, dates and timestamps as declared', () => {
    const spec = all.find((e) => e.dir === 'students-basic');
    if (spec === undefined) throw new Error('students-basic missing');
    const row = db.prepare(spec.sql).all(sqliteBindings(spec.spec))[0] ?? {};
    expect(row.birth_date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(row.updated_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(row.active).toBe(1);
    const types = Object.fromEntries(spec.spec.columns.map((c) => [c.name, c.type]));
    expect([types.birth_date, types.entry_date, types.active, types.updated_at]).toEqual(['date', 'date', 'boolean', 'timestamp']);
  });
});

describe('postgres demo extracts and schema', () => {
  it('mirror the sqlite extracts and use only declared placeholders', () => {
    const pg = extracts('postgres');
    // The OneRoster 1.1 twins' output is compared with the SQLite originals in test/integration/oneroster-pg-extracts.test.ts.
    const lite = extracts('sqlite');
    // Extract names are unique across source kinds, hence the suffix.
    expect(pg.map((e) => e.dir)).toEqual(lite.map((e) => `${e.dir}-pg`));
    for (const [i, { dir, spec, sql }] of pg.entries()) {
      expect(spec.name).toBe(dir);
      expect(spec.source).toBe('postgres');
      expect(spec.columns).toEqual(lite[i]?.spec.columns);
      expect(spec.filters).toEqual(lite[i]?.spec.filters);
      expect(spec.params).toEqual(lite[i]?.spec.params);
      expectPlaceholdersMatch(spec, sql);
      expect(sql).not.toMatch(/json_each|json_array_length/);
      if (spec.filters.includes('buildings')) expect(sql).toContain('cardinality(:buildings::text[]) = 0');
    }
  });

  it('has PostgreSQL DDL with real types for every table', () => {
    const ddl = demoSisSchemaForPostgres();
    for (const table of DEMO_SIS_TABLES) expect(ddl).toContain(`CREATE TABLE ${table.name} (`);
    expect(ddl).toMatch(/birth_date date NOT NULL/);
    expect(ddl).toMatch(/active boolean NOT NULL/);
    expect(ddl).toMatch(/updated_at timestamptz NOT NULL/);
    expect(ddl).toMatch(/school_year integer NOT NULL/);
    expect(ddl).not.toMatch(/STRICT|GLOB|\bTEXT\b/);
    expect(ddl.match(/\(/g)?.length).toBe(ddl.match(/\)/g)?.length);
  });
});
