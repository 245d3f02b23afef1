import fs from 'node:fs';
import path from 'node:path';
import knexFactory from 'knex';
import type { Knex } from 'knex';
import type { Logger } from 'winston';
import { migrationSource } from '../../migrations/index.js';
import { backoffMs } from '../runs/backoff.js';
import type { Clock } from '../core/clock.js';
import { FerryError } from '../core/errors.js';
import { scrubSecrets } from '../config/secrets.js';
import { knexLog } from './knex-log.js';
import { reviewQueries, type ReviewQueries } from './review-records.js';
import { createPersonDigestStore, type PersonDigestStore } from './person-digest-store.js';
import { createAuditStore } from './audit-store.js';
import type { AuditStore } from '../governance/audit.js';
import { rowToRun, type RunFileInfo, type RunRecord, type RunStatus, type RunTrigger } from './run-record.js';

export type { RunFileInfo, RunRecord, RunStatus, RunTrigger } from './run-record.js';
export type { NewReview, ReviewRecord } from './review-records.js';

export type StoreTarget = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

export interface ClaimInput {
  integrationId: string;
  districtId: string;
  extract: string;
  trigger: RunTrigger;
  requestedBy: string;
  scheduledFor: Date | null;
  /** The time the run is for; default: its scheduled time, or now. A retry passes the slot of the run it retries. */
  slotAt?: Date | undefined;
  params: Readonly<Record<string, unknown>>;
  dryRun?: boolean;
  host: string;
  pid: number;
  /** The daemon (or CLI process) that will run it, and until when its lease holds unless renewed. */
  lease?: { owner: string; until: Date } | undefined;
  /** When another run of the integration is going: record this one as skipped (default) or queue it behind. */
  whenBusy?: 'skip' | 'queue' | undefined;
  attempt?: number | undefined;
  retryOf?: number | null | undefined;
  note?: string | null | undefined;
  /** A person forced this run past what the config fixes: what was overridden, and why (who is `requestedBy`). */
  forced?: Forced | null | undefined;
  /** The digest of the configuration that produced the run (src/governance/config-digest.ts). */
  configDigest?: string | null | undefined;
}

/** A forced action: `scope` says what it overrode (one clause), `reason` is the person's `--reason`. */
export interface Forced {
  scope: string;
  reason: string;
}

/** A slot the scheduler decided not to run (missed after downtime, blackout): recorded as final at once. */
export interface DecisionInput extends ClaimInput {
  status: 'missed' | 'skipped';
  errorKind: string;
  note: string;
}

export type ClaimResult =
  | { claimed: true; run: RunRecord }
  /** Another run of the integration is going: a skipped run was recorded. */
  | { claimed: false; reason: 'already_running'; run: RunRecord; runningId: number }
  /** This scheduled slot was already recorded (by this or another process): nothing new recorded. */
  | { claimed: false; reason: 'slot_taken'; run: RunRecord }
  /** Another run is going and `whenBusy: 'queue'`: this one waits, `queued`, and starts when that one ends. */
  | { claimed: false; reason: 'queued'; run: RunRecord; runningId: number };

export interface RunOutcome {
  status: Exclude<RunStatus, 'running'>;
  rows?: number | null;
  /** The source's own count (RunRecord.expected). */
  expected?: number | null;
  bytes?: number | null;
  sha256?: string | null;
  remotePath?: string | null;
  target?: string | null;
  errorKind?: string | null;
  error?: string | null;
  /** Held runs: the kept spool file and why the delivery was held. */
  spoolPath?: string | null;
  holdReason?: string | null;
  /** OneRoster bundles: each file in the zip. */
  files?: readonly RunFileInfo[] | null;
  bundleMode?: 'bulk' | 'delta' | null;
}

export interface LogEntry {
  at: Date;
  level: string;
  message: string;
  fields?: Record<string, unknown>;
}

export interface IntegrationState {
  integrationId: string;
  enabled: boolean;
  reason: string | null;
  changedBy: string;
  changedAt: Date;
}

/** Yearly reviews (recordReview, latestReviews) live in review-records.ts; the store carries them. */
export interface RunStore extends ReviewQueries {
  /** The store's clock: daemons on several hosts agree on it whatever their own clocks say. */
  dbNow(): Promise<Date>;
  claimRun(input: ClaimInput): Promise<ClaimResult>;
  /** Record slots' decisions (missed, blackout) as final runs; returns those recorded (a slot already recorded is left as it is). */
  recordDecisions(inputs: readonly DecisionInput[]): Promise<RunRecord[]>;
  /** A queued run (a retry after its backoff): undefined when the integration already has one queued. */
  enqueue(input: ClaimInput & { notBefore: Date }): Promise<RunRecord | undefined>;
  /**
   * Due queued runs (not_before ≤ now) turned running under `lease`, oldest first; each is claimed by one caller only.
   * The claiming process (host, pid) is recorded on the run.
   */
  claimQueued(lease: { owner: string; until: Date }, now: Date, limit: number, claimer: { host: string; pid: number; configDigest?: string }, integrationId?: string): Promise<RunRecord[]>;
  /** Does `owner` still hold the run's lease at `now` (running, its owner, not lapsed)? */
  holdsLease(runId: number, owner: string, now: Date): Promise<boolean>;
  /** Push back the leases of these runs, those `owner` still holds; returns how many. */
  renewLeases(owner: string, runIds: readonly number[], until: Date): Promise<number>;
  /** A round trip to the store (the heartbeat when no run is in flight). */
  ping(): Promise<void>;
  /**
   * A delivered file's receipt reaches the store: the run becomes succeeded whatever was recorded meanwhile (running,
   * or interrupted by another daemon when its lease lapsed during a store outage), and a retry of its chain still
   * queued becomes superseded. Undefined when the run is unknown or already recorded as delivered.
   */
  recordReceipt(runId: number, outcome: RunOutcome & { status: 'succeeded' }, deliveredAt?: Date): Promise<{ run: RunRecord; superseded: RunRecord[] } | undefined>;
  /** The newest delivery of the integration (succeeded, not a dry run) for a slot after `slotAt`, if any. */
  laterDelivery(integrationId: string, slotAt: Date): Promise<RunRecord | undefined>;
  /** A succeeded delivery of the integration to `remotePath` for a slot at or after `slotAt`, other than `runId`. */
  newerDelivery(integrationId: string, remotePath: string, slotAt: Date, runId: number): Promise<RunRecord | undefined>;
  /** Runs whose kept spool file is at one of these paths (held, dry runs, spool.keep). */
  runsBySpoolPath(paths: readonly string[]): Promise<RunRecord[]>;
  /** Runs by id (missing ids are left out). */
  getRuns(runIds: readonly number[]): Promise<RunRecord[]>;
  /** Running runs whose lease lapsed before `now` become interrupted (their daemon died); returns them. */
  reapLapsedLeases(now: Date): Promise<RunRecord[]>;
  /** True for exactly one caller per (name, slot) across every daemon sharing the store (the daily digest). */
  claimOnce(name: string, slot: Date, owner: string): Promise<boolean>;
  /** The latest recorded slot of every integration. */
  lastSlots(): Promise<Map<string, Date>>;
  /** Runs with a given status (queued, running), oldest first. */
  runsWithStatus(status: RunStatus, integrationId?: string): Promise<RunRecord[]>;
  /** Records the start; returns the time recorded. */
  markStarted(runId: number): Promise<Date>;
  finishRun(runId: number, outcome: RunOutcome): Promise<RunRecord>;
  getRun(runId: number): Promise<RunRecord | undefined>;
  listRuns(filter?: { integrationId?: string; limit?: number; status?: RunStatus }): Promise<RunRecord[]>;
  /** Runs that reached a final state in [from, to), oldest first (the daily digest). */
  runsFinishedBetween(from: Date, to: Date): Promise<RunRecord[]>;
  lastRuns(): Promise<Map<string, RunRecord>>;
  /**
   * The run whose file the vendor has now: the last to put a file in its folder (succeeded, not a dry run, remote path
   * set), by when it was delivered. A held run released late is delivered after runs with higher ids.
   */
  lastDelivered(integrationId: string): Promise<RunRecord | undefined>;
  /**
   * Marks a held run as being released by `by`; undefined when it is not held or another release got there first.
   * Exactly one caller wins, so a file is never released twice at once.
   */
  claimRelease(runId: number, by: string, forced?: Forced | null): Promise<RunRecord | undefined>;
  /** The release failed before delivery: the run stays held and may be released again. */
  abandonRelease(runId: number): Promise<void>;
  /** The held file was delivered: the run is now succeeded with its remote path, and no longer has a spool file. */
  completeRelease(runId: number, delivered: { remotePath: string; target: string }): Promise<RunRecord>;
  /**
   * A held run nobody released in time becomes `expired` (its spool file is then removed by the caller); undefined
   * when it is no longer held or a release has claimed it.
   */
  expireHeld(runId: number, note: string): Promise<RunRecord | undefined>;
  appendLogs(runId: number, entries: readonly LogEntry[]): Promise<void>;
  getLogs(runId: number): Promise<LogEntry[]>;
  setEnabled(integrationId: string, enabled: boolean, reason: string | null, by: string): Promise<void>;
  getStates(): Promise<Map<string, IntegrationState>>;
  /** Who was in each delivered file, as keyed digests (src/governance/person-digests.ts). */
  readonly personDigests: PersonDigestStore;
  /** The audit log's table (src/governance/audit.ts), on this store's connection. */
  readonly audit: AuditStore;
  close(): Promise<void>;
}

/** `logger`: where the database driver's own warnings go (one JSON line each); without it knex prints them on stdout. */
export async function openRunStore(target: StoreTarget, clock: Clock, logger?: Logger): Promise<RunStore> {
  const knex = createKnex(target, logger);
  try {
    await migrateLatest(knex);
  } catch (err) {
    await knex.destroy().catch(() => undefined);
    const where = target.kind === 'sqlite' ? target.path : 'the PostgreSQL run store';
    throw new FerryError('config', `cannot open the run store at ${where}: ${scrubSecrets((err as Error).message)}`, { field: 'store', cause: err });
  }
  return createRunStore(knex, clock);
}

/**
 * Several daemons starting at once on a new PostgreSQL store race to create knex's migration tables, and then for
 * its migration lock: the loser of either race waits a moment and tries again (the winner's migrations are then
 * already done, or it holds the lock until they are).
 */
async function migrateLatest(knex: Knex): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await knex.migrate.latest({ migrationSource });
      return;
    } catch (err) {
      // SQLite: the other migrator holds the file's write lock ("database is locked") while it migrates.
      const raced = /already exists|already locked|duplicate key value|database is locked/i.test((err as Error).message);
      // Up to about a minute: on a loaded machine the winner's nine migrations can take a while.
      if (!raced || attempt >= 40) throw err;
      await new Promise((resolve) => setTimeout(resolve, backoffMs(attempt, { baseMs: 100, maxMs: 2000 })));
    }
  }
}

function createKnex(target: StoreTarget, logger?: Logger): Knex {
  const log = logger ? { log: knexLog(logger) } : {};
  if (target.kind === 'sqlite') {
    fs.mkdirSync(path.dirname(target.path), { recursive: true, mode: 0o700 });
    fs.closeSync(fs.openSync(target.path, 'a', 0o600));
    return knexFactory({
      ...log,
      client: 'better-sqlite3',
      connection: { filename: target.path },
      useNullAsDefault: true,
      pool: {
        min: 1,
        max: 1,
        // The daemon and the CLI share the file: WAL lets one write while the other reads; busy_timeout waits out a writer.
        afterCreate: (conn: { pragma(s: string): unknown }, done: (err: Error | null, conn: unknown) => void) => {
          conn.pragma('journal_mode = WAL');
          // In WAL mode NORMAL syncs at checkpoints, not at every commit: a power cut may lose the last commits but never
          // corrupts the file, and a burst of 2,000 slots is not 2,000 fsyncs at the head of every run's queue.
          conn.pragma('synchronous = NORMAL');
          conn.pragma('busy_timeout = 10000');
          conn.pragma('foreign_keys = ON');
          done(null, conn);
        },
      },
    });
  }
  // knex's pool gives every pg client an 'error' listener, so an idle connection the server drops cannot crash the
  // process (pg.Pool, which would need one of its own, is not used).
  return knexFactory({ ...log, client: 'pg', connection: target.url, pool: { min: 0, max: 4 } });
}

const iso = (d: Date) => d.toISOString();

/** A run's outcome as the columns that hold it: one mapping for a finish and for a delivery receipt. */
function outcomeColumns(o: RunOutcome): Record<string, unknown> {
  return {
    status: o.status,
    rows: o.rows ?? null,
    expected: o.expected ?? null,
    bytes: o.bytes ?? null,
    sha256: o.sha256 ?? null,
    remote_path: o.remotePath ?? null,
    target: o.target ?? null,
    error_kind: o.errorKind ?? null,
    error: o.error ? scrubSecrets(o.error) : null,
    spool_path: o.spoolPath ?? null,
    files_json: o.files ? JSON.stringify(o.files) : null,
    bundle_mode: o.bundleMode ?? null,
  };
}

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e.code === '23505' || e.code === 'SQLITE_CONSTRAINT_UNIQUE' || /UNIQUE constraint failed/.test(e.message ?? '');
}

export function createRunStore(knex: Knex, clock: Clock): RunStore {
  const insertRun = async (input: ClaimInput, status: RunStatus, extra: Record<string, unknown> = {}): Promise<RunRecord> => {
    const now = iso(clock.now());
    const row = {
      integration_id: input.integrationId,
      district_id: input.districtId,
      extract: input.extract,
      trigger: input.trigger,
      requested_by: input.requestedBy,
      scheduled_for: input.scheduledFor ? iso(input.scheduledFor) : null,
      slot_at: iso(input.slotAt ?? input.scheduledFor ?? clock.now()),
      params_json: JSON.stringify(input.params),
      status,
      dry_run: input.dryRun ?? false,
      created_at: now,
      host: input.host,
      pid: input.pid,
      attempt: input.attempt ?? 1,
      retry_of: input.retryOf ?? null,
      note: input.note ?? null,
      forced_reason: input.forced?.reason ?? null,
      forced_scope: input.forced?.scope ?? null,
      config_digest: input.configDigest ?? null,
      ...(status === 'running' && input.lease ? { lease_owner: input.lease.owner, lease_expires_at: iso(input.lease.until) } : {}),
      ...extra,
    };
    const [inserted] = await knex('runs').insert(row).returning('*');
    return rowToRun(inserted);
  };

  const getRun = async (runId: number) => {
    const row = await knex('runs').where({ id: runId }).first();
    return row ? rowToRun(row) : undefined;
  };

  return {
    personDigests: createPersonDigestStore(knex),
    async claimRun(input) {
      try {
        return { claimed: true, run: await insertRun(input, 'running') };
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
      }
      if (input.scheduledFor) {
        const slot = await knex('runs').where({ integration_id: input.integrationId, scheduled_for: iso(input.scheduledFor) }).first();
        if (slot) return { claimed: false, reason: 'slot_taken', run: rowToRun(slot) };
      }
      const running = await knex('runs').where({ integration_id: input.integrationId, status: 'running' }).first();
      if (!running) return this.claimRun(input); // the other run finished in between: try again
      const now = iso(clock.now());
      if (input.whenBusy === 'queue') {
        try {
          const queued = await insertRun(input, 'queued', {
            not_before: now,
            note: `queued behind run ${running.id}, which was still going (overlap policy queue-one)`,
          });
          return { claimed: false, reason: 'queued', run: queued, runningId: Number(running.id) };
        } catch (err) {
          if (!isUniqueViolation(err)) throw err;
          // One is queued already: queue-one keeps one, so this slot is skipped.
        }
      }
      let skipped: RunRecord;
      try {
        skipped = await insertRun(input, 'skipped', {
          started_at: now,
          finished_at: now,
          error_kind: 'already_running',
          error: `integration ${input.integrationId} is already running (run ${running.id}); this run was skipped`,
          note: input.whenBusy === 'queue' ? 'skipped: another run was already queued (overlap policy queue-one keeps one)' : 'skipped: the previous run was still going (overlap policy skip)',
        });
      } catch (err) {
        // Several daemons found the integration busy at once: the first to record this slot's decision wins.
        if (!isUniqueViolation(err) || !input.scheduledFor) throw err;
        const slot = await knex('runs').where({ integration_id: input.integrationId, scheduled_for: iso(input.scheduledFor) }).first();
        if (!slot) throw err;
        return { claimed: false, reason: 'slot_taken', run: rowToRun(slot) };
      }
      return { claimed: false, reason: 'already_running', run: skipped, runningId: running.id };
    },
    async dbNow() {
      if (knex.client.config.client === 'pg') {
        const res = await knex.raw<{ rows: { now: Date }[] }>('SELECT now() AS now');
        return new Date(res.rows[0]!.now);
      }
      return new Date(); // SQLite is a file on this host: its clock is this host's
    },
    async recordDecisions(inputs) {
      const recorded: RunRecord[] = [];
      if (inputs.length === 0) return recorded;
      const now = iso(clock.now());
      // In chunks, each ignoring slots already recorded (by another daemon, or an earlier decision).
      for (let i = 0; i < inputs.length; i += 200) {
        const rows = inputs.slice(i, i + 200).map((input) => ({
          integration_id: input.integrationId,
          district_id: input.districtId,
          extract: input.extract,
          trigger: input.trigger,
          requested_by: input.requestedBy,
          scheduled_for: input.scheduledFor ? iso(input.scheduledFor) : null,
          slot_at: iso(input.slotAt ?? input.scheduledFor ?? clock.now()),
          params_json: JSON.stringify(input.params),
          status: input.status,
          dry_run: false,
          created_at: now,
          started_at: null,
          finished_at: now,
          host: input.host,
          pid: input.pid,
          error_kind: input.errorKind,
          error: input.note,
          note: input.note,
          config_digest: input.configDigest ?? null,
        }));
        const inserted = await knex('runs').insert(rows).onConflict(['integration_id', 'scheduled_for']).ignore().returning('*');
        recorded.push(...inserted.map(rowToRun));
      }
      return recorded;
    },
    async enqueue(input) {
      try {
        return await insertRun(input, 'queued', { not_before: iso(input.notBefore) });
      } catch (err) {
        if (isUniqueViolation(err)) return undefined;
        throw err;
      }
    },
    async claimQueued(lease, now, limit, claimer, integrationId) {
      const q = knex('runs').where({ status: 'queued' }).where('not_before', '<=', iso(now)).orderBy('not_before').orderBy('id').limit(limit);
      if (integrationId) q.where({ integration_id: integrationId });
      const due = await q;
      const claimed: RunRecord[] = [];
      for (const row of due) {
        try {
          const n = await knex('runs')
            .where({ id: row.id, status: 'queued' })
            .update({ status: 'running', lease_owner: lease.owner, lease_expires_at: iso(lease.until), host: claimer.host, pid: claimer.pid, ...(claimer.configDigest ? { config_digest: claimer.configDigest } : {}) });
          if (n === 1) claimed.push((await getRun(Number(row.id)))!);
        } catch (err) {
          if (!isUniqueViolation(err)) throw err; // another run of the integration is going: it waits its turn
        }
      }
      return claimed;
    },
    async holdsLease(runId, owner, now) {
      const row = await knex('runs').where({ id: runId, status: 'running', lease_owner: owner }).where('lease_expires_at', '>=', iso(now)).first('id');
      return row !== undefined;
    },
    async renewLeases(owner, runIds, until) {
      if (runIds.length === 0) return 0;
      return knex('runs').whereIn('id', runIds).where({ status: 'running', lease_owner: owner }).update({ lease_expires_at: iso(until) });
    },
    async ping() {
      await knex.raw('SELECT 1');
    },
    async recordReceipt(runId, o, deliveredAt) {
      return knex.transaction(async (trx) => {
        const row = await trx('runs').where({ id: runId }).first();
        if (!row) return undefined;
        const run = rowToRun(row);
        if (run.status === 'succeeded' && run.remotePath !== null) return undefined;
        const [updated] = await trx('runs')
          .where({ id: runId })
          .update({
            ...outcomeColumns(o),
            finished_at: run.finishedAt && run.status === 'interrupted' ? iso(run.finishedAt) : iso(clock.now()),
            delivered_at: iso(deliveredAt ?? clock.now()),
            note: run.status === 'running' || run.status === 'succeeded' ? run.note : `recorded from its delivery receipt (the run was ${run.status} in the store when the receipt arrived)`,
          })
          .returning('*');
        // Another process interrupted it meanwhile and queued its retry, which would send the same slot again: that
        // retry is no longer needed. (A run still recorded running has no retry queued, so the common case asks nothing.)
        const superseded: RunRecord[] = [];
        const chain = run.retryOf ?? run.id;
        const queued = run.status === 'running' ? [] : await trx('runs').where({ integration_id: run.integrationId, status: 'queued', trigger: 'retry', retry_of: chain }).select('id');
        for (const q of queued) {
          const [s] = await trx('runs')
            .where({ id: q.id, status: 'queued' })
            .update({ status: 'superseded', finished_at: iso(clock.now()), note: `superseded: run ${runId} of the same slot delivered its file after all` })
            .returning('*');
          if (s) superseded.push(rowToRun(s));
        }
        return { run: rowToRun(updated), superseded };
      });
    },
    async laterDelivery(integrationId, slotAt) {
      const row = await knex('runs')
        .where({ integration_id: integrationId, status: 'succeeded', dry_run: false })
        .whereNotNull('remote_path')
        .where('slot_at', '>', iso(slotAt))
        .orderBy('slot_at', 'desc')
        .orderBy('id', 'desc')
        .first();
      return row ? rowToRun(row) : undefined;
    },
    async newerDelivery(integrationId, remotePath, slotAt, runId) {
      const row = await knex('runs')
        .where({ integration_id: integrationId, status: 'succeeded', dry_run: false, remote_path: remotePath })
        .whereNot({ id: runId })
        .where('slot_at', '>=', iso(slotAt))
        .orderBy('slot_at', 'desc')
        .first();
      return row ? rowToRun(row) : undefined;
    },
    async runsBySpoolPath(paths) {
      const out: RunRecord[] = [];
      for (let i = 0; i < paths.length; i += 500) out.push(...(await knex('runs').whereIn('spool_path', paths.slice(i, i + 500))).map(rowToRun));
      return out;
    },
    async getRuns(runIds) {
      const out: RunRecord[] = [];
      for (let i = 0; i < runIds.length; i += 500) out.push(...(await knex('runs').whereIn('id', runIds.slice(i, i + 500))).map(rowToRun));
      return out;
    },
    async reapLapsedLeases(now) {
      // A running run with no lease at all (written before leases existed) has nothing to prove it alive either.
      const lapsed = await knex('runs')
        .where({ status: 'running' })
        .where((q) => q.whereNull('lease_expires_at').orWhere('lease_expires_at', '<', iso(now)));
      const reaped: RunRecord[] = [];
      for (const r of lapsed) {
        const n = await knex('runs')
          .where({ id: r.id, status: 'running', lease_owner: r.lease_owner })
          // Checked again in the update: a lease renewed since the read above is alive.
          .where((q) => q.whereNull('lease_expires_at').orWhere('lease_expires_at', '<', iso(now)))
          .update({
            status: 'interrupted',
            finished_at: iso(now),
            error_kind: 'aborted',
            error: `the daemon running it (${r.lease_owner}) stopped renewing its lease; the run did not finish`,
          });
        if (n === 1) reaped.push((await getRun(Number(r.id)))!);
      }
      return reaped;
    },
    async claimOnce(name, slot, owner) {
      try {
        await knex('claims').insert({ name, slot: iso(slot), owner, claimed_at: iso(clock.now()) });
        return true;
      } catch (err) {
        if (isUniqueViolation(err)) return false;
        throw err;
      }
    },
    async lastSlots() {
      const rows = (await knex('runs').select('integration_id').max({ last: 'scheduled_for' }).whereNotNull('scheduled_for').groupBy('integration_id')) as { integration_id: string; last: string | Date }[];
      return new Map(rows.map((r) => [String(r.integration_id), new Date(r.last)]));
    },
    async runsWithStatus(status, integrationId) {
      const q = knex('runs').where({ status }).orderBy('id');
      if (integrationId) q.where({ integration_id: integrationId });
      return (await q).map(rowToRun);
    },
    async markStarted(runId) {
      const at = clock.now();
      await knex('runs').where({ id: runId }).update({ started_at: iso(at) });
      return at;
    },
    async finishRun(runId, o) {
      // A run another daemon marked interrupted (its lease lapsed, its retry is queued) keeps that record: the late
      // finish of the old lease holder must not turn it into a second success beside its retry.
      const [updated] = await knex('runs')
        .where({ id: runId })
        .whereNot({ status: 'interrupted' })
        .update({
          ...outcomeColumns(o),
          finished_at: iso(clock.now()),
          hold_reason: o.holdReason ?? null,
          delivered_at: o.status === 'succeeded' && o.remotePath ? iso(clock.now()) : null,
        })
        .returning('*');
      return updated ? rowToRun(updated) : (await getRun(runId))!;
    },
    getRun,
    async listRuns(filter = {}) {
      const q = knex('runs').orderBy('id', 'desc').limit(filter.limit ?? 50);
      if (filter.integrationId) q.where({ integration_id: filter.integrationId });
      if (filter.status) q.where({ status: filter.status });
      return (await q).map(rowToRun);
    },
    async runsFinishedBetween(from, to) {
      const rows = await knex('runs').where('finished_at', '>=', iso(from)).where('finished_at', '<', iso(to)).orderBy('finished_at').orderBy('id');
      return rows.map(rowToRun);
    },
    async lastRuns() {
      const rows = await knex('runs').whereIn('id', knex('runs').max('id').groupBy('integration_id'));
      return new Map(rows.map((r) => [r.integration_id as string, rowToRun(r)]));
    },
    async lastDelivered(integrationId) {
      const row = await knex('runs')
        .where({ integration_id: integrationId, status: 'succeeded', dry_run: false })
        .whereNotNull('remote_path')
        // Every delivery recorded since migration 009 has delivered_at; the coalesce only guards an odd old row.
        .orderByRaw('coalesce(delivered_at, finished_at) desc, id desc')
        .first();
      return row ? rowToRun(row) : undefined;
    },
    async claimRelease(runId, by, forced) {
      const n = await knex('runs')
        .where({ id: runId, status: 'held' })
        .whereNull('released_at')
        .update({ released_by: by, released_at: iso(clock.now()), release_forced_reason: forced?.reason ?? null, release_forced_scope: forced?.scope ?? null });
      return n === 1 ? getRun(runId) : undefined;
    },
    async abandonRelease(runId) {
      await knex('runs').where({ id: runId, status: 'held' }).update({ released_by: null, released_at: null, release_forced_reason: null, release_forced_scope: null });
    },
    async completeRelease(runId, d) {
      await knex('runs').where({ id: runId, status: 'held' }).update({ status: 'succeeded', remote_path: d.remotePath, target: d.target, spool_path: null, delivered_at: iso(clock.now()) });
      return (await getRun(runId))!;
    },
    async expireHeld(runId, note) {
      const [row] = await knex('runs').where({ id: runId, status: 'held' }).whereNull('released_at').update({ status: 'expired', spool_path: null, note }).returning('*');
      return row ? rowToRun(row) : undefined;
    },
    async appendLogs(runId, entries) {
      if (entries.length === 0) return;
      await knex('run_logs').insert(
        entries.map((e) => ({
          run_id: runId,
          at: iso(e.at),
          level: e.level,
          message: scrubSecrets(e.message),
          fields_json: e.fields && Object.keys(e.fields).length ? scrubSecrets(JSON.stringify(e.fields)) : null,
        })),
      );
    },
    async getLogs(runId) {
      const rows = await knex('run_logs').where({ run_id: runId }).orderBy('id');
      return rows.map((r) => ({ at: new Date(r.at), level: r.level, message: r.message, ...(r.fields_json ? { fields: JSON.parse(r.fields_json) } : {}) }));
    },
    async setEnabled(integrationId, enabled, reason, by) {
      await knex('integration_state')
        .insert({ integration_id: integrationId, enabled, reason, changed_by: by, changed_at: iso(clock.now()) })
        .onConflict('integration_id')
        .merge();
    },
    async getStates() {
      const rows = await knex('integration_state');
      return new Map(
        rows.map((r) => [
          r.integration_id as string,
          { integrationId: r.integration_id, enabled: Boolean(r.enabled), reason: r.reason ?? null, changedBy: r.changed_by, changedAt: new Date(r.changed_at) },
        ]),
      );
    },
    audit: createAuditStore(knex),
    async close() {
      await knex.destroy();
    },
    ...reviewQueries(knex, clock),
  };
}
