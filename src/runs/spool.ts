import fs from 'node:fs/promises';
import path from 'node:path';
import type { RunStore } from '../store/run-store.js';

/**
 * Spool files hold student data, so none outlives its use. Every spool entry is named `<runId>-…` (see the pipeline);
 * an entry stays only while its run is running, while it is a held delivery waiting for `ferry release`, or while a
 * kept copy (a dry run, spool.keep) is younger than `keepDays`. Everything else (a killed process's `.part` file, a
 * run that was reaped) is removed: at start, before a CLI run, when runs are reaped, and every hour in the daemon.
 */
export async function sweepSpool(opts: {
  spoolDir: string;
  store: RunStore;
  now: Date;
  keepDays: number;
  /** Runs in flight in this process: never touched. */
  inFlight: ReadonlySet<number>;
  /** Only these runs' entries (after a reap); default: every entry. */
  onlyRuns?: readonly number[];
}): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(opts.spoolDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const only = opts.onlyRuns ? new Set(opts.onlyRuns) : undefined;
  const entries = names
    .map((name) => ({ name, full: path.join(opts.spoolDir, name), runId: Number(/^(\d+)-/.exec(name)?.[1] ?? NaN) }))
    .filter((e) => Number.isSafeInteger(e.runId) && !opts.inFlight.has(e.runId) && (!only || only.has(e.runId)));
  if (entries.length === 0) return [];
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
  return removed;
}
