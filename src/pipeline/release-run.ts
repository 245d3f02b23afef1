import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'winston';
import type { Clock } from '../core/clock.js';
import type { Destination } from '../core/destination.js';
import { FerryError, toFerryError } from '../core/errors.js';
import type { FerryConfig, Integration } from '../config/model.js';
import { renderRemotePath } from '../delivery/remote-path.js';
import type { RunLogCollector } from '../logging/logger.js';
import type { RunRecord, RunStore } from '../store/run-store.js';

export interface ReleaseDeps {
  config: FerryConfig;
  store: RunStore;
  logger: Logger;
  collector: RunLogCollector;
  clock: Clock;
  openDestination: (integration: Integration, logger: Logger) => Destination;
}

/**
 * `ferry release <run>`: a person has looked at a held delivery and lets it go. The kept spool file is checked
 * against the SHA-256 recorded when it was written, delivered to the integration's remote path (rendered for the run's
 * scheduled time, or when it was created), and removed; the run becomes `succeeded`, with who released it and when.
 */
export async function releaseHeldRun(deps: ReleaseDeps, runId: number, by: string, signal?: AbortSignal): Promise<RunRecord> {
  const { store, config } = deps;
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
  const file = run.spoolPath;
  if (!file || !fs.existsSync(file)) {
    throw new FerryError('spool', `integration ${integration.id}: the held file of run ${runId} is gone${file ? ` (${file})` : ''}; run the integration again with ferry run ${integration.id}`, {
      integration: integration.id,
      field: 'spool',
    });
  }
  const hash = crypto.createHash('sha256');
  await pipeline(fs.createReadStream(file), hash);
  if (hash.digest('hex') !== run.sha256) {
    throw new FerryError('spool', `integration ${integration.id}: the held file of run ${runId} (${file}) changed after it was written; it was not delivered`, { integration: integration.id, field: 'spool' });
  }

  const claimed = await store.claimRelease(runId, by);
  if (!claimed) throw new FerryError('params', `run ${runId} of ${integration.id} is no longer held (another release got there first)`, { integration: integration.id, field: 'run-id' });
  const logger = deps.logger.child({ integration: integration.id, district: integration.district.id, runId });
  try {
    const dest = integration.destination;
    const remotePath = renderRemotePath(
      integration.remotePath,
      dest.basePath,
      { district: integration.district.id, integration: integration.id, extract: integration.extract.name, runId: String(runId), at: run.scheduledFor ?? run.createdAt, timezone: integration.schedule.timezone },
      integration.id,
    );
    logger.info('held delivery released', { by, heldReason: run.holdReason, destination: dest.id, remotePath });
    const destination = deps.openDestination(integration, logger);
    const { size } = await fsp.stat(file);
    const receipt = await destination.deliver({ localPath: file, remotePath, bytes: size, runId, ...(signal ? { signal } : {}) });
    await destination.close?.();
    const record = await store.completeRelease(runId, { remotePath: receipt.remotePath, target: receipt.target });
    logger.info('held delivery delivered', { by, remotePath: receipt.remotePath, target: receipt.target, rows: run.rows, bytes: size });
    await fsp.rm(file, { force: true });
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
