import type { ErrorKind } from '../../src/core/errors.js';

/**
 * The one table that says what a PostgreSQL (node-postgres) failure means. Server errors are matched by SQLSTATE,
 * exactly or by class (the first two characters); socket errors by errno code; node-postgres's own code-less errors
 * by message. Server messages are not part of the result: a data error quotes the offending value
 * (`invalid input syntax for type integer: "Maria"`), so only the classes whose messages name schema objects
 * (42: syntax, undefined table or column) may be shown — see `showsServerMessage`.
 */
export type PgPhase = 'connect' | 'query';

export interface PgErrorClass {
  kind: ErrorKind;
  /** A few words for the message, e.g. "deadlock detected"; `{user}` and `{database}` stand for the source's settings. */
  what: string;
  /** The SQLSTATE or errno code, when the error had one. */
  code: string | undefined;
  /** Whether `code` is a SQLSTATE from the server (else an errno, or nothing). */
  sqlstate: boolean;
  /** Which source option the user would look at, if any. */
  option?: 'host' | 'password' | 'database' | 'statementTimeoutSeconds' | 'ssl' | 'sslCa';
}

type Row = readonly [code: string, kind: ErrorKind, what: string, option?: PgErrorClass['option']];

const SQLSTATE: readonly Row[] = [
  ['28P01', 'source_auth', 'refused the login for user {user} (wrong password)', 'password'],
  ['28000', 'source_auth', 'refused the login for user {user} (not allowed by pg_hba.conf or the role)', 'password'],
  ['3D000', 'source_auth', 'has no database {database}', 'database'],
  ['40001', 'source_transient', 'cancelled the query (serialization failure)'],
  ['40P01', 'source_transient', 'cancelled the query (deadlock detected)'],
  ['57P01', 'source_transient', 'closed the connection (administrator shutdown or pg_terminate_backend)'],
  ['57P02', 'source_transient', 'closed the connection (crash shutdown)'],
  ['57P03', 'source_transient', 'cannot accept connections right now (starting up or shutting down)'],
  ['53300', 'source_transient', 'has too many connections'],
  ['57014', 'source_query', 'cancelled the query (statement timeout)', 'statementTimeoutSeconds'],
  ['08', 'source_transient', 'lost the connection'],
  ['42', 'source_query', 'rejected the query'],
  ['22', 'source_query', 'could not handle a value in the data'],
  ['23', 'source_query', 'found data that breaks a constraint'],
];

const ERRNO_AT_CONNECT: readonly Row[] = [
  ['ECONNREFUSED', 'source_connect', 'refused the connection (nothing listening)', 'host'],
  ['ENOTFOUND', 'source_connect', 'has a host name that does not resolve', 'host'],
  ['EAI_AGAIN', 'source_connect', 'has a host name that does not resolve right now', 'host'],
  ['EHOSTUNREACH', 'source_connect', 'is unreachable', 'host'],
  ['ENETUNREACH', 'source_connect', 'is unreachable', 'host'],
  ['ETIMEDOUT', 'source_connect', 'did not answer in time', 'host'],
  ['ECONNRESET', 'source_connect', 'dropped the connection while connecting', 'host'],
  ['EPIPE', 'source_connect', 'dropped the connection while connecting', 'host'],
  // TLS: the certificate did not verify. Retrying cannot help; the CA (sslCa) or the server's certificate must change.
  ['DEPTH_ZERO_SELF_SIGNED_CERT', 'source_auth', 'presented a self-signed certificate that no trusted CA signed: give its CA as sslCa', 'sslCa'],
  ['SELF_SIGNED_CERT_IN_CHAIN', 'source_auth', 'presented a certificate from a CA that is not trusted: give that CA as sslCa', 'sslCa'],
  ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'source_auth', 'presented a certificate that no trusted CA signed: give its CA as sslCa', 'sslCa'],
  ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'source_auth', 'presented a certificate that no trusted CA signed: give its CA as sslCa', 'sslCa'],
  ['UNABLE_TO_GET_ISSUER_CERT', 'source_auth', 'presented a certificate that no trusted CA signed: give its CA as sslCa', 'sslCa'],
  ['CERT_HAS_EXPIRED', 'source_auth', 'presented an expired certificate', 'sslCa'],
  ['CERT_NOT_YET_VALID', 'source_auth', 'presented a certificate that is not valid yet', 'sslCa'],
  ['ERR_TLS_CERT_ALTNAME_INVALID', 'source_auth', 'presented a certificate for another host name: connect by a name the certificate holds', 'host'],
];

/** A connection that breaks after it was established: the query may well work next time. */
const LOST = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);
const LOST_MESSAGE = /^Connection terminated unexpectedly$|not queryable|^read ECONNRESET$/;

export function classifyPgError(err: unknown, phase: PgPhase): PgErrorClass {
  const e = err as { code?: unknown; message?: unknown; severity?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const message = typeof e.message === 'string' ? e.message : '';
  // Only the server's ErrorResponse has a severity; its code is a SQLSTATE, anything else's is an errno.
  const fromServer = typeof e.severity === 'string';
  const row = code === undefined ? undefined : fromServer ? sqlstateRow(code) : phase === 'connect' ? ERRNO_AT_CONNECT.find(([c]) => c === code) : undefined;
  const sqlstate = fromServer && code !== undefined;
  if (row) return { kind: row[1], what: row[2], code, sqlstate, ...(row[3] ? { option: row[3] } : {}) };
  if (phase === 'connect') {
    if (/does not support SSL/i.test(message)) return { kind: 'source_connect', what: 'does not offer TLS, and ssl asks for it: turn ssl on at the server (or, on a trusted network only, set ssl: false with allowPlaintext: true)', code, sqlstate, option: 'ssl' };
    if (/timeout/i.test(message)) return { kind: 'source_connect', what: 'did not answer in time', code, sqlstate, option: 'host' };
    return { kind: 'source_connect', what: 'could not be connected to', code, sqlstate, option: 'host' };
  }
  if (!fromServer && ((code !== undefined && LOST.has(code)) || LOST_MESSAGE.test(message))) return { kind: 'source_transient', what: 'lost the connection mid-query', code, sqlstate };
  return { kind: 'source_query', what: 'failed the query', code, sqlstate };
}

function sqlstateRow(code: string): Row | undefined {
  return SQLSTATE.find(([c]) => c === code) ?? SQLSTATE.find(([c]) => c.length === 2 && code.startsWith(c));
}

/** Class 42 messages name tables, columns and syntax from the extract's SQL, never a row's values. */
export function showsServerMessage(code: string | undefined): boolean {
  return code !== undefined && code.startsWith('42');
}
