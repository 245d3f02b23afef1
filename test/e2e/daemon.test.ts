import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { openRunStore } from '../../src/store/run-store.js';
import { ferry, startDaemonProcess, tempDir, type DaemonProcess } from '../helpers/cli.js';
import { makeDemoConfigDir } from '../helpers/demo-config.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg-database.js';

const historyOf = async (dir: string) => JSON.parse((await ferry(['history', '--json', '-n', '100', '--config', dir])).stdout) as Record<string, unknown>[];

describe('ferry daemon (spawned)', () => {
  const daemons: DaemonProcess[] = [];
  afterAll(() => {
    for (const d of daemons) d.child.kill('SIGKILL');
  });

  it('runs an integration on its cron schedule, records each slot once, and exits 0 on SIGTERM', async () => {
    const cfg = await makeDemoConfigDir({ cron: '* * * * * *' }); // every second
    const d = startDaemonProcess(cfg.dir);
    daemons.push(d);
    await d.waitFor((l) => l.message === 'daemon started', 'daemon started');
    const first = await d.waitFor((l) => l.message === 'run succeeded', 'a run succeeded');
    await d.waitFor((l) => l.message === 'run succeeded' && l.runId !== first.runId, 'a second run succeeded');
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
    expect(d.lines.some((l) => l.message === 'daemon stopped')).toBe(true);

    const runs = await historyOf(cfg.dir);
    const scheduled = runs.filter((r) => r.trigger === 'schedule');
    expect(scheduled.length).toBeGreaterThanOrEqual(2);
    const slots = scheduled.map((r) => r.scheduledFor);
    expect(new Set(slots).size).toBe(slots.length);
    // Every second is faster than a loaded machine runs the extract: a slot that comes while the previous run is still
    // going is recorded as skipped (overlap policy skip), never run twice at once.
    expect(scheduled.filter((r) => r.status === 'succeeded').length).toBeGreaterThanOrEqual(2);
    for (const r of scheduled) expect(r.status === 'succeeded' || (r.status === 'skipped' && r.errorKind === 'already_running'), JSON.stringify(r)).toBe(true);
    expect(fs.existsSync(path.join(cfg.sftpRoot, 'hilltop-csd/clever/students.csv'))).toBe(true);
    // every log line of a run carries its run id, integration and district
    for (const l of d.lines.filter((x) => x.message === 'run started')) expect(l).toMatchObject({ integration: 'hilltop-clever-students', district: 'hilltop-csd' });
  });

  it('a disabled integration is not run; a run whose crashed process left its lease to lapse is marked interrupted at start', async () => {
    const cfg = await makeDemoConfigDir({ cron: '* * * * * *' });
    expect((await ferry(['disable', 'hilltop-clever-students', '--reason', 'test', '--config', cfg.dir])).code).toBe(0);
    const store = await openRunStore({ kind: 'sqlite', path: path.join(cfg.dataDir, 'ferry.sqlite') }, systemClock);
    const claim = await store.claimRun({
      integrationId: 'hilltop-clever-students',
      districtId: 'hilltop-csd',
      extract: 'clever-students',
      trigger: 'manual',
      requestedBy: 'crashed',
      scheduledFor: null,
      params: {},
      host: os.hostname(),
      pid: process.pid,
      // A crashed `ferry run`: its lease ran out, nobody renews it. (Host and pid say nothing: a live process may
      // reuse the pid, and a queued run records whoever claimed it; only the lease tells.)
      lease: { owner: `${os.hostname()}:crashed`, until: new Date(Date.now() - 1000) },
    });
    await store.close();
    expect(claim.claimed).toBe(true);

    const d = startDaemonProcess(cfg.dir);
    daemons.push(d);
    const warn = await d.waitFor((l) => l.message === 'run interrupted: its process stopped renewing its lease', 'the reaped run');
    expect(warn).toMatchObject({ runId: claim.run.id, leaseOwner: `${os.hostname()}:crashed` });
    await d.waitFor((l) => l.message === 'daemon started', 'daemon started');
    await d.waitFor((l) => l.message === 'slot not run: integration disabled' && l.reason === 'test', 'a disabled slot');
    const runs0 = await historyOf(cfg.dir);
    expect(runs0).toHaveLength(1);
    expect(runs0[0]).toMatchObject({ status: 'interrupted', requestedBy: 'crashed' });
    d.child.kill('SIGINT');
    expect(await d.exited).toBe(0);
    expect((await historyOf(cfg.dir)).filter((r) => r.trigger === 'schedule')).toHaveLength(0);
  });

  it('refuses to start on invalid config and says why (exit 2)', async () => {
    const cfg = await makeDemoConfigDir({ cron: 'every minute please' });
    const d = startDaemonProcess(cfg.dir);
    daemons.push(d);
    expect(await d.exited).toBe(2);
    expect(d.stderr()).toContain('the daemon did not start');
    expect(d.stderr()).toContain('integrations[0] (hilltop-clever-students).schedule.cron: is not a valid cron expression');
  });
});

describe('ferry daemon shutdown with runs in progress (real PostgreSQL source)', () => {
  let db: TestDatabase;
  let extractsDir: string;
  const daemons: DaemonProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('daemon');
    extractsDir = tempDir('ferry-extracts-');
    const dir = path.join(extractsDir, 'postgres', 'slow-roster');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'extract.yaml'),
      'name: slow-roster\ndescription: A query that takes a while.\nsource: postgres\nparams:\n  seconds: { type: integer, default: 1 }\ncolumns:\n  - { name: n, type: integer, element: "Not personal data/other" }\n',
    );
    fs.writeFileSync(path.join(dir, 'query.sql'), 'SELECT g AS n FROM pg_sleep(:seconds), generate_series(1, 3) AS g\n');
    // A run that waits until the test lets it go: it needs a shared advisory lock the test holds exclusively.
    const gated = path.join(extractsDir, 'postgres', 'gated-roster');
    fs.mkdirSync(gated, { recursive: true });
    fs.writeFileSync(
      path.join(gated, 'extract.yaml'),
      'name: gated-roster\ndescription: A query that waits for the test.\nsource: postgres\nparams:\n  lockKey: { type: integer, required: true }\ncolumns:\n  - { name: n, type: integer, element: "Not personal data/other" }\n',
    );
    fs.writeFileSync(path.join(gated, 'query.sql'), 'SELECT g AS n FROM pg_advisory_xact_lock_shared(:lockKey) AS l, generate_series(1, 3) AS g\n');
  });
  afterAll(async () => {
    for (const d of daemons) d.child.kill('SIGKILL');
    await db.drop();
  });

  async function slowConfig(seconds: number, grace: number, extract = 'slow-roster', params: Record<string, unknown> = { seconds }) {
    const u = new URL(db.url);
    return makeDemoConfigDir({
      extraFerry: {
        extractsDir,
        shutdownGraceSeconds: grace,
        sources: {
          pg: { kind: 'postgres', host: u.hostname, port: Number(u.port), database: u.pathname.slice(1), user: decodeURIComponent(u.username), password: { env: 'E2E_PG_PASSWORD' } },
        },
      },
      integrations: [
        {
          id: 'slow-roster',
          extract,
          source: 'pg',
          destination: 'demo-sftp',
          remotePath: '{district}/slow/roster.csv',
          schedule: { cron: '* * * * * *', timezone: 'UTC' },
          params,
          inventory: { vendor: 'Test', contact: 'Test', purpose: 'Shutdown behaviour' },
        },
      ],
    });
  }
  const env = () => ({ E2E_PG_PASSWORD: decodeURIComponent(new URL(db.url).password) });

  it('lets a running run finish within the grace period, and a CLI run of the same integration meanwhile is recorded as skipped', async () => {
    const gate = new pg.Client({ connectionString: db.url });
    await gate.connect();
    await gate.query('SELECT pg_advisory_lock(4242)');
    const cfg = await slowConfig(0, 30, 'gated-roster', { lockKey: 4242 });
    const d = startDaemonProcess(cfg.dir, env());
    daemons.push(d);
    const started = await d.waitFor((l) => l.message === 'run started', 'run started');
    const cli = await ferry(['run', 'slow-roster', '--config', cfg.dir], { env: env() });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/skipped: integration slow-roster is already running \(run \d+\)/);
    d.child.kill('SIGTERM');
    await d.waitFor((l) => l.message === 'daemon stopping', 'daemon stopping');
    await gate.query('SELECT pg_advisory_unlock(4242)'); // the run may finish now, inside the grace period
    await gate.end();
    expect(await d.exited).toBe(0);
    const runs = await historyOf(cfg.dir);
    expect(runs.find((r) => r.id === started.runId)).toMatchObject({ status: 'succeeded', rows: 3 });
    expect(runs.find((r) => r.trigger === 'manual')).toMatchObject({ status: 'skipped', errorKind: 'already_running' });
    expect(fs.readFileSync(path.join(cfg.sftpRoot, 'hilltop-csd/slow/roster.csv'), 'utf8')).toBe('n\r\n1\r\n2\r\n3\r\n');
  });

  it('interrupts runs still going when the grace period ends, delivers nothing, and exits 0', async () => {
    const cfg = await slowConfig(60, 1);
    const d = startDaemonProcess(cfg.dir, env());
    daemons.push(d);
    const started = await d.waitFor((l) => l.message === 'run started', 'run started');
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
    const runs = await historyOf(cfg.dir);
    expect(runs.find((r) => r.id === started.runId)).toMatchObject({ status: 'interrupted', errorKind: 'aborted' });
    expect(fs.existsSync(path.join(cfg.sftpRoot, 'hilltop-csd/slow'))).toBe(false);
    expect(fs.readdirSync(path.join(cfg.dataDir, 'spool'))).toEqual([]);
  });
});
