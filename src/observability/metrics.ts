import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Logger } from 'winston';
import type { EventBus } from '../core/events.js';
import type { RunStore } from '../store/run-store.js';
import { withDeadline } from './deadline.js';

/**
 * Ferry's Prometheus series, fed by the event bus and, for what other daemons sharing the store also do (queued and
 * running runs), read from the store at scrape time. Labels stay small: `status` only. Integration and district ids
 * are left out on purpose: ~1,100 integrations × statuses × histogram buckets would swamp a Prometheus server, and
 * `ferry why <integration>` answers the per-integration question.
 */
export interface FerryMetrics {
  readonly registry: Registry;
  readonly contentType: string;
  /** The text exposition, read at scrape time. */
  render(): Promise<string>;
  /** Stop listening to the bus; idempotent. */
  close(): void;
}

export interface MetricsDeps {
  bus: EventBus;
  store: Pick<RunStore, 'runsWithStatus'>;
  logger: Logger;
  /** How long a scrape waits for the store before reporting NaN for the store-read gauges. */
  storeTimeoutMs?: number;
}

/** Runs take seconds to hours (a nightly roster of a large district); the run timeout defaults to 2 h. */
const DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];
/** Start lag: a healthy daemon starts within a second or two; a saturated limiter or a catch-up shows minutes or hours. */
const LAG_BUCKETS = [0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 14_400];

export function createFerryMetrics(deps: MetricsDeps): FerryMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const storeTimeoutMs = deps.storeTimeoutMs ?? 2000;
  const logger = deps.logger;

  const runs = new Counter({ name: 'ferry_runs_total', help: 'Runs that reached a final state, by status.', labelNames: ['status'], registers: [registry] });
  const duration = new Histogram({
    name: 'ferry_run_duration_seconds',
    help: 'From start to finish of runs that started, by final status.',
    labelNames: ['status'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const rows = new Counter({ name: 'ferry_run_rows_total', help: 'Rows written by finished runs, by final status (succeeded = delivered).', labelNames: ['status'], registers: [registry] });
  const bytes = new Counter({ name: 'ferry_run_bytes_total', help: 'Bytes written by finished runs, by final status (succeeded = delivered).', labelNames: ['status'], registers: [registry] });
  const lag = new Histogram({
    name: 'ferry_run_start_lag_seconds',
    help: 'How long after its scheduled time a scheduled run started.',
    buckets: LAG_BUCKETS,
    registers: [registry],
  });
  const waiting = new Gauge({ name: 'ferry_runs_waiting', help: 'Runs of this daemon waiting for a concurrency slot.', registers: [registry] });
  const lastTick = new Gauge({
    name: 'ferry_scheduler_last_tick_timestamp_seconds',
    help: 'When the scheduler last looked for due slots (Unix time); 0 before the first look.',
    registers: [registry],
  });

  // Read from the store at scrape time: every daemon sharing the store sees the same numbers.
  const storeGauge = (name: string, help: string, status: 'queued' | 'running') =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        try {
          const found = await withDeadline(deps.store.runsWithStatus(status), storeTimeoutMs, `reading ${status} runs from the store`);
          this.set(found.length);
        } catch (err) {
          // NaN, not a stale or zero count: an alert on "queued > N" must not go quiet because the store did.
          this.set(Number.NaN);
          logger.warn('metrics: store read failed', { status, error: (err as Error).message });
        }
      },
    });
  storeGauge('ferry_runs_queued', 'Runs recorded as queued in the store (retries waiting out their backoff, slots queued behind a running run), all daemons.', 'queued');
  storeGauge('ferry_runs_running', 'Runs recorded as running in the store, all daemons.', 'running');

  const unsubscribe = [
    deps.bus.on('run.finished', ({ run }) => {
      runs.inc({ status: run.status });
      if (run.startedAt && run.finishedAt) duration.observe({ status: run.status }, Math.max(0, (run.finishedAt.getTime() - run.startedAt.getTime()) / 1000));
      if (run.rows !== null) rows.inc({ status: run.status }, run.rows);
      if (run.bytes !== null) bytes.inc({ status: run.status }, run.bytes);
    }),
    deps.bus.on('run.started', ({ lagMs }) => {
      if (lagMs !== null) lag.observe(Math.max(0, lagMs / 1000));
    }),
    deps.bus.on('queue.changed', (e) => waiting.set(e.waiting)),
    deps.bus.on('scheduler.tick', (e) => {
      // A failed tick did no scheduling: the gauge shows the last one that did.
      if (e.ok) lastTick.set(e.at.getTime() / 1000);
    }),
  ];
  let closed = false;

  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    close() {
      if (closed) return;
      closed = true;
      for (const off of unsubscribe) off();
    },
  };
}
