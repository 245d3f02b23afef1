import crypto from 'node:crypto';
import os from 'node:os';
import type { Logger } from 'winston';
import { createSource } from '../../connectors/index.js';
import type { Clock } from '../core/clock.js';
import type { Destination } from '../core/destination.js';
import { FerryError, toFerryError } from '../core/errors.js';
import type { EventBus } from '../core/events.js';
import type { Source } from '../core/source.js';
import type { FerryConfig, Integration } from '../config/model.js';
import { blackoutNow } from '../config/blackouts.js';
import { resolveIntegrationParams, type ResolvedParams } from '../config/params.js';
import { createDestination } from '../delivery/create-destination.js';
import type { RunLogCollector } from '../logging/logger.js';
import type { Limiter, LimitKey } from '../scheduler/limiter.js';
import type { RunRecord, RunStore, RunTrigger } from '../store/run-store.js';
import { executeRun, type RunResult } from './execute-run.js';
import { releaseHeldRun } from './release-run.js';
import { retryDelayMs } from './retry-policy.js';

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
  signal?: AbortSignal;
  onProgress?: (rows: number) => void;
}

export interface RunOutcomeReport {
  run: RunRecord;
  /** Set when the run was a dry run and the file was kept. */
  spoolPath: string | null;
  /** The error, when the run failed. */
  error?: FerryError;
  /** A retry queued after this run failed. */
  retry?: RunRecord;
  /** Where the time went (ms): waiting for a concurrency slot, doing the work, and the rest (Ferry's own overhead). */
  timings?: RunTimings;
}

export interface RunTimings {
  totalMs: number;
  waitMs: number;
  executeMs: number;
  /** total − wait − execute: claiming, recording, logging, scheduling glue. */
  overheadMs: number;
}

export interface RunnerDeps {
  config: FerryConfig;
  store: RunStore;
  logger: Logger;
  collector: RunLogCollector;
  limiter: Limiter;
  clock: Clock;
  bus?: EventBus | undefined;
  /** Who holds the leases of the runs this runner claims (a daemon id); default: host, pid and a random tag. */
  leaseOwner?: string;
  /** Tests may swap factories for real ones pointed elsewhere; production uses the defaults. */
  openSource?: (integration: Integration) => Source;
  openDestination?: (integration: Integration, logger: Logger) => Destination;
  /** 0 ≤ x < 1, for retry jitter; injectable so tests know the delay. */
  random?: () => number;
}

export interface Runner {
  run(integration: Integration, request: RunRequest): Promise<RunOutcomeReport>;
  /** Carry out a run already claimed from the queue (a retry, or a slot queued behind a running run). */
  runClaimed(integration: Integration, run: RunRecord, request?: Pick<RunRequest, 'signal'>): Promise<RunOutcomeReport>;
  /** Deliver a run the safety gate held (`ferry release`); throws a FerryError when it is not held or delivery fails. */
  release(runId: number, by: string, signal?: AbortSignal): Promise<RunRecord>;
  /** The configuration new runs use (after a reload). */
  setConfig(config: FerryConfig): void;
  readonly leaseOwner: string;
  /** Runs in progress in this process. */
  active(): number;
  /** Abort every run in progress (shutdown); they end as `interrupted`. */
  abortAll(reason: string): void;
  /** Resolves when no run is in progress, or after `timeoutMs`; true when idle. */
  waitIdle(timeoutMs: number): Promise<boolean>;
}

export function createRunner(deps: RunnerDeps): Runner {
  const { store, clock, collector, limiter } = deps;
  let config = deps.config;
  const controllers = new Map<number, AbortController>();
  const inFlight = new Set<Promise<unknown>>();
  const host = os.hostname();
  const leaseOwner = deps.leaseOwner ?? `${host}:${process.pid}:${crypto.randomBytes(3).toString('hex')}`;
  const random = deps.random ?? Math.random;
  const openSource = deps.openSource ?? ((i: Integration) => createSource(i.source, { configDir: config.dir, integration: i.id }));
  const openDestination = deps.openDestination ?? ((i: Integration, logger: Logger) => createDestination(i.destination, { configDir: config.dir, integration: i.id, logger }));
  const lease = () => ({ owner: leaseOwner, until: new Date(clock.now().getTime() + config.scheduler.leaseSeconds * 1000) });
  // While any run of this runner is in flight (the daemon's, or a long `ferry run` from the CLI), its leases are renewed
  // every heartbeatSeconds, so no other daemon takes them for dead. A stalled process stalls this too: that is the point.
  let renewTimer: NodeJS.Timeout | undefined;
  const renewWhileBusy = () => {
    if (renewTimer || inFlight.size === 0) return;
    renewTimer = setInterval(() => {
      if (inFlight.size === 0) {
        clearInterval(renewTimer);
        renewTimer = undefined;
        return;
      }
      store.renewLeases(leaseOwner, lease().until).catch((err: unknown) => deps.logger.warn('lease renewal failed', { error: (err as Error).message }));
    }, config.scheduler.heartbeatSeconds * 1000);
    renewTimer.unref();
  };

  async function run(integration: Integration, req: RunRequest): Promise<RunOutcomeReport> {
    const t0 = performance.now();
    const scheduledFor = req.scheduledFor ?? null;
    const base = { integration: integration.id, district: integration.district.id };
    let params: ResolvedParams | undefined;
    let paramError: FerryError | undefined;
    try {
      params = resolveIntegrationParams(integration, { ...integration.params, ...req.overrides }, scheduledFor ?? clock.now(), integration.schedule.timezone);
    } catch (err) {
      paramError = toFerryError(err);
    }

    const claim = await store.claimRun({
      integrationId: integration.id,
      districtId: integration.district.id,
      extract: integration.extract.name,
      trigger: req.trigger,
      requestedBy: req.requestedBy,
      scheduledFor,
      params: params?.values ?? { ...integration.params, ...req.overrides },
      dryRun: req.dryRun ?? false,
      host,
      pid: process.pid,
      lease: lease(),
      // A queued slot runs later with the integration's own parameters: only scheduled runs queue.
      whenBusy: integration.overlap === 'queue-one' && req.trigger === 'schedule' ? 'queue' : 'skip',
      note: req.note ?? null,
    });
    if (!claim.claimed && claim.reason === 'slot_taken') {
      // Another process (or an earlier fire) already recorded this slot: nothing to do, nothing new to record.
      deps.logger.debug('slot already recorded', { ...base, runId: claim.run.id, scheduledFor: scheduledFor?.toISOString() });
      return { run: claim.run, spoolPath: null };
    }
    if (!claim.claimed && claim.reason === 'queued') {
      deps.logger.info('run queued behind the run still going', { ...base, runId: claim.run.id, runningId: claim.runningId });
      return { run: claim.run, spoolPath: null };
    }
    if (!claim.claimed) {
      deps.logger.warn('run skipped: integration already running', { ...base, runId: claim.run.id, runningId: claim.runningId, trigger: req.trigger });
      deps.bus?.emit({ type: 'run.finished', run: claim.run });
      return { run: claim.run, spoolPath: null, error: new FerryError('already_running', claim.run.error ?? `integration ${integration.id} is already running`, { integration: integration.id }) };
    }
    return execute(integration, claim.run, req, params, paramError, t0);
  }

  async function runClaimed(integration: Integration, record: RunRecord, req: Pick<RunRequest, 'signal'> = {}): Promise<RunOutcomeReport> {
    const t0 = performance.now();
    let params: ResolvedParams | undefined;
    let paramError: FerryError | undefined;
    try {
      // The run's own recorded parameters (a retry repeats what failed), resolved for its slot or for now.
      params = resolveIntegrationParams(integration, { ...integration.params, ...record.params }, record.scheduledFor ?? clock.now(), integration.schedule.timezone);
    } catch (err) {
      paramError = toFerryError(err);
    }
    return execute(integration, record, { trigger: record.trigger, requestedBy: record.requestedBy, scheduledFor: record.scheduledFor, ...req }, params, paramError, t0);
  }

  async function execute(
    integration: Integration,
    claimed: RunRecord,
    req: RunRequest,
    params: ResolvedParams | undefined,
    paramError: FerryError | undefined,
    t0: number,
  ): Promise<RunOutcomeReport> {
    let waitMs = 0;
    let executeMs = 0;
    const runId = claimed.id;
    const scheduledFor = claimed.scheduledFor;
    const base = { integration: integration.id, district: integration.district.id };
    const logger = deps.logger.child({ ...base, runId });
    const controller = new AbortController();
    controllers.set(runId, controller);
    const stopSignal = req.signal ? AbortSignal.any([controller.signal, req.signal]) : controller.signal;
    // The run timeout starts once the run has its concurrency slot (waiting for the cap is not the run going on); it
    // aborts the source query and the upload alike, and is told apart from a shutdown below.
    let timeout: AbortSignal | undefined;
    let signal: AbortSignal = stopSignal;

    const work = (async (): Promise<RunOutcomeReport> => {
      let result: RunResult | undefined;
      let failure: FerryError | undefined = paramError;
      let release: (() => void) | undefined;
      if (!failure) {
        try {
          const tw = performance.now();
          release = await limiter.acquire(limitKeys(integration), undefined, stopSignal);
          waitMs = performance.now() - tw;
          timeout = AbortSignal.timeout(integration.timeoutMs);
          signal = AbortSignal.any([stopSignal, timeout]);
          const started: RunRecord = { ...claimed, startedAt: await store.markStarted(runId) };
          deps.bus?.emit({ type: 'run.started', run: started, lagMs: scheduledFor && started.startedAt ? started.startedAt.getTime() - scheduledFor.getTime() : null });
          logger.info('run started', { trigger: claimed.trigger, requestedBy: claimed.requestedBy, scheduledFor: scheduledFor?.toISOString() ?? null, dryRun: claimed.dryRun, attempt: claimed.attempt });
          const blackout = claimed.trigger === 'manual' ? blackoutNow(integration, clock.now()) : undefined;
          if (blackout) logger.warn('manual run during a blackout', { blackout: blackout.reason });
          // A rerun is compared with the last delivered file too, so a still-small roster is held again.
          const previous = integration.safety && !claimed.dryRun ? await store.lastDelivered(integration.id) : undefined;
          const te = performance.now();
          result = await executeRun(
            { runId, integration, scheduledFor, logger, signal, clock, params: params! },
            {
              spoolDir: config.spoolDir,
              baselineDir: config.baselineDir,
              forceBulk: req.forceBulk,
              keepSpool: config.keepSpool,
              dryRun: claimed.dryRun,
              openSource: () => openSource(integration),
              openDestination: () => openDestination(integration, logger),
              onProgress: req.onProgress,
              previousDelivery: previous && previous.rows !== null ? { runId: previous.id, rows: previous.rows } : null,
              beforeDeliver: async () => {
                // Fencing: a daemon that stalled past its lease may have been taken over; then it must not deliver.
                if (claimed.leaseOwner && !(await store.holdsLease(runId, claimed.leaseOwner, clock.now()))) {
                  throw new FerryError('aborted', `integration ${integration.id}: this daemon lost the run's lease (it stalled for longer than scheduler.leaseSeconds) and another daemon took the slot over; nothing was delivered`, {
                    integration: integration.id,
                    field: 'scheduler.leaseSeconds',
                  });
                }
              },
            },
          ).finally(() => {
            executeMs = performance.now() - te;
          });
        } catch (err) {
          if (timeout?.aborted && !stopSignal.aborted) {
            failure = new FerryError('timeout', `integration ${integration.id}: the run went on longer than its ${formatMinutes(integration.timeoutMs)} timeout (timeoutMinutes) and was stopped; nothing was delivered`, {
              integration: integration.id,
              field: 'timeoutMinutes',
              cause: err,
            });
          } else if (signal.aborted && !(err instanceof FerryError && err.kind === 'aborted')) {
            failure = new FerryError('aborted', `integration ${integration.id}: run stopped before it finished; nothing was delivered`, { integration: integration.id, cause: err });
          } else {
            failure = toFerryError(err);
          }
        } finally {
          release?.();
        }
      }
      let record: RunRecord;
      let retry: RunRecord | undefined;
      if (failure) {
        const status = failure.kind === 'aborted' ? 'interrupted' : 'failed';
        logger.error(status === 'interrupted' ? 'run interrupted' : 'run failed', { errorKind: failure.kind, field: failure.field, error: failure.message });
        await store.appendLogs(runId, collector.take(runId));
        record = await store.finishRun(runId, { status, errorKind: failure.kind, error: failure.message });
        if (!takenOver(record, status)) retry = await queueRetry({ store, clock, logger, random }, integration, record, failure.retryable, failure.kind);
      } else if (result!.held) {
        const h = result!.held;
        logger.warn('delivery held', { rows: h.rows, previousRows: h.previousRows, drop: Number(h.drop.toFixed(4)), previousRunId: h.previousRunId, maxRowDrop: h.maxRowDrop });
        await store.appendLogs(runId, collector.take(runId));
        record = await store.finishRun(runId, {
          status: 'held',
          rows: result!.rows,
          bytes: result!.bytes,
          sha256: result!.sha256,
          spoolPath: result!.spoolPath,
          holdReason: h.reason,
          files: result!.files ?? null,
          bundleMode: result!.bundleMode ?? null,
        });
      } else {
        logger.info('run succeeded', { rows: result!.rows, bytes: result!.bytes, sha256: result!.sha256, remotePath: result!.remotePath, target: result!.target });
        await store.appendLogs(runId, collector.take(runId));
        record = await store.finishRun(runId, {
          status: 'succeeded',
          rows: result!.rows,
          bytes: result!.bytes,
          sha256: result!.sha256,
          remotePath: result!.remotePath,
          target: result!.target,
          files: result!.files ?? null,
          bundleMode: result!.bundleMode ?? null,
        });
      }
      if (takenOver(record, failure ? (failure.kind === 'aborted' ? 'interrupted' : 'failed') : result!.held ? 'held' : 'succeeded')) {
        // Our lease lapsed (a stalled process, a lost store) and another daemon already interrupted the run and queued its retry.
        logger.warn('run finished after its lease lapsed: another daemon had marked it interrupted, and its retry stands', { leaseOwner });
      } else {
        deps.bus?.emit({ type: 'run.finished', run: record });
      }
      const totalMs = performance.now() - t0;
      const timings = { totalMs, waitMs, executeMs, overheadMs: totalMs - waitMs - executeMs };
      return { run: record, spoolPath: result?.spoolPath ?? null, timings, ...(failure ? { error: failure } : {}), ...(retry ? { retry } : {}) };
    })();
    inFlight.add(work);
    renewWhileBusy();
    try {
      return await work;
    } finally {
      inFlight.delete(work);
      controllers.delete(runId);
    }
  }

  function limitKeys(integration: Integration): LimitKey[] {
    const keys: LimitKey[] = [{ key: `source:${integration.source.id}`, max: integration.source.maxConcurrency ?? config.concurrency.perSource }];
    const dest = integration.destination;
    if (dest.kind === 'sftp') keys.push({ key: `host:${dest.host}:${dest.port}`, max: dest.maxConcurrency ?? config.concurrency.perDestinationHost });
    return keys;
  }

  return {
    run,
    runClaimed,
    leaseOwner,
    setConfig(next) {
      config = next;
    },
    release: (runId, by, signal) => releaseHeldRun({ config, store, logger: deps.logger, collector, clock, openDestination }, runId, by, signal),
    active: () => inFlight.size,
    abortAll(reason) {
      for (const c of controllers.values()) c.abort(new Error(reason));
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

/**
 * The retry policy: a scheduled (or retry) run that failed for a reason that may pass (the error table's `retryable`:
 * network, timeouts, 5xx/429, deadlocks, an interrupted run) gets a queued retry after a backoff, until the
 * integration's maxAttempts. Bad SQL, bad credentials and failed checks are never retried; manual runs neither (the
 * person who ran it sees the error). Also used for runs a dead daemon left behind.
 */
export async function queueRetry(
  deps: { store: RunStore; clock: Clock; logger: Logger; random: () => number },
  integration: Integration,
  failed: RunRecord,
  retryable: boolean,
  kind: string,
): Promise<RunRecord | undefined> {
  const policy = integration.retry;
  if (!policy || !retryable || failed.dryRun || failed.trigger === 'manual') return undefined;
  if (failed.attempt >= policy.maxAttempts) {
    deps.logger.warn('no retry left', { attempt: failed.attempt, maxAttempts: policy.maxAttempts, errorKind: kind });
    return undefined;
  }
  const delay = retryDelayMs(policy, failed.attempt, deps.random);
  const notBefore = new Date(deps.clock.now().getTime() + delay);
  const attempt = failed.attempt + 1;
  const retry = await deps.store.enqueue({
    integrationId: integration.id,
    districtId: integration.district.id,
    extract: integration.extract.name,
    trigger: 'retry',
    requestedBy: 'scheduler',
    scheduledFor: null,
    params: failed.params,
    host: os.hostname(),
    pid: process.pid,
    attempt,
    retryOf: failed.retryOf ?? failed.id,
    notBefore,
    note: `retry ${attempt - 1} of ${policy.maxAttempts - 1} after run ${failed.id} (${kind}), not before ${notBefore.toISOString()}`,
  });
  if (retry) deps.logger.info('retry queued', { retryRunId: retry.id, attempt, notBefore: notBefore.toISOString(), delayMs: delay });
  else deps.logger.info('retry not queued: a run of the integration is already queued', { attempt });
  return retry;
}

/** The store kept another daemon's verdict (interrupted when our lease lapsed) instead of the status we recorded. */
function takenOver(record: RunRecord, recorded: RunRecord['status']): boolean {
  return record.status === 'interrupted' && recorded !== 'interrupted';
}

function formatMinutes(ms: number): string {
  if (ms >= 60_000) return `${Number((ms / 60_000).toFixed(1))}-minute`;
  if (ms >= 1000) return `${Number((ms / 1000).toFixed(1))}-second`;
  return `${Math.round(ms)}-millisecond`;
}
