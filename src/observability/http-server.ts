import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'winston';
import type { Clock } from '../core/clock.js';
import { FerryError } from '../core/errors.js';
import type { EventBus } from '../core/events.js';
import type { FerryConfig } from '../config/model.js';
import type { RunStore } from '../store/run-store.js';
import { createHealthCheck } from './health.js';
import { createFerryMetrics } from './metrics.js';

/**
 * The daemon's HTTP endpoint: `GET /healthz` and `GET /metrics`, nothing else. It binds exactly the configured
 * `http.host`, which should stay loopback (127.0.0.1 by default): the endpoint has no authentication, and its
 * metrics describe a service center's districts. Put a reverse proxy or node exporter in front to scrape it remotely.
 */
export interface ObservabilityServerOptions {
  config: Pick<FerryConfig, 'http'>;
  bus: EventBus;
  store: Pick<RunStore, 'dbNow' | 'listRuns' | 'runsWithStatus'>;
  clock: Clock;
  logger: Logger;
  /** How often the scheduler ticks; /healthz reports it stalled after 3 × this without a `scheduler.tick`. */
  schedulerTickMs: number;
  /** How long a /metrics scrape waits for the store (default 2000 ms); /healthz waits less (HEALTH_STORE_TIMEOUT_MS). */
  storeTimeoutMs?: number;
}

export interface ObservabilityServer {
  /** The address actually bound (port 0 in config becomes the port the OS chose). */
  readonly host: string;
  readonly port: number;
  /** Stop listening, drop open connections and stop listening to the bus; idempotent, every call gets the same promise. */
  close(): Promise<void>;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/i;

export async function startObservabilityServer(opts: ObservabilityServerOptions): Promise<ObservabilityServer> {
  const httpConfig = opts.config.http;
  if (!httpConfig) throw new FerryError('config', 'the HTTP endpoint is turned off (http: false); nothing to start', { field: 'http' });
  const logger = opts.logger.child({ component: 'http' });
  const storeTimeoutMs = opts.storeTimeoutMs ?? 2000;
  const metrics = createFerryMetrics({ bus: opts.bus, store: opts.store, logger, storeTimeoutMs });
  const health = createHealthCheck({ bus: opts.bus, store: opts.store, clock: opts.clock, schedulerTickMs: opts.schedulerTickMs });

  const routes: Record<string, (res: http.ServerResponse) => Promise<void>> = {
    '/healthz': async (res) => {
      const report = await health.check();
      send(res, report.status === 'ok' ? 200 : 503, 'application/json; charset=utf-8', JSON.stringify(report) + '\n');
    },
    '/metrics': async (res) => {
      send(res, 200, metrics.contentType, await metrics.render());
    },
  };

  const server = http.createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://ferry.invalid').pathname;
    const route = routes[pathname];
    if (!route) return send(res, 404, 'text/plain; charset=utf-8', 'not found: Ferry serves /healthz and /metrics\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(res, 405, 'text/plain; charset=utf-8', `${req.method ?? ''} not allowed on ${pathname}\n`);
    }
    route(res).catch((err: unknown) => {
      logger.warn('observability request failed', { path: pathname, error: (err as Error).message });
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error; see the daemon log\n');
      else res.destroy();
    });
  });
  // A slow or idle client must not keep the daemon's shutdown waiting.
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;

  const release = () => {
    metrics.close();
    health.close();
  };
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(httpConfig.port, httpConfig.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    release();
    throw new FerryError('config', `cannot serve /healthz and /metrics on ${httpConfig.host}:${httpConfig.port} (http in ferry.yaml)`, { field: 'http', cause: err });
  }
  server.on('error', (err) => logger.error('observability endpoint error', { error: err.message }));
  const address = server.address() as AddressInfo;
  if (!LOOPBACK.test(httpConfig.host)) logger.warn('observability endpoint is not on loopback: anyone who can reach it can read it', { host: httpConfig.host });
  logger.info('observability endpoint listening', { host: address.address, port: address.port });

  let closing: Promise<void> | undefined;
  return {
    host: address.address,
    port: address.port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        release();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function send(res: http.ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
