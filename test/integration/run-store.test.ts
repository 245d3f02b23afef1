import { statSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/core/clock.js';
import { openRunStore, type ClaimInput, type RunStore } from '../../src/store/run-store.js';
import { createTestDatabase } from '../helpers/pg-database.js';

type ManualClock = ReturnType<typeof createManualClock>;

interface Backend {
  store: RunStore;
  clock: ManualClock;
  dispose(): Promise<void>;
}

const T0 = new Date('2026-11-23T07:00:00.000Z');
const HOST = 'ferry-host-a';

async function openSqlite(): Promise<Backend> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-run-store-'));
  const clock = createManualClock(T0);
  const store = await openRunStore({ kind: 'sqlite', path: join(dir, 'nested', 'ferry.sqlite') }, clock);
  return {
    store,
    clock,
    dispose: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function openPostgres(): Promise<Backend> {
  const db = await createTestDatabase('run_store');
  const clock = createManualClock(T0);
  const store = await openRunStore({ kind: 'postgres', url: db.url }, clock);
  return {
    store,
    clock,
    dispose: async () => {
      await store.close();
      await db.drop();
    },
  };
}

const claim = (over: Partial<ClaimInput> = {}): ClaimInput => ({
  integrationId: 'hilltop-clever-students',
  districtId: 'hilltop-csd',
  extract: 'clever-students',
  trigger: 'manual',
  requestedBy: 'alice',
  scheduledFor: null,
  params: { districtId: 'hilltop-csd', grades: 'K-5', buildings: ['HES'] },
  host: HOST,
  pid: 4242,
  ...over,
});

describe.each([
  ['sqlite', openSqlite],
  ['postgres', openPostgres],
] as const)('run store on %s', (_kind, open) => {
  let backend: Backend;
  let store: RunStore;
  let clock: ManualClock;

  beforeEach(async () => {
    backend = await open();
    ({ store, clock } = backend);
  });
  afterEach(async () => {
    await backend?.dispose();
  });

  it('claims a run as running and records who asked, when and with what', async () => {
    const res = await store.claimRun(claim());
    expect(res.claimed).toBe(true);
    const run = res.run;
    expect(run).toMatchObject({
      integrationId: 'hilltop-clever-students',
      districtId: 'hilltop-csd',
      extract: 'clever-students',
      trigger: 'manual',
      requestedBy: 'alice',
      scheduledFor: null,
      params: { districtId: 'hilltop-csd', grades: 'K-5', buildings: ['HES'] },
      status: 'running',
      dryRun: false,
      startedAt: null,
      finishedAt: null,
      host: HOST,
      pid: 4242,
    });
    expect(run.createdAt).toEqual(T0);
    clock.advance(1500);
    await store.markStarted(run.id);
    expect((await store.getRun(run.id))?.startedAt).toEqual(new Date(T0.getTime() + 1500));
  });

  it('a second claim while the integration runs is refused as already_running and recorded as skipped', async () => {
    const first = await store.claimRun(claim());
    clock.advance(60_000);
    const second = await store.claimRun(claim({ requestedBy: 'bob', trigger: 'schedule', scheduledFor: new Date('2026-11-23T07:01:00Z') }));
    expect(second.claimed).toBe(false);
    if (second.claimed || second.reason !== 'already_running') throw new Error(`expected already_running, got ${JSON.stringify(second)}`);
    expect(second.runningId).toBe(first.run.id);
    expect(second.run).toMatchObject({ status: 'skipped', errorKind: 'already_running', requestedBy: 'bob', trigger: 'schedule' });
    expect(second.run.error).toContain(`run ${first.run.id}`);
    expect(second.run.finishedAt).toEqual(clock.now());
    const runs = await store.listRuns({ integrationId: 'hilltop-clever-students' });
    expect(runs.map((r) => r.status)).toEqual(['skipped', 'running']);
    // Another integration is not affected.
    expect((await store.claimRun(claim({ integrationId: 'hilltop-fastbridge' }))).claimed).toBe(true);
  });

  it('records a scheduled slot once: the same slot again is slot_taken, running or finished', async () => {
    const slot = new Date('2026-11-23T07:00:00Z');
    const first = await store.claimRun(claim({ trigger: 'schedule', scheduledFor: slot }));
    expect(first.claimed).toBe(true);
    const whileRunning = await store.claimRun(claim({ trigger: 'schedule', scheduledFor: slot, host: 'ferry-host-b' }));
    expect(whileRunning).toMatchObject({ claimed: false, reason: 'slot_taken', run: { id: first.run.id } });
    await store.finishRun(first.run.id, { status: 'succeeded' });
    const afterwards = await store.claimRun(claim({ trigger: 'schedule', scheduledFor: slot, host: 'ferry-host-b' }));
    expect(afterwards).toMatchObject({ claimed: false, reason: 'slot_taken', run: { id: first.run.id, status: 'succeeded' } });
    const runs = await store.listRuns();
    expect(runs.filter((r) => r.scheduledFor?.getTime() === slot.getTime())).toHaveLength(1);
    expect(runs).toHaveLength(1);
    // The next slot is a new run.
    expect((await store.claimRun(claim({ trigger: 'schedule', scheduledFor: new Date('2026-11-23T07:01:00Z') }))).claimed).toBe(true);
  });

  it('finishRun round-trips the outcome, with dates as Date and large byte counts intact', async () => {
    const { run } = await store.claimRun(claim({ dryRun: true }));
    clock.advance(1000);
    await store.markStarted(run.id);
    clock.advance(42_000);
    const sha256 = 'a'.repeat(32) + '0123456789abcdef'.repeat(2);
    const finished = await store.finishRun(run.id, {
      status: 'succeeded',
      rows: 1234,
      expected: 1240,
      bytes: 5_000_000_123,
      sha256,
      remotePath: '/districts/hilltop-csd/clever/students_20261123.csv',
      target: 'sftp://sftp.example.org:22',
    });
    const expected = {
      id: run.id,
      status: 'succeeded',
      dryRun: true,
      rows: 1234,
      expected: 1240,
      bytes: 5_000_000_123,
      sha256,
      remotePath: '/districts/hilltop-csd/clever/students_20261123.csv',
      target: 'sftp://sftp.example.org:22',
      errorKind: null,
      error: null,
      createdAt: T0,
      startedAt: new Date(T0.getTime() + 1000),
      finishedAt: new Date(T0.getTime() + 43_000),
    };
    expect(finished).toMatchObject(expected);
    expect(finished.finishedAt).toBeInstanceOf(Date);
    expect(await store.getRun(run.id)).toEqual(finished);

    const failed = (await store.claimRun(claim({ integrationId: 'other' }))).run;
    const rec = await store.finishRun(failed.id, { status: 'failed', errorKind: 'source_auth', error: 'integration other: source sis: PostgreSQL refused the login' });
    expect(rec).toMatchObject({ status: 'failed', errorKind: 'source_auth', error: 'integration other: source sis: PostgreSQL refused the login', rows: null, expected: null, bytes: null, sha256: null });
  });

  it('lists runs newest first, filters by integration, limits, and gives the last run of each integration', async () => {
    const ids: Record<string, number[]> = { a: [], b: [] };
    for (const name of ['a', 'b', 'a', 'b', 'a'] as const) {
      clock.advance(1000);
      const { run } = await store.claimRun(claim({ integrationId: name }));
      ids[name]!.push(run.id);
      await store.finishRun(run.id, { status: name === 'a' ? 'succeeded' : 'failed' });
    }
    const all = await store.listRuns();
    expect(all.map((r) => r.id)).toEqual([...ids.a!, ...ids.b!].sort((x, y) => y - x));
    expect((await store.listRuns({ integrationId: 'b' })).map((r) => r.id)).toEqual([...ids.b!].reverse());
    expect((await store.listRuns({ limit: 2 })).map((r) => r.id)).toEqual(all.slice(0, 2).map((r) => r.id));
    const last = await store.lastRuns();
    expect([...last.keys()].sort()).toEqual(['a', 'b']);
    expect(last.get('a')).toMatchObject({ id: ids.a!.at(-1), status: 'succeeded' });
    expect(last.get('b')).toMatchObject({ id: ids.b!.at(-1), status: 'failed' });
    expect(await store.getRun(ids.a![0]!)).toMatchObject({ integrationId: 'a', status: 'succeeded' });
    expect(await store.getRun(999_999)).toBeUndefined();
  });

  it('keeps log lines per run in the order they were appended', async () => {
    const one = (await store.claimRun(claim())).run;
    const two = (await store.claimRun(claim({ integrationId: 'other' }))).run;
    const at = (s: number) => new Date(T0.getTime() + s * 1000);
    await store.appendLogs(one.id, [
      { at: at(1), level: 'info', message: 'run started', fields: { trigger: 'manual' } },
      { at: at(2), level: 'info', message: 'extract started' },
    ]);
    await store.appendLogs(two.id, [{ at: at(2), level: 'info', message: 'run started' }]);
    await store.appendLogs(one.id, []);
    // Same timestamp as an earlier line: the append order still decides.
    await store.appendLogs(one.id, [
      { at: at(1), level: 'warn', message: 'sftp delivery retry', fields: { attempt: 2 } },
      { at: at(9), level: 'info', message: 'run succeeded', fields: { rows: 10, bytes: 200 } },
    ]);
    expect(await store.getLogs(one.id)).toEqual([
      { at: at(1), level: 'info', message: 'run started', fields: { trigger: 'manual' } },
      { at: at(2), level: 'info', message: 'extract started' },
      { at: at(1), level: 'warn', message: 'sftp delivery retry', fields: { attempt: 2 } },
      { at: at(9), level: 'info', message: 'run succeeded', fields: { rows: 10, bytes: 200 } },
    ]);
    expect((await store.getLogs(two.id)).map((l) => l.message)).toEqual(['run started']);
    expect(await store.getLogs(999_999)).toEqual([]);
  });

  it('remembers enable/disable overrides, the latest one winning', async () => {
    expect((await store.getStates()).size).toBe(0);
    await store.setEnabled('hilltop-clever-students', false, 'vendor contract paused', 'alice');
    clock.advance(3_600_000);
    await store.setEnabled('riverbend-staff', false, null, 'bob');
    clock.advance(3_600_000);
    await store.setEnabled('hilltop-clever-students', true, null, 'carol');
    const states = await store.getStates();
    expect(states.get('hilltop-clever-students')).toEqual({
      integrationId: 'hilltop-clever-students',
      enabled: true,
      reason: null,
      changedBy: 'carol',
      changedAt: new Date(T0.getTime() + 7_200_000),
    });
    expect(states.get('riverbend-staff')).toEqual({
      integrationId: 'riverbend-staff',
      enabled: false,
      reason: null,
      changedBy: 'bob',
      changedAt: new Date(T0.getTime() + 3_600_000),
    });
    expect(states.size).toBe(2);
  });

  it('renews only the leases asked for, records the process that claims a queued run, and reaps only lapsed leases', async () => {
    const lease = (owner: string, ms: number) => ({ owner, until: new Date(clock.now().getTime() + ms) });
    const a = (await store.claimRun(claim({ integrationId: 'a', lease: lease('daemon-1', 60_000) }))).run;
    const b = (await store.claimRun(claim({ integrationId: 'b', lease: lease('daemon-1', 60_000) }))).run;
    const other = (await store.claimRun(claim({ integrationId: 'c', lease: lease('daemon-2', 60_000) }))).run;
    // daemon-1 still runs a, no longer b (its end could not be written): only a's lease moves on.
    expect(await store.renewLeases('daemon-1', [a.id, other.id], new Date(T0.getTime() + 120_000))).toBe(1);
    clock.advance(90_000);
    const reaped = await store.reapLapsedLeases(clock.now());
    expect(reaped.map((r) => r.id).sort()).toEqual([b.id, other.id].sort());
    expect(await store.getRun(a.id)).toMatchObject({ status: 'running' });
    expect(await store.getRun(b.id)).toMatchObject({ status: 'interrupted', errorKind: 'aborted' });

    const queued = await store.enqueue({ ...claim({ integrationId: 'q', trigger: 'retry', slotAt: new Date('2026-11-23T06:28:00Z'), host: 'queuer', pid: 1 }), notBefore: clock.now() });
    const [claimed] = await store.claimQueued(lease('daemon-3', 60_000), clock.now(), 5, { host: 'claimer', pid: 777 });
    expect(claimed).toMatchObject({ id: queued!.id, status: 'running', host: 'claimer', pid: 777, leaseOwner: 'daemon-3', slotAt: new Date('2026-11-23T06:28:00Z') });
  });

  it('a replayed receipt makes an interrupted run succeeded and supersedes the retry queued for its slot', async () => {
    const slot = new Date('2026-11-23T06:00:00Z');
    const run = (await store.claimRun(claim({ trigger: 'schedule', scheduledFor: slot, lease: { owner: 'd1', until: new Date(T0.getTime() + 1000) } }))).run;
    clock.advance(5000);
    expect(await store.reapLapsedLeases(clock.now())).toHaveLength(1);
    const retry = await store.enqueue({ ...claim({ trigger: 'retry', slotAt: slot, retryOf: run.id, attempt: 2 }), notBefore: clock.now() });
    const outcome = { status: 'succeeded' as const, rows: 12, bytes: 340, sha256: 'ab'.repeat(32), remotePath: '/hilltop-csd/students_20261123.csv', target: 'sftp://x' };
    const recorded = await store.recordReceipt(run.id, outcome);
    expect(recorded?.run).toMatchObject({ status: 'succeeded', rows: 12, remotePath: outcome.remotePath, sha256: outcome.sha256, errorKind: null });
    expect(recorded?.superseded.map((r) => r.id)).toEqual([retry!.id]);
    expect(await store.getRun(retry!.id)).toMatchObject({ status: 'superseded' });
    // Replaying it again changes nothing.
    expect(await store.recordReceipt(run.id, outcome)).toBeUndefined();
    // A later retry of an older slot to the same path is overtaken; a newer slot is not.
    expect(await store.newerDelivery(run.integrationId, outcome.remotePath, new Date(slot.getTime() - 60_000), 999)).toMatchObject({ id: run.id });
    expect(await store.newerDelivery(run.integrationId, outcome.remotePath, new Date(slot.getTime() + 60_000), 999)).toBeUndefined();
  });

  it('held runs: the last delivered run ignores held, dry and undelivered runs; one release wins, and a failed one can be retried', async () => {
    const finish = async (over: Partial<ClaimInput>, outcome: Parameters<RunStore['finishRun']>[1]) => {
      const { run } = await store.claimRun(claim(over));
      return store.finishRun(run.id, outcome);
    };
    expect(await store.lastDelivered('hilltop-clever-students')).toBeUndefined();
    const delivered = await finish({}, { status: 'succeeded', rows: 1020, remotePath: '/hilltop-csd/clever/students.csv', target: 'sftp://x' });
    await finish({ dryRun: true }, { status: 'succeeded', rows: 5, remotePath: null });
    await finish({}, { status: 'failed', rows: 3 });
    const held = await finish({}, { status: 'held', rows: 412, bytes: 9000, sha256: 'ab'.repeat(32), spoolPath: '/spool/52.csv', holdReason: 'held: 412 rows against 1,020' });
    expect(held).toMatchObject({ status: 'held', rows: 412, spoolPath: '/spool/52.csv', holdReason: 'held: 412 rows against 1,020', releasedBy: null, releasedAt: null });
    expect((await store.lastDelivered('hilltop-clever-students'))?.id).toBe(delivered.id);
    expect((await store.lastRuns()).get('hilltop-clever-students')?.status).toBe('held');

    expect(await store.claimRelease(delivered.id, 'dave')).toBeUndefined(); // not held
    const claims = await Promise.all([store.claimRelease(held.id, 'dave'), store.claimRelease(held.id, 'erin')]);
    expect(claims.filter((c) => c !== undefined)).toHaveLength(1);
    await store.abandonRelease(held.id);
    expect(await store.getRun(held.id)).toMatchObject({ status: 'held', releasedBy: null, releasedAt: null });

    clock.advance(60_000);
    expect(await store.claimRelease(held.id, 'dave')).toMatchObject({ releasedBy: 'dave', releasedAt: clock.now() });
    const done = await store.completeRelease(held.id, { remotePath: '/hilltop-csd/clever/students.csv', target: 'sftp://x' });
    expect(done).toMatchObject({ status: 'succeeded', spoolPath: null, releasedBy: 'dave', holdReason: 'held: 412 rows against 1,020', remotePath: '/hilltop-csd/clever/students.csv' });
    expect((await store.lastDelivered('hilltop-clever-students'))?.id).toBe(held.id);
  });

  it('the latest delivery is the one delivered last: a held run released after a newer delivery; forced runs and releases keep who and why; held runs expire', async () => {
    const id = 'hilltop-clever-students';
    const claimAt = async (over: Partial<ClaimInput> = {}) => {
      const { run } = await store.claimRun(claim({ slotAt: clock.now(), ...over }));
      return run;
    };
    const older = await claimAt({ forced: { scope: "parameter grades=K overrides the config's K-5", reason: 'ticket 12' } });
    expect(older).toMatchObject({ forcedScope: "parameter grades=K overrides the config's K-5", forcedReason: 'ticket 12', releaseForcedReason: null, deliveredAt: null });
    await store.finishRun(older.id, { status: 'held', rows: 43, spoolPath: '/spool/1.csv', holdReason: 'held: 43 rows' });
    clock.advance(60_000);
    const newer = await claimAt();
    const receipt = new Date(clock.now().getTime() - 5_000); // a receipt replayed later keeps its delivery time
    await store.recordReceipt(newer.id, { status: 'succeeded', rows: 260, remotePath: '/hilltop-csd/clever/students.csv', target: 'sftp://x' }, receipt);
    expect((await store.getRun(newer.id))!.deliveredAt).toEqual(receipt);
    expect((await store.lastDelivered(id))?.id).toBe(newer.id);
    expect((await store.laterDelivery(id, older.slotAt))?.id).toBe(newer.id);
    expect(await store.laterDelivery(id, newer.slotAt)).toBeUndefined();

    clock.advance(60_000);
    const forced = { scope: `run ${newer.id} delivered newer data`, reason: 'vendor asked' };
    expect(await store.claimRelease(older.id, 'dave', forced)).toMatchObject({ releasedBy: 'dave', releaseForcedScope: forced.scope, releaseForcedReason: 'vendor asked' });
    await store.abandonRelease(older.id);
    expect(await store.getRun(older.id)).toMatchObject({ releasedBy: null, releaseForcedScope: null, releaseForcedReason: null });
    await store.claimRelease(older.id, 'dave', forced);
    const released = await store.completeRelease(older.id, { remotePath: '/hilltop-csd/clever/students.csv', target: 'sftp://x' });
    expect(released).toMatchObject({ status: 'succeeded', deliveredAt: clock.now(), releaseForcedReason: 'vendor asked', forcedReason: 'ticket 12' });
    expect((await store.lastDelivered(id))?.id).toBe(older.id);

    const held = await claimAt();
    await store.finishRun(held.id, { status: 'held', rows: 5, spoolPath: '/spool/3.csv', holdReason: 'held: 5 rows' });
    expect(await store.runsWithStatus('held', id)).toHaveLength(1);
    expect(await store.expireHeld(held.id, 'expired: too old')).toMatchObject({ status: 'expired', spoolPath: null, note: 'expired: too old', holdReason: 'held: 5 rows' });
    expect(await store.expireHeld(held.id, 'again')).toBeUndefined();
    expect(await store.claimRelease(held.id, 'dave')).toBeUndefined();
  });

  it('10 simultaneous claims for one integration: exactly one wins, the others are recorded as skipped', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.claimRun(claim({ requestedBy: `racer-${i}` }))));
    const winners = results.filter((r) => r.claimed);
    expect(winners).toHaveLength(1);
    const winner = winners[0]!.run;
    for (const r of results) {
      if (r.claimed) continue;
      expect(r).toMatchObject({ reason: 'already_running', runningId: winner.id, run: { status: 'skipped' } });
    }
    const runs = await store.listRuns({ integrationId: 'hilltop-clever-students' });
    expect(runs).toHaveLength(10);
    expect(runs.filter((r) => r.status === 'running').map((r) => r.id)).toEqual([winner.id]);
  });

  it('keeps every yearly review; the latest of each integration is its state', async () => {
    const review = (integrationId: string, nextReview: string, reviewedBy: string) =>
      store.recordReview({ integrationId, districtId: 'hilltop-csd', reviewedBy, note: `reviewed by ${reviewedBy}`, ticket: null, nextReview });
    const first = await review('hilltop-clever-students', '2027-11-23', 'alice');
    expect(first).toMatchObject({ reviewedAt: T0, reviewedBy: 'alice', note: 'reviewed by alice', ticket: null, nextReview: '2027-11-23' });
    clock.advance(60_000);
    await review('hilltop-lunch', '2027-06-30', 'bob');
    const second = await store.recordReview({ integrationId: 'hilltop-clever-students', districtId: 'hilltop-csd', reviewedBy: 'carol', note: 'moved to OneRoster', ticket: 'T-9', nextReview: '2027-11-24' });
    const latest = await store.latestReviews();
    expect([...latest.keys()].sort()).toEqual(['hilltop-clever-students', 'hilltop-lunch']);
    expect(latest.get('hilltop-clever-students')).toEqual(second);
    expect(second).toMatchObject({ reviewedAt: new Date(T0.getTime() + 60_000), ticket: 'T-9', nextReview: '2027-11-24' });
    expect([...(await store.latestReviews('hilltop-lunch')).values()].map((r) => r.reviewedBy)).toEqual(['bob']);
    expect((await store.latestReviews('nobody')).size).toBe(0);
  });
});

describe('SQLite run store file', () => {
  it('is created readable and writable by its owner only (0600)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-run-store-mode-'));
    const path = join(dir, 'ferry.sqlite');
    const previous = process.umask(0o000); // even with a permissive umask
    let store: RunStore | undefined;
    try {
      store = await openRunStore({ kind: 'sqlite', path }, createManualClock(T0));
      await store.claimRun(claim());
      expect(statSync(path).mode & 0o777).toBe(0o600);
      // The WAL and shared-memory files carry the same data and must be no more open.
      for (const f of await readdir(dir)) expect({ f, mode: statSync(join(dir, f)).mode & 0o777 }).toEqual({ f, mode: 0o600 });
    } finally {
      process.umask(previous);
      await store?.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('PostgreSQL run store opened by several daemons at once', () => {
  it('migrates once: daemons starting together on a new database all open it', async () => {
    const db = await createTestDatabase('run_store_race');
    const stores = await Promise.all([1, 2, 3, 4].map(() => openRunStore({ kind: 'postgres', url: db.url }, createManualClock(T0))));
    try {
      for (const s of stores) expect(await s.listRuns()).toEqual([]);
    } finally {
      for (const s of stores) await s.close();
      await db.drop();
    }
  });
});
