import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createPostgresSource } from '../../connectors/postgres/postgres-source.js';
import { createSqliteSource } from '../../connectors/sqlite/sqlite-source.js';
import { bindNamesOf } from '../../src/config/params.js';
import { extractFileSchema, type FormatOptions } from '../../src/config/schema.js';
import type { BindValue, Source } from '../../src/core/source.js';
import { ensureDemoSis, loadDemoSisIntoPostgres } from '../../src/demo/demo-sis.js';
import { encodeCsv } from '../../src/formats/csv.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg-database.js';

/** The seven OneRoster 1.1 demo extracts; each has a PostgreSQL twin named `<dir>-pg`. */
const EXTRACTS = [
  'oneroster-orgs',
  'oneroster-academic-sessions',
  'oneroster-courses',
  'oneroster-classes',
  'oneroster-users',
  'oneroster-enrollments',
  'oneroster-demographics',
] as const;

const EXTRACTS_DIR = join(import.meta.dirname, '..', '..', 'extracts');
const FORMAT: FormatOptions = { kind: 'csv', delimiter: ',', lineEnding: 'crlf', bom: false, header: true, booleans: ['true', 'false'], dateFormat: 'YYYY-MM-DD' };
/** The required districtId and the schoolYear standard filter, the only binds these extracts take. */
const BINDS: Record<string, BindValue> = { districtId: 'hilltop-csd', schoolYear: 2027 };

async function runExtract(source: Source, kind: 'sqlite' | 'postgres', dir: string): Promise<string> {
  const root = join(EXTRACTS_DIR, kind, dir);
  const spec = extractFileSchema.parse(parse(readFileSync(join(root, 'extract.yaml'), 'utf8')));
  expect(spec.name).toBe(dir);
  expect(spec.source).toBe(kind);
  const text = readFileSync(join(root, 'query.sql'), 'utf8');
  const values: Record<string, BindValue> = {};
  for (const name of bindNamesOf(spec)) {
    const value = BINDS[name];
    if (value === undefined) throw new Error(`${dir}: no test value for :${name}`);
    values[name] = value;
  }
  let csv = '';
  for await (const chunk of encodeCsv(source.stream({ text, values }), spec.columns, FORMAT, `oneroster-${kind}`, { rows: 0 })) csv += chunk;
  return csv;
}

describe('OneRoster 1.1 demo extracts: the PostgreSQL twins write the same files as the SQLite originals', () => {
  let db: TestDatabase;
  let dir: string;
  let lite: Source;
  let pgSource: Source;

  beforeAll(async () => {
    db = await createTestDatabase('oneroster_pg');
    const url = new URL(db.url);
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      await loadDemoSisIntoPostgres(admin);
    } finally {
      await admin.end();
    }
    pgSource = createPostgresSource({
      id: 'demo-sis-pg',
      host: url.hostname,
      port: Number(url.port),
      database: db.name,
      user: decodeURIComponent(url.username),
      password: () => decodeURIComponent(url.password),
      ssl: false,
      connectTimeoutSeconds: 10,
      integration: 'oneroster-pg',
    });

    dir = mkdtempSync(join(tmpdir(), 'ferry-oneroster-pg-'));
    const dbPath = join(dir, 'sis.db');
    ensureDemoSis(dbPath);
    lite = createSqliteSource({ id: 'demo-sis', path: dbPath });
  });

  afterAll(async () => {
    await lite?.close();
    await pgSource?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(EXTRACTS)('%s-pg writes byte-identical CSV', async (extract) => {
    const expected = await runExtract(lite, 'sqlite', extract);
    const actual = await runExtract(pgSource, 'postgres', `${extract}-pg`);
    // More than the header, so two empty results could not pass as a match.
    expect(expected.split('\r\n').length, extract).toBeGreaterThan(2);
    expect(Buffer.from(actual, 'utf8').equals(Buffer.from(expected, 'utf8')), extract).toBe(true);
    // On a mismatch the line-level diff shows where.
    expect(actual).toBe(expected);
  });
});
