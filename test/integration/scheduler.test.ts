import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import TransportStream from 'winston-transport';
import YAML from 'yaml';
import { createManualClock } from '../../src/core/clock.js';
import { tryLoadConfig } from '../../src/config/loader.js';
import type { FerryConfig, Integration } from '../../src/config/model.js';
import { ensureDemoSis } from '../../src/demo/demo-sis.js';
import { createLogger, RunLogCollector } from '../../src/logging/logger.js';
import type { Runs } from '../../src/runs/lifecycle.js';
import { createReceiptJournal } from '../../src/runs/receipts.js';
import { compose } from '../../src/runtime/compose.js';
import type { QueueWorker } from '../../src/scheduler/queue-worker.js';
import type { Scheduler } from '../../src/scheduler/scheduler.js';
import { openRunStore, type RunRecord, type RunStore } from '../../src/store/run-store.js';
import { agreementsFor } from '../helpers/agreements.js';

/**
 * The scheduler, run lifecycle, queue worker (wired by the daemon's own composition root) and a real SQLite run
 * store, driven by an injected clock: no real waiting.
 * Each test is a day in the life of one integration: downtime, DST, a blackout, a slot that overlaps, a failure.
 */

class Lines extends TransportStream {
  readonly lines: Record<string, unknown>[] = [];
  override log(info: Record<string, unknown>, next: () => void): void {
    this.lines.push(info);
    next();
  }
}

let sis: string;
beforeAll(() => {
  sis = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-sched-sis-')), 'sis.sqlite');
  ensureDemoSis(sis);
});

interface Harness {
  root: string;
  config: FerryConfig;
  integration: Integration;
  store: RunStore;
  lifecycle: Runs;
  scheduler: Scheduler;
  worker: QueueWorker;
  clock: ReturnType<typeof createManualClock>;
  lines: Lines;
  /** A new scheduler on the same store: what a restarted daemon does. */
  restart(overrides?: Record<string, unknown>): Promise<void>;
  tickAt(iso: string): Promise<void>;
  runs(): Promise<RunRecord[]>;
}

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.store.close();
});

async function harness(integration: Record<string, unknown>, start: string, extra: { extracts?: Record<string, string> } = {}): Promise<Harness> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-sched-'));
  const extracts: Record<string, string> = {
    'one-row': 'SELECT :districtId AS id',
    'bad-sql': 'SELECT id FROM no_such_table WHERE :districtId IS NOT NULL',
    // Thirty million rows, streamed in batches: far longer than a short timeout, which stops it between batches.
    slow: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 30000000) SELECT :districtId AS id, x AS n FROM c',
    ...extra.extracts,
  };
  for (const [name, sql] of Object.entries(extracts)) {
    const dir = path.join(root, 'extracts', 'sqlite', name);
    fs.mkdirSync(dir, { recursive: true });
    const id = { name: 'id', type: 'string', element: 'Student Identifiers/local ID' };
    const columns = name === 'slow' ? [id, { name: 'n', type: 'integer', element: 'Not personal data/other' }] : [id];
    fs.writeFileSync(path.join(dir, 'extract.yaml'), YAML.stringify({ name, description: `test ${name}`, source: 'sqlite', params: { districtId: { type: 'string', required: true } }, columns }));
    fs.writeFileSync(path.join(dir, 'query.sql'), `${sql}\n`);
  }
  // A file where the destination's folder should be: every delivery fails with a retryable upload error.
  fs.writeFileSync(path.join(root, 'blocked'), 'not a folder');
  fs.mkdirSync(path.join(root, 'config', 'integrations'), { recursive: true });
  fs.writeFileSync(
    path.join(root, 'config', 'ferry.yaml'),
    YAML.stringify({
      dataDir: '../var',
      extractsDir: '../extracts',
      http: false,
      sources: { sis: { kind: 'sqlite', path: sis } },
      destinations: { out: { kind: 'local', basePath: '../out' }, blocked: { kind: 'local', basePath: '../blocked/inside' } },
    }),
  );
  const clock = createManualClock(new Date(start));
  const lines = new Lines();
  const logger = createLogger({ level: 'debug', transports: [lines] });
  let config!: FerryConfig;
  const load = (overrides: Record<string, unknown> = {}) => {
    const base = {
      id: 'nightly',
      extract: 'one-row',
      source: 'sis',
      destination: 'out',
      remotePath: '{integration}/{runId}.csv',
      schedule: { cron: '0 * * * *', timezone: 'America/New_York' },
      params: { districtId: 'hilltop-csd' },
      safety: false,
      inventory: { vendor: 'V', contact: 'C', purpose: 'P' },
      ...integration,
      ...overrides,
    };
    fs.writeFileSync(path.join(root, 'config', 'integrations', 'd.yaml'), YAML.stringify({ district: { id: 'hilltop-csd', name: 'Hilltop' }, agreements: agreementsFor([base]), integrations: [base] }));
    const res = tryLoadConfig(path.join(root, 'config'), clock.now());
    if (!res.ok) throw new Error(JSON.stringify(res.problems));
    config = res.config;
  };
  load();
  const store = await openRunStore({ kind: 'sqlite', path: path.join(root, 'var', 'ferry.sqlite') }, clock);
  const collector = new RunLogCollector();
  const h = { root, store, clock, lines } as Harness;
  const build = () => {
    h.config = config;
    h.integration = config.integrations.get('nightly')!;
    ({ runs: h.lifecycle, worker: h.worker, scheduler: h.scheduler } = compose({ config: () => config, store, logger, collector, clock, random: () => 0, leaseOwner: 'daemon-a' }));
  };
  build();
  h.restart = async (overrides) => {
    if (overrides) load(overrides);
    build();
    await h.scheduler.init();
  };
  h.tickAt = async (iso) => {
    clock.set(new Date(iso));
    await (await h.scheduler.tick()).done;
  };
  h.runs = async () => (await store.listRuns({ limit: 500 })).reverse();
  await h.scheduler.init();
  open.push(h);
  return h;
}

const slotsOf = (runs: RunRecord[]) => runs.map((r) => [r.scheduledFor?.toISOString() ?? null, r.status, r.trigger]);

describe('misfire policy after downtime', () => {
  async function downFor3Hours(misfire: string): Promise<Harness> {
    const h = await harness({ misfire }, '2026-11-23T11:59:59Z');
    await h.tickAt('2026-11-23T12:00:01Z'); // the 12:00 slot runs on time
    // The daemon is down from 12:05 to 15:10; a new one starts from the last recorded slot.
    h.clock.set(new Date('2026-11-23T15:10:00Z'));
    await h.restart();
    await h.tickAt('2026-11-23T15:10:00Z');
    return h;
  }

  it('latest (the default): the missed slots are recorded as missed and only the newest runs, late', async () => {
    const h = await downFor3Hours('latest');
    const runs = await h.runs();
    expect(slotsOf(runs)).toEqual([
      ['2026-11-23T12:00:00.000Z', 'succeeded', 'schedule'],
      ['2026-11-23T13:00:00.000Z', 'missed', 'schedule'],
      ['2026-11-23T14:00:00.000Z', 'missed', 'schedule'],
      ['2026-11-23T15:00:00.000Z', 'succeeded', 'schedule'],
    ]);
    expect(runs[1]!.note).toBe('missed: no daemon was running at this time; misfire policy latest ran only the newest missed slot (2026-11-23T15:00:00.000Z)');
    expect(runs[3]!.note).toBe('catch-up: this slot was missed while no daemon was running; misfire policy latest runs the newest of 3 missed slots');
    // Ticking again does not repeat anything.
    await h.tickAt('2026-11-23T15:30:00Z');
    expect(await h.runs()).toHaveLength(4);
  });

  it('after a pause (the host slept, the event loop stalled), the same daemon applies the same policy', async () => {
    const h = await harness({}, '2026-11-23T11:59:59Z');
    await h.tickAt('2026-11-23T12:00:01Z');
    await h.tickAt('2026-11-23T14:20:00Z'); // no tick for two hours and twenty minutes
    expect(slotsOf(await h.runs())).toEqual([
      ['2026-11-23T12:00:00.000Z', 'succeeded', 'schedule'],
      ['2026-11-23T13:00:00.000Z', 'missed', 'schedule'],
      ['2026-11-23T14:00:00.000Z', 'succeeded', 'schedule'],
    ]);
  });

  it('skip: every missed slot is recorded as missed and nothing runs', async () => {
    const h = await downFor3Hours('skip');
    expect(slotsOf(await h.runs())).toEqual([
      ['2026-11-23T12:00:00.000Z', 'succeeded', 'schedule'],
      ['2026-11-23T13:00:00.000Z', 'missed', 'schedule'],
      ['2026-11-23T14:00:00.000Z', 'missed', 'schedule'],
      ['2026-11-23T15:00:00.000Z', 'missed', 'schedule'],
    ]);
  });

  it('all: every missed slot runs, in order', async () => {
    const h = await downFor3Hours('all');
    const runs = await h.runs();
    expect(slotsOf(runs).slice(1)).toEqual([
      ['2026-11-23T13:00:00.000Z', 'succeeded', 'schedule'],
      ['2026-11-23T14:00:00.000Z', 'succeeded', 'schedule'],
      ['2026-11-23T15:00:00.000Z', 'succeeded', 'schedule'],
    ]);
    expect(runs.slice(1).map((r) => r.id)).toEqual([...runs.slice(1).map((r) => r.id)].sort((a, b) => a - b));
    expect(runs[1]!.note).toMatch(/^catch-up 1 of 3:/);
  });

  it('looks back no further than the misfire window (24 hours)', async () => {
    const h = await harness({ misfire: 'skip' }, '2026-11-20T11:59:59Z');
    await h.tickAt('2026-11-20T12:00:01Z');
    h.clock.set(new Date('2026-11-23T12:30:00Z'));
    await h.restart();
    await h.tickAt('2026-11-23T12:30:00Z');
    const missed = (await h.runs()).filter((r) => r.status === 'missed');
    expect(missed).toHaveLength(24);
    expect(missed[0]!.scheduledFor!.toISOString()).toBe('2026-11-22T13:00:00.000Z');
  });

  it('editing the schedule never runs again a slot that already ran', async () => {
    const h = await harness({}, '2026-11-23T11:59:59Z');
    await h.tickAt('2026-11-23T12:00:01Z');
    // Now the schedule says 11:30 (EST = 16:30Z) daily: its slots before the last recorded one are not caught up.
    h.clock.set(new Date('2026-11-23T12:40:00Z'));
    await h.restart({ schedule: { cron: '30 11 * * *', timezone: 'America/New_York' } });
    await h.tickAt('2026-11-23T12:40:00Z');
    expect(await h.runs()).toHaveLength(1);
    await h.tickAt('2026-11-23T16:30:05Z');
    expect(slotsOf(await h.runs())).toEqual([
      ['2026-11-23T12:00:00.000Z', 'succeeded', 'schedule'],
      ['2026-11-23T16:30:00.000Z', 'succeeded', 'schedule'],
    ]);
  });
});

describe('DST in the integration time zone, ticking every minute', () => {
  async function tickEveryMinute(h: Harness, from: string, to: string): Promise<void> {
    for (let t = Date.parse(from); t <= Date.parse(to); t += 60_000) await h.tickAt(new Date(t + 2_000).toISOString());
  }

  it('spring forward: a 2:30 AM job runs once, at 3:00 AM EDT', async () => {
    const h = await harness({ schedule: { cron: '30 2 * * *', timezone: 'America/New_York' } }, '2027-03-14T06:40:00Z');
    await tickEveryMinute(h, '2027-03-14T06:41:00Z', '2027-03-14T07:45:00Z');
    expect(slotsOf(await h.runs())).toEqual([['2027-03-14T07:00:00.000Z', 'succeeded', 'schedule']]);
  });

  it('fall back: a 1:30 AM job runs once, not twice', async () => {
    const h = await harness({ schedule: { cron: '30 1 * * *', timezone: 'America/New_York' } }, '2026-11-01T05:00:00Z');
    await tickEveryMinute(h, '2026-11-01T05:01:00Z', '2026-11-01T07:05:00Z');
    expect(slotsOf(await h.runs())).toEqual([['2026-11-01T05:30:00.000Z', 'succeeded', 'schedule']]);
  });
});

describe('blackout windows', () => {
  it('records a scheduled slot in a blackout as skipped, and still lets a person run it by hand, with a warning', async () => {
    const h = await harness({ blackouts: [{ from: '2026-11-23', to: '2026-11-24', reason: 'summer rollover' }] }, '2026-11-23T11:59:59Z');
    await h.tickAt('2026-11-23T12:00:01Z');
    const [slot] = await h.runs();
    expect(slot).toMatchObject({ status: 'skipped', errorKind: 'blackout', note: 'skipped: blackout from 2026-11-23 to 2026-11-24 (summer rollover); scheduled runs do not run' });
    const manual = await h.lifecycle.run(h.integration, { trigger: 'manual', requestedBy: 'staff' });
    expect(manual.run.status).toBe('succeeded');
    expect(h.lines.lines.some((l) => l.message === 'manual run during a blackout' && l.runId === manual.run.id)).toBe(true);
    // After the blackout, slots run again.
    await h.tickAt('2026-11-25T05:00:01Z');
    expect((await h.runs()).at(-1)).toMatchObject({ status: 'succeeded', trigger: 'schedule' });
  });
});

describe('overlap policy', () => {
  async function busy(h: Harness): Promise<RunRecord> {
    const claim = await h.store.claimRun({
      integrationId: 'nightly', districtId: 'hilltop-csd', extract: 'one-row', trigger: 'manual', requestedBy: 'staff',
      scheduledFor: null, params: {}, host: 'other-host', pid: 1, lease: { owner: 'daemon-b', until: new Date(h.clock.now().getTime() + 600_000) },
    });
    if (!claim.claimed) throw new Error('expected to claim');
    return claim.run;
  }

  it('queue-one: a slot that comes while a run is going waits, one at most, and runs when that run ends', async () => {
    const h = await harness({ overlap: 'queue-one', schedule: { cron: '*/10 * * * *', timezone: 'America/New_York' } }, '2026-11-23T11:59:59Z');
    const long = await busy(h);
    await h.tickAt('2026-11-23T12:00:01Z');
    await h.tickAt('2026-11-23T12:10:01Z');
    const [, queued, skipped] = await h.runs();
    expect(queued).toMatchObject({ status: 'queued', scheduledFor: new Date('2026-11-23T12:00:00Z'), note: `queued behind run ${long.id}, which was still going (overlap policy queue-one)` });
    expect(skipped).toMatchObject({ status: 'skipped', scheduledFor: new Date('2026-11-23T12:10:00Z'), note: 'skipped: another run was already queued (overlap policy queue-one keeps one)' });
    // While the long run goes on, the queued one cannot start.
    expect((await h.worker.pollOnce()).started).toBe(0);
    await h.store.finishRun(long.id, { status: 'succeeded' });
    const poll = await h.worker.pollOnce();
    await poll.done;
    expect(poll.started).toBe(1);
    expect((await h.store.getRun(queued!.id))).toMatchObject({ status: 'succeeded', scheduledFor: new Date('2026-11-23T12:00:00Z') });
  });

  it('skip (the default): the slot is recorded as skipped', async () => {
    const h = await harness({}, '2026-11-23T11:59:59Z');
    await busy(h);
    await h.tickAt('2026-11-23T12:00:01Z');
    expect((await h.runs())[1]).toMatchObject({ status: 'skipped', errorKind: 'already_running', note: 'skipped: the previous run was still going (overlap policy skip)' });
  });
});

describe('retries, timeouts and leases', () => {
  it('retries a retryable failure with exponential backoff until maxAttempts, then stops', async () => {
    const h = await harness({ destination: 'blocked', retry: { maxAttempts: 3, initialDelaySeconds: 60, maxDelaySeconds: 90 } }, '2026-11-23T11:59:59Z');
    await h.tickAt('2026-11-23T12:00:01Z');
    let runs = await h.runs();
    expect(runs.map((r) => [r.status, r.errorKind, r.attempt])).toEqual([['failed', 'upload', 1], ['queued', null, 2]]);
    // The injected jitter is 0: half of the 60 s cap.
    expect(runs[1]).toMatchObject({ trigger: 'retry', retryOf: runs[0]!.id, notBefore: new Date('2026-11-23T12:00:31Z') });
    expect((await h.worker.pollOnce()).started).toBe(0); // not due yet
    h.clock.set(new Date('2026-11-23T12:00:31Z'));
    await (await h.worker.pollOnce()).done;
    runs = await h.runs();
    // Attempt 2 failed too: the next wait doubles (capped at 90 s, half of it with no jitter).
    expect(runs.map((r) => [r.status, r.attempt])).toEqual([['failed', 1], ['failed', 2], ['queued', 3]]);
    expect(runs[2]!.notBefore).toEqual(new Date('2026-11-23T12:01:16Z'));
    h.clock.set(new Date('2026-11-23T12:01:16Z'));
    await (await h.worker.pollOnce()).done;
    runs = await h.runs();
    expect(runs.map((r) => [r.status, r.attempt, r.retryOf])).toEqual([['failed', 1, null], ['failed', 2, runs[0]!.id], ['failed', 3, runs[0]!.id]]);
    expect(h.lines.lines.some((l) => l.message === 'no retry left')).toBe(true);
  });

  it('never retries bad SQL, and never retries a manual run', async () => {
    const h = await harness({ extract: 'bad-sql' }, '2026-11-23T11:59:59Z');
    await h.tickAt('2026-11-23T12:00:01Z');
    const manual = await h.lifecycle.run(h.integration, { trigger: 'manual', requestedBy: 'staff' });
    expect(manual.run.status).toBe('failed');
    expect((await h.runs()).map((r) => [r.status, r.errorKind, r.trigger])).toEqual([['failed', 'source_query', 'schedule'], ['failed', 'source_query', 'manual']]);
  });

  it('a run past its timeout is stopped, fails with kind timeout naming the setting, and is retried', async () => {
    const h = await harness({ extract: 'slow', timeoutMinutes: 0.002 }, '2026-11-23T11:59:59Z');
    await h.tickAt('2026-11-23T12:00:01Z');
    const [run, retry] = await h.runs();
    expect(run).toMatchObject({ status: 'failed', errorKind: 'timeout', remotePath: null });
    expect(run!.error).toBe('integration nightly: the run went on longer than its 120-millisecond timeout (timeoutMinutes) and was stopped; nothing was delivered');
    expect(retry).toMatchObject({ status: 'queued', attempt: 2 });
    expect(fs.existsSync(path.join(h.root, 'out'))).toBe(false);
  });

  it('a run taken over after its lease lapsed does not deliver when it finally gets there (fencing)', async () => {
    const h = await harness({ extract: 'slow', timeoutMinutes: 10 }, '2026-11-23T11:59:59Z', {
      // Two hundred thousand rows: long enough to be reaped while it is still writing.
      extracts: { slow: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) SELECT :districtId AS id, x AS n FROM c' },
    });
    h.clock.set(new Date('2026-11-23T12:00:01Z'));
    const started = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (h.lines.lines.some((l) => l.message === 'extract started')) {
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
    const report = h.lifecycle.run(h.integration, { trigger: 'schedule', requestedBy: 'scheduler', scheduledFor: new Date('2026-11-23T12:00:00Z') });
    await started;
    // Another daemon's view: the lease lapsed (this process "stalled"), so it reaps the run and queues its retry.
    h.clock.set(new Date('2026-11-23T12:02:00Z'));
    const [reaped] = await h.lifecycle.reap();
    const done = await report;
    expect(reaped!.id).toBe(done.run.id);
    expect(done.run).toMatchObject({ status: 'interrupted', remotePath: null });
    expect(fs.existsSync(path.join(h.root, 'out'))).toBe(false);
    expect(h.lines.lines.some((l) => String(l.error ?? '').includes('was taken over by another process after its lease lapsed'))).toBe(true);
    expect((await h.runs()).filter((r) => r.trigger === 'retry')).toHaveLength(1);
  });

  it('a run whose daemon stopped renewing its lease is interrupted by another daemon, and its slot retried', async () => {
    const h = await harness({}, '2026-11-23T12:00:00Z');
    const claim = await h.store.claimRun({
      integrationId: 'nightly', districtId: 'hilltop-csd', extract: 'one-row', trigger: 'schedule', requestedBy: 'scheduler',
      scheduledFor: new Date('2026-11-23T12:00:00Z'), params: { districtId: 'hilltop-csd' }, host: 'host-b', pid: 4242, lease: { owner: 'host-b:4242:dead', until: new Date('2026-11-23T12:01:00Z') },
    });
    if (!claim.claimed) throw new Error('claim');
    h.clock.set(new Date('2026-11-23T12:00:59Z'));
    expect(await h.lifecycle.reap()).toEqual([]); // the lease still holds
    h.clock.set(new Date('2026-11-23T12:01:01Z'));
    const [reaped] = await h.lifecycle.reap();
    expect(reaped).toMatchObject({ id: claim.run.id, status: 'interrupted', error: 'the daemon running it (host-b:4242:dead) stopped renewing its lease; the run did not finish', slotAt: new Date('2026-11-23T12:00:00Z') });
    h.clock.set(new Date('2026-11-23T12:02:00Z'));
    await (await h.worker.pollOnce()).done;
    const runs = await h.runs();
    expect(runs.map((r) => [r.status, r.trigger, r.retryOf])).toEqual([['interrupted', 'schedule', null], ['succeeded', 'retry', claim.run.id]]);
    // The retry ran here, under this daemon's lease.
    expect(runs[1]!.leaseOwner).toBe('daemon-a');
  });
});

describe('the run record under faults', () => {
  /** The store refuses every claim until `heal` is called: what an outage looks like to the scheduler. */
  function claimsFail(h: Harness): { heal(): void } {
    const real = h.store.claimRun.bind(h.store);
    let down = true;
    h.store.claimRun = (input) => (down ? Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')) : real(input));
    return { heal: () => (down = false) };
  }

  it('a slot whose claim failed stays pending and is recorded, once, when the store answers again', async () => {
    const h = await harness({ schedule: { cron: '* * * * *', timezone: 'America/New_York' } }, '2026-11-23T11:59:59Z');
    const outage = claimsFail(h);
    await h.tickAt('2026-11-23T12:00:01Z');
    expect(await h.runs()).toEqual([]);
    expect(h.scheduler.pending()).toBe(1);
    expect(h.lines.lines.filter((l) => l.message === 'slot not recorded yet: its claim failed; it is tried again at the next tick')).toHaveLength(1);
    outage.heal();
    await h.tickAt('2026-11-23T12:01:01Z');
    expect(slotsOf(await h.runs())).toEqual([
      ['2026-11-23T12:00:00.000Z', 'succeeded', 'schedule'],
      ['2026-11-23T12:01:00.000Z', 'succeeded', 'schedule'],
    ]);
    expect(h.scheduler.pending()).toBe(0);
  });

  it('slots left unrecorded past the tolerance go through the misfire policy, which says the store was down', async () => {
    const h = await harness({ schedule: { cron: '* * * * *', timezone: 'America/New_York' } }, '2026-11-23T11:59:59Z');
    const outage = claimsFail(h);
    for (const t of ['12:00:01', '12:01:01', '12:02:01']) await h.tickAt(`2026-11-23T${t}Z`);
    outage.heal();
    await h.tickAt('2026-11-23T12:04:30Z');
    const runs = await h.runs();
    // Every slot has one record: 12:00–12:02 were late (missed, all but the newest), 12:03 ran as the catch-up, 12:04 on time.
    expect(slotsOf(runs)).toEqual([
      ['2026-11-23T12:00:00.000Z', 'missed', 'schedule'],
      ['2026-11-23T12:01:00.000Z', 'missed', 'schedule'],
      ['2026-11-23T12:02:00.000Z', 'succeeded', 'schedule'],
      ['2026-11-23T12:03:00.000Z', 'succeeded', 'schedule'],
      ['2026-11-23T12:04:00.000Z', 'succeeded', 'schedule'],
    ]);
    expect(runs[0]!.note).toContain('the run store could not be reached');
    expect(runs[2]!.note).toContain('while the run store could not be reached');
  });

  it('a retry renders the file name and {date} of its slot, and resolves its parameters for that slot', async () => {
    const h = await harness(
      { destination: 'blocked', remotePath: '{integration}/{date}_{time}.csv', schedule: { cron: '50 23 * * *', timezone: 'America/New_York' }, retry: { maxAttempts: 2, initialDelaySeconds: 1200, maxDelaySeconds: 1200 } },
      '2026-11-24T04:49:59Z',
    );
    await h.tickAt('2026-11-24T04:50:01Z'); // 23:50 EST on the 23rd: fails
    const [failed, retry] = await h.runs();
    expect(failed).toMatchObject({ status: 'failed', slotAt: new Date('2026-11-24T04:50:00Z') });
    expect(retry).toMatchObject({ status: 'queued', trigger: 'retry', slotAt: new Date('2026-11-24T04:50:00Z') });
    // The destination is mended; the retry runs after midnight.
    h.clock.set(new Date('2026-11-24T05:10:00Z'));
    await h.restart({ destination: 'out', remotePath: '{integration}/{date}_{time}.csv', schedule: { cron: '50 23 * * *', timezone: 'America/New_York' }, retry: { maxAttempts: 2, initialDelaySeconds: 1200, maxDelaySeconds: 1200 } });
    await (await h.worker.pollOnce()).done;
    expect((await h.store.getRun(retry!.id))).toMatchObject({ status: 'succeeded', remotePath: path.join(h.root, 'out', 'nightly', '20261123_2350.csv') });
    expect(fs.readdirSync(path.join(h.root, 'out', 'nightly'))).toEqual(['20261123_2350.csv']);
  });

  it('a retry overtaken by a newer slot’s delivery to the same path is recorded superseded and sends nothing', async () => {
    const retryPolicy = { maxAttempts: 2, initialDelaySeconds: 3600, maxDelaySeconds: 3600 };
    const h = await harness({ destination: 'blocked', remotePath: '{integration}/roster.csv', retry: retryPolicy }, '2026-11-23T11:59:59Z');
    await h.tickAt('2026-11-23T12:00:01Z');
    const [, retry] = await h.runs();
    await h.restart({ destination: 'out', retry: retryPolicy, remotePath: '{integration}/roster.csv' });
    await h.tickAt('2026-11-23T13:00:01Z'); // the 13:00 slot delivers roster.csv
    const newer = (await h.runs()).at(-1)!;
    expect(newer).toMatchObject({ status: 'succeeded', scheduledFor: new Date('2026-11-23T13:00:00Z') });
    const before = fs.statSync(path.join(h.root, 'out', 'nightly', 'roster.csv')).mtimeMs;
    h.clock.set(new Date('2026-11-23T13:30:00Z'));
    await (await h.worker.pollOnce()).done;
    const stale = await h.store.getRun(retry!.id);
    expect(stale).toMatchObject({ status: 'superseded', errorKind: 'superseded', remotePath: null });
    expect(stale!.error).toContain(`run ${newer.id} already delivered`);
    expect(fs.statSync(path.join(h.root, 'out', 'nightly', 'roster.csv')).mtimeMs).toBe(before);
  });

  it('after drain no slot is claimed and no queued run starts', async () => {
    const h = await harness({ schedule: { cron: '* * * * *', timezone: 'America/New_York' } }, '2026-11-23T11:59:59Z');
    h.lifecycle.drain('test shutdown');
    await expect(h.lifecycle.claimSlot(h.integration, new Date('2026-11-23T12:00:00Z'), null)).rejects.toThrow('the daemon is stopping, so no run starts');
    await h.tickAt('2026-11-23T12:00:01Z');
    expect(await h.runs()).toEqual([]);
    expect(await h.lifecycle.claimQueued(4)).toEqual([]);
  });

  it('a crashed daemon’s run is interrupted once its lease lapses, retried for its slot, and its spool file removed', async () => {
    const h = await harness({ retry: { maxAttempts: 2, initialDelaySeconds: 60, maxDelaySeconds: 60 } }, '2026-11-23T12:00:00Z');
    // What a SIGKILLed daemon leaves: a running run under its lease, and a half-written spool file.
    const claim = await h.store.claimRun({
      integrationId: 'nightly', districtId: 'hilltop-csd', extract: 'one-row', trigger: 'schedule', requestedBy: 'scheduler',
      scheduledFor: new Date('2026-11-23T12:00:00Z'), params: {}, host: os.hostname(), pid: process.pid, lease: { owner: 'crashed', until: new Date('2026-11-23T12:01:00Z') },
    });
    if (!claim.claimed) throw new Error('claim');
    const spool = path.join(h.config.spoolDir, `${claim.run.id}-nightly.csv.part`);
    fs.mkdirSync(h.config.spoolDir, { recursive: true });
    fs.writeFileSync(spool, 'id\nhilltop-csd\n', { mode: 0o600 });
    // Restarted before the lease lapsed: the run may still be alive elsewhere (same host, same pid even), so it stays.
    h.clock.set(new Date('2026-11-23T12:00:30Z'));
    await h.lifecycle.recover();
    expect(await h.store.getRun(claim.run.id)).toMatchObject({ status: 'running' });
    expect(fs.existsSync(spool)).toBe(true);
    h.clock.set(new Date('2026-11-23T12:01:01Z'));
    await h.lifecycle.recover();
    expect(fs.existsSync(spool)).toBe(false);
    h.clock.set(new Date('2026-11-23T12:02:00Z'));
    await (await h.worker.pollOnce()).done;
    const runs = await h.runs();
    expect(runs.map((r) => [r.status, r.trigger, r.slotAt.toISOString()])).toEqual([
      ['interrupted', 'schedule', '2026-11-23T12:00:00.000Z'],
      ['succeeded', 'retry', '2026-11-23T12:00:00.000Z'],
    ]);
  });

  it('a delivered file whose record could not be written is recorded succeeded from its receipt, never interrupted', async () => {
    const h = await harness({ retry: { maxAttempts: 2, initialDelaySeconds: 60, maxDelaySeconds: 60 } }, '2026-11-23T11:59:59Z');
    const real = h.store.recordReceipt.bind(h.store);
    let down = true;
    // Once the file is delivered, the store stays away, and time runs on past the lease (20 s of it every 20 ms, from
    // the first failed write only, so a slow machine cannot lose the lease before the delivery).
    let tick: NodeJS.Timeout | undefined;
    h.store.recordReceipt = (id, o) => {
      if (!down) return real(id, o);
      tick ??= setInterval(() => h.clock.set(new Date(h.clock.now().getTime() + 20_000)), 20);
      return Promise.reject(new Error('Connection terminated unexpectedly'));
    };
    // The run ends here without its record; the receipt waits in the journal.
    const done = await h.lifecycle.run(h.integration, { trigger: 'schedule', requestedBy: 'scheduler', scheduledFor: new Date('2026-11-23T12:00:00Z') }).finally(() => clearInterval(tick));
    expect(done.run.status).toBe('running');
    const [journal] = fs.readdirSync(h.config.receiptsDir);
    expect(journal).toMatch(/^daemon-a\.jsonl$/);
    expect((fs.statSync(path.join(h.config.receiptsDir, journal!)).mode & 0o777).toString(8)).toBe('600');
    const reader = createReceiptJournal(h.config.receiptsDir, 'reader');
    expect((await reader.pending()).map((r) => [r.runId, r.outcome.sha256])).toEqual([[done.run.id, expect.stringMatching(/^[0-9a-f]{64}$/)]]);
    // Another daemon reaps the lapsed lease (interrupted, retry queued) before the store comes back here.
    h.clock.set(new Date(h.clock.now().getTime() + 120_000));
    expect((await h.lifecycle.reap()).map((r) => r.id)).toEqual([done.run.id]);
    down = false;
    expect(await h.lifecycle.replayReceipts()).toBe(1);
    const runs = await h.runs();
    expect(runs.map((r) => [r.status, r.trigger])).toEqual([['succeeded', 'schedule'], ['superseded', 'retry']]);
    expect(runs[0]).toMatchObject({ remotePath: expect.stringContaining(path.join('out', 'nightly')), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(await reader.pending()).toEqual([]);
  });
});
