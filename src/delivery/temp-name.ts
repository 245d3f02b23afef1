import path from 'node:path';

/**
 * The one naming rule for files on their way in: `.<name>.ferry-<runId>.part` beside the final file. Hidden, so
 * that a vendor's importer that picks up `*.csv` never reads a partial file, and carrying the run, so that two runs
 * never write the same temporary file.
 */
export function tempPathFor(finalPath: string, runId: number | string, p: typeof path.posix | typeof path = path.posix): string {
  return p.join(p.dirname(finalPath), `.${p.basename(finalPath)}.ferry-${runId}.part`);
}

/**
 * Whether `entry` (a name in the final file's folder) is a temporary file for `finalName` left by another run.
 * Run ids are letters, digits, `_` and `-` only: a dot there could make the temporary file of `x.csv.ferry-1` look
 * like one of `x.csv`.
 */
export function isLeftoverTempOf(finalName: string, entry: string, runId: number | string): boolean {
  const prefix = `.${finalName}.ferry-`;
  if (!entry.startsWith(prefix) || !entry.endsWith('.part')) return false;
  const run = entry.slice(prefix.length, -'.part'.length);
  return /^[A-Za-z0-9_-]+$/.test(run) && run !== String(runId);
}
