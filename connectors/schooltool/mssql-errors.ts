import type { ErrorKind } from '../../src/core/errors.js';
import { NOT_ENCRYPTED } from './require-encryption.js';

/**
 * The one table that says what a SQL Server (mssql/tedious) failure means. Server errors are matched by error number,
 * everything else by mssql's code. Server messages are shown only for the numbers whose text names the extract's own
 * SQL (syntax, unknown table or column): a conversion error quotes the value (`… converting the varchar value 'Maria'
 * to data type int`), so it is never repeated.
 */
export type MssqlPhase = 'connect' | 'query';

export interface MssqlErrorClass {
  kind: ErrorKind;
  /** A few words for the message; `{database}` and `{user}` stand for the source's settings. */
  what: string;
  /** "error 1205" or the mssql code, for the message. */
  code: string | undefined;
  /** Which source option the user would look at, if any ('query.sql' for the extract's SQL). */
  option?: 'host' | 'password' | 'database' | 'instanceName' | 'requestTimeoutSeconds' | 'query.sql' | 'encrypt' | 'sslCa';
  /** The server's own message may be shown (it names the SQL or the login, never row values). */
  showMessage: boolean;
}

type Row = readonly [kind: ErrorKind, what: string, option?: MssqlErrorClass['option'], showMessage?: boolean];

const BY_NUMBER = new Map<number, Row>([
  [18456, ['source_auth', 'refused the login for user {user} (wrong password, or the login is not allowed)', 'password', true]],
  [4060, ['source_auth', 'would not open database {database} for user {user}', 'database', true]],
  [1205, ['source_transient', 'chose the query as a deadlock victim']],
  [1222, ['source_transient', 'timed out waiting for a lock']],
  [40613, ['source_transient', 'has the database unavailable for now (Azure SQL)']],
  [40197, ['source_transient', 'failed over while processing the request (Azure SQL)']],
  [40501, ['source_transient', 'is busy and throttled the request (Azure SQL)']],
  [49918, ['source_transient', 'has not enough resources right now (Azure SQL)']],
  [49919, ['source_transient', 'has not enough resources right now (Azure SQL)']],
  [49920, ['source_transient', 'is too busy right now (Azure SQL)']],
  [10928, ['source_transient', 'has reached a resource limit for now (Azure SQL)']],
  [10929, ['source_transient', 'has reached a resource limit for now (Azure SQL)']],
  [233, ['source_transient', 'closed the connection']],
  [10053, ['source_transient', 'closed the connection']],
  [10054, ['source_transient', 'closed the connection']],
  // Compile errors: the message names the SQL's own objects.
  [102, ['source_query', 'rejected the query', 'query.sql', true]],
  [156, ['source_query', 'rejected the query', 'query.sql', true]],
  [207, ['source_query', 'rejected the query', 'query.sql', true]],
  [208, ['source_query', 'rejected the query', 'query.sql', true]],
  [2812, ['source_query', 'rejected the query', 'query.sql', true]],
  [4104, ['source_query', 'rejected the query', 'query.sql', true]],
  [8144, ['source_query', 'rejected the query', 'query.sql', true]],
  // Data errors: the message quotes the value.
  [241, ['source_query', 'could not convert a date or time value in the data', 'query.sql']],
  [242, ['source_query', 'could not convert a date or time value in the data', 'query.sql']],
  [245, ['source_query', 'could not convert a value in the data', 'query.sql']],
  [8114, ['source_query', 'could not convert a value in the data', 'query.sql']],
  [8115, ['source_query', 'hit an arithmetic overflow on a value in the data', 'query.sql']],
  [8134, ['source_query', 'divided by zero on a value in the data', 'query.sql']],
  [2628, ['source_query', 'would have truncated a value in the data', 'query.sql']],
  [8152, ['source_query', 'would have truncated a value in the data', 'query.sql']],
]);

/** mssql's codes for a connection that broke (or was closed) under a request. */
const LOST = new Set(['ESOCKET', 'ECONNRESET', 'ECONNCLOSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT']);

export function classifyMssqlError(err: unknown, phase: MssqlPhase): MssqlErrorClass {
  const e = err as { code?: unknown; number?: unknown; message?: unknown; originalError?: { code?: unknown; info?: { number?: unknown } } };
  const number = typeof e.number === 'number' ? e.number : typeof e.originalError?.info?.number === 'number' ? e.originalError.info.number : undefined;
  // A request on a lost connection carries the socket's code, sometimes only on the original error.
  const rawCode = typeof e.code === 'string' ? e.code : undefined;
  const code = rawCode === 'EREQUEST' && number === undefined && typeof e.originalError?.code === 'string' ? e.originalError.code : rawCode;
  const message = typeof e.message === 'string' ? e.message : '';
  const tlsCode = certificateCode(e);
  if (tlsCode) {
    return { kind: 'source_auth', what: `presented a TLS certificate that cannot be verified (${tlsCode}): give the CA that signed it as sslCa`, code: undefined, option: 'sslCa', showMessage: false };
  }
  const row = number === undefined ? undefined : BY_NUMBER.get(number);
  const label = number === undefined ? code : `error ${number}`;
  if (row) return { kind: row[0], what: row[1], code: label, showMessage: row[3] === true, ...(row[2] ? { option: row[2] } : {}) };
  switch (code) {
    case NOT_ENCRYPTED:
      return { kind: 'source_connect', what: 'does not encrypt the connection (its PRELOGIN answer offers no TLS) while encrypt is on: neither the login nor a query was sent; give the server a certificate, or set encrypt: false only on a trusted network', code: undefined, option: 'encrypt', showMessage: false };
    case 'ELOGIN':
      return { kind: 'source_auth', what: 'refused the login for user {user} (wrong password, or the login is not allowed)', code, option: 'password', showMessage: true };
    case 'EINSTLOOKUP':
      return { kind: 'source_connect', what: 'has no instance of that name (SQL Server Browser lookup failed)', code, option: 'instanceName', showMessage: true };
    case 'ETIMEOUT':
      return phase === 'connect'
        ? { kind: 'source_connect', what: 'did not answer the connection in time', code, option: 'host', showMessage: false }
        : { kind: 'source_query', what: 'did not finish the query within requestTimeoutSeconds', code, option: 'requestTimeoutSeconds', showMessage: false };
    case 'EPARAM':
    case 'EARGS':
    case 'EINJECT':
    case 'EDUPEPARAM':
      return { kind: 'params', what: 'refused a query parameter', code, option: 'query.sql', showMessage: true };
    case 'EREQUEST':
      return { kind: 'source_query', what: 'failed the query', code: label, option: 'query.sql', showMessage: false };
  }
  if (phase === 'connect') return { kind: 'source_connect', what: 'could not be connected to', code, option: 'host', showMessage: true };
  if ((code !== undefined && LOST.has(code)) || /connection lost|socket hang up/i.test(message)) {
    return { kind: 'source_transient', what: 'lost the connection mid-query', code, showMessage: false };
  }
  return { kind: 'source_query', what: 'failed the query', code, option: 'query.sql', showMessage: false };
}

/** Node's codes for a certificate that did not verify, found on the error or the errors it wraps. */
const CERTIFICATE = /^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|ERR_TLS_CERT_ALTNAME_INVALID)$/;

function certificateCode(err: unknown): string | undefined {
  let e = err as { code?: unknown; originalError?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 4; depth++) {
    if (typeof e.code === 'string' && CERTIFICATE.test(e.code)) return e.code;
    e = (e.originalError ?? e.cause) as typeof e;
  }
  return undefined;
}
