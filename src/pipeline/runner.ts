import os from 'node:os';
import type { Logger } from 'winston';
import { createSource } from '../../connectors/index.js';
import type { Clock } from '../core/clock.js';
import type { Destination } from '../core/destination.js';
import { FerryError, toFerryError } from '../core/errors.js';
import type { Source } from '../core/source.js';
import type { FerryConfig, Integration } from '../config/model.js';
import { resolveIntegrationParams, type ResolvedParams } from '../config/params.js';
import { createDestination } from '../delivery/create-destination.js';
import type { RunLogCollector } from '../logging/logger.js';
import type { Limiter } from '../scheduler/limiter.js';
import type { RunRecord, RunStore, RunTrigger } from '../store/run-store.js';
import { executeRun, type RunResult } from './execute-run.js';
import { releaseHeldRun } from './release-run.js';

export interface RunRequest {
  trigger: RunTrigger;
  requestedBy: string;
  scheduledFor?: Date | null;
  /** Parameter overrides on top of the integration's own (e.g. `ferry run --param grades=K-5`). */
  overrides?: Readonly<Record<string, unknown>>;
  dryRun?: boolean;
  /** A OneRoster delta integration sends a bulk (its new baseline) this time: `ferry run --bulk`. */
  forceBulk?: boolean;
  signal?: AbortSignal;
  onProgress?: (rows: number) => void;
}

export interface RunOutcomeReport {
  run: RunRecord;
  /** Set when the run was a dry run and the file was kept. */
  spoolPath: string | null;
  /** The error, when the run failed. */
  error?: FerryError;
}

export interface RunnerDeps {
  config: FerryConfig;
  store: RunStore;
  logger: Logger;
  collector: RunLogCollector;
  limiter: Limiter;
  clock: Clock;
  /** Tests may swap factories for real ones pointed elsewhere; production uses the defaults. */
  openSource?: (integration: Integration) => Source;
  openDestination?: (integration: Integration, logger: Logger) => Destination;
}

export interface Runner {
  run(integration: Integration, request: RunRequest): Promise<RunOutcomeReport>;
  /** Deliver a run the safety gate held (`ferry release`); throws a FerryError when it is not held or delivery fails. */
  release(runId: number, by: string, signal?: AbortSignal): Promise<RunRecord>;
  /** Runs in progress in this process. */
  active(): number;
  /** Abort every run in progress (shutdown); they end as `interrupted`. */
  abortAll(reason: string): void;
  /** Resolves when no run is in progress, or after `timeoutMs`; true when idle. */
  waitIdle(timeoutMs: number): Promise<boolean>;
}

export function createRunner(deps: RunnerDeps): Runner {
  const { config, store, clock, collector, limiter } = deps;
  const controllers = new Map<number, AbortController>();
  const inFlight = new Set<Promise<unknown>>();
  const host = os.hostname();
  const openSource = deps.openSource ?? ((i: Integration) => createSource(i.source, { configDir: config.dir, integration: i.id }));
  const openDestination = deps.openDestination ?? ((i: Integration, logger: Logger) => createDestination(i.destination, { configDir: config.dir, integration: i.id, logger }));

  async function run(integration: Integration, req: RunRequest): Promise<RunOutcomeReport> {
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
    });
    if (!claim.claimed && claim.reason === 'slot_taken') {
      // Another process (or an earlier fire) already recorded this slot: nothing to do, nothing new to record.
      deps.logger.debug('slot already recorded', { ...base, runId: claim.run.id, scheduledFor: scheduledFor?.toISOString() });
      return { run: claim.run, spoolPath: null };
    }
    if (!claim.claimed) {
      deps.logger.warn('run skipped: integration already running', { ...base, runId: claim.run.id, runningId: claim.runningId, trigger: req.trigger });
      return { run: claim.run, spoolPath: null, error: new FerryError('already_running', claim.run.error ?? `integration ${integration.id} is already running`, { integration: integration.id }) };
    }
    const runId = claim.run.id;
    const logger = deps.logger.child({ ...base, runId });
    const controller = new AbortController();
    controllers.set(runId, controller);
    const signal = req.signal ? AbortSignal.any([req.signal, controller.signal]) : controller.signal;

    const work = (async (): Promise<RunOutcomeReport> => {
      let result: RunResult | undefined;
      let failure: FerryError | undefined = paramError;
      let release: (() => void) | undefined;
      if (!failure) {
        try {
          release = await limiter.acquire(`source:${integration.source.id}`, integration.source.maxConcurrency ?? config.concurrency.perSource, signal);
          await store.markStarted(runId);
          logger.info('run started', { trigger: req.trigger, requestedBy: req.requestedBy, scheduledFor: scheduledFor?.toISOString() ?? null, dryRun: req.dryRun ?? false });
          // A rerun is compared with the last delivered file too, so a still-small roster is held again.
          const previous = integration.safety && !req.dryRun ? await store.lastDelivered(integration.id) : undefined;
          result = await executeRun(
            { runId, integration, scheduledFor, logger, signal, clock, params: params! },
            {
              spoolDir: config.spoolDir,
              baselineDir: config.baselineDir,
              forceBulk: req.forceBulk,
              keepSpool: config.keepSpool,
              dryRun: req.dryRun,
              openSource: () => openSource(integration),
              openDestination: () => openDestination(integration, logger),
              onProgress: req.onProgress,
              previousDelivery: previous && previous.rows !== null ? { runId: previous.id, rows: previous.rows } : null,
            },
          );
        } catch (err) {
          failure = signal.aborted && !(err instanceof FerryError && err.kind === 'aborted')
            ? new FerryError('aborted', `integration ${integration.id}: run stopped before it finished; nothing was delivered`, { integration: integration.id, cause: err })
            : toFerryError(err);
        } finally {
          release?.();
        }
      }
      let record: RunRecord;
      if (failure) {
        const status = failure.kind === 'aborted' ? 'interrupted' : 'failed';
        logger.error(status === 'interrupted' ? 'run interrupted' : 'run failed', { errorKind: failure.kind, field: failure.field, error: failure.message });
        await store.appendLogs(runId, collector.take(runId));
        record = await store.finishRun(runId, { status, errorKind: failure.kind, error: failure.message });
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
      return { run: record, spoolPath: result?.spoolPath ?? null, ...(failure ? { error: failure } : {}) };
    })();
    inFlight.add(work);
    try {
      return await work;
    } finally {
      inFlight.delete(work);
      controllers.delete(runId);
    }
  }

  return {
    run,
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
