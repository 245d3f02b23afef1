/**
 * A TDS 7.4 test server on loopback, backed by a SQLite file: enough of SQL Server for the real mssql/tedious client
 * to log in, run batches and sp_executesql with typed parameters, stream large results under back-pressure, get SQL
 * errors, and cancel with ATTENTION. Without `tls` it speaks cleartext only (PRELOGIN answers ENCRYPT_NOT_SUP, as a
 * server without a certificate does): clients use `encrypt: false`. With `tls` it insists on TLS, inside PRELOGIN
 * (TDS 7.x, `encrypt: true`) or from the first byte (TDS 8.0, `encrypt: 'strict'`); see tls.ts.
 * See sqlite-session.ts for the T-SQL it understands.
 */
import net, { type AddressInfo } from 'node:net';
import { TdsConnection, type ServerContext } from './connection.js';
import type { BindValue } from './requests.js';
import type { TdsTlsOptions } from './tls.js';

export interface TdsServerOptions {
  /** Path of the SQLite database file the server answers from. */
  db: string;
  user: string;
  password: string;
  port?: number;
  /** SERVERPROPERTY('ProductVersion'), also sent in LOGINACK; default 16.0.4135.4 (SQL Server 2022). */
  serverVersion?: string;
  /** SQL Server type names by result column name, for columns SQLite types loosely (e.g. `{ birth_date: 'DATE' }`). */
  columnTypes?: Record<string, string>;
  /** Faults for the next query (a live object: set fields between reads). */
  faults?: TdsFaultPlan;
  /** Certificate and key (PEM): the server then requires TLS. */
  tls?: TdsTlsOptions;
}

/**
 * What the next result does part-way, as SQL Server can: each fault fires once, on the first query that sends that
 * many rows, then clears itself.
 */
export interface TdsFaultPlan {
  /** Close the socket after this many rows (a failover, a killed session, a network drop). */
  dropAfterRows?: number;
  /** Send this server error after `rows` rows and end the result (1205: chosen as the deadlock victim). */
  errorAfterRows?: { rows: number; number: number; class?: number; message: string };
}

/** A statement the server received, as the client sent it (for asserting that values travel as parameters). */
export interface ReceivedStatement {
  readonly kind: 'batch' | 'rpc';
  readonly statement: string;
  readonly declaration: string;
  readonly values: Readonly<Record<string, BindValue>>;
}

/** A successful login, as the client described itself in LOGIN7. */
export interface ReceivedLogin {
  readonly user: string;
  readonly database: string;
  readonly appName: string;
  readonly readOnlyIntent: boolean;
  readonly packetSize: number;
  /** The login arrived over TLS. */
  readonly encrypted: boolean;
}

export interface TdsServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Client connections open right now. */
  connections(): number;
  /** ATTENTION (cancel) messages received so far. */
  attentions(): number;
  /** Times a response had to wait for the client to read (socket back-pressure) so far. */
  stalls(): number;
  /** Statements received so far (SET-only batches included), oldest first. */
  statements(): readonly ReceivedStatement[];
  /** Successful logins so far, oldest first. */
  logins(): readonly ReceivedLogin[];
  /** LOGIN7 messages received so far, successful or not (a client that must not log in sends none). */
  login7s(): number;
  /** The live fault plan (the one passed in, or an empty one). */
  readonly faults: TdsFaultPlan;
  /** Resolves once `predicate` holds, re-checked on every event the counters above record. */
  waitFor(predicate: () => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startTdsServer(opts: TdsServerOptions): Promise<TdsServer> {
  const sockets = new Set<net.Socket>();
  const received: ReceivedStatement[] = [];
  const logins: ReceivedLogin[] = [];
  const watchers = new Set<() => void>();
  let attentions = 0;
  let login7s = 0;
  let stalls = 0;
  const changed = () => {
    for (const watch of [...watchers]) watch();
  };
  const [major = 16, minor = 0, build = 4135] = (opts.serverVersion ?? '16.0.4135.4').split('.').map(Number);
  const faults: TdsFaultPlan = opts.faults ?? {};
  const ctx: ServerContext = {
    opts,
    faults,
    version: [major, minor, build],
    onAttention: () => {
      attentions++;
      changed();
    },
    onStall: () => {
      stalls++;
      changed();
    },
    onStatement: (s) => {
      received.push(s);
      changed();
    },
    onLogin: (l) => {
      logins.push(l);
      changed();
    },
    onLogin7: () => {
      login7s++;
      changed();
    },
  };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      changed();
    });
    new TdsConnection(socket, ctx);
    changed();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  let closing: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    connections: () => sockets.size,
    attentions: () => attentions,
    stalls: () => stalls,
    statements: () => [...received],
    logins: () => [...logins],
    login7s: () => login7s,
    faults,
    waitFor(predicate, timeoutMs = 10_000) {
      if (predicate()) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          watchers.delete(watch);
          reject(new Error(`TDS test server: condition not reached within ${timeoutMs} ms`));
        }, timeoutMs);
        const watch = () => {
          if (!predicate()) return;
          clearTimeout(timer);
          watchers.delete(watch);
          resolve();
        };
        watchers.add(watch);
      });
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}
