import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E_USER, ferry, REPO, startDaemonProcess, tempDir, type DaemonProcess } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg-database.js';
import { agreementsFor } from '../helpers/agreements.js';

/**
 * Issue 9, who may declare a run dead: only the lapse of its lease (or its own daemon). A daemon starting up must not
 * interrupt a run another live daemon is carrying out, and a daemon restarted after a crash must record the run it
 * lost as interrupted and retry its slot. Runs are held in flight by a PostgreSQL source query that waits on an
 * advisory lock the test holds (no sleeps: the test lets the run finish when it is ready), and each integration has one
 * slot, a little after its daemons start, so nothing else runs beside the run under test.
 */

const LEASE_SECONDS = 5;
/** Long enough for a daemon to start on a loaded machine before its integration's only slot. */
const SLOT_AFTER_MS = 15_000;

type Json = Record<string, unknown>;
const isRunStarted = (l: Json) => l.message === 'run started';

/** A cron expression (seconds first, UTC) that fires once: at `at`, rounded up to the second. */
function oneShotCron(at: Date): { cron: string; slot: Date } {
  const slot = new Date(Math.ceil(at.getTime() / 1000) * 1000);
  return { cron: `${slot.getUTCSeconds()} ${slot.getUTCMinutes()} ${slot.getUTCHours()} ${slot.getUTCDate()} ${slot.getUTCMonth() + 1} *`, slot };
}

describe('leases: who may declare a run dead', () => {
  let source: TestDatabase;
  let extractsDir: string;
  const roots: string[] = [];
  const daemons: DaemonProcess[] = [];
  const stores: TestDatabase[] = [];

  beforeAll(async () => {
    source = await createTestDatabase('lease_source');
    extractsDir = tempDir('ferry-lease-extracts-');
    const gated = path.join(extractsDir, 'postgres', 'gated-roster');
    fs.mkdirSync(gated, { recursive: true });
    fs.writeFileSync(
      path.join(gated, 'extract.yaml'),
      'name: gated-roster\ndescription: A query that waits for the test.\nsource: postgres\nparams:\n  lockKey: { type: integer, required: true }\ncolumns:\n  - { name: n, type: integer, element: "Not personal data/other" }\n',
    );
    fs.writeFileSync(path.join(gated, 'query.sql'), 'SELECT g AS n FROM pg_advisory_xact_lock_shared(:lockKey) AS l, generate_series(1, 3) AS g\n');
  });
  afterAll(async () => {
    for (const d of daemons) if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
    await Promise.all(stores.map((s) => s.drop()));
    await source?.drop();
    for (const r of [...roots, extractsDir]) if (r) fs.rmSync(r, { recursive: true, force: true });
  });

  /** A gate the test holds: runs of `gated-roster` with this key wait in PostgreSQL until it is opened. */
  async function holdGate(key: number): Promise<{ open(): Promise<void> }> {
    const client = new pg.Client({ connectionString: source.url });
    await client.connect();
    await client.query('SELECT pg_advisory_lock($1)', [key]);
    return {
      async open() {
        await client.query('SELECT pg_advisory_unlock($1)', [key]);
        await client.end();
      },
    };
  }

  /**
   * A config folder with one integration, `gated`, whose only slot is SLOT_AFTER_MS from now. The run store is the given
   * PostgreSQL database (by reference) or, without one, SQLite in the data folder, which every config of `root` shares.
   */
  function writeConfig(root: string, name: string, opts: { lockKey: number; slot: string; store?: TestDatabase; shutdownGraceSeconds?: number }): string {
    const dir = path.join(root, name);
    fs.mkdirSync(path.join(dir, 'integrations'), { recursive: true });
    const u = new URL(source.url);
    const ferryYaml = {
      dataDir: path.join(root, 'var'),
      extractsDir,
      ...(opts.store ? { store: { postgres: { url: { env: 'LEASE_STORE_URL' } } } } : {}),
      concurrency: { global: 4, perSource: 4 },
      shutdownGraceSeconds: opts.shutdownGraceSeconds ?? 30,
      http: false,
      scheduler: { leaseSeconds: LEASE_SECONDS, heartbeatSeconds: 1, pollSeconds: 1 },
      sources: { pg: { kind: 'postgres', host: u.hostname, port: Number(u.port), database: u.pathname.slice(1), user: decodeURIComponent(u.username), password: { env: 'LEASE_PG_PASSWORD' } } },
      destinations: { drop: { kind: 'local', basePath: path.join(root, 'drop') } },
    };
    fs.writeFileSync(path.join(dir, 'ferry.yaml'), YAML.stringify(ferryYaml));
    const integration = {
      id: 'gated',
      extract: 'gated-roster',
      source: 'pg',
      destination: 'drop',
      remotePath: '{district}/gated/{runId}.csv',
      schedule: { cron: opts.slot, timezone: 'UTC' },
      params: { lockKey: opts.lockKey },
      safety: false,
      retry: { maxAttempts: 3, initialDelaySeconds: 1, maxDelaySeconds: 2 },
      inventory: { vendor: 'Test', contact: 'ops', purpose: 'lease takeover test' },
    };
    fs.writeFileSync(path.join(dir, 'integrations', 'lease-csd.yaml'), YAML.stringify({ district: { id: 'lease-csd', name: 'Lease CSD' }, agreements: agreementsFor([integration]), integrations: [integration] }));
    return dir;
  }

  const env = (store?: TestDatabase) => ({ LEASE_PG_PASSWORD: decodeURIComponent(new URL(source.url).password), ...(store ? { LEASE_STORE_URL: store.url } : {}) });

  function start(configDir: string, store?: TestDatabase): DaemonProcess {
    const d = startDaemonProcess(configDir, env(store));
    daemons.push(d);
    return d;
  }

  /** Waits for 'daemon started', and fails plainly when it came after the integration's only slot. */
  async function started(d: DaemonProcess, slot: Date): Promise<void> {
    const line = await d.waitFor((l) => l.message === 'daemon started', 'daemon started', 60_000);
    expect(new Date(String(line.timestamp)).getTime(), `the daemon started after the slot ${slot.toISOString()} (a very slow machine): raise SLOT_AFTER_MS`).toBeLessThan(slot.getTime());
  }

  const history = async (configDir: string, store?: TestDatabase): Promise<Json[]> => {
    const res = await ferry(['history', '--json', '-n', '100', '--config', configDir], { env: env(store) });
    if (res.code !== 0) throw new Error(`ferry history exited ${res.code}: ${res.stderr}`);
    return JSON.parse(res.stdout) as Json[];
  };

  /** Waits until the run's lease (renewed by its daemon every heartbeat) runs past `until`: its daemon is alive and B has had several reap passes. */
  async function leaseRenewedPast(configDir: string, store: TestDatabase, runId: unknown, until: Date): Promise<Json> {
    for (const deadline = Date.now() + 60_000; ; await sleep(500)) {
      const run = (await history(configDir, store)).find((r) => r.id === runId);
      if (!run || run.status !== 'running' || Date.now() > deadline) return run ?? {};
      if (new Date(String(run.leaseExpiresAt)).getTime() > until.getTime()) return run;
    }
  }

  it('a daemon starting up leaves another live daemon’s run alone: the run ends succeeded, never interrupted', { timeout: 180_000 }, async () => {
    const root = tempDir('ferry-lease-a-');
    roots.push(root);
    const store = await createTestDatabase('lease_store_a');
    stores.push(store);
    const gate = await holdGate(9101);
    const { cron, slot } = oneShotCron(new Date(Date.now() + SLOT_AFTER_MS));
    const configDir = writeConfig(root, 'config', { lockKey: 9101, slot: cron, store });

    const a = start(configDir, store);
    await started(a, slot);
    const run = await a.waitFor(isRunStarted, 'the slot’s run started on daemon A', SLOT_AFTER_MS + 60_000);
    const b = start(configDir, store);
    await b.waitFor((l) => l.message === 'daemon started', 'daemon B started', 60_000);
    // B has started (its start-up checks are done) and run its reaper for two leases' time; A's run still holds.
    const during = await leaseRenewedPast(configDir, store, run.runId, new Date(Date.now() + 2 * LEASE_SECONDS * 1000));
    expect(during.status, `run ${String(run.runId)} of daemon A, after daemon B started beside it`).toBe('running');
    await gate.open();

    const done = await a.waitFor((l) => l.runId === run.runId && (l.message === 'run succeeded' || l.message === 'run failed' || l.message === 'run interrupted'), 'daemon A finished its run', 60_000);
    for (const d of [a, b]) d.child.kill('SIGTERM');
    expect(await Promise.all([a.exited, b.exited])).toEqual([0, 0]);
    const final = (await history(configDir, store)).find((r) => r.id === run.runId);
    const interruptedBy = [a, b].flatMap((d, n) => d.lines.filter((l) => l.runId === run.runId && String(l.message).includes('interrupted')).map((l) => `${'AB'[n]}: ${String(l.message)}`));
    const orphanSweep = b.lines.filter((l) => String(l.message).includes('marked interrupted')).map((l) => `B: ${String(l.message)} (count ${String(l.count)})`);
    expect(interruptedBy.concat(orphanSweep), `log lines that interrupted run ${String(run.runId)}: ${interruptedBy.concat(orphanSweep).join('; ')}`).toEqual([]);
    expect(done.message, `how daemon A's run ${String(run.runId)} ended in its log`).toBe('run succeeded');
    expect(final, `run ${String(run.runId)} in the store`).toMatchObject({ status: 'succeeded', rows: 3 });
  });

  it('a daemon starting up leaves alone a live daemon’s retry that was queued by a daemon since stopped', { timeout: 180_000 }, async () => {
    const root = tempDir('ferry-lease-a2-');
    roots.push(root);
    const store = await createTestDatabase('lease_store_a2');
    stores.push(store);
    const gate = await holdGate(9102);
    const { cron, slot } = oneShotCron(new Date(Date.now() + SLOT_AFTER_MS));
    const configDir = writeConfig(root, 'config', { lockKey: 9102, slot: cron, store });
    // X stops at once on SIGTERM: its run is interrupted and X queues the retry, then exits (a rolling restart).
    const xConfigDir = writeConfig(root, 'config-x', { lockKey: 9102, slot: cron, store, shutdownGraceSeconds: 0 });

    const x = start(xConfigDir, store);
    await started(x, slot);
    const first = await x.waitFor(isRunStarted, 'the slot’s run started on daemon X', SLOT_AFTER_MS + 60_000);
    const a = start(configDir, store);
    await a.waitFor((l) => l.message === 'daemon started', 'daemon A started', 60_000);
    x.child.kill('SIGTERM');
    expect(await x.exited, 'daemon X exit code').toBe(0);
    const queued = x.lines.find((l) => l.message === 'retry queued');
    expect(queued, `daemon X queued a retry of its interrupted run ${String(first.runId)}`).toBeDefined();
    const retry = await a.waitFor((l) => isRunStarted(l) && l.runId === queued!.retryRunId, `daemon A started retry ${String(queued!.retryRunId)}`, 60_000);

    const b = start(configDir, store);
    await b.waitFor((l) => l.message === 'daemon started', 'daemon B started', 60_000);
    const during = await leaseRenewedPast(configDir, store, retry.runId, new Date(Date.now() + 2 * LEASE_SECONDS * 1000));
    expect.soft(during.status, `retry ${String(retry.runId)} run by daemon A (queued by stopped daemon X, pid ${x.child.pid}), after daemon B started: ${String(during.error ?? '')}`).toBe('running');
    await gate.open();

    const done = await a.waitFor((l) => l.runId === retry.runId && (l.message === 'run succeeded' || l.message === 'run failed' || l.message === 'run interrupted'), 'daemon A finished the retry', 60_000);
    for (const d of [a, b]) d.child.kill('SIGTERM');
    expect(await Promise.all([a.exited, b.exited])).toEqual([0, 0]);
    const final = (await history(configDir, store)).find((r) => r.id === retry.runId);
    const orphanSweep = b.lines.filter((l) => String(l.message).includes('marked interrupted')).map((l) => `B: ${String(l.message)} (count ${String(l.count)})`);
    expect.soft(orphanSweep, `daemon B's start-up interrupted runs that daemon A was running: ${orphanSweep.join('; ')}`).toEqual([]);
    expect.soft(done.message, `how daemon A's retry ${String(retry.runId)} ended in its log`).toBe('run succeeded');
    expect.soft(final, `retry ${String(retry.runId)} in the store (daemon A's log says: ${String(done.message)})`).toMatchObject({ status: 'succeeded', rows: 3 });
  });

  it('a lone SQLite daemon killed mid-run and restarted records the run interrupted and retries its slot', { timeout: 180_000 }, async () => {
    const root = tempDir('ferry-lease-b-');
    roots.push(root);
    const gate = await holdGate(9103);
    const { cron, slot } = oneShotCron(new Date(Date.now() + SLOT_AFTER_MS));
    const configDir = writeConfig(root, 'config', { lockKey: 9103, slot: cron });

    const first = start(configDir);
    await started(first, slot);
    const lost = await first.waitFor(isRunStarted, 'the slot’s run started', SLOT_AFTER_MS + 60_000);
    first.child.kill('SIGKILL');
    await first.exited;
    expect((await history(configDir)).find((r) => r.id === lost.runId), `run ${String(lost.runId)} right after the SIGKILL`).toMatchObject({ status: 'running', trigger: 'schedule' });

    const again = start(configDir);
    await again.waitFor((l) => l.message === 'daemon started', 'the restarted daemon started', 60_000);
    await gate.open();
    // The retry waits out its backoff (1–2 s) and a poll (1 s); 30 s is plenty, and its absence is the failure.
    let runs: Json[] = [];
    const retryOfLost = () => runs.find((r) => r.trigger === 'retry' && r.retryOf === lost.runId);
    for (const until = Date.now() + 30_000; Date.now() < until && !(retryOfLost() && retryOfLost()!.status !== 'queued' && retryOfLost()!.status !== 'running'); await sleep(500)) {
      runs = await history(configDir);
    }
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
    runs = await history(configDir);
    const lostNow = runs.find((r) => r.id === lost.runId);
    expect.soft(lostNow, `run ${String(lost.runId)}, in flight when its daemon was killed, after the restart`).toMatchObject({ status: 'interrupted' });
    const retry = retryOfLost();
    expect(retry, `a retry of run ${String(lost.runId)} (trigger retry, retryOf ${String(lost.runId)}) after the restart; runs: ${runs.map((r) => `${String(r.id)} ${String(r.trigger)} ${String(r.status)}`).join(', ')}`).toBeDefined();
    expect(retry, `the retry of run ${String(lost.runId)}`).toMatchObject({ status: 'succeeded', rows: 3, attempt: 2 });
    expect(runs.filter((r) => r.scheduledFor === slot.toISOString()).map((r) => r.id), `records of the slot ${slot.toISOString()}`).toEqual([lost.runId]);
  });
  it('a SIGKILLed `ferry run` holds a lease like a daemon: once it lapses, the next `ferry run` records it interrupted, removes its spool file and runs', { timeout: 180_000 }, async () => {
    const root = tempDir('ferry-lease-cli-');
    roots.push(root);
    const gate = await holdGate(9104);
    // Its only slot is far away: only the CLI runs it here.
    const configDir = writeConfig(root, 'config', { lockKey: 9104, slot: '0 0 1 1 *' });
    const spoolDir = path.join(root, 'var', 'spool');
    const cli = spawn(process.execPath, [path.join(REPO, 'dist/src/cli/main.js'), 'run', 'gated', '--config', configDir], { env: { ...process.env, ...env(), FERRY_USER: 'e2e-tester', SUDO_USER: '' }, stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => cli.once('exit', () => resolve()));
    // Wait until the run is recorded running under its lease and its spool file (student data) exists, then kill it.
    let run: Json | undefined;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(250)) {
      run = (await history(configDir)).find((r) => r.integrationId === 'gated' && r.status === 'running');
      if (run && fs.existsSync(spoolDir) && fs.readdirSync(spoolDir).some((f) => f.startsWith(`${String(run!.id)}-`))) break;
    }
    expect(run, 'the CLI run is recorded running').toMatchObject({ trigger: 'manual', requestedBy: E2E_USER });
    expect(run!.leaseOwner, 'the CLI run holds a lease').toEqual(expect.stringContaining(':'));
    cli.kill('SIGKILL');
    await exited;

    // While its lease holds, the run may still be alive as far as anyone can tell: a second run is refused.
    const refused = await ferry(['run', 'gated', '--config', configDir], { env: env() });
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toContain('already running');
    // Once the lease has lapsed, the next run reaps it, removes its spool file, and runs.
    while (new Date(String((await history(configDir)).find((r) => r.id === run!.id)!.leaseExpiresAt)).getTime() > Date.now() - 100) await sleep(250);
    await gate.open();
    const next = await ferry(['run', 'gated', '--config', configDir], { env: env() });
    expect(next.code, next.stderr).toBe(0);
    const killed = (await history(configDir)).find((r) => r.id === run!.id);
    expect(killed).toMatchObject({ status: 'interrupted', errorKind: 'aborted' });
    expect(fs.readdirSync(spoolDir), 'spool files left after the next run').toEqual([]);
  });
});
