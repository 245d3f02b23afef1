import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createManualClock } from '../../src/core/clock.js';
import { createEventBus } from '../../src/core/events.js';
import { createLogger } from '../../src/logging/logger.js';
import { startObservabilityServer, type ObservabilityServer } from '../../src/observability/http-server.js';
import { openRunStore, type ClaimInput, type RunRecord, type RunStore } from '../../src/store/run-store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg-database.js';

const TICK_MS = 5000;
const T0 = new Date('2026-11-23T11:00:00Z');

/** One series' value from a Prometheus text exposition (exact name and label set as printed). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('observability endpoint: /healthz and /metrics over real HTTP, real SQLite store, events on the bus', () => {
  const clock = createManualClock(T0);
  const bus = createEventBus();
  const logger = createLogger({ level: 'error' });
  let dir: string;
  let store: RunStore;
  let server: ObservabilityServer;
  const url = (p: string) => `http://${server.host}:${server.port}${p}`;
  const claim = (integrationId: string, over: Partial<ClaimInput> = {}): ClaimInput => ({
    integrationId,
    districtId: 'hilltop-csd',
    extract: 'clever-students',
    trigger: 'schedule',
    requestedBy: 'scheduler',
    scheduledFor: null,
    params: {},
    host: 'test-host',
    pid: 4242,
    lease: { owner: 'daemon-a', until: new Date(T0.getTime() + 60_000) },
    ...over,
  });

  /** A run recorded in the store from start to finish, as the runner would, and announced on the bus. */
  async function finishedRun(integrationId: string, slot: Date, seconds: number, outcome: { status: 'succeeded' | 'failed'; rows?: number; bytes?: number }): Promise<RunRecord> {
    const claimed = await store.claimRun(claim(integrationId, { scheduledFor: slot }));
    if (!claimed.claimed) throw new Error('claim refused');
    await store.markStarted(claimed.run.id);
    bus.emit({ type: 'run.started', run: (await store.getRun(claimed.run.id))!, lagMs: clock.now().getTime() - slot.getTime() });
    clock.advance(seconds * 1000);
    const run = await store.finishRun(claimed.run.id, { status: outcome.status, rows: outcome.rows ?? null, bytes: outcome.bytes ?? null, ...(outcome.status === 'failed' ? { errorKind: 'source_connect', error: 'connection refused' } : {}) });
    bus.emit({ type: 'run.finished', run });
    return run;
  }

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-observability-'));
    store = await openRunStore({ kind: 'sqlite', path: path.join(dir, 'ferry.sqlite') }, clock);
    server = await startObservabilityServer({ config: { http: { host: '127.0.0.1', port: 0 } }, bus, store, clock, logger, schedulerTickMs: TICK_MS });
  });

  afterAll(async () => {
    await server?.close();
    await store?.close().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('binds loopback on the port the OS gave for port 0', () => {
    expect(server.host).toBe('127.0.0.1');
    expect(server.port).toBeGreaterThan(0);
  });

  it('/metrics shows runs by status, durations, rows, bytes, start lag, waiting, queued and running runs, and the last tick', async () => {
    bus.emit({ type: 'scheduler.tick', at: clock.now(), ok: true });
    // Two slots that ran: one started 3 s late, one 40 s late (a saturated limiter); one more failed after 1 s lag.
    await finishedRun('hilltop-clever-students', new Date(T0.getTime() - 3000), 42, { status: 'succeeded', rows: 1204, bytes: 90_112 });
    await finishedRun('hilltop-clever-students', new Date(clock.now().getTime() - 40_000), 5, { status: 'succeeded', rows: 1200, bytes: 90_000 });
    await finishedRun('riverbend-fastbridge', new Date(clock.now().getTime() - 1000), 2, { status: 'failed' });
    // A manual run has no scheduled time: no lag to observe.
    const manual = await store.claimRun(claim('riverbend-classlink', { trigger: 'manual', requestedBy: 'ops' }));
    bus.emit({ type: 'run.started', run: manual.run, lagMs: null });
    // Store state other daemons also see: one running (the manual one above), one retry queued.
    await store.enqueue({ ...claim('hilltop-fastbridge-es', { trigger: 'retry', attempt: 2 }), notBefore: new Date(clock.now().getTime() + 60_000) });
    bus.emit({ type: 'queue.changed', waiting: 3 });
    bus.emit({ type: 'queue.changed', waiting: 2 });
    const tickAt = clock.now();
    bus.emit({ type: 'scheduler.tick', at: tickAt, ok: true });

    const res = await fetch(url('/metrics'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();

    expect(sample(text, 'ferry_runs_total{status="succeeded"}')).toBe(2);
    expect(sample(text, 'ferry_runs_total{status="failed"}')).toBe(1);
    expect(sample(text, 'ferry_run_rows_total{status="succeeded"}')).toBe(2404);
    expect(sample(text, 'ferry_run_bytes_total{status="succeeded"}')).toBe(180_112);
    expect(sample(text, 'ferry_run_rows_total{status="failed"}')).toBeUndefined(); // a failed run wrote nothing
    // Durations: 42 s and 5 s succeeded, 2 s failed.
    expect(sample(text, 'ferry_run_duration_seconds_bucket{le="30",status="succeeded"}')).toBe(1);
    expect(sample(text, 'ferry_run_duration_seconds_bucket{le="60",status="succeeded"}')).toBe(2);
    expect(sample(text, 'ferry_run_duration_seconds_sum{status="succeeded"}')).toBe(47);
    expect(sample(text, 'ferry_run_duration_seconds_count{status="failed"}')).toBe(1);
    // Lag: 3 s, 40 s and 1 s; the manual run is not counted.
    expect(sample(text, 'ferry_run_start_lag_seconds_bucket{le="1"}')).toBe(1);
    expect(sample(text, 'ferry_run_start_lag_seconds_bucket{le="5"}')).toBe(2);
    expect(sample(text, 'ferry_run_start_lag_seconds_bucket{le="60"}')).toBe(3);
    expect(sample(text, 'ferry_run_start_lag_seconds_count')).toBe(3);
    expect(sample(text, 'ferry_runs_waiting')).toBe(2);
    expect(sample(text, 'ferry_runs_queued')).toBe(1);
    expect(sample(text, 'ferry_runs_running')).toBe(1);
    expect(sample(text, 'ferry_scheduler_last_tick_timestamp_seconds')).toBe(tickAt.getTime() / 1000);
    // Process metrics from prom-client's defaults, in this registry.
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes /m);
    // Low cardinality: no integration or district ids in any label.
    expect(text).not.toMatch(/hilltop|riverbend/);
  });

  it('/healthz is 200 with the store and the last tick while the scheduler ticks', async () => {
    const res = await fetch(url('/healthz'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({
      status: 'ok',
      failing: [],
      store: 'ok',
      scheduler: { status: 'ok', lastTick: clock.now().toISOString(), maxSilenceSeconds: 15 },
    });
  });

  it('/healthz is 503 naming the scheduler once no tick came for 3 × the tick interval, and 200 again after a tick', async () => {
    const lastTick = clock.now();
    clock.advance(3 * TICK_MS); // exactly at the limit: still alive
    expect((await fetch(url('/healthz'))).status).toBe(200);
    clock.advance(1000);
    const res = await fetch(url('/healthz'));
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: 'failing', failing: ['scheduler'], store: 'ok', scheduler: { status: 'stalled', lastTick: lastTick.toISOString() } });

    bus.emit({ type: 'scheduler.tick', at: clock.now(), ok: true });
    expect((await fetch(url('/healthz'))).status).toBe(200);
  });

  it('/healthz is 503 naming the scheduler while its ticks fail, with why, and 200 once a tick succeeds', async () => {
    clock.advance(TICK_MS);
    const failedAt = clock.now();
    bus.emit({ type: 'scheduler.tick', at: failedAt, ok: false, error: 'the run store did not answer: connect ECONNREFUSED 10.0.0.5:5432' });
    const res = await fetch(url('/healthz'));
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      status: 'failing',
      failing: ['scheduler'],
      store: 'ok',
      scheduler: { status: 'failing', lastTick: failedAt.toISOString(), error: 'the run store did not answer: connect ECONNREFUSED 10.0.0.5:5432', maxSilenceSeconds: 15 },
    });

    clock.advance(TICK_MS);
    bus.emit({ type: 'scheduler.tick', at: clock.now(), ok: true });
    const again = await fetch(url('/healthz'));
    expect(again.status).toBe(200);
    expect(((await again.json()) as { scheduler: Record<string, unknown> }).scheduler).toEqual({ status: 'ok', lastTick: clock.now().toISOString(), maxSilenceSeconds: 15 });
  });

  it('answers 404 for anything else and 405 for a method other than GET or HEAD', async () => {
    const other = await fetch(url('/status'));
    expect(other.status).toBe(404);
    await other.text();
    const post = await fetch(url('/metrics'), { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    await post.text();
    const head = await fetch(url('/healthz'), { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it('/healthz is 503 naming the store once the store is gone; /metrics still answers, with NaN for what it cannot read', async () => {
    await store.close();
    const res = await fetch(url('/healthz'));
    expect(res.status).toBe(503);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: 'failing', failing: ['store'], store: 'unreachable', scheduler: { status: 'ok' } });
    expect(typeof body.storeError).toBe('string');

    const metrics = await fetch(url('/metrics'));
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    expect(sample(text, 'ferry_runs_queued')).toBeNaN();
    expect(sample(text, 'ferry_runs_total{status="succeeded"}')).toBe(2); // what the bus said is kept
  });

  it('close() can be called twice and stops serving', async () => {
    const a = server.close();
    const b = server.close();
    expect(a).toBe(b);
    await a;
    await expect(fetch(url('/healthz'))).rejects.toThrow();
  });

  it('refuses to start on a port that is taken, with the address in the message and the cause kept', async () => {
    const first = await startObservabilityServer({ config: { http: { host: '127.0.0.1', port: 0 } }, bus, store, clock, logger, schedulerTickMs: TICK_MS });
    try {
      const second = startObservabilityServer({ config: { http: { host: '127.0.0.1', port: first.port } }, bus, store, clock, logger, schedulerTickMs: TICK_MS });
      const err = await second.then(
        async (s) => {
          await s.close();
          throw new Error('a second server started on a port that was taken');
        },
        (e: unknown) => e as Error,
      );
      expect(err.message).toContain(`127.0.0.1:${first.port}`);
      expect((err.cause as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
    } finally {
      await first.close();
    }
  });
});

describe('/healthz answers within a second while the PostgreSQL run store hangs', () => {
  const clock = createManualClock(T0);
  const bus = createEventBus();
  const logger = createLogger({ level: 'error' });
  let db: TestDatabase;
  let store: RunStore;
  let server: ObservabilityServer;
  let locker: pg.Client;
  const url = (p: string) => `http://${server.host}:${server.port}${p}`;

  beforeAll(async () => {
    db = await createTestDatabase('healthz');
    store = await openRunStore({ kind: 'postgres', url: db.url }, clock, logger);
    server = await startObservabilityServer({ config: { http: { host: '127.0.0.1', port: 0 } }, bus, store, clock, logger, schedulerTickMs: TICK_MS });
    locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
  });

  afterAll(async () => {
    await locker?.end().catch(() => undefined);
    await server?.close();
    await store?.close().catch(() => undefined);
    await db?.drop();
  });

  it('reports the store failing, with the deadline, while a lock keeps its query waiting; 200 once it is released', async () => {
    expect((await fetch(url('/healthz'))).status).toBe(200);
    // Another session holds the runs table: the store's read waits for it, as it would behind a stuck migration.
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE runs IN ACCESS EXCLUSIVE MODE');
    for (let i = 0; i < 2; i++) {
      const started = performance.now();
      const res = await fetch(url('/healthz'));
      const body = (await res.json()) as Record<string, unknown>;
      const elapsed = performance.now() - started;
      expect(res.status).toBe(503);
      expect(body).toMatchObject({ status: 'failing', failing: ['store'], store: 'unreachable', storeError: 'the run store did not answer within 750 ms', scheduler: { status: 'ok' } });
      // What a supervisor's one-second check sees.
      expect(elapsed).toBeLessThan(1000);
    }
    await locker.query('ROLLBACK');
    expect((await fetch(url('/healthz'))).status).toBe(200);
  });
});
