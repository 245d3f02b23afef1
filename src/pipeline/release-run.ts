import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'winston';
import type { Clock } from '../core/clock.js';
import type { Destination } from '../core/destination.js';
import { FerryError, toFerryError } from '../core/errors.js';
import type { FerryConfig, Integration } from '../config/model.js';
import { sha256OfFile } from './delta-baseline.js';
import { expiredAgreement, expiredSentence } from '../governance/agreements.js';
import { describeSetFiles, keepBaseline, setSha256 } from './execute-bundle.js';
import { deliverOrHold } from './deliver.js';
import { renderRunPath } from './run-paths.js';
import type { RunLogCollector } from '../logging/logger.js';
import type { ReceiptJournal } from '../runs/receipts.js';
import type { Forced, RunRecord, RunStore } from '../store/run-store.js';
import { isGovernanceHold } from '../store/run-record.js';

export interface ReleaseDeps {
  config: FerryConfig;
  store: RunStore;
  logger: Logger;
  collector: RunLogCollector;
  clock: Clock;
  openDestination: (integration: Integration, logger: Logger) => Destination;
  /** A released file's receipt is journaled before it is recorded, like every delivery's. */
  receipts: ReceiptJournal;
  announce: (run: RunRecord) => void;
}

export interface ReleaseOptions {
  signal?: AbortSignal | undefined;
  /** `--force --reason`: release even when the integration is disabled or a newer delivery exists; recorded. */
  forceReason?: string | undefined;
}

/**
 * `ferry release <run>`: a person has looked at a held delivery and lets it go. The kept spool file is checked
 * against the SHA-256 recorded when it was written, delivered to the integration's remote path (rendered for the run's
 * scheduled time, or when it was created), and removed; the run becomes `succeeded`, with who released it and when.
 * A release that would overwrite newer data (a later slot already delivered) or send for a disabled integration is
 * refused unless forced, and a forced release records what it overrode and why.
 */
export async function releaseHeldRun(deps: ReleaseDeps, runId: number, by: string, opts: ReleaseOptions = {}): Promise<RunRecord> {
  const { store, config } = deps;
  const { signal } = opts;
  const run = await store.getRun(runId);
  if (!run) throw new FerryError('params', `there is no run ${runId} (see ferry history)`, { field: 'run-id' });
  if (run.status !== 'held') {
    throw new FerryError('params', `run ${runId} of ${run.integrationId} is ${run.status}, not held; only a held delivery can be released`, { integration: run.integrationId, field: 'run-id' });
  }
  if (run.releasedBy) {
    throw new FerryError('params', `run ${runId} of ${run.integrationId} is already being released by ${run.releasedBy}`, { integration: run.integrationId, field: 'run-id' });
  }
  const integration = config.integrations.get(run.integrationId);
  if (!integration) throw new FerryError('config', `run ${runId} belongs to integration ${run.integrationId}, which is no longer in the configuration`, { integration: run.integrationId, field: 'integration' });
  // Governance holds a scheduled run before it reads anything (governance/holds.ts): no file was ever written.
  if (isGovernanceHold(run) || (run.sha256 === null && !run.spoolPath)) {
    throw new FerryError('params', `run ${runId} of ${run.integrationId} was held before it read or wrote anything (${run.holdReason ?? 'no reason recorded'}), so there is nothing to release`, { integration: run.integrationId, field: 'run-id' });
  }
  const file = run.spoolPath;
  if (!file || !fs.existsSync(file)) {
    throw new FerryError('spool', `integration ${integration.id}: the held file of run ${runId} is gone${file ? ` (${file})` : ''}; run the integration again with ferry run ${integration.id}`, {
      integration: integration.id,
      field: 'spool',
    });
  }
  // A Clever set is kept as a folder of files; its recorded hash is that of the files' listing (see setSha256).
  const isSet = (await fsp.stat(file)).isDirectory();
  const setFiles = isSet ? await describeSetFiles(file, new Map((run.files ?? []).map((f) => [f.name, { rows: f.rows }]))).catch(() => null) : null;
  const actual = isSet ? (setFiles ? setSha256(setFiles) : null) : await sha256OfFile(file);
  if (actual !== run.sha256) {
    throw new FerryError('spool', `integration ${integration.id}: the held file of run ${runId} (${file}) changed after it was written; it was not delivered`, { integration: integration.id, field: 'spool' });
  }

  const forced = await releaseOverrides(store, integration, run, opts.forceReason, deps.clock.now());

  const claimed = await store.claimRelease(runId, by, forced);
  if (!claimed) throw new FerryError('params', `run ${runId} of ${integration.id} is no longer held (another release got there first)`, { integration: integration.id, field: 'run-id' });
  const logger = deps.logger.child({ integration: integration.id, district: integration.district.id, runId });
  try {
    // Rendered for the run's slot, as when it was held.
    const at = run.slotAt;
    const size = setFiles ? 0 : (await fsp.stat(file)).size;
    const outbox = setFiles
      ? (() => {
          const files = setFiles.map((f) => ({ localPath: path.join(file, f.name), remotePath: renderRunPath(integration, runId, at, f.name), bytes: f.bytes }));
          return { files, set: true, recordedPath: path.posix.dirname(files[0]!.remotePath) + '/', rows: run.rows ?? 0 };
        })()
      : (() => {
          const remotePath = renderRunPath(integration, runId, at);
          return { files: [{ localPath: file, remotePath, bytes: size }], set: false, recordedPath: remotePath, rows: run.rows ?? 0 };
        })();
    const bytes = outbox.files.reduce((n, f) => n + f.bytes, 0);
    logger.info('held delivery released', { by, ...(forced ? { forced: forced.scope, forcedReason: forced.reason } : {}), heldReason: run.holdReason, destination: integration.destination.id, remotePath: outbox.recordedPath, ...(setFiles ? { files: outbox.files.length } : {}) });
    // The safety gate already spoke (a person has looked and lets it go): no previous delivery to compare with.
    const sent = await deliverOrHold({ integration, runId, logger, signal, previousDelivery: null, openDestination: () => deps.openDestination(integration, logger) }, outbox);
    if (sent.kind !== 'delivered') throw new FerryError('internal', `integration ${integration.id}: run ${runId} was not delivered on release`, { integration: integration.id });
    const receipt = { remotePath: sent.remotePath, target: sent.target };
    await deps.receipts.write({
      runId,
      integrationId: integration.id,
      deliveredAt: deps.clock.now().toISOString(),
      outcome: { status: 'succeeded', rows: run.rows, expected: run.expected, bytes: run.bytes, sha256: run.sha256, remotePath: receipt.remotePath, target: receipt.target, files: run.files, bundleMode: run.bundleMode },
    });
    const record = await store.completeRelease(runId, { remotePath: receipt.remotePath, target: receipt.target });
    await deps.receipts.recorded(runId);
    deps.announce(record);
    logger.info('held delivery delivered', { by, remotePath: receipt.remotePath, target: receipt.target, rows: run.rows, bytes });
    // A held bulk of a delta integration becomes its baseline once it is out, as if it had gone out at once.
    if (integration.bundle?.format === 'oneroster' && integration.bundle.mode === 'delta' && run.bundleMode === 'bulk') {
      await keepBaseline({ integration, logger, runId, clock: deps.clock }, deps.config.baselineDir, file, run.sha256!);
    }
    await fsp.rm(file, { recursive: true, force: true });
    await store.appendLogs(runId, deps.collector.take(runId));
    return record;
  } catch (err) {
    const failure = toFerryError(err);
    logger.error('release failed; the run stays held', { errorKind: failure.kind, error: failure.message });
    await store.abandonRelease(runId);
    await store.appendLogs(runId, deps.collector.take(runId));
    throw failure;
  }
}

/**
 * What releasing this run would override, refused without `--force --reason`: the integration is disabled (in config
 * or by `ferry disable`), or a later slot has been delivered since the run was held, so its file is older than what
 * the vendor has, or the agreement it would be sent under has expired. Null when nothing is overridden (a `--force` then records nothing).
 */
async function releaseOverrides(store: RunStore, integration: Integration, run: RunRecord, forceReason: string | undefined, now: Date): Promise<Forced | null> {
  const [states, later] = await Promise.all([store.getStates(), store.laterDelivery(integration.id, run.slotAt)]);
  const state = states.get(integration.id);
  const clauses: string[] = [];
  if (!(state?.enabled ?? integration.enabled)) clauses.push(`${integration.id} is disabled (${state ? `by ${state.changedBy}${state.reason ? `: ${state.reason}` : ''}` : 'enabled: false in its config'})`);
  const expired = expiredAgreement(integration, now);
  if (expired) clauses.push(expiredSentence(expired));
  if (later) clauses.push(`run ${later.id} delivered newer data for ${later.slotAt.toISOString()}, after this run's slot ${run.slotAt.toISOString()}`);
  if (clauses.length === 0) return null;
  const scope = clauses.join(', and ');
  if (forceReason === undefined) {
    throw new FerryError('params', `run ${run.id} of ${integration.id} was not released: ${scope}; release it only with --force --reason "…"`, {
      integration: integration.id,
      field: later ? 'run-id' : 'enabled',
    });
  }
  return { scope, reason: forceReason };
}
