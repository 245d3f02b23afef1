import type { Sleep } from '../../src/runs/backoff.js';

/** What every OAuth2 client-credentials API source takes, whatever the SIS. */
export interface ApiSourceOptions {
  id: string;
  /** Called when a token is needed, so the secret is read as late as possible. */
  clientId: () => string;
  clientSecret: () => string;
  timeoutSeconds: number;
  /** Requests in flight at once against this district's API. */
  maxConcurrency: number;
  /** Upper bound on records per page; the server's own limit wins when smaller. Default 100. */
  pageSize?: number | undefined;
  /** Attempts after the first for 429, 5xx, dropped connections and timeouts. Default 4. */
  retries?: number | undefined;
  /** Records a read may differ from the source's count by and still pass (`completeness.tolerance`). Default 0. */
  tolerance?: number | undefined;
  integration?: string | undefined;
  sleep?: Sleep | undefined;
  now?: (() => number) | undefined;
}
