import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDemoSis } from '../../src/demo/demo-sis.js';
import { compileSchedule, slotsBetween } from '../../src/scheduler/slots.js';
import { startDaemonProcess, tempDir, type DaemonProcess } from '../helpers/cli.js';
import { startOwnPostgres, type OwnPostgresServer } from '../helpers/postgres.js';
import { agreementsFor } from '../helpers/agreements.js';

/**
 * Issue 9's acceptance test, "the run record is the truth": whatever happens to the daemons and to their store, what
 * the store says afterwards is what happened. Three daemons share a PostgreSQL store (a server of this test's own, since
 * it is stopped) and a local destination folder; 40 integrations fire every 2 s (4 of them slow). One daemon is killed
 * with SIGKILL while runs are in flight, the store's PostgreSQL is stopped for 40 s and started again, then the others
 * get SIGTERM in the middle of a slot's runs. Then the store, the destination folder, the spool and the daemons' output
 * must agree. Every step waits on a log line, except the deliberate 40 s outage.
 */

const TZ = 'America/New_York';
const FAST_CRON = '*/2 * * * * *';
const slowCron = (n: number) => `${[1, 3, 5][(n - 1) % 3]}-59/6 * * * * *`;
const FAST = 36;
const SLOW = 4;
const DISTRICT = 'truth-csd';
const OUTAGE_MS = 40_000;

const fastId = (n: number) => `fast-${String(n).padStart(2, '0')}`;
const slowId = (n: number) => `slow-${n}`;
const SCHEDULES: [string, string][] = [
  ...Array.from({ length: FAST }, (_, i): [string, string] => [fastId(i + 1), FAST_CRON]),
  ...Array.from({ length: SLOW }, (_, i): [string, string] => [slowId(i + 1), slowCron(i + 1)]),
];

type Line = Record<string, unknown>;
interface RunRow {
  id: number;
  integration_id: string;
  trigger: string;
  scheduled_for: Date | null;
  status: string;
  dry_run: boolean;
  sha256: string | null;
  remote_path: string | null;
  retry_of: number | null;
  lease_owner: string | null;
}

function writeExtract(extractsDir: string, name: string, yaml: string, sql: string): void {
  const dir = path.join(extractsDir, 'sqlite', name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'extract.yaml'), yaml);
  fs.writeFileSync(path.join(dir, 'query.sql'), sql);
}

/** One config folder for all three daemons (one host, one dataDir), like the multi-daemon test. */
function writeConfig(root: string): string {
  const dir = path.join(root, 'config');
  const extractsDir = path.join(root, 'extracts');
  fs.mkdirSync(path.join(dir, 'integrations'), { recursive: true });
  const sis = path.join(root, 'sis', 'sis.sqlite');
  ensureDemoSis(sis);
  // Each file differs (the time it was made), so a record's SHA-256 names one file, not every file of its integration.
  writeExtract(
    extractsDir,
    'one-row',
    'name: one-row\ndescription: One row naming the district, and when it was made.\nsource: sqlite\nparams:\n  districtId: { type: string, required: true }\ncolumns:\n  - { name: id, type: string, element: "Student Identifiers/local ID" }\n  - { name: made_at, type: string, element: "Not personal data/other" }\n',
    "SELECT :districtId AS id, strftime('%Y-%m-%dT%H:%M:%f', 'now') AS made_at\n",
  );
  // ~2–3 s of SQLite work in small steps (the connector yields between batches), so these are in flight when killed.
  writeExtract(
    extractsDir,
    'slow-count',
    'name: slow-count\ndescription: Counts for a few seconds.\nsource: sqlite\nparams:\n  districtId: { type: string, required: true }\n  upTo: { type: integer, default: 3000000 }\ncolumns:\n  - { name: n, type: integer, element: "Not personal data/other" }\n',
    'WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < :upTo)\nSELECT n FROM c WHERE n % 10 = 0 AND :districtId IS NOT NULL\n',
  );
  const ferryYaml = {
    dataDir: '../var',
    extractsDir,
    store: { postgres: { url: { env: 'TRUTH_STORE_URL' } } },
    concurrency: { global: 4, perSource: 4 },
    shutdownGraceSeconds: 30,
    http: false,
    scheduler: { leaseSeconds: 5, heartbeatSeconds: 1, pollSeconds: 1 },
    sources: { sis: { kind: 'sqlite', path: sis } },
    destinations: { drop: { kind: 'local', basePath: path.join(root, 'drop') } },
  };
  fs.writeFileSync(path.join(dir, 'ferry.yaml'), YAML.stringify(ferryYaml));
  const integrations = SCHEDULES.map(([id, cron]) => ({
    id,
    extract: id.startsWith('slow-') ? 'slow-count' : 'one-row',
    source: 'sis',
    destination: 'drop',
    // One file per run: a file on disk names the run that delivered it.
    remotePath: '{district}/{integration}/{runId}.csv',
    schedule: { cron, timezone: TZ },
    params: { districtId: DISTRICT },
    safety: false,
    retry: { maxAttempts: 5, initialDelaySeconds: 1, maxDelaySeconds: 2 },
    inventory: { vendor: 'Test', contact: 'ops', purpose: 'run record truth test' },
  }));
  fs.writeFileSync(path.join(dir, 'integrations', `${DISTRICT}.yaml`), YAML.stringify({ district: { id: DISTRICT, name: 'Truth CSD' }, agreements: agreementsFor(integrations), integrations }));
  return dir;
}

const isRunStarted = (l: Line) => l.message === 'run started';
const since = (iso: string) => (l: Line) => String(l.timestamp) >= iso;
const slowStartedSince = (iso: string) => (l: Line) => isRunStarted(l) && String(l.integration).startsWith('slow-') && since(iso)(l);

/** Resolves when the daemons together have logged `n` lines matching `match` (past lines count). */
function waitForCount(daemons: DaemonProcess[], match: (l: Line) => boolean, n: number, what: string, ms: number): Promise<unknown> {
  let count = 0;
  const pred = (l: Line) => match(l) && ++count >= n;
  return Promise.race(daemons.map((d) => d.waitFor(pred, what, ms)));
}

/** The first of the daemons to log a matching line. */
function firstToLog(daemons: DaemonProcess[], match: (l: Line) => boolean, what: string, ms: number): Promise<DaemonProcess> {
  return Promise.race(daemons.map((d) => d.waitFor(match, what, ms).then(() => d)));
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

const sha256Of = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe('the run record is the truth: SIGKILL, a 40 s store outage and SIGTERM mid-slot', () => {
  let server: OwnPostgresServer;
  let storeUrl: string;
  let root: string;
  let failed = true;
  const daemons: DaemonProcess[] = [];

  beforeAll(async () => {
    server = await startOwnPostgres();
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    await admin.query('CREATE DATABASE ferry_truth');
    await admin.end();
    const u = new URL(server.url);
    u.pathname = '/ferry_truth';
    storeUrl = u.toString();
    root = tempDir('ferry-truth-');
  });
  afterAll(async () => {
    for (const d of daemons) if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
    await server?.stop();
    // Kept when the test fails: daemon-N.log (each daemon's output), the destination folder, the spool.
    if (root && !failed) fs.rmSync(root, { recursive: true, force: true });
    else if (root) console.warn(`run-record-truth: kept ${root} for a look`);
  });

  it('leaves every slot recorded once, nothing running or queued, files and records agreeing, no spool, no late start, JSON-only output', { timeout: 600_000 }, async ({ onTestFailed }) => {
    failed = false;
    onTestFailed(() => {
      failed = true;
    });
    const configDir = writeConfig(root);
    const dataDir = path.join(root, 'var');
    const dropDir = path.join(root, 'drop');
    const env = { TRUTH_STORE_URL: storeUrl };
    for (let n = 0; n < 3; n++) daemons.push(startDaemonProcess(configDir, env));
    await Promise.all(daemons.map((d) => d.waitFor((l) => l.message === 'daemon started', 'daemon started', 60_000)));

    // Bursts of slots, shared by the three; then the next daemon to start a slow run is killed with it in flight.
    await waitForCount(daemons, isRunStarted, 60, '60 runs started by the three daemons', 120_000);
    const victim = await firstToLog(daemons, slowStartedSince(new Date().toISOString()), 'a slow run started (to kill its daemon)', 60_000);
    victim.child.kill('SIGKILL');
    await victim.exited;
    const survivors = daemons.filter((d) => d !== victim);

    // The survivors go on (and take over the victim's runs); the store goes down while a slow run is in flight.
    const afterKill = new Date().toISOString();
    await waitForCount(survivors, (l) => isRunStarted(l) && since(afterKill)(l), 40, '40 runs started after the kill', 120_000);
    await firstToLog(survivors, slowStartedSince(new Date().toISOString()), 'a slow run started (to stop the store under it)', 60_000);
    await server.pause();
    await sleep(OUTAGE_MS); // the deliberate outage: the point is how long the store is away
    await server.resume();
    const resumedAt = new Date();
    await waitForCount(survivors, (l) => isRunStarted(l) && since(resumedAt.toISOString())(l), 20, '20 runs started after the store came back', 180_000);

    const client = new pg.Client({ connectionString: storeUrl });
    await client.connect();
    const readRuns = async () => (await client.query<RunRow>('SELECT id, integration_id, trigger, scheduled_for, status, dry_run, sha256, remote_path, retry_of, lease_owner FROM runs ORDER BY id')).rows;
    try {
      // Give the survivors time to deal with the slots that fell during the outage and to run the retries queued by the
      // takeover and the outage (how it ends is asserted below, not here): until every slot up to the store's return
      // is recorded and nothing is queued, or 3 minutes. Then stop both daemons right after a fresh slot's first run
      // started: the rest of that slot's runs are still to come.
      for (const until = Date.now() + 180_000; Date.now() < until; await sleep(1000)) {
        const runs = await readRuns();
        if (absentSlots(runs, resumedAt).absent.length === 0 && !runs.some((r) => r.status === 'queued')) break;
      }
      const termFrom = new Date().toISOString();
      await firstToLog(survivors, (l) => isRunStarted(l) && l.trigger === 'schedule' && String(l.scheduledFor) > termFrom, "a fresh slot's first run started", 60_000);
      for (const d of survivors) d.child.kill('SIGTERM');
      const codes = await Promise.all(survivors.map((d) => d.exited));
      await Promise.all(daemons.map((d) => d.closed));
      daemons.forEach((d, n) =>
        fs.writeFileSync(path.join(root, `daemon-${n}.log`), [...d.lines.map((l) => JSON.stringify(l)), ...d.strayLines.map((t) => `STDOUT ${t}`), `STDERR ${d.stderr()}`].join('\n')),
      );
      expect.soft(codes, 'exit codes of the two daemons stopped with SIGTERM').toEqual([0, 0]);

      const runs = await readRuns();
      const byStatus = new Map<string, number>();
      for (const r of runs) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
      const summary = `${runs.length} runs (${[...byStatus].map(([s, n]) => `${s} ${n}`).join(', ')})`;

      // 1. Every slot in the window has exactly one record. The window is, for each integration, from the first slot any
      // daemon recorded to its last recorded slot: slots due when every daemon had stopped are recorded by the next
      // daemon to start (its misfire policy), not by daemons that are stopping.
      const { absent, doubled, expected, first, last } = absentSlots(runs);
      expect(expected, `slots between ${first.toISOString()} and ${last.toISOString()}`).toBeGreaterThan((FAST * OUTAGE_MS) / 2000);
      expect.soft(absent, `${few(absent)} of ${expected} slots between ${first.toISOString()} and ${last.toISOString()} have no record; ${summary}`).toEqual([]);
      expect.soft(doubled, `slots recorded more than once: ${few(doubled)}; ${summary}`).toEqual([]);
      const badRetries = runs.filter((r) => r.trigger === 'retry' && (r.retry_of === null || r.scheduled_for !== null)).map((r) => r.id);
      expect.soft(badRetries, 'retries without retry_of, or holding a slot of their own').toEqual([]);

      // 2. Nothing is left running, and nothing queued but retries waiting for the next daemon: each one the retry of a
      // run that ended (interrupted by the shutdown before it could start, or failed), for that run's slot.
      const unfinished = runs.filter((r) => r.status === 'running').map((r) => `run ${r.id} ${r.integration_id} ${r.trigger} (lease ${r.lease_owner})`);
      expect.soft(unfinished, `runs still running after every daemon stopped: ${few(unfinished)}; ${summary}`).toEqual([]);
      const strayQueued = runs
        .filter((r) => r.status === 'queued')
        .filter((q) => {
          const before = runs.filter((r) => r.id < q.id && (r.id === q.retry_of || r.retry_of === q.retry_of)).at(-1);
          return q.trigger !== 'retry' || !before || !['interrupted', 'failed'].includes(before.status);
        })
        .map((r) => `run ${r.id} ${r.integration_id} ${r.trigger}`);
      expect.soft(strayQueued, `queued runs that are not the retry of a run that ended: ${few(strayQueued)}; ${summary}`).toEqual([]);

      // 3. Files and records agree: each path's newest succeeded record names the file on disk and its SHA-256.
      const abs = (p: string) => (path.isAbsolute(p) ? p : path.join(dropDir, p));
      const newestSucceeded = new Map<string, RunRow>();
      for (const r of runs) if (r.status === 'succeeded' && !r.dry_run && r.remote_path) newestSucceeded.set(abs(r.remote_path), r);
      const delivered = filesUnder(dropDir).filter((f) => !path.basename(f).startsWith('.')); // .name.ferry-N.part: an upload cut off
      const unrecorded: string[] = [];
      const wrongSha: string[] = [];
      for (const file of delivered) {
        const rec = newestSucceeded.get(file);
        const runId = Number(path.basename(file, '.csv'));
        const actual = runs.find((r) => r.id === runId);
        if (!rec) unrecorded.push(`${path.relative(dropDir, file)} (run ${runId} is recorded ${actual?.status ?? 'nowhere'})`);
        else if (rec.sha256 !== sha256Of(file)) wrongSha.push(`${path.relative(dropDir, file)}: run ${rec.id} records ${rec.sha256}, the file is ${sha256Of(file)}`);
      }
      const missingFiles = [...newestSucceeded].filter(([file]) => !fs.existsSync(file)).map(([file, r]) => `run ${r.id}: ${path.relative(dropDir, file)}`);
      expect(delivered.length, 'files delivered').toBeGreaterThan(100);
      expect.soft(unrecorded, `delivered files with no succeeded record for their path: ${few(unrecorded)}; ${summary}`).toEqual([]);
      expect.soft(wrongSha, `delivered files whose SHA-256 is not the one their succeeded record gives: ${few(wrongSha)}`).toEqual([]);
      expect.soft(missingFiles, `succeeded runs whose file is not in the destination: ${few(missingFiles)}`).toEqual([]);

      // 4. No spool file is left behind (one dataDir for the three daemons, as on one host).
      const victimOwner = String(victim.lines.find((l) => l.message === 'daemon started')?.leaseOwner);
      const spool = filesUnder(path.join(dataDir, 'spool')).map((f) => {
        const run = runs.find((r) => r.id === Number(path.basename(f).split('-')[0]));
        return `${path.basename(f)} (run ${run?.id ?? '?'} ${run?.status ?? 'unrecorded'}${run?.lease_owner === victimOwner ? ', the SIGKILLed daemon\'s' : ''})`;
      });
      expect.soft(spool, `files left in ${path.join(dataDir, 'spool')}: ${few(spool)}`).toEqual([]);

      // 5. No run started after its daemon logged "daemon stopping".
      const late: string[] = [];
      for (const d of survivors) {
        const stopAt = d.lines.findIndex((l) => l.message === 'daemon stopping');
        expect.soft(stopAt, `pid ${d.child.pid} logged "daemon stopping"`).toBeGreaterThanOrEqual(0);
        if (stopAt < 0) continue;
        const stoppingAt = String(d.lines[stopAt]!.timestamp);
        for (const l of d.lines.slice(stopAt + 1).filter(isRunStarted)) late.push(`pid ${d.child.pid}: run ${String(l.runId)} (${String(l.integration)}, ${String(l.trigger)}) started at ${String(l.timestamp)}, after "daemon stopping" at ${stoppingAt}`);
      }
      expect.soft(late, `runs started after their daemon logged "daemon stopping": ${few(late)}`).toEqual([]);

      // 6. Nothing but JSON log lines on stdout and stderr.
      const stray = daemons.flatMap((d) => [
        ...d.strayLines.map((t) => `pid ${d.child.pid} stdout: ${t.slice(0, 300)}`),
        ...d
          .stderr()
          .split('\n')
          .filter((t) => t.trim() !== '' && !isJsonObject(t))
          .map((t) => `pid ${d.child.pid} stderr: ${t.slice(0, 300)}`),
      ]);
      expect.soft(stray, `non-JSON lines printed by the daemons: ${few(stray)}`).toEqual([]);
    } finally {
      await client.end();
    }
  });
});

/**
 * Each integration's slots from the first slot any daemon recorded to `to` (default: that integration's last recorded slot), checked
 * against the scheduled records (retries hold no slot: trigger retry, scheduled_for null, retry_of set).
 */
function absentSlots(runs: readonly RunRow[], to?: Date): { absent: string[]; doubled: string[]; expected: number; first: Date; last: Date } {
  const perSlot = new Map<string, number>();
  const scheduled = runs.filter((r) => r.trigger === 'schedule' && r.scheduled_for);
  for (const r of scheduled) {
    const key = `${r.integration_id} ${r.scheduled_for!.toISOString()}`;
    perSlot.set(key, (perSlot.get(key) ?? 0) + 1);
  }
  if (scheduled.length === 0) return { absent: [], doubled: [], expected: 0, first: new Date(0), last: new Date(0) };
  const first = new Date(Math.min(...scheduled.map((r) => r.scheduled_for!.getTime())));
  const last = to ?? new Date(Math.max(...scheduled.map((r) => r.scheduled_for!.getTime())));
  const lastOf = (id: string) => {
    const mine = scheduled.filter((r) => r.integration_id === id).map((r) => r.scheduled_for!.getTime());
    return new Date(Math.min(last.getTime(), mine.length ? Math.max(...mine) : first.getTime()));
  };
  const absent: string[] = [];
  let expected = 0;
  for (const [id, cron] of SCHEDULES) {
    for (const slot of slotsBetween(compileSchedule(cron), TZ, new Date(first.getTime() - 1), to ?? lastOf(id))) {
      expected++;
      if (!perSlot.has(`${id} ${slot.toISOString()}`)) absent.push(`${id} ${slot.toISOString()}`);
    }
  }
  const doubled = [...perSlot].filter(([, n]) => n > 1).map(([k, n]) => `${k} ×${n}`);
  return { absent, doubled, expected, first, last };
}

/** A count and the first few, for a failure message that says what went wrong without the diff. */
function few(xs: readonly string[]): string {
  return `${xs.length} (${xs.slice(0, 4).join('; ')}${xs.length > 4 ? '; …' : ''})`;
}

function isJsonObject(text: string): boolean {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}
