import Database from 'better-sqlite3';
import fs from 'node:fs';
import { setImmediate as tick } from 'node:timers/promises';
import { FerryError } from '../../src/core/errors.js';
import { throwIfAborted } from '../aborted.js';
import { compileNamedSql } from '../../src/core/named-sql.js';
import type { BindValue, BoundQuery, ConnectionInfo, RowBatch, Source, StreamOptions } from '../../src/core/source.js';

export interface SqliteSourceOptions {
  id: string;
  path: string;
  integration?: string | undefined;
}

/**
 * SQLite source (the demo SIS, and small local databases). Opened read-only; rows are read with an iterator
 * in batches, so memory does not grow with the table.
 */
export function createSqliteSource(opts: SqliteSourceOptions): Source {
  const who = `${opts.integration ? `integration ${opts.integration}: ` : ''}source ${opts.id}`;
  let db: Database.Database | undefined;
  const open = (): Database.Database => {
    if (db) return db;
    if (!fs.existsSync(opts.path)) {
      throw new FerryError('source_connect', `${who}: SQLite database ${opts.path} does not exist`, { integration: opts.integration, field: `sources.${opts.id}.path` });
    }
    try {
      db = new Database(opts.path, { readonly: true, fileMustExist: true });
    } catch (err) {
      throw new FerryError('source_connect', `${who}: cannot open SQLite database ${opts.path}`, { integration: opts.integration, field: `sources.${opts.id}.path`, cause: err });
    }
    return db;
  };

  return {
    kind: 'sqlite',
    async *stream(query: BoundQuery, options: StreamOptions = {}): AsyncGenerator<RowBatch> {
      throwIfAborted(options.signal, who, opts.integration);
      const conn = open();
      const compiled = compileNamedSql(query.text, 'question');
      const values = compiled.order.map((name) => toSqlite(query.values[name]));
      let stmt: Database.Statement;
      try {
        stmt = conn.prepare(compiled.text);
      } catch (err) {
        // Preparing sees only the SQL, so its message (no such column, syntax) names the extract's own text, never a row.
        throw new FerryError('source_query', `${who}: query failed: ${(err as Error).message}`, { integration: opts.integration, field: 'query.sql', cause: err });
      }
      if (!stmt.reader) throw new FerryError('source_query', `${who}: query returns no rows (is it a SELECT?)`, { integration: opts.integration, field: 'query.sql' });
      const columns = stmt.columns().map((c) => c.name);
      const size = options.batchSize ?? 2000;
      let batch: unknown[][] = [];
      let yielded = false;
      try {
        for (const row of stmt.raw(true).iterate(...values) as IterableIterator<unknown[]>) {
          batch.push(row);
          if (batch.length >= size) {
            throwIfAborted(options.signal, who, opts.integration);
            yield { columns, rows: batch as RowBatch['rows'] };
            yielded = true;
            batch = [];
            await tick(); // SQLite reads are synchronous: let timers and I/O breathe between batches.
            throwIfAborted(options.signal, who, opts.integration);
          }
        }
      } catch (err) {
        if (err instanceof FerryError) throw err;
        // While rows are read, SQLite's message may come from a value (a function's error over a row): only its code.
        const code = (err as { code?: unknown }).code;
        throw new FerryError('source_query', `${who}: SQLite failed the query while reading rows${typeof code === 'string' ? ` (${code})` : ''}`, { integration: opts.integration, field: 'query.sql', cause: err });
      }
      if (batch.length > 0 || !yielded) yield { columns, rows: batch as RowBatch['rows'] };
    },
    async testConnection(): Promise<ConnectionInfo> {
      const conn = open();
      const row = conn.prepare('select sqlite_version() as v').get() as { v: string };
      return { server: `SQLite ${row.v}`, details: { path: opts.path } };
    },
    async close() {
      db?.close();
      db = undefined;
    },
  };
}

function toSqlite(v: BindValue | undefined): string | number | bigint | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  // better-sqlite3 binds every JS number as REAL (2027 would read back as 2027.0); whole numbers go in as INTEGER.
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (Array.isArray(v)) return JSON.stringify(v);
  return v as string | number;
}
