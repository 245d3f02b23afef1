import sql from 'mssql';
import { FerryError } from '../../src/core/errors.js';
import { abortedError, throwIfAborted } from '../aborted.js';
import { classifyMssqlError, type MssqlPhase } from './mssql-errors.js';
import { refuseCleartext } from './require-encryption.js';
import type { BoundQuery, CellValue, ConnectionInfo, RowBatch, Source, StreamOptions } from '../../src/core/source.js';
import { converterFor, typedParameters, type ColumnMeta, type Convert } from './tsql-values.js';

export interface SchoolToolSourceOptions {
  id: string;
  host: string;
  /** TCP port (default 1433); give either this or `instanceName`. */
  port?: number | undefined;
  /** Named instance, resolved through the SQL Server Browser service. */
  instanceName?: string | undefined;
  database: string;
  user: string;
  /** Called only when connecting, so the secret is read as late as possible. */
  password?: (() => string) | undefined;
  /**
   * true: TLS inside the TDS 7.x handshake; a server that answers it cannot encrypt gets neither the login nor a query
   * (see require-encryption.ts). 'strict': TDS 8.0, TLS before anything else (SQL Server 2022+). false: cleartext.
   */
  encrypt: boolean | 'strict';
  trustServerCertificate: boolean;
  /** The CA's PEM text (sslCa), read when connecting. */
  sslCa?: (() => string) | undefined;
  connectTimeoutSeconds: number;
  requestTimeoutSeconds: number;
  readOnlyIntent: boolean;
  integration?: string | undefined;
}

/** Production query for testConnection: real T-SQL, reads no student data. */
const VERSION_SQL = "SELECT CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128)) AS version, DB_NAME() AS db";
/** Batches a stream may hold ahead of its consumer before it pauses the request (and, through TCP, the server). */
const BATCHES_AHEAD = 2;

/**
 * SchoolTool source: SQL Server through mssql (tedious), one pooled connection per source. Extracts are T-SQL with
 * `@name` parameters bound by type (see tsql-values.ts); rows stream in batches, and the request pauses while the
 * consumer is behind, so memory does not grow with the result.
 */
export function createSchoolToolSource(opts: SchoolToolSourceOptions): Source {
  const who = `${opts.integration ? `integration ${opts.integration}: ` : ''}source ${opts.id}`;
  const where = opts.instanceName ? `${opts.host}\\${opts.instanceName}` : `${opts.host}:${opts.port ?? 1433}`;
  const fail = (err: unknown, phase: MssqlPhase, secret?: string) => mapError(err, phase, opts, who, where, secret);
  let opened: Promise<{ pool: sql.ConnectionPool; secret: string }> | undefined;
  const closing = new Set<Promise<void>>();
  /** Streams in flight; close() cancels them, since closing the pool waits for their connection. */
  const streaming = new Set<(reason: FerryError) => void>();

  /** Closes the current pool (after its request, if any, has finished or been cancelled); the next use opens a new one. */
  const retire = (): Promise<void> => {
    const current = opened;
    opened = undefined;
    if (!current) return Promise.resolve();
    const done = current.then(({ pool }) => pool.close()).then(
      () => undefined,
      () => undefined,
    );
    closing.add(done);
    void done.finally(() => closing.delete(done));
    return done;
  };

  const connect = async (signal?: AbortSignal): Promise<{ pool: sql.ConnectionPool; secret: string }> => {
    throwIfAborted(signal, who, opts.integration);
    if (!opened) {
      const secret = opts.password?.() ?? '';
      const pool = new sql.ConnectionPool(poolConfig(opts, secret));
      pool.on('error', () => {
        /* reported through the failing request */
      });
      const attempt = pool.connect().then(
        () => ({ pool, secret }),
        (err: unknown) => {
          throw fail(err, 'connect', secret);
        },
      );
      opened = attempt;
      attempt.catch(() => {
        if (opened === attempt) opened = undefined;
      });
    }
    // mssql cannot interrupt a login; an abort returns at once and the pool is closed when the login settles.
    return await untilAborted(opened, signal, () => void retire(), () => abortedError(signal!, who, opts.integration));
  };

  return {
    kind: 'schooltool',
    async *stream(query: BoundQuery, options: StreamOptions = {}): AsyncGenerator<RowBatch> {
      const { signal } = options;
      const { pool, secret } = await connect(signal);
      const request = pool.request();
      request.stream = true;
      request.arrayRowMode = true;
      try {
        for (const p of typedParameters(query)) request.input(p.name, p.type, p.value);
      } catch (err) {
        throw new FerryError('params', `${who}: cannot bind the query's parameters: ${(err as Error).message}`, { integration: opts.integration, field: 'query.sql', cause: err });
      }

      const size = options.batchSize ?? 2000;
      const ready: CellValue[][][] = [];
      let batch: CellValue[][] = [];
      let columns: string[] | undefined;
      let convert: Convert[] = [];
      let failure: unknown;
      let finished = false;
      let stopped = false;
      let paused = false;
      let wake: (() => void) | undefined;
      const notify = () => {
        const w = wake;
        wake = undefined;
        w?.();
      };
      const stop = (reason?: FerryError) => {
        if (stopped || finished) return;
        if (reason) failure ??= reason; // the consumer must see an error, not a result cut short
        stopped = true;
        request.cancel(); // sends ATTENTION; tedious resumes a paused request to read up to the server's acknowledgement
        notify();
      };
      streaming.add(stop);

      request.on('recordset', (meta: ColumnMeta[]) => {
        if (columns !== undefined) {
          stop(new FerryError('source_query', `${who}: the query returns more than one result set; an extract must return exactly one`, { integration: opts.integration, field: 'query.sql' }));
        } else {
          columns = meta.map((c) => c.name);
          convert = meta.map(converterFor);
        }
        notify();
      });
      request.on('row', (row: unknown[]) => {
        if (stopped || failure !== undefined) return;
        const cells = new Array<CellValue>(row.length);
        for (let i = 0; i < row.length; i++) cells[i] = convert[i]!(row[i]);
        batch.push(cells);
        if (batch.length < size) return;
        ready.push(batch);
        batch = [];
        if (ready.length >= BATCHES_AHEAD && !paused) {
          paused = true;
          request.pause();
        }
        notify();
      });
      request.on('error', (err: unknown) => {
        if (!stopped) failure ??= err;
        notify();
      });
      request.on('done', () => {
        finished = true;
        notify();
      });
      const onAbort = () => {
        stop();
        void retire(); // an abort also closes the pool; it finishes once the cancelled request has let go of the connection
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      request.query(query.text).catch(() => {
        /* in stream mode failures arrive as 'error' events */
      });

      let yielded = false;
      try {
        for (;;) {
          throwIfAborted(signal, who, opts.integration);
          const rows = ready.shift();
          if (rows) {
            if (paused && ready.length < BATCHES_AHEAD) {
              paused = false;
              request.resume();
            }
            yielded = true;
            yield { columns: columns!, rows };
            continue;
          }
          if (failure !== undefined) throw failure instanceof FerryError ? failure : fail(failure, 'query', secret);
          if (finished) {
            if (columns === undefined) {
              throw new FerryError('source_query', `${who}: the query returned no result set (is it a SELECT?)`, { integration: opts.integration, field: 'query.sql' });
            }
            if (batch.length > 0 || !yielded) yield { columns, rows: batch };
            return;
          }
          await new Promise<void>((resolve) => (wake = resolve));
        }
      } finally {
        signal?.removeEventListener('abort', onAbort);
        streaming.delete(stop);
        stop(); // the consumer stopped early: cancel, so the connection goes back to the pool
      }
    },

    async testConnection(options = {}): Promise<ConnectionInfo> {
      const { pool, secret } = await connect(options.signal);
      const request = pool.request();
      const onAbort = () => request.cancel();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        const result = await request.query<{ version: string; db: string }>(VERSION_SQL);
        const row = result.recordset[0];
        return { server: `SQL Server ${row?.version ?? 'unknown version'}`, details: { database: row?.db ?? opts.database } };
      } catch (err) {
        throwIfAborted(options.signal, who, opts.integration);
        throw fail(err, 'query', secret);
      } finally {
        options.signal?.removeEventListener('abort', onAbort);
      }
    },

    async close() {
      const closed = new FerryError('aborted', `${who}: the source was closed while a query was still streaming`, { integration: opts.integration });
      for (const stop of [...streaming]) stop(closed);
      await retire();
      await Promise.all([...closing]);
    },
  };
}

function poolConfig(opts: SchoolToolSourceOptions, password: string): sql.config {
  const options: sql.IOptions = {
    encrypt: opts.encrypt,
    trustServerCertificate: opts.trustServerCertificate,
    readOnlyIntent: opts.readOnlyIntent,
    ...(opts.sslCa ? { cryptoCredentialsDetails: { ca: opts.sslCa() } } : {}),
    appName: 'ferry',
    // Dates are sent and read as UTC calendar values, never through the process time zone.
    useUTC: true,
  };
  if (opts.instanceName) options.instanceName = opts.instanceName;
  return {
    server: opts.host,
    ...(opts.instanceName ? {} : { port: opts.port ?? 1433 }),
    database: opts.database,
    user: opts.user,
    password,
    connectionTimeout: opts.connectTimeoutSeconds * 1000,
    requestTimeout: opts.requestTimeoutSeconds * 1000,
    // One connection per source: a run reads one query at a time, and a district's server is not ours to load.
    pool: { max: 1, min: 0 },
    // Check a pooled connection's socket instead of running SELECT 1 before every request.
    validateConnection: 'socket',
    options,
    ...(opts.encrypt === true ? { beforeConnect: refuseCleartext } : {}),
  };
}

async function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined, onAbort: () => void, error: () => Error): Promise<T> {
  if (!signal) return work;
  let listener: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    listener = () => {
      onAbort();
      reject(error());
    };
    signal.addEventListener('abort', listener, { once: true });
  });
  try {
    return await Promise.race([work, aborted]);
  } finally {
    signal.removeEventListener('abort', listener!);
  }
}

/** mssql/tedious errors as FerryErrors: the table decides the kind; one sentence naming the integration and source, never the password or a row value. */
function mapError(err: unknown, phase: MssqlPhase, opts: SchoolToolSourceOptions, who: string, where: string, secret?: string): FerryError {
  if (err instanceof FerryError) return err;
  const c = classifyMssqlError(err, phase);
  let detail = '';
  if (c.showMessage) {
    detail = `: ${(err as { message?: string }).message ?? String(err)}`;
    if (secret) detail = detail.split(secret).join('***');
  }
  const what = c.what.replace('{user}', opts.user).replace('{database}', opts.database);
  const code = c.code === undefined ? '' : ` (${c.code})`;
  const field = c.option === undefined ? undefined : c.option === 'query.sql' ? 'query.sql' : `sources.${opts.id}.${c.option}`;
  const limit = c.option === 'requestTimeoutSeconds' ? ` (${opts.requestTimeoutSeconds} s)` : c.code === 'ETIMEOUT' ? ` after ${opts.connectTimeoutSeconds} s` : '';
  return new FerryError(c.kind, `${who}: SQL Server at ${where} ${what}${limit}${code}${detail}`, { integration: opts.integration, cause: err, ...(field ? { field } : {}) });
}
