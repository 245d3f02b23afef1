import type { ErrorKind } from '../../src/core/errors.js';

/**
 * The one table that says what an SIS API failure means, for both API connectors. `retry` says whether the HTTP
 * client tries again in place (with backoffMs) before giving up with `kind`; the kind's own `retryable` (errors.ts)
 * then says whether the run is tried again later.
 */
export interface HttpFailureClass {
  kind: ErrorKind;
  retry: boolean;
}

/** The client's own codes, beside Node's and axios's. */
export const TIMEOUT = 'TIMEOUT'; // the per-request deadline (timeoutSeconds) passed
export const BAD_JSON = 'BAD_JSON'; // a 200 whose body does not parse: cut off in transit

const BY_CODE: Readonly<Record<string, HttpFailureClass>> = {
  // The server was never reached.
  ECONNREFUSED: { kind: 'source_connect', retry: true },
  ENOTFOUND: { kind: 'source_connect', retry: true },
  EAI_AGAIN: { kind: 'source_connect', retry: true },
  EHOSTUNREACH: { kind: 'source_connect', retry: true },
  ENETUNREACH: { kind: 'source_connect', retry: true },
  ERR_SOCKET_CONNECTION_TIMEOUT: { kind: 'source_connect', retry: true },
  [TIMEOUT]: { kind: 'source_connect', retry: true },
  // The exchange broke part-way: the next attempt may well work.
  ECONNRESET: { kind: 'source_transient', retry: true },
  EPIPE: { kind: 'source_transient', retry: true },
  ECONNABORTED: { kind: 'source_transient', retry: true },
  ETIMEDOUT: { kind: 'source_transient', retry: true },
  ERR_BAD_RESPONSE: { kind: 'source_transient', retry: true },
  [BAD_JSON]: { kind: 'source_transient', retry: true },
};

/** A failure without a response: by code; unknown codes (TLS certificate problems …) are not retried in place. */
export function classifyNetworkFailure(code: string): HttpFailureClass {
  return BY_CODE[code] ?? { kind: 'source_connect', retry: false };
}

/**
 * An answer by status; undefined for 2xx. 501 and 505 say the server will never do it, so they are not retried.
 * A connector may say more about a 403/404 on a data endpoint (not enabled) and keeps the kind this gives for the rest.
 */
export function classifyStatus(status: number): HttpFailureClass | undefined {
  if (status >= 200 && status < 300) return undefined;
  if (status === 429) return { kind: 'source_transient', retry: true };
  if (status >= 500 && status !== 501 && status !== 505) return { kind: 'source_transient', retry: true };
  if (status === 401 || status === 403) return { kind: 'source_auth', retry: false };
  return { kind: 'source_query', retry: false };
}
