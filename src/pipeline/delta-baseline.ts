import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'winston';
import { FerryError } from '../core/errors.js';
import { readZipEntries } from '../formats/oneroster/read-zip.js';

/**
 * The last delivered OneRoster bulk of a delta integration: the zip exactly as it went out, kept (0600, in a 0700
 * folder under dataDir/baselines) so the next run can send only what changed since, with each deleted record's last
 * delivered values. It holds the same roster data the district's drop folder holds, no more.
 */
export interface Baseline {
  runId: number;
  sha256: string;
  /** Data files by name ("users.csv"), as text. */
  files: Map<string, string>;
}

interface BaselineMeta {
  runId: number;
  sha256: string;
  savedAt: string;
}

const zipOf = (dir: string, integrationId: string) => path.join(dir, integrationId, 'bulk.zip');
const metaOf = (dir: string, integrationId: string) => path.join(dir, integrationId, 'bulk.json');

export async function sha256OfFile(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  await pipeline(fs.createReadStream(file), hash);
  return hash.digest('hex');
}

/** Null when there is none, or when it does not match the hash recorded with it (then a bulk is sent instead). */
export async function loadBaseline(dir: string, integrationId: string, logger: Logger): Promise<Baseline | null> {
  let meta: BaselineMeta;
  try {
    meta = JSON.parse(await fsp.readFile(metaOf(dir, integrationId), 'utf8')) as BaselineMeta;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn('delta baseline unreadable; sending a bulk', { error: (err as Error).message });
    return null;
  }
  const file = zipOf(dir, integrationId);
  const actual = await sha256OfFile(file).catch(() => undefined);
  if (actual !== meta.sha256) {
    logger.warn('delta baseline does not match its recorded SHA-256; sending a bulk', { baselineRunId: meta.runId });
    return null;
  }
  const entries = await readZipEntries(file);
  const files = new Map<string, string>();
  for (const [name, data] of entries) if (name !== 'manifest.csv' && !name.endsWith('/')) files.set(name, data.toString('utf8'));
  return { runId: meta.runId, sha256: meta.sha256, files };
}

/** Keep a delivered bulk zip as the new baseline (copy, then rename into place: a reader never sees half of it). */
export async function saveBaseline(dir: string, integrationId: string, zipPath: string, runId: number, sha256: string, now: Date): Promise<void> {
  const folder = path.join(dir, integrationId);
  try {
    await fsp.mkdir(folder, { recursive: true, mode: 0o700 });
    const tmpZip = `${zipOf(dir, integrationId)}.${runId}.tmp`;
    const tmpMeta = `${metaOf(dir, integrationId)}.${runId}.tmp`;
    await fsp.rm(tmpZip, { force: true });
    await fsp.copyFile(zipPath, tmpZip, fs.constants.COPYFILE_EXCL);
    await fsp.chmod(tmpZip, 0o600);
    const meta: BaselineMeta = { runId, sha256, savedAt: now.toISOString() };
    await fsp.writeFile(tmpMeta, JSON.stringify(meta) + '\n', { mode: 0o600 });
    await fsp.rename(tmpZip, zipOf(dir, integrationId));
    await fsp.rename(tmpMeta, metaOf(dir, integrationId));
  } catch (err) {
    throw new FerryError('spool', `integration ${integrationId}: the bulk was delivered but could not be kept as the delta baseline in ${folder} (${(err as NodeJS.ErrnoException).code ?? 'error'}); the next run sends a bulk again`, {
      integration: integrationId,
      field: 'dataDir',
      cause: err,
    });
  }
}
