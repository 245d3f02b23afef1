import pg from 'pg';
import Cursor from 'pg-cursor';
import { to as copyTo } from 'pg-copy-streams';
import { FerryError } from '../../src/core/errors.js';
import { abortedError, throwIfAborted } from '../aborted.js';
import { classifyPgError, showsServerMessage, type PgPhase } from './pg-errors.js';
import { compileNamedSql } from '../../src/core/named-sql.js';
import type { BoundQuery, ConnectionInfo, CsvCopyRequest, CsvCopyStream, RowBatch, Source, StreamOptions } from '../../src/core/source.js';
import { planCsvCopy } from './csv-copy-plan.js';
import { isLoopbackHost } from '../../src/core/loopback.js';

export interface PostgresSourceOptions {
  id: string;
  host: string;
  port: number;
  database: string;
  user: string;
  /** Called only when connecting, so the secret is read as late as possible. */
  password?: (() => string) | undefined;
  /** See the `ssl` setting in config/schema.ts: unset verifies the certificate unless the host is loopback. */
  ssl?: boolean | 'require' | 'verify-full' | 'insecure-no-verify' | undefined;
  /** The CA's PEM text (sslCa), read when connecting. */
  sslCa?: (() => string) | undefined;
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
  /** A connection that ended, or may have (lost, terminated, aborted), is dropped, so the next read connects afresh. */
  const forget = (c: pg.Client) => {
    if (client === c) client = undefined;
    void c.end().catch(() => undefined);
  };
  const fail = (err: unknown, phase: PgPhase, conn?: pg.Client, signal?: AbortSignal): FerryError => {
    if (signal?.aborted) return abortedError(signal, who, opts.integration);
    const fe = pgFailure(err, phase, opts, who);
    if (conn && fe.kind === 'source_transient') forget(conn);
    return fe;
  };

  const connect = async (signal?: AbortSignal): Promise<pg.Client> => {
    if (client) return client;
    const c = new pg.Client({
      host: opts.host,
      port: opts.port,
      database: opts.database,
      user: opts.user,
      password: opts.password?.(),
      ssl: tlsOptions(opts),
      connectionTimeoutMillis: opts.connectTimeoutSeconds * 1000,
      statement_timeout: opts.statementTimeoutSeconds ? opts.statementTimeoutSeconds * 1000 : undefined,
      application_name: 'ferry',
      options: '-c TimeZone=UTC -c DateStyle=ISO -c default_transaction_read_only=on',
      types,
    });
    c.on('error', () => {
      /* reported through the failing query */
    });
    c.on('end', () => {
      if (client === c) client = undefined;
    });
    const onAbort = () => void c.end().catch(() => undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await c.connect();
    } catch (err) {
      throw fail(err, 'connect', undefined, signal);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    client = c;
    return c;
  };

  return {
    kind: 'postgres',
    async *stream(query: BoundQuery, options: StreamOptions = {}): AsyncGenerator<RowBatch> {
      const { signal } = options;
      throwIfAborted(signal, who, opts.integration);
      const conn = await connect(signal);
      const compiled = compileNamedSql(query.text, 'dollar');
      const values = compiled.order.map((n) => query.values[n] ?? null);
      const cursor = conn.query(new Cursor(compiled.text, values as unknown[], { rowMode: 'array', types } as Cursor.CursorQueryConfig));
      const size = options.batchSize ?? 5000;
      const onAbort = () => forget(conn);
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
            throw fail(err, 'query', conn, signal);
          }
          throwIfAborted(signal, who, opts.integration);
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
      let plan: Awaited<ReturnType<typeof planCsvCopy>>;
      try {
        plan = await planCsvCopy(conn, req.query, req.columns, req.format, req.withheld);
        if (!plan) return undefined;
        for (const [name, value] of plan.settings) await conn.query('SELECT set_config($1, $2, false)', [name, value]);
      } catch (err) {
        throw fail(err, 'query', conn, req.signal);
      }
      const stream = conn.query(copyTo(plan.copySql, { highWaterMark: 1 << 20 }));
      const onAbort = () => {
        stream.destroy(req.signal?.reason instanceof Error ? req.signal.reason : new Error('aborted'));
        forget(conn);
      };
      req.signal?.addEventListener('abort', onAbort, { once: true });
      async function* body(): AsyncGenerator<Buffer> {
        try {
          for await (const chunk of stream) yield chunk as Buffer;
        } catch (err) {
          throw fail(err, 'query', conn, req.signal);
        } finally {
          req.signal?.removeEventListener('abort', onAbort);
        }
      }
      return { body: body(), rowCount: () => stream.rowCount };
    },
    async testConnection(options = {}): Promise<ConnectionInfo> {
      const conn = await connect(options.signal);
      let res: pg.QueryResult<{ v: string; db: string }>;
      try {
        res = await conn.query<{ v: string; db: string }>('select current_setting(\'server_version\') as v, current_database() as db');
      } catch (err) {
        throw fail(err, 'query', conn, options.signal);
      }
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

/** TLS for node-postgres: verified unless the config says otherwise in so many words (ssl: false or 'insecure-no-verify'). */
function tlsOptions(opts: PostgresSourceOptions): false | { rejectUnauthorized: boolean; ca?: string } {
  const ssl = opts.ssl ?? !isLoopbackHost(opts.host);
  if (ssl === false) return false;
  if (ssl === 'insecure-no-verify') return { rejectUnauthorized: false };
  return { rejectUnauthorized: true, ...(opts.sslCa ? { ca: opts.sslCa() } : {}) };
}

/** A driver error as one sentence: the table decides the kind; the server's text is shown only where it holds no row data. */
function pgFailure(err: unknown, phase: PgPhase, opts: PostgresSourceOptions, who: string): FerryError {
  const c = classifyPgError(err, phase);
  const what = c.what.replace('{user}', opts.user).replace('{database}', opts.database);
  const code = c.code === undefined ? '' : c.sqlstate ? ` (SQLSTATE ${c.code})` : ` (${c.code})`;
  const detail = c.sqlstate && showsServerMessage(c.code) ? `: ${(err as Error).message}` : '';
  const field = c.option !== undefined ? `sources.${opts.id}.${c.option}` : c.kind === 'source_query' ? 'query.sql' : undefined;
  return new FerryError(c.kind, `${who}: PostgreSQL at ${opts.host}:${opts.port} ${what}${code}${detail}`, { integration: opts.integration, cause: err, ...(field ? { field } : {}) });
}
