import fs from 'node:fs/promises';
import path from 'node:path';
import type { RunRecord, RunStore } from '../store/run-store.js';

/**
 * Spool files hold student data, so none outlives its use. Every spool entry is named `<runId>-…` (see the pipeline);
 * an entry stays only while its run is running, while it is a held delivery waiting for `ferry release` (at most its
 * integration's `safety.heldDays`), or while a kept copy (a dry run, spool.keep) is younger than `keepDays`.
 * Everything else (a killed process's `.part` file, a run that was reaped, a held file nobody released) is removed:
 * at start, before a CLI run, when runs are reaped, and every hour in the daemon.
 */
export async function sweepSpool(opts: {
  spoolDir: string;
  store: RunStore;
  now: Date;
  keepDays: number;
  /** Days a held file waits for `ferry release`, by integration. */
  heldDays: (integrationId: string) => number;
  /** Runs in flight in this process: never touched. */
  inFlight: ReadonlySet<number>;
  /** Only these runs' entries (after a reap); default: every entry, and held runs past their days expire. */
  onlyRuns?: readonly number[];
}): Promise<{ removed: string[]; expired: RunRecord[] }> {
  const expired = opts.onlyRuns ? [] : await expireHeld(opts);
  let names: string[];
  try {
    names = await fs.readdir(opts.spoolDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { removed: [], expired };
    throw err;
  }
  const only = opts.onlyRuns ? new Set(opts.onlyRuns) : undefined;
  const entries = names
    .map((name) => ({ name, full: path.join(opts.spoolDir, name), runId: Number(/^(\d+)-/.exec(name)?.[1] ?? NaN) }))
    .filter((e) => Number.isSafeInteger(e.runId) && !opts.inFlight.has(e.runId) && (!only || only.has(e.runId)));
  if (entries.length === 0) return { removed: [], expired };
  const runs = new Map((await opts.store.getRuns([...new Set(entries.map((e) => e.runId))])).map((r) => [r.id, r]));
  const oldest = opts.now.getTime() - opts.keepDays * 86_400_000;
  const removed: string[] = [];
  for (const e of entries) {
    const run = runs.get(e.runId);
    const keep =
      run !== undefined &&
      (run.status === 'running' ||
        (run.spoolPath === e.full && (run.status === 'held' || (run.finishedAt !== null && run.finishedAt.getTime() >= oldest))));
    if (keep) continue;
    await fs.rm(e.full, { recursive: true, force: true });
    removed.push(e.name);
  }
  return { removed, expired };
}

/**
 * Held runs older than their integration's `heldDays` become `expired`, then lose their file. The record changes
 * first (and only when no release has claimed the run), so a file is never removed from under a release, and a file
 * left behind by a failed removal belongs to no held run and goes with the next sweep.
 */
async function expireHeld(opts: { store: RunStore; now: Date; heldDays: (integrationId: string) => number }): Promise<RunRecord[]> {
  const expired: RunRecord[] = [];
  for (const run of await opts.store.runsWithStatus('held')) {
    const days = opts.heldDays(run.integrationId);
    const heldAt = run.finishedAt ?? run.createdAt;
    if (run.releasedBy || opts.now.getTime() - heldAt.getTime() < days * 86_400_000) continue;
    const note = `expired: held for more than ${days} day${days === 1 ? '' : 's'} (safety.heldDays) without ferry release; its file was removed and nothing was delivered`;
    const done = await opts.store.expireHeld(run.id, note);
    if (!done) continue;
    if (run.spoolPath) await fs.rm(run.spoolPath, { recursive: true, force: true });
    expired.push(done);
  }
  return expired;
}
