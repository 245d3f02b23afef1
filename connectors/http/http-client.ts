import http from 'node:http';
import https from 'node:https';
import axios from 'axios';
import type { Logger } from 'winston';
import { FerryError } from '../../src/core/errors.js';
import { isCleartextRemoteUrl } from '../../src/core/loopback.js';
import { backoffMs, realSleep, type Sleep } from '../../src/runs/backoff.js';
import { BAD_JSON, classifyNetworkFailure, classifyStatus, TIMEOUT } from './http-errors.js';
import { createSemaphore } from './semaphore.js';

/**
 * The HTTP layer both API connectors share: one axios instance per source, a total deadline per request,
 * a cap on requests in flight, and retries with backoff for what the error table (http-errors.ts) says is worth
 * retrying (429, 5xx, dropped connections, timeouts, a 200 whose JSON was cut off). Both APIs speak JSON: a 200 is
 * parsed here, once. Any other status is handed back for the connector to interpret (401 → re-auth, 404 → not enabled …).
 *
 * Secrets: axios errors carry the request config and the raw socket request (Authorization header, form body).
 * They are never kept; a failure becomes an `HttpFailure` that holds only method, path, status and error code.
 */
export interface HttpClientOptions {
  /** "integration x: source y", the start of every message. */
  who: string;
  integration?: string | undefined;
  /** Config field named by connect errors, e.g. `sources.ps.baseUrl`. */
  field: string;
  timeoutMs: number;
  maxConcurrency: number;
  /** Attempts after the first one for retryable failures. */
  retries: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  sleep?: Sleep | undefined;
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  params?: Readonly<Record<string, string | number>> | undefined;
  headers?: Readonly<Record<string, string>> | undefined;
  /** Already encoded (JSON or form). */
  body?: string | undefined;
  signal?: AbortSignal | undefined;
  logger?: Logger | undefined;
  /** The config field holding this URL when it is not the client's `field` (eSchoolData's tokenUrl). */
  field?: string | undefined;
}

export interface HttpResponse {
  status: number;
  /** The parsed body of a 200 (always complete JSON: a body that does not parse is retried, then fails); undefined otherwise. */
  json: unknown;
  /** Lower-case names. */
  headers: Readonly<Record<string, string>>;
  body: string;
  /** Path of the request (no host, no query), for messages. */
  path: string;
}

export interface HttpClient {
  send(req: HttpRequest): Promise<HttpResponse>;
  /** Drop kept-alive connections. */
  close(): void;
}

/** A sanitized transport failure: safe to keep as `cause`, print or serialise. */
export class HttpFailure extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly code: string,
    readonly status?: number,
  ) {
    super(`${method} ${path}: ${status === undefined ? code : `HTTP ${status}`}`);
    this.name = 'HttpFailure';
  }
}


export function createHttpClient(opts: HttpClientOptions): HttpClient {
  // Own agents, so close() can drop this source's idle sockets instead of leaving them in the global pool.
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: opts.maxConcurrency });
  const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: opts.maxConcurrency });
  const instance = axios.create({
    httpAgent,
    httpsAgent,
    // Statuses, bodies and redirects are ours to interpret; axios only moves bytes.
    validateStatus: () => true,
    responseType: 'text',
    transformResponse: [(data: unknown) => data],
    maxRedirects: 0,
    proxy: false,
  });
  const limit = createSemaphore(opts.maxConcurrency);
  const sleep = opts.sleep ?? realSleep;
  const base = opts.baseDelayMs ?? 500;
  const max = opts.maxDelayMs ?? 30_000;
  const backoff = (attempt: number) => backoffMs(attempt, { baseMs: base, maxMs: max });

  const once = async (req: HttpRequest, path: string): Promise<HttpResponse | HttpFailure> => {
    const release = await limit.acquire(req.signal);
    // One controller per request, tied to the run's signal by a listener removed when the request ends: a run pages
    // through thousands of requests on one signal, and AbortSignal.any would leave a listener on it for each.
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), opts.timeoutMs);
    const stop = () => deadline.abort(req.signal!.reason);
    req.signal?.addEventListener('abort', stop, { once: true });
    if (req.signal?.aborted) stop();
    const signal = deadline.signal;
    try {
      const res = await instance.request<string>({
        method: req.method,
        url: req.url,
        params: req.params,
        headers: req.headers,
        data: req.body,
        signal,
      });
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined && v !== null) headers[k.toLowerCase()] = String(v);
      const body = typeof res.data === 'string' ? res.data : String(res.data ?? '');
      let json: unknown;
      if (res.status === 200) {
        try {
          json = JSON.parse(body) as unknown;
        } catch {
          // JSON.parse quotes the body in its message, and the body may hold student data: nothing of it is kept.
          return new HttpFailure(req.method, path, BAD_JSON, 200);
        }
      }
      return { status: res.status, json, headers, body, path };
    } catch (err) {
      req.signal?.throwIfAborted();
      if (deadline.signal.aborted) return new HttpFailure(req.method, path, TIMEOUT);
      const code = (err as { code?: unknown }).code;
      return new HttpFailure(req.method, path, typeof code === 'string' ? code : 'ERR_NETWORK');
    } finally {
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', stop);
      release();
    }
  };

  return {
    async send(req) {
      const path = pathOf(req.url);
      if (isCleartextRemoteUrl(req.url)) {
        // Checked here too, not only by validate: this is the last place before a secret or a record leaves the machine.
        throw new FerryError('config', `${opts.who}: refuses to send ${req.method} ${path} to ${new URL(req.url).host} over http://; use an https:// URL (http:// is allowed only to loopback)`, {
          integration: opts.integration,
          field: req.field ?? opts.field,
        });
      }
      const attempts = opts.retries + 1;
      for (let attempt = 1; ; attempt++) {
        const started = Date.now();
        const out = await once(req, path);
        let wait: number;
        if (out instanceof HttpFailure) {
          if (!classifyNetworkFailure(out.code).retry || attempt >= attempts) throw failureError(opts, out, attempt);
          wait = backoff(attempt);
          req.logger?.warn('api request retry', { method: req.method, path, code: out.code, attempt: attempt + 1, delayMs: wait });
        } else {
          req.logger?.debug('api request', { method: req.method, path, status: out.status, ms: Date.now() - started });
          if (!classifyStatus(out.status)?.retry) return out;
          const failure = new HttpFailure(req.method, path, 'HTTP_STATUS', out.status);
          if (attempt >= attempts) throw failureError(opts, failure, attempt);
          const hinted = out.status === 429 || out.status === 503 ? retryAfterMs(out.headers['retry-after']) : undefined;
          wait = hinted === undefined ? backoff(attempt) : Math.min(hinted, max);
          req.logger?.warn('api request retry', { method: req.method, path, status: out.status, attempt: attempt + 1, delayMs: wait });
        }
        await sleep(wait, req.signal);
        req.signal?.throwIfAborted();
      }
    },
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/** The error after the last attempt: the table gives the kind; the message names method, path and what happened, never a body. */
function failureError(opts: HttpClientOptions, failure: HttpFailure, attempts: number): FerryError {
  const tries = attempts === 1 ? '' : `; gave up after ${attempts} attempts`;
  const c = failure.code === 'HTTP_STATUS' ? classifyStatus(failure.status!)! : classifyNetworkFailure(failure.code);
  const what =
    failure.code === 'HTTP_STATUS'
      ? `answered HTTP ${failure.status}`
      : failure.code === TIMEOUT
        ? `timed out after ${opts.timeoutMs / 1000}s`
        : failure.code === BAD_JSON
          ? 'answered HTTP 200 with a body that is not complete JSON (cut off in transit?)'
          : `failed (${failure.code})`;
  return new FerryError(c.kind, `${opts.who}: ${failure.method} ${failure.path} ${what}${tries}`, {
    integration: opts.integration,
    ...(c.kind === 'source_connect' ? { field: opts.field } : {}),
    cause: failure,
  });
}

/** `Retry-After` is either delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url.split('?')[0] ?? url;
  }
}
