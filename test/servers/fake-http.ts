import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The plumbing both fake SIS APIs share: a node:http server on 127.0.0.1 (port 0), a log of every request (method,
 * path, query, how it authenticated — never header values or form bodies), cancellable delays, and a close() that
 * drops kept-alive sockets and pending delays so no test leaves a server listening.
 */
export interface RequestLog {
  method: string;
  path: string;
  query: Record<string, string>;
  /** How the request authenticated: Basic, a bearer token (by issue number, never the token itself), or not at all. */
  auth: 'basic' | 'bearer' | 'form' | 'none';
  /** 1 for the first token the fake issued, 2 for the second … */
  tokenSeq?: number;
  /** JSON request bodies (PowerQuery args); form bodies are not logged — they can hold the client secret. */
  json?: unknown;
  status?: number;
}

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
  log: RequestLog;
  /** Set by the handler: send the reply's head and half its body, then close the connection; or never reply. */
  fault?: 'cut' | 'stall';
}

export interface FakeReply {
  status: number;
  body?: unknown;
  /** A raw body (for malformed responses); `body` is JSON-encoded otherwise. */
  raw?: string;
  headers?: Record<string, string>;
}

export interface FakeHttp {
  url: string;
  requests: RequestLog[];
  /** Most requests the server was answering at one time. */
  readonly peakInFlight: number;
  /** Resolves once no request is open (answered, or given up by the client). */
  whenIdle(): Promise<void>;
  /** Resolves once a request is being held unanswered (a 'stall' fault). */
  whenStalled(): Promise<void>;
  /** Wait `ms`, unless the server closes first (then the reply is never sent). */
  delay(ms: number): Promise<void>;
  close(): Promise<void>;
}

export async function startFakeHttp(handle: (req: FakeRequest) => Promise<FakeReply> | FakeReply): Promise<FakeHttp> {
  const requests: RequestLog[] = [];
  const timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  let closed = false;
  let inFlight = 0;
  let peakInFlight = 0;
  let idle: (() => void)[] = [];
  let stalled = 0;
  let onStall: (() => void)[] = [];

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const log: RequestLog = { method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), auth: 'none' };
      requests.push(log);
      inFlight++;
      peakInFlight = Math.max(peakInFlight, inFlight);
      res.on('close', () => {
        inFlight--;
        if (inFlight > 0) return;
        for (const resolve of idle) resolve();
        idle = [];
      });
      const fake: FakeRequest = { method: log.method, path: url.pathname, query: url.searchParams, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), log };
      Promise.resolve()
        .then(() => handle(fake))
        .then(
          (reply) => {
            if (closed || res.destroyed) return;
            if (fake.fault === 'stall') {
              stalled++;
              for (const resolve of onStall) resolve();
              onStall = [];
              return;
            }
            log.status = reply.status;
            const body = reply.raw ?? (reply.body === undefined ? '' : JSON.stringify(reply.body));
            if (fake.fault === 'cut') {
              const bytes = Buffer.from(body);
              res.writeHead(reply.status, { 'Content-Type': 'application/json;charset=UTF-8', ...reply.headers, 'Content-Length': String(bytes.length) });
              res.write(bytes.subarray(0, bytes.length >> 1), () => res.destroy());
              return;
            }
            res.writeHead(reply.status, { 'Content-Type': 'application/json;charset=UTF-8', ...reply.headers });
            res.end(body);
          },
          (err: unknown) => {
            if (closed || res.destroyed) return;
            log.status = 500;
            res.writeHead(500, { 'Content-Type': 'application/json' });
            res.end(JSON.stringify({ message: `fake server error: ${(err as Error).message}` }));
          },
        );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get peakInFlight() {
      return peakInFlight;
    },
    whenStalled() {
      return stalled > 0 ? Promise.resolve() : new Promise<void>((resolve) => onStall.push(resolve));
    },
    whenIdle() {
      return inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => idle.push(resolve));
    },
    delay(ms) {
      if (closed) return new Promise<void>(() => undefined);
      return new Promise<void>((resolve) => {
        const entry = {
          timer: setTimeout(() => {
            timers.delete(entry);
            resolve();
          }, ms),
          resolve,
        };
        timers.add(entry);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const t of timers) clearTimeout(t.timer);
      timers.clear();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await done;
    },
  };
}

/** `Authorization: Basic` → [id, secret], or undefined. */
export function basicCredentials(headers: http.IncomingHttpHeaders): [string, string] | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(headers.authorization ?? '');
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = text.indexOf(':');
  return i < 0 ? undefined : [text.slice(0, i), text.slice(i + 1)];
}

export function bearerToken(headers: http.IncomingHttpHeaders): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(headers.authorization ?? '')?.[1];
}
