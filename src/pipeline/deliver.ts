import type { Logger } from 'winston';
import type { Destination } from '../core/destination.js';
import type { Integration } from '../config/model.js';
import { checkRowChange, type HoldDecision, type PreviousDelivery } from './safety-gate.js';

/** What a run has ready to send: one file (a CSV, a OneRoster zip) or a set (Clever), already spooled and hashed. */
export interface Outbox {
  files: readonly { localPath: string; remotePath: string; bytes: number }[];
  /** Sent as one set (every file uploaded before any is moved into place), even when it has one file. */
  set: boolean;
  /** The path the run's record names: the file's, or the set's folder. */
  recordedPath: string;
  rows: number;
}

export type DeliverOutcome =
  | { kind: 'dry-run' }
  | { kind: 'held'; held: HoldDecision }
  | { kind: 'delivered'; remotePath: string; target: string };

export interface DeliverStep {
  integration: Integration;
  runId: number;
  logger: Logger;
  signal?: AbortSignal | undefined;
  dryRun?: boolean | undefined;
  /** The last delivered run, for the roster safety gate; null skips the gate (`ferry release`: a person let it go). */
  previousDelivery?: PreviousDelivery | null | undefined;
  /** Fencing and the newer-slot check, just before anything is sent (see ExecuteOptions.beforeDeliver). */
  beforeDeliver?: ((remotePath: string) => Promise<void>) | undefined;
  openDestination: () => Destination;
}

/**
 * The one step between a spooled file and the vendor's folder, for single files, OneRoster zips, Clever sets and
 * `ferry release` alike: a dry run keeps its file; the roster safety gate may hold it; otherwise the run checks it may
 * still deliver, and delivers. The caller decides what to keep in the spool from the outcome.
 */
export async function deliverOrHold(step: DeliverStep, outbox: Outbox): Promise<DeliverOutcome> {
  const { integration, logger, signal } = step;
  if (step.dryRun) {
    logger.info('dry run: file kept locally, not delivered', { spoolPath: outbox.files.length === 1 ? outbox.files[0]!.localPath : undefined, files: outbox.files.length });
    return { kind: 'dry-run' };
  }
  const held = checkRowChange(integration, step.runId, outbox.rows, step.previousDelivery);
  // Kept (0600, like every spool file) for `ferry release`; the vendor's current file stays as it is.
  if (held) return { kind: 'held', held };
  signal?.throwIfAborted();
  logger.info('delivery started', { destination: integration.destination.id, remotePath: outbox.recordedPath, ...(outbox.set ? { files: outbox.files.length } : {}) });
  await step.beforeDeliver?.(outbox.recordedPath);
  const destination = step.openDestination();
  try {
    const requests = outbox.files.map((f) => ({ ...f, runId: step.runId, ...(signal ? { signal } : {}) }));
    const receipts = outbox.set ? await destination.deliverAll(requests) : [await destination.deliver(requests[0]!)];
    return { kind: 'delivered', remotePath: outbox.set ? outbox.recordedPath : receipts[0]!.remotePath, target: receipts[0]!.target };
  } finally {
    await destination.close?.();
  }
}
