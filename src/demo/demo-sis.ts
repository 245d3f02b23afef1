/**
 * The bundled demo SIS: a small SQLite file with two fictional districts, plus the same data
 * for PostgreSQL. Both are filled from one deterministic generator (demo-sis-data.ts).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { ClientBase } from 'pg';
import { generateDemoSis, rowValues } from './demo-sis-data.js';
import type { DemoValue } from './demo-sis-data.js';
import { DEMO_SIS_TABLES, DEMO_SIS_VERSION, demoSisSchemaForPostgres, demoSisSchemaForSqlite } from './demo-sis-schema.js';

export { demoSisSchemaForPostgres, demoSisSchemaForSqlite };

/** The slice of better-sqlite3 used here (the package ships no type declarations). */
interface SqliteStatement {
  run(...params: unknown[]): unknown;
  pluck(): SqliteStatement;
  get(...params: unknown[]): unknown;
}
interface SqliteDatabase {
  exec(sql: string): void;
  prepare(sql: string): SqliteStatement;
  transaction(fn: () => void): () => void;
  close(): void;
}
type SqliteConstructor = new (path: string, options?: { readonly?: boolean; fileMustExist?: boolean }) => SqliteDatabase;

const require = createRequire(import.meta.url);
const Database = require('better-sqlite3') as SqliteConstructor;

function countStudents(db: SqliteDatabase): number {
  return Number(db.prepare('SELECT count(*) FROM students').pluck().get());
}

/**
 * Make sure the demo SIS exists at `path`. An existing file is only opened read-only and counted;
 * a new one is built under a temporary name next to it and renamed into place when complete.
 */
export function ensureDemoSis(path: string): { created: boolean; students: number } {
  if (existsSync(path)) {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      // A demo SIS built by an older Ferry lacks newer tables: it is rebuilt (it holds only generated data).
      if (Number(db.prepare('PRAGMA user_version').pluck().get()) === DEMO_SIS_VERSION) return { created: false, students: countStudents(db) };
    } finally {
      db.close();
    }
  }

  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  // Created here, owner-only from the first byte; the chmod pins exactly 0600 whatever the umask.
  closeSync(openSync(tmp, 'wx', 0o600));
  chmodSync(tmp, 0o600);
  let students: number;
  try {
    const db = new Database(tmp, { fileMustExist: true });
    try {
      // A failed build is thrown away whole, so a rollback journal on disk buys nothing.
      db.exec('PRAGMA journal_mode = MEMORY');
      db.exec('PRAGMA foreign_keys = ON');
      db.transaction(() => {
        db.exec(demoSisSchemaForSqlite());
        const rows = generateDemoSis();
        for (const table of DEMO_SIS_TABLES) {
          const placeholders = table.columns.map(() => '?').join(', ');
          const insert = db.prepare(`INSERT INTO ${table.name} VALUES (${placeholders})`);
          for (const row of rows.get(table.name) ?? []) insert.run(...rowValues(table, row).map(toSqlite));
        }
      })();
      db.exec(`PRAGMA user_version = ${DEMO_SIS_VERSION}`);
      students = countStudents(db);
    } finally {
      db.close();
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return { created: true, students };
}

function toSqlite(value: DemoValue): string | number | null {
  return typeof value === 'boolean' ? (value ? 1 : 0) : value;
}

/** PostgreSQL allows at most 65535 bind parameters per statement. */
const MAX_PG_PARAMS = 60_000;
const MAX_PG_ROWS = 1_000;

/**
 * Create the demo tables in the client's current schema and insert the same rows as the SQLite file,
 * in one transaction. Fails if the tables already exist.
 */
export async function loadDemoSisIntoPostgres(client: ClientBase): Promise<void> {
  const rows = generateDemoSis();
  await client.query('BEGIN');
  try {
    await client.query(demoSisSchemaForPostgres());
    for (const table of DEMO_SIS_TABLES) {
      const all = (rows.get(table.name) ?? []).map((row) => rowValues(table, row));
      const width = table.columns.length;
      const batchSize = Math.min(MAX_PG_ROWS, Math.floor(MAX_PG_PARAMS / width));
      const columnList = table.columns.map((c) => c.name).join(', ');
      for (let start = 0; start < all.length; start += batchSize) {
        const batch = all.slice(start, start + batchSize);
        const tuples = batch.map((_, r) => `(${table.columns.map((_c, c) => `$${r * width + c + 1}`).join(', ')})`);
        await client.query(`INSERT INTO ${table.name} (${columnList}) VALUES ${tuples.join(', ')}`, batch.flat());
      }
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
