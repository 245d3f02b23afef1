/**
 * One error type for everything Ferry reports to a user. `kind` says what went wrong,
 * `retryable` comes from one table (RETRYABLE below), and the original error is always kept as `cause`.
 * The message is one plain sentence that names the integration and the field where known,
 * and never contains secrets or row data.
 */
export const ERROR_KINDS = [
  'config', // bad configuration file or field
  'params', // bad parameter value
  'source_connect', // database/API unreachable
  'source_auth', // wrong credentials for a source
  'source_query', // the query failed (bad SQL, missing table…)
  'source_transient', // the database gave up on the query for now (deadlock, serialization failure): try again
  'columns', // result columns do not match the extract's declared columns
  'format', // a value cannot be written in the output format
  'empty_result', // the extract returned no rows; nothing is delivered
  'destination_connect',
  'destination_auth', // the login was refused
  'destination_permission', // logged in, but the server refuses to write a folder or file
  'host_key', // SFTP host key not pinned or changed
  'path', // remote path escapes the base folder
  'upload',
  'spool', // local spool file could not be written
  'aborted', // shutdown: the run was stopped, not failed
  'timeout', // the run went on longer than the integration's timeoutMinutes
  'already_running',
  'superseded', // a newer slot already delivered this file: the run sends nothing
  'internal',
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

const RETRYABLE: Record<ErrorKind, boolean> = {
  config: false,
  params: false,
  source_connect: true,
  source_auth: false,
  source_query: false,
  source_transient: true,
  columns: false,
  format: false,
  empty_result: false,
  destination_connect: true,
  destination_auth: false,
  destination_permission: false,
  host_key: false,
  path: false,
  upload: true,
  spool: false,
  aborted: true,
  timeout: true,
  already_running: false,
  superseded: false,
  internal: false,
};

export interface FerryErrorOptions {
  cause?: unknown;
  integration?: string;
  field?: string;
  /** A run that failed after reading: what it read and what the source said it holds, for the run record. */
  counts?: RunCounts;
}

export interface RunCounts {
  rows: number;
  expected?: number | undefined;
}

export class FerryError extends Error {
  readonly kind: ErrorKind;
  readonly retryable: boolean;
  readonly integration: string | undefined;
  readonly field: string | undefined;
  readonly counts: RunCounts | undefined;

  constructor(kind: ErrorKind, message: string, options: FerryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FerryError';
    this.kind = kind;
    this.retryable = RETRYABLE[kind];
    this.integration = options.integration;
    this.field = options.field;
    this.counts = options.counts;
  }
}

export function isFerryError(err: unknown): err is FerryError {
  return err instanceof FerryError;
}

/** Wrap anything thrown into a FerryError, keeping it as cause. */
export function toFerryError(err: unknown, fallbackKind: ErrorKind = 'internal'): FerryError {
  if (err instanceof FerryError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new FerryError(fallbackKind, message, { cause: err });
}
