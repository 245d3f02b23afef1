import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yazl from 'yazl';
import { FerryError } from '../../core/errors.js';
import { buildManifest } from './manifest.js';
import { parseCsv } from './parse-csv.js';
import { MANIFEST_FILE, specForFile, type OneRosterFileName } from './spec.js';

export interface BundleFileInfo {
  name: string;
  bytes: number;
  sha256: string;
  /** Data rows, header excluded. */
  rows: number;
}

export interface BundleInfo {
  bytes: number;
  sha256: string;
  /** manifest.csv first, then the data files in the order given. */
  files: BundleFileInfo[];
}

export interface WriteBundleOptions {
  mode: 'bulk' | 'delta';
  /** Optional manifest properties source.systemName / source.systemCode. */
  source?: { systemName?: string; systemCode?: string };
  /** Entry timestamps; fixed in tests so that the zip's hash is stable. Default: now. */
  mtime?: Date;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * One OneRoster zip (reference §4.1): a generated manifest.csv and the given files (keyed "users.csv"…), all at the root.
 * The zip is created like fs.open(path, 'wx', 0o600): never over an existing file, readable by the owner only.
 * It does not check the files; run validateOneRosterFiles first. Anything that stops the write is FerryError 'spool'.
 */
export async function writeOneRosterZip(outPath: string, files: ReadonlyMap<string, string>, opts: WriteBundleOptions): Promise<BundleInfo> {
  const present = new Set<OneRosterFileName>();
  for (const name of files.keys()) {
    const spec = specForFile(name);
    if (!spec) throw new FerryError('format', `${name} is not a OneRoster 1.1 file name (manifest.csv is generated)`, { field: 'file' });
    present.add(spec.name);
  }

  const entries: { name: string; data: Buffer; rows: number }[] = [];
  const manifest = buildManifest(present, opts.mode, opts.source);
  entries.push({ name: MANIFEST_FILE, data: Buffer.from(manifest, 'utf8'), rows: Math.max(0, parseCsv(manifest).records.length - 1) });
  for (const [name, text] of files) entries.push({ name, data: Buffer.from(text, 'utf8'), rows: Math.max(0, parseCsv(text).records.length - 1) });

  const zip = new yazl.ZipFile();
  const mtime = opts.mtime ?? new Date();
  for (const e of entries) zip.addBuffer(e.data, e.name, { mtime, mode: 0o100600 });
  zip.end();

  let handle: fs.FileHandle;
  try {
    handle = await fs.open(outPath, 'wx', 0o600);
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'EEXIST' ? 'the file already exists' : 'it cannot be created';
    throw new FerryError('spool', `the OneRoster zip ${outPath} cannot be written: ${why}`, { cause: err });
  }
  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  try {
    // The stream owns the handle: it fsyncs (flush) and closes it at the end, or closes it on error.
    await pipeline(zip.outputStream, tap, handle.createWriteStream({ flush: true }));
  } catch (err) {
    await fs.rm(outPath, { force: true }).catch(() => undefined);
    throw new FerryError('spool', `the OneRoster zip ${outPath} could not be written completely`, { cause: err });
  }
  return {
    bytes,
    sha256: hash.digest('hex'),
    files: entries.map((e) => ({ name: e.name, bytes: e.data.length, sha256: sha256(e.data), rows: e.rows })),
  };
}
