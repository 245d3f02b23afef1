import crypto from 'node:crypto';
import os from 'node:os';
import type { Logger } from 'winston';
import { createSource } from '../../connectors/index.js';
import type { Clock } from '../core/clock.js';
import type { Destination } from '../core/destination.js';
import { FerryError, toFerryError } from '../core/errors.js';
import type { EventBus } from '../core/events.js';
import type { Source } from '../core/source.js';
import { DEFAULT_HELD_DAYS, type FerryConfig, type Integration } from '../config/model.js';
import { blackoutNow } from '../config/blackouts.js';
import { resolveIntegrationParams, type ResolvedParams } from '../config/params.js';
import { createDestination } from '../delivery/create-destination.js';
import { holdReason } from '../governance/holds.js';
import { personHasherOf, type PersonDigestSet, type PersonHasher } from '../governance/person-digests.js';
import { configDigest } from '../governance/config-digest.js';
import { recordDriverText } from '../logging/driver-debug.js';
import type { RunLogCollector } from '../logging/logger.js';
import { executeRun, type RunResult } from '../pipeline/execute-run.js';
import { releaseHeldRun, type ReleaseOptions } from '../pipeline/release-run.js';
import type { Limiter, LimitKey } from './limiter.js';
import type { DecisionInput, Forced, RunOutcome, RunRecord, RunStore, RunTrigger } from '../store/run-store.js';
import { GOVERNANCE_HOLD } from '../store/run-record.js';
import { retryWithBackoff } from './backoff.js';
import { createLeaseKeeper, oneLine, type LeaseKeeper } from './leases.js';
import { createReceiptJournal, type ReceiptJournal } from './receipts.js';
import { queueRetry } from './retry.js';
import { sweepSpool } from './spool.js';

/**
 * The one owner of a run's life. Every run is claimed, started, finished, announced (`run.finished`, once) and
 * given its retry here, whoever asked for it: the scheduler (a slot, or a decision not to run one), the queue worker
 * (a retry, a queued slot), the CLI (`ferry run`, `ferry release`) or shutdown (drain, interrupt). The pipeline does
 * the work of one run and knows nothing of states.
 *
 * What keeps the record true under faults:
 * - a run in flight holds a lease, renewed by one timer for the runs in flight here and no others (leases.ts);
 * - a store write that fails is tried again with the one backoff until it succeeds or the run's lease has lapsed;
 *   only then may another process take the run over (reap: interrupted, retry queued);
 * - a delivered file's receipt is journaled before it is recorded, and replayed until the store has it (receipts.ts);
 * - after drain() no run starts, and runs still waiting for a concurrency slot end interrupted, with their retry.
 */
export interface RunRequest {
  trigger: RunTrigger;
  requestedBy: string;
  scheduledFor?: Date | null;
  /** Parameter overrides on top of the integration's own (e.g. `ferry run --param grades=K-5`). */
  overrides?: Readonly<Record<string, unknown>>;
  dryRun?: boolean;
  /** A OneRoster delta integration sends a bulk (its new baseline) this time: `ferry run --bulk`. */
  forceBulk?: boolean;
  /** The scheduler's reason for this run, recorded on it (a catch-up after downtime). */
  note?: string;
  /** A person forced this run past what the config fixes (`ferry run --force --reason`): recorded on the run. */
  forced?: Forced;
  signal?: AbortSignal;
  onProgress?: (rows: number) => void;
}

export interface RunOutcomeReport {
  run: RunRecord;
  /** Set when the run was a dry run and the file was kept. */
  spoolPath: string | null;
  error?: FerryError;
  /** A retry queued after this run ended. */
  retry?: RunRecord;
  /** Where the time went (ms), for the benchmark. */
  timings?: RunTimings;
}

export interface RunTimings {
  totalMs: number;
  waitMs: number;
  executeMs: number;
  /** total − wait − execute: claiming, recording, logging, scheduling glue. */
  overheadMs: number;
}

/** A run whose record is written: `done` resolves when it has ended (at once when it was skipped or queued). */
export interface Started {
  run: RunRecord;
  done: Promise<RunOutcomeReport>;
}

export interface RunsDeps {
  config: () => FerryConfig;
  store: RunStore;
  logger: Logger;
  collector: RunLogCollector;
  limiter: Limiter;
  clock: Clock;
  bus?: EventBus | undefined;
  /** Who holds the leases of the runs claimed here; default: host, pid and a random tag. */
  leaseOwner?: string;
  /** Tests may point these at servers of their own; production uses the defaults. */
  openSource?: (integration: Integration) => Source;
  openDestination?: (integration: Integration, logger: Logger) => Destination;
  /** 0 ≤ x < 1, for retry jitter; injectable so tests know the delay. */
  random?: () => number;
}

export interface Runs {
  readonly owner: string;
  readonly leases: LeaseKeeper;
  /** Claim and carry out a run now (the CLI; tests); resolves when it has ended. */
  run(integration: Integration, request: RunRequest): Promise<RunOutcomeReport>;
  /** The scheduler's claim of a slot; throws when the store cannot record it (the slot stays due) or when draining. */
  claimSlot(integration: Integration, slot: Date, note: string | null): Promise<Started>;
  /** Due queued runs (retries, queued slots), up to `limit`, claimed and started here. */
  claimQueued(limit: number, integrationId?: string): Promise<Started[]>;
  /** The scheduler's decisions not to run slots (missed, blackout), recorded and announced. */
  decide(decisions: readonly DecisionInput[]): Promise<RunRecord[]>;
  /** Runs whose lease lapsed (their process died or lost the store) become interrupted, with retry and alert. */
  reap(): Promise<RunRecord[]>;
  /** Receipts the store does not have yet go in; returns how many were recorded. */
  replayReceipts(): Promise<number>;
  /** Spool entries no run needs any more are removed (and, on a full sweep, person digests past governance.digestDays); returns how many spool entries. */
  sweepSpool(onlyRuns?: readonly number[]): Promise<number>;
  /** At process start: receipts first (a delivered run is never called interrupted), then reap, then the spool. */
  recover(): Promise<void>;
  /** Deliver a run the safety gate held (`ferry release`); throws a FerryError when it is not held or delivery fails. */
  release(runId: number, by: string, opts?: ReleaseOptions): Promise<RunRecord>;
  /** From now on no run starts here; runs waiting for a concurrency slot end interrupted (their retry queued). */
  drain(reason: string): void;
  readonly draining: boolean;
  /** Runs in flight here. */
  active(): number;
  /** Abort every run in flight (after the shutdown grace); they end `interrupted`, with their retry. */
  abortAll(reason: string): void;
  /** Resolves when no run is in flight, or after `timeoutMs`; true when idle. */
  waitIdle(timeoutMs: number): Promise<boolean>;
  /** Stop the lease timer and close the receipt journal (the process is ending). */
  close(): Promise<void>;
}

/** The store could not take a run's end before its lease lapsed: another process will reap it. */
class LeaseLapsed extends Error {}

export function createRuns(deps: RunsDeps): Runs {
  const { store, clock, collector, limiter } = deps;
  const config = deps.config;
  const host = os.hostname();
  const pid = process.pid;
  const owner = deps.leaseOwner ?? `${host}:${pid}:${crypto.randomBytes(3).toString('hex')}`;
  const random = deps.random ?? Math.random;
  const openSource = deps.openSource ?? ((i: Integration) => createSource(i.source, { configDir: config().dir, integration: i.id }));
  const openDestination = deps.openDestination ?? ((i: Integration, logger: Logger) => createDestination(i.destination, { configDir: config().dir, integration: i.id, logger }));
  const controllers = new Map<number, { controller: AbortController; started: boolean }>();
  const inFlight = new Set<Promise<unknown>>();
  let draining = false;
  let journal: ReceiptJournal | undefined;
  const receipts = () => (journal ??= createReceiptJournal(config().receiptsDir, owner));

  const leases = createLeaseKeeper({
    store,
    clock,
    logger: deps.logger,
    bus: deps.bus,
    owner,
    leaseMs: () => config().scheduler.leaseSeconds * 1000,
    heartbeatMs: () => config().scheduler.heartbeatSeconds * 1000,
    onRecovered: () => {
      void replayReceipts().catch((err: unknown) => deps.logger.warn('receipts not replayed yet', { error: oneLine(err) }));
    },
  });

  const announce = (run: RunRecord) => deps.bus?.emit({ type: 'run.finished', run });
  const retryDeps = () => ({ store, clock, logger: deps.logger, random, host, pid });

  /** A store write for a run in flight: again and again, until it succeeds or the run's lease has lapsed. */
  async function persist<T>(runId: number, what: string, logger: Logger, fn: () => Promise<T>): Promise<T> {
    let warned = false;
    try {
      return await retryWithBackoff(() => fn(), {
        retries: Number.POSITIVE_INFINITY,
        baseMs: 250,
        maxMs: 5000,
        random,
        retryable: () => {
          const until = leases.expiresAt(runId);
          return until !== undefined && clock.now().getTime() < until.getTime();
        },
        onRetry: (err) => {
          if (warned) return;
          warned = true;
          logger.warn(`could not record ${what} yet; trying again until the store answers or the run's lease lapses`, { error: oneLine(err) });
        },
      });
    } catch (err) {
      throw new LeaseLapsed(`could not record ${what} before the run's lease lapsed: ${oneLine(err)}`, { cause: err });
    }
  }

  async function claim(integration: Integration, req: RunRequest, t0: number): Promise<Started> {
    refuseWhenDraining(integration);
    const base = { integration: integration.id, district: integration.district.id };
    const scheduledFor = req.scheduledFor ?? null;
    const slotAt = scheduledFor ?? clock.now();
    let recorded: Readonly<Record<string, unknown>> = { ...integration.params, ...req.overrides };
    try {
      recorded = resolveIntegrationParams(integration, recorded, slotAt, integration.schedule.timezone).values;
    } catch {
      // Recorded as asked; the run fails with the parameter's error once it starts.
    }
    const result = await store.claimRun({
      integrationId: integration.id,
      districtId: integration.district.id,
      extract: integration.extract.name,
      trigger: req.trigger,
      requestedBy: req.requestedBy,
      scheduledFor,
      slotAt,
      params: recorded,
      dryRun: req.dryRun ?? false,
      host,
      pid,
      lease: leases.fresh(),
      // A queued slot runs later with the integration's own parameters: only scheduled runs queue.
      whenBusy: integration.overlap === 'queue-one' && req.trigger === 'schedule' ? 'queue' : 'skip',
      note: req.note ?? null,
      forced: req.forced ?? null,
      configDigest: configDigest(config()),
    });
    const ended = (report: RunOutcomeReport): Started => ({ run: report.run, done: Promise.resolve(report) });
    if (!result.claimed && result.reason === 'slot_taken') {
      deps.logger.debug('slot already recorded', { ...base, runId: result.run.id, scheduledFor: scheduledFor?.toISOString() });
      return ended({ run: result.run, spoolPath: null });
    }
    if (!result.claimed && result.reason === 'queued') {
      deps.logger.info('run queued behind the run still going', { ...base, runId: result.run.id, runningId: result.runningId });
      return ended({ run: result.run, spoolPath: null });
    }
    if (!result.claimed) {
      deps.logger.warn('run skipped: integration already running', { ...base, runId: result.run.id, runningId: result.runningId, trigger: req.trigger });
      announce(result.run);
      return ended({ run: result.run, spoolPath: null, error: new FerryError('already_running', result.run.error ?? `integration ${integration.id} is already running`, { integration: integration.id }) });
    }
    return { run: result.run, done: track(integration, result.run, req, t0) };
  }

  function refuseWhenDraining(integration: Integration): void {
    if (draining) throw new FerryError('aborted', `integration ${integration.id}: the daemon is stopping, so no run starts`, { integration: integration.id });
  }

  function track(integration: Integration, claimed: RunRecord, req: RunRequest, t0: number): Promise<RunOutcomeReport> {
    leases.hold(claimed.id, claimed.leaseExpiresAt);
    const work = execute(integration, claimed, req, t0).finally(() => {
      inFlight.delete(work);
      controllers.delete(claimed.id);
      leases.drop(claimed.id);
    });
    inFlight.add(work);
    return work;
  }

  async function execute(integration: Integration, claimed: RunRecord, req: RunRequest, t0: number): Promise<RunOutcomeReport> {
    let waitMs = 0;
    let executeMs = 0;
    const runId = claimed.id;
    const logger = deps.logger.child({ integration: integration.id, district: integration.district.id, runId });
    const entry = { controller: new AbortController(), started: false };
    controllers.set(runId, entry);
    const stopSignal = req.signal ? AbortSignal.any([entry.controller.signal, req.signal]) : entry.controller.signal;
    // The run timeout starts once the run has its concurrency slot (waiting for the cap is not the run going on); it
    // stops the source query and the upload alike, and is told apart from a shutdown below.
    let timeout: AbortSignal | undefined;
    let signal: AbortSignal = stopSignal;
    let result: RunResult | undefined;
    let failure: FerryError | undefined;
    let params: ResolvedParams | undefined;
    try {
      // Resolved afresh for the run's slot: a retry at 00:10 of the 23:50 slot renders the 23:50 `{date}`.
      params = resolveIntegrationParams(integration, { ...integration.params, ...req.overrides }, claimed.slotAt, integration.schedule.timezone);
    } catch (err) {
      failure = toFerryError(err);
    }
    // A scheduled run (or its retry) that governance holds does no work: recorded held, with the reason.
    let governance: string | null = null;
    if (!failure && claimed.trigger !== 'manual' && !claimed.dryRun) {
      try {
        // Checks may read the store (a recorded review), so the read is kept up like the run's other store reads.
        governance = await persist(runId, 'the governance hold check', logger, () => holdReason(integration, config(), claimed.slotAt, store));
      } catch (err) {
        failure = err instanceof LeaseLapsed ? new FerryError('aborted', `integration ${integration.id}: ${err.message}; nothing was delivered`, { integration: integration.id, cause: err }) : toFerryError(err);
      }
    }
    if (governance) logger.warn('run held by governance', { reason: governance });
    if (!failure && !governance) {
      let release: (() => void) | undefined;
      try {
        const tw = performance.now();
        release = await limiter.acquire(limitKeys(integration), undefined, stopSignal);
        waitMs = performance.now() - tw;
        timeout = AbortSignal.timeout(integration.timeoutMs);
        signal = AbortSignal.any([stopSignal, timeout]);
        const startedAt = await persist(runId, 'the run’s start', logger, () => store.markStarted(runId));
        // Checked with no wait before the log line: after "daemon stopping" no run starts.
        refuseWhenDraining(integration);
        stopSignal.throwIfAborted();
        entry.started = true;
        const started: RunRecord = { ...claimed, startedAt };
        deps.bus?.emit({ type: 'run.started', run: started, lagMs: claimed.scheduledFor ? startedAt.getTime() - claimed.scheduledFor.getTime() : null });
        logger.info('run started', { trigger: claimed.trigger, requestedBy: claimed.requestedBy, scheduledFor: claimed.scheduledFor?.toISOString() ?? null, slotAt: claimed.slotAt.toISOString(), dryRun: claimed.dryRun, attempt: claimed.attempt });
        const blackout = claimed.trigger === 'manual' ? blackoutNow(integration, clock.now()) : undefined;
        if (blackout) logger.warn('manual run during a blackout', { blackout: blackout.reason });
        // A rerun is compared with the last delivered file too, so a still-small roster is held again.
        const previous = integration.safety && !claimed.dryRun ? await persist(runId, 'the last delivery lookup', logger, () => store.lastDelivered(integration.id)) : undefined;
        const te = performance.now();
        result = await executeRun(
          { runId, integration, scheduledFor: claimed.slotAt, logger, signal, clock, params: params! },
          {
            spoolDir: config().spoolDir,
            baselineDir: config().baselineDir,
            forceBulk: req.forceBulk,
            keepSpool: config().keepSpool,
            dryRun: claimed.dryRun,
            openSource: () => openSource(integration),
            openDestination: () => openDestination(integration, logger),
            onProgress: req.onProgress,
            previousDelivery: previous && previous.rows !== null ? { runId: previous.id, rows: previous.rows } : null,
            beforeDeliver: (remotePath) => beforeDeliver(integration, claimed, remotePath, logger),
            personDigests: claimed.dryRun ? undefined : personDigestsFor(integration, runId, logger),
          },
        ).finally(() => {
          executeMs = performance.now() - te;
        });
      } catch (err) {
        if (err instanceof LeaseLapsed) failure = new FerryError('aborted', `integration ${integration.id}: ${err.message}; nothing was delivered`, { integration: integration.id, cause: err });
        else if (timeout?.aborted && !stopSignal.aborted) {
          failure = new FerryError('timeout', `integration ${integration.id}: the run went on longer than its ${formatMinutes(integration.timeoutMs)} timeout (timeoutMinutes) and was stopped; nothing was delivered`, {
            integration: integration.id,
            field: 'timeoutMinutes',
            cause: err,
          });
        } else if (!entry.started && (draining || stopSignal.aborted)) {
          failure = new FerryError('aborted', `integration ${integration.id}: the run was stopped before it started (${reasonOf(stopSignal) ?? 'the daemon is stopping'}); nothing was delivered`, { integration: integration.id, cause: err });
        } else if (signal.aborted && !(err instanceof FerryError && err.kind === 'aborted')) {
          failure = new FerryError('aborted', `integration ${integration.id}: run stopped before it finished (${reasonOf(signal) ?? 'aborted'}); nothing was delivered`, { integration: integration.id, cause: err });
        } else {
          failure = toFerryError(err);
        }
      } finally {
        release?.();
      }
    }
    const report = await finish(integration, claimed, result, failure, logger, governance, !entry.started);
    const totalMs = performance.now() - t0;
    return { ...report, timings: { totalMs, waitMs, executeMs, overheadMs: totalMs - waitMs - executeMs } };
  }

  /** Just before anything is sent: fencing (this process still holds the lease), and the slot is still the newest. */
  async function beforeDeliver(integration: Integration, claimed: RunRecord, remotePath: string, logger: Logger): Promise<void> {
    const [holds, newer] = await persist(claimed.id, 'the lease check before delivery', logger, () =>
      Promise.all([leases.holds(claimed.id), store.newerDelivery(integration.id, remotePath, claimed.slotAt, claimed.id)]),
    );
    if (!holds) {
      throw new FerryError('aborted', `integration ${integration.id}: run ${claimed.id} was taken over by another process after its lease lapsed (this process stalled, or lost the store, for longer than scheduler.leaseSeconds); nothing was delivered`, {
        integration: integration.id,
        field: 'scheduler.leaseSeconds',
      });
    }
    if (newer) {
      throw new FerryError('superseded', `integration ${integration.id}: run ${newer.id} already delivered ${remotePath} for a slot at or after this run's slot (${claimed.slotAt.toISOString()}); this older run sends nothing`, {
        integration: integration.id,
      });
    }
  }

  /**
   * Who was in the file, kept before it is sent. The digests are an index, not the record: a store that will not take
   * them costs the run its digests (trace and exposure then call it unknown), never its delivery or its receipt.
   */
  function personDigestsFor(integration: Integration, runId: number, logger: Logger): { hasher: PersonHasher; record: (set: PersonDigestSet) => Promise<void> } | undefined {
    if (!integration.extract.personKey) return undefined;
    let hasher: PersonHasher | null;
    try {
      hasher = personHasherOf(config(), integration.id);
    } catch (err) {
      logger.warn('person digests not kept: governance.personKeySecret cannot be read', { error: oneLine(err) });
      return undefined;
    }
    if (!hasher) return undefined;
    return {
      hasher,
      record: async (set) => {
        try {
          await retryWithBackoff(() => store.personDigests.put(runId, set, clock.now()), { retries: 3, baseMs: 250, maxMs: 2000, random, retryable: () => true });
          logger.info('person digests recorded', { personKey: set.keyColumn, persons: set.persons, rows: set.rows });
        } catch (err) {
          logger.warn('person digests not recorded; the delivery goes on, and trace and exposure will call this run unknown', { error: oneLine(err) });
        }
      },
    };
  }

  async function finish(integration: Integration, claimed: RunRecord, result: RunResult | undefined, failure: FerryError | undefined, logger: Logger, governance: string | null = null, notStarted = false): Promise<RunOutcomeReport> {
    const runId = claimed.id;
    const spoolPath = result?.spoolPath ?? null;
    try {
      if (result && !failure && result.remotePath !== null && !result.held) {
        // Delivered: the receipt is journaled first, so that neither a store outage nor a crash can lose it.
        const outcome: RunOutcome & { status: 'succeeded' } = {
          status: 'succeeded',
          rows: result.rows,
          expected: result.expected,
          bytes: result.bytes,
          sha256: result.sha256,
          remotePath: result.remotePath,
          target: result.target,
          spoolPath,
          files: result.files ?? null,
          bundleMode: result.bundleMode ?? null,
        };
        try {
          await receipts().write({ runId, integrationId: integration.id, deliveredAt: clock.now().toISOString(), outcome });
        } catch (err) {
          // The file is out whatever the journal says: record it straight away rather than lose the run.
          logger.warn('delivery receipt not journaled; recording it directly', { error: oneLine(err) });
        }
        logger.info('run succeeded', { rows: result.rows, bytes: result.bytes, sha256: result.sha256, remotePath: result.remotePath, target: result.target });
        const lines = collector.take(runId);
        await persist(runId, 'the run’s log', logger, () => store.appendLogs(runId, lines));
        const recorded = await persist(runId, 'the delivery receipt', logger, () => store.recordReceipt(runId, outcome));
        // A receipt not marked recorded is harmless: replaying it finds the run already recorded.
        await receipts()
          .recorded(runId)
          .catch((err: unknown) => logger.warn('delivery receipt not marked recorded in the journal', { error: oneLine(err) }));
        if (recorded) {
          announce(recorded.run);
          for (const s of recorded.superseded) announce(s);
          return { run: recorded.run, spoolPath };
        }
        return { run: (await store.getRun(runId)) ?? claimed, spoolPath };
      }
      let outcome: RunOutcome;
      if (failure) {
        const status = failure.kind === 'aborted' ? 'interrupted' : failure.kind === 'superseded' ? 'superseded' : 'failed';
        if (status === 'superseded') logger.warn('run superseded', { error: failure.message });
        // A run the drain stopped before it started did nothing wrong: its retry is the expected course, not an error.
        else if (status === 'interrupted' && notStarted && draining) logger.warn('run not started: the daemon is stopping', { error: failure.message });
        else logger.error(status === 'interrupted' ? 'run interrupted' : 'run failed', { errorKind: failure.kind, field: failure.field, error: failure.message });
        try {
          recordDriverText(config(), { runId, integration: integration.id }, failure);
        } catch (err) {
          logger.warn('driver debug log not written', { error: oneLine(err) });
        }
        outcome = { status, errorKind: failure.kind, error: failure.message, rows: failure.counts?.rows, expected: failure.counts?.expected };
      } else if (governance) {
        outcome = { status: 'held', holdReason: governance, errorKind: GOVERNANCE_HOLD };
      } else if (result!.held) {
        const h = result!.held;
        logger.warn('delivery held', { rows: h.rows, previousRows: h.previousRows, direction: h.direction, change: Number(h.change.toFixed(4)), limit: h.limit, previousRunId: h.previousRunId });
        outcome = { status: 'held', rows: result!.rows, expected: result!.expected, bytes: result!.bytes, sha256: result!.sha256, spoolPath, holdReason: h.reason, files: result!.files ?? null, bundleMode: result!.bundleMode ?? null };
      } else {
        logger.info('dry run succeeded', { rows: result!.rows, bytes: result!.bytes, sha256: result!.sha256, spoolPath });
        outcome = { status: 'succeeded', rows: result!.rows, expected: result!.expected, bytes: result!.bytes, sha256: result!.sha256, spoolPath, files: result!.files ?? null, bundleMode: result!.bundleMode ?? null };
      }
      const lines = collector.take(runId);
      await persist(runId, 'the run’s log', logger, () => store.appendLogs(runId, lines));
      const record = await persist(runId, `the run’s end (${outcome.status})`, logger, () => store.finishRun(runId, outcome));
      if (record.status !== outcome.status) {
        // The lease lapsed (a stall, a lost store) and another process already interrupted the run and queued its retry.
        logger.warn('run ended after its lease lapsed: another process had marked it interrupted, and its retry stands', { leaseOwner: owner });
        return { run: record, spoolPath, ...(failure ? { error: failure } : {}) };
      }
      announce(record);
      const retry =
        outcome.status === 'failed' || outcome.status === 'interrupted'
          ? await persist(runId, 'the retry', logger, () => queueRetry(retryDeps(), integration, record, failure!.retryable, failure!.kind))
          : undefined;
      return { run: record, spoolPath, ...(failure ? { error: failure } : {}), ...(retry ? { retry } : {}) };
    } catch (err) {
      if (!(err instanceof LeaseLapsed)) throw err;
      // The store stayed away for longer than the lease: the run is left to whichever process reaps it (interrupted,
      // with its retry), and a delivered file's receipt waits in the journal to be replayed.
      logger.error('run end not recorded: the store stayed unreachable until the run’s lease lapsed', { error: err.message, delivered: result?.remotePath ?? null });
      return { run: claimed, spoolPath, error: failure ?? new FerryError('internal', `integration ${integration.id}: ${err.message}`, { integration: integration.id, cause: err }) };
    }
  }

  async function replayReceipts(): Promise<number> {
    // Runs still in flight here record their own receipts; of the rest, the store is asked which it has already.
    const waiting = (await receipts().pending()).filter((r) => !controllers.has(r.runId));
    const known = new Map((await store.getRuns(waiting.map((r) => r.runId))).map((r) => [r.id, r]));
    let n = 0;
    for (const receipt of waiting) {
      const run = known.get(receipt.runId);
      if (!run || (run.status === 'succeeded' && run.remotePath !== null)) continue;
      const recorded = await store.recordReceipt(receipt.runId, receipt.outcome, new Date(receipt.deliveredAt));
      if (!recorded) continue;
      n++;
      deps.logger.info('delivery receipt recorded from the journal', { integration: receipt.integrationId, runId: receipt.runId, remotePath: receipt.outcome.remotePath, deliveredAt: receipt.deliveredAt });
      announce(recorded.run);
      for (const s of recorded.superseded) announce(s);
    }
    for (const receipt of waiting) await receipts().recorded(receipt.runId);
    await receipts().prune(clock.now(), async (ids) => (await store.getRuns(ids)).filter((r) => r.status === 'succeeded' && r.remotePath !== null).length === new Set(ids).size);
    return n;
  }

  async function reap(): Promise<RunRecord[]> {
    const reaped = await store.reapLapsedLeases(clock.now());
    for (const run of reaped) {
      deps.logger.warn('run interrupted: its process stopped renewing its lease', { integration: run.integrationId, runId: run.id, leaseOwner: run.leaseOwner });
      announce(run);
      const integration = config().integrations.get(run.integrationId);
      if (integration) await queueRetry(retryDeps(), integration, run, true, 'aborted');
    }
    if (reaped.length > 0) await sweep(reaped.map((r) => r.id));
    return reaped;
  }

  async function sweep(onlyRuns?: readonly number[]): Promise<number> {
    const heldDays = (integrationId: string) => config().integrations.get(integrationId)?.safety?.heldDays ?? DEFAULT_HELD_DAYS;
    const { removed, expired } = await sweepSpool({ spoolDir: config().spoolDir, store, now: clock.now(), keepDays: config().spoolKeepDays, heldDays, inFlight: new Set(controllers.keys()), ...(onlyRuns ? { onlyRuns } : {}) });
    for (const run of expired) deps.logger.warn('held delivery expired: its file was removed unreleased', { integration: run.integrationId, runId: run.id, note: run.note });
    if (removed.length > 0) deps.logger.info('spool files removed: no run needs them any more', { count: removed.length, files: removed.slice(0, 20) });
    if (!onlyRuns) {
      const days = config().personDigests.days;
      const swept = await store.personDigests.sweep(new Date(clock.now().getTime() - days * 86_400_000));
      if (swept > 0) deps.logger.info('person digests expired', { runs: swept, digestDays: days });
    }
    return removed.length + expired.length;
  }

  function limitKeys(integration: Integration): LimitKey[] {
    const c = config().concurrency;
    const keys: LimitKey[] = [{ key: `source:${integration.source.id}`, max: integration.source.maxConcurrency ?? c.perSource }];
    const dest = integration.destination;
    if (dest.kind === 'sftp') keys.push({ key: `host:${dest.host}:${dest.port}`, max: dest.maxConcurrency ?? c.perDestinationHost });
    return keys;
  }

  return {
    owner,
    leases,
    async run(integration, request) {
      const started = await claim(integration, request, performance.now());
      return started.done;
    },
    claimSlot: (integration, slot, note) => claim(integration, { trigger: 'schedule', requestedBy: 'scheduler', scheduledFor: slot, ...(note ? { note } : {}) }, performance.now()),
    async claimQueued(limit, integrationId) {
      if (draining || limit <= 0) return [];
      const claimed = await store.claimQueued(leases.fresh(), clock.now(), limit, { host, pid, configDigest: configDigest(config()) }, integrationId);
      const out: Started[] = [];
      for (const run of claimed) {
        const integration = config().integrations.get(run.integrationId);
        if (!integration) {
          // Removed from the config since it was queued: record why instead of leaving it running.
          const done = await store.finishRun(run.id, { status: 'skipped', errorKind: 'config', error: `integration ${run.integrationId} is no longer in the configuration; the queued run was dropped` });
          announce(done);
          out.push({ run: done, done: Promise.resolve({ run: done, spoolPath: null }) });
          continue;
        }
        deps.logger.info('queued run claimed', { integration: run.integrationId, runId: run.id, trigger: run.trigger, attempt: run.attempt });
        out.push({ run, done: track(integration, run, { trigger: run.trigger, requestedBy: run.requestedBy, scheduledFor: run.scheduledFor }, performance.now()) });
      }
      return out;
    },
    async decide(decisions) {
      const digest = configDigest(config());
      const recorded = await store.recordDecisions(decisions.map((d) => ({ configDigest: digest, ...d })));
      for (const run of recorded) {
        deps.logger.warn(run.status === 'missed' ? 'slot missed' : 'slot skipped', { integration: run.integrationId, runId: run.id, scheduledFor: run.scheduledFor?.toISOString(), note: run.note });
        announce(run);
      }
      return recorded;
    },
    reap,
    replayReceipts,
    sweepSpool: sweep,
    async recover() {
      await replayReceipts();
      await reap();
      await sweep();
    },
    release: (runId, by, opts) =>
      releaseHeldRun({ config: config(), store, logger: deps.logger, collector, clock, openDestination, receipts: receipts(), announce }, runId, by, opts),
    drain(reason) {
      draining = true;
      for (const { controller, started } of controllers.values()) if (!started) controller.abort(new Error(reason));
    },
    get draining() {
      return draining;
    },
    active: () => inFlight.size,
    abortAll(reason) {
      for (const { controller } of controllers.values()) controller.abort(new Error(reason));
    },
    async close() {
      leases.stop();
      await journal?.close();
    },
    async waitIdle(timeoutMs) {
      if (inFlight.size === 0) return true;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      const idle = (async () => {
        while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
        return true as const;
      })();
      const res = await Promise.race([idle, timeout]);
      clearTimeout(timer);
      return res;
    },
  };
}

function reasonOf(signal: AbortSignal): string | undefined {
  if (!signal.aborted) return undefined;
  const r: unknown = signal.reason;
  return r instanceof Error ? r.message : r === undefined ? undefined : String(r);
}

function formatMinutes(ms: number): string {
  if (ms >= 60_000) return `${Number((ms / 60_000).toFixed(1))}-minute`;
  if (ms >= 1000) return `${Number((ms / 1000).toFixed(1))}-second`;
  return `${Math.round(ms)}-millisecond`;
}
