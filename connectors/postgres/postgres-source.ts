import pg from 'pg';
import Cursor from 'pg-cursor';
import { to as copyTo } from 'pg-copy-streams';
import { FerryError } from '../../src/core/errors.js';
import { compileNamedSql } from '../../src/core/named-sql.js';
import type { BoundQuery, ConnectionInfo, CsvCopyRequest, CsvCopyStream, RowBatch, Source, StreamOptions } from '../../src/core/source.js';
import { planCsvCopy } from './csv-copy-plan.js';

export interface PostgresSourceOptions {
  id: string;
  host: string;
  port: number;
  database: string;
  user: string;
  /** Called only when connecting, so the secret is read as late as possible. */
  password?: (() => string) | undefined;
  ssl: boolean | 'require' | 'verify-full';
  connectTimeoutSeconds: number;
  statementTimeoutSeconds?: number | undefined;
  integration?: string | undefined;
}

// Dates, timestamps and big numbers stay as PostgreSQL's text: no JS Date (time zone shifts), no float rounding.
const RAW_TEXT = new Set([1082, 1114, 1184, 20, 1700]);
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (RAW_TEXT.has(oid)) return (v: string) => v;
    return pg.types.getTypeParser(oid, format);
  },
};

/** PostgreSQL source: one connection per run, rows read through a server-side cursor in batches. */
export function createPostgresSource(opts: PostgresSourceOptions): Source {
  const who = `${opts.integration ? `integration ${opts.integration}: ` : ''}source ${opts.id}`;
  let client: pg.Client | undefined;

  const connect = async (signal?: AbortSignal): Promise<pg.Client> => {
    if (client) return client;
    const c = new pg.Client({
      host: opts.host,
      port: opts.port,
      database: opts.database,
      user: opts.user,
      password: opts.password?.(),
      ssl: opts.ssl === false ? false : opts.ssl === 'verify-full' ? { rejectUnauthorized: true } : { rejectUnauthorized: false },
      connectionTimeoutMillis: opts.connectTimeoutSeconds * 1000,
      statement_timeout: opts.statementTimeoutSeconds ? opts.statementTimeoutSeconds * 1000 : undefined,
      application_name: 'ferry',
      options: '-c TimeZone=UTC -c DateStyle=ISO -c default_transaction_read_only=on',
      types,
    });
    c.on('error', () => {
      /* reported through the failing query */
    });
    const onAbort = () => void c.end().catch(() => undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await c.connect();
    } catch (err) {
      throw mapConnectError(err, opts, who);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    client = c;
    return c;
  };

  return {
    kind: 'postgres',
    async *stream(query: BoundQuery, options: StreamOptions = {}): AsyncGenerator<RowBatch> {
      options.signal?.throwIfAborted();
      const conn = await connect(options.signal);
      const compiled = compileNamedSql(query.text, 'dollar');
      const values = compiled.order.map((n) => query.values[n] ?? null);
      const cursor = conn.query(new Cursor(compiled.text, values as unknown[], { rowMode: 'array', types } as Cursor.CursorQueryConfig));
      const size = options.batchSize ?? 5000;
      const onAbort = () => void conn.end().catch(() => undefined);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      let columns: string[] | undefined;
      let done = false;
      try {
        for (;;) {
          let rows: unknown[][];
          try {
            rows = (await cursor.read(size)) as unknown[][];
          } catch (err) {
            done = true; // a failed read leaves no portal to close
            options.signal?.throwIfAborted();
            throw new FerryError('source_query', `${who}: query failed: ${(err as Error).message}`, { integration: opts.integration, field: 'query.sql', cause: err });
          }
          columns ??= ((cursor as unknown as { _result: { fields: { name: string }[] } })._result.fields ?? []).map((f) => f.name);
          if (rows.length === 0) {
            done = true;
            yield { columns, rows: [] };
            return;
          }
          yield { columns, rows: rows as RowBatch['rows'] };
        }
      } finally {
        options.signal?.removeEventListener('abort', onAbort);
        // Closing the portal waits for the server's reply; after an abort the connection is gone and that wait would never end.
        if (!done && !options.signal?.aborted) await cursor.close().catch(() => undefined);
      }
    },
    async copyCsv(req: CsvCopyRequest): Promise<CsvCopyStream | undefined> {
      const conn = await connect(req.signal);
      const plan = await planCsvCopy(conn, req.query, req.columns, req.format, req.withheld);
      if (!plan) return undefined;
      for (const [name, value] of plan.settings) await conn.query('SELECT set_config($1, $2, false)', [name, value]);
      const stream = conn.query(copyTo(plan.copySql, { highWaterMark: 1 << 20 }));
      const onAbort = () => {
        stream.destroy(req.signal?.reason instanceof Error ? req.signal.reason : new Error('aborted'));
        void conn.end().catch(() => undefined);
      };
      req.signal?.addEventListener('abort', onAbort, { once: true });
      async function* body(): AsyncGenerator<Buffer> {
        try {
          for await (const chunk of stream) yield chunk as Buffer;
        } catch (err) {
          req.signal?.throwIfAborted();
          throw new FerryError('source_query', `${who}: query failed: ${(err as Error).message}`, { integration: opts.integration, field: 'query.sql', cause: err });
        } finally {
          req.signal?.removeEventListener('abort', onAbort);
        }
      }
      return { body: body(), rowCount: () => stream.rowCount };
    },
    async testConnection(options = {}): Promise<ConnectionInfo> {
      const conn = await connect(options.signal);
      const res = await conn.query<{ v: string; db: string }>('select current_setting(\'server_version\') as v, current_database() as db');
      const row = res.rows[0]!;
      return { server: `PostgreSQL ${row.v}`, details: { database: row.db } };
    },
    async close() {
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}

function mapConnectError(err: unknown, opts: PostgresSourceOptions, who: string): FerryError {
  const e = err as NodeJS.ErrnoException & { code?: string };
  const field = (f: string) => `sources.${opts.id}.${f}`;
  const base = { integration: opts.integration, cause: err };
  switch (e.code) {
    case '28P01':
    case '28000':
      return new FerryError('source_auth', `${who}: PostgreSQL refused the login for user ${opts.user} (wrong password or not allowed)`, { ...base, field: field('password') });
    case '3D000':
      return new FerryError('source_auth', `${who}: database ${opts.database} does not exist on ${opts.host}:${opts.port}`, { ...base, field: field('database') });
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
    case 'ETIMEDOUT':
    case 'ECONNRESET':
      return new FerryError('source_connect', `${who}: cannot reach PostgreSQL at ${opts.host}:${opts.port} (${e.code})`, { ...base, field: field('host') });
    default:
      if (/timeout/i.test(e.message ?? '')) {
        return new FerryError('source_connect', `${who}: timed out connecting to PostgreSQL at ${opts.host}:${opts.port}`, { ...base, field: field('host') });
      }
      return new FerryError('source_connect', `${who}: cannot connect to PostgreSQL at ${opts.host}:${opts.port}: ${e.message}`, { ...base, field: field('host') });
  }
}
