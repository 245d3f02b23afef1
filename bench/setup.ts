import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import type { SshdServer } from '../test/helpers/sshd.js';

/** The exported columns, in file order; the Ferry extract and the psql \copy both select exactly these. */
export const COLUMNS = [
  { name: 'student_id', type: 'string', element: 'Student Identifiers/local ID' },
  { name: 'first_name', type: 'string', element: 'Student Name' },
  { name: 'middle_name', type: 'string', element: 'Student Name' },
  { name: 'last_name', type: 'string', element: 'Student Name' },
  { name: 'school_name', type: 'string', element: 'Enrollment/student school enrollment' },
  { name: 'notes', type: 'string', element: 'Other' },
  { name: 'grade_level', type: 'integer', element: 'Enrollment/student grade level' },
  { name: 'birth_date', type: 'date', element: 'Demographics/date of birth' },
  { name: 'active', type: 'boolean', element: 'Enrollment/student school enrollment' },
  { name: 'updated_at', type: 'timestamp', element: 'Not personal data/other' },
] as const;

export const TABLE = 'bench_students';
export const BENCH_DB = 'bench';

/** The one query both sides run; `limit` (a row id bound) is rendered in, so the extract needs no parameters. */
export function selectSql(maxId?: number): string {
  const where = maxId === undefined ? '' : ` WHERE id <= ${Math.floor(maxId)}`;
  return `SELECT ${COLUMNS.map((c) => c.name).join(', ')} FROM ${TABLE}${where} ORDER BY id`;
}

/**
 * A student-like table of n rows built in one INSERT … SELECT FROM generate_series: text that needs CSV quoting
 * (commas, double quotes, newlines), non-ASCII names, grades -1..12, dates, booleans, ~10% NULL middle names, timestamptz.
 */
export async function createBenchTable(adminUrl: string, n: number): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${BENCH_DB}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${BENCH_DB}`;
  const db = new pg.Client({ connectionString: url.toString() });
  await db.connect();
  try {
    await db.query(`CREATE TABLE ${TABLE} (
      id integer NOT NULL,
      student_id text NOT NULL,
      first_name text NOT NULL,
      middle_name text,
      last_name text NOT NULL,
      school_name text NOT NULL,
      notes text NOT NULL,
      grade_level integer NOT NULL,
      birth_date date NOT NULL,
      active boolean NOT NULL,
      updated_at timestamptz NOT NULL)`);
    await db.query(
      `INSERT INTO ${TABLE}
       SELECT i,
         'S' || lpad(i::text, 9, '0'),
         (ARRAY['Ava','Liam','José','Zoë','Łukasz','Mía','Nguyễn','Søren','Aarav','Chloé','陈伟','O''Neil'])[1 + i % 12],
         CASE WHEN i % 10 = 3 THEN NULL ELSE (ARRAY['Marie','Lee','Ann','Jean-Luc','Renée','Kai','Björn'])[1 + (i / 7) % 7] END,
         (ARRAY['Smith','García','Smith, Jr.','Müller','O''Brien','Nakamura','Dubois','Kowalski','Van der Berg','Çelik'])[1 + (i / 13) % 10],
         'School ' || (i % 40) || CASE WHEN i % 3 = 0 THEN ', Annex' ELSE '' END,
         CASE i % 6
           WHEN 0 THEN 'Prefers "Sam", not Samuel'
           WHEN 1 THEN E'IEP on file\\nreview in May'
           WHEN 2 THEN E'Allergy: peanuts\\r\\nEpiPen in office'
           ELSE 'none'
         END,
         (i % 14) - 1,
         date '2008-01-01' + (i % 5000),
         i % 17 <> 0,
         timestamptz '2025-01-01 00:00:00+00' + make_interval(secs => (i % 31536000)::double precision + (i % 1000) / 1000.0)
       FROM generate_series(1, $1::integer) AS i`,
      [n],
    );
    await db.query(`ALTER TABLE ${TABLE} ADD PRIMARY KEY (id)`);
    await db.query(`ANALYZE ${TABLE}`);
  } finally {
    await db.end();
  }
  return url.toString();
}

export interface BenchConfig {
  dir: string;
  dataDir: string;
  logFile: string;
  /** Integration ids: all rows, and a quarter of them (for the memory comparison). */
  full: string;
  quarter: string;
  /** Remote paths the two integrations deliver to, absolute on the sshd host. */
  fullRemote: string;
  quarterRemote: string;
}

/** A complete Ferry config folder (ferry.yaml, integrations/bench.yaml, extracts/postgres/*) under root. */
export async function writeFerryConfig(root: string, pgUrl: string, sshd: SshdServer, n: number): Promise<BenchConfig> {
  const dir = join(root, 'config');
  const dataDir = join(root, 'data');
  const extractsDir = join(root, 'extracts');
  const u = new URL(pgUrl);
  await mkdir(join(dir, 'integrations'), { recursive: true });

  const ferry = {
    dataDir,
    extractsDir,
    logLevel: 'info',
    sources: {
      'bench-pg': {
        kind: 'postgres',
        host: u.hostname,
        port: Number(u.port),
        database: BENCH_DB,
        user: decodeURIComponent(u.username),
        password: { env: 'BENCH_PG_PASSWORD' },
      },
    },
    destinations: {
      'bench-sftp': {
        kind: 'sftp',
        host: sshd.host,
        port: sshd.port,
        username: sshd.user,
        privateKey: { file: sshd.privateKeyPath },
        hostKeySha256: sshd.hostKeyFingerprint,
        basePath: sshd.homeDir,
      },
    },
  };
  await writeFile(join(dir, 'ferry.yaml'), stringify(ferry));

  const extracts = [
    { name: 'bench-students', sql: selectSql(), what: 'every row' },
    { name: 'bench-students-quarter', sql: selectSql(n / 4), what: 'the first quarter of the rows' },
  ];
  for (const e of extracts) {
    const edir = join(extractsDir, 'postgres', e.name);
    await mkdir(edir, { recursive: true });
    const meta = {
      name: e.name,
      description: `Benchmark roster: ${e.what} of ${TABLE}`,
      source: 'postgres',
      personKey: 'student_id',
      columns: COLUMNS.map((c) => ({ name: c.name, type: c.type, element: c.element })),
    };
    await writeFile(join(edir, 'extract.yaml'), stringify(meta));
    await writeFile(join(edir, 'query.sql'), `${e.sql};\n`);
  }

  const integration = (id: string, remotePath: string) => ({
    id,
    extract: id,
    source: 'bench-pg',
    destination: 'bench-sftp',
    remotePath,
    schedule: { cron: '0 3 * * *', timezone: 'America/New_York' },
    // LF like psql's CSV, so the delivered byte counts of the two sides are comparable.
    format: { lineEnding: 'lf' },
    allowEmpty: false,
    inventory: {
      vendor: 'Benchmark Vendor',
      contact: 'Bench Operator <bench@example.org>',
      purpose: 'Throughput and memory benchmark (npm run bench)',
      ticket: 'BENCH-1',
      startDate: '2026-01-01',
      notes: 'Generated by bench/run.ts; deleted when the bench ends.',
    },
  });
  const district = {
    district: { id: 'bench-district', name: 'Benchmark District', contact: 'Bench Operator <bench@example.org>', gradeBands: { ES: 'K-5', MS: '6-8', HS: '9-12' } },
    agreements: [
      {
        id: 'bench-agreement',
        vendor: 'Benchmark Vendor',
        title: 'Benchmark agreement',
        signed: '2026-01-01',
        expires: '2099-12-31',
        covers: ['Student Identifiers', 'Student Name', 'Enrollment', 'Demographics', 'Other'],
        purpose: 'Throughput and memory benchmark',
        supplementalUrl: 'https://example.org/bench/supplemental',
        dataAtEnd: { action: 'deleted', text: 'Deleted when the bench ends.' },
      },
    ],
    integrations: [integration('bench-students', 'bench/students.csv'), integration('bench-students-quarter', 'bench/students-quarter.csv')],
  };
  await writeFile(join(dir, 'integrations', 'bench.yaml'), stringify(district));

  return {
    dir,
    dataDir,
    logFile: join(dataDir, 'logs', 'ferry.log'),
    full: 'bench-students',
    quarter: 'bench-students-quarter',
    fullRemote: join(sshd.homeDir, 'bench/students.csv'),
    quarterRemote: join(sshd.homeDir, 'bench/students-quarter.csv'),
  };
}
