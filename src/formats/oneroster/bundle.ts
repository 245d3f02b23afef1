import { createHash } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
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
  const present = presentFiles(files.keys());

  const entries: { name: string; data: Buffer; rows: number }[] = [];
  const manifest = buildManifest(present, opts.mode, opts.source);
  entries.push({ name: MANIFEST_FILE, data: Buffer.from(manifest, 'utf8'), rows: Math.max(0, parseCsv(manifest).records.length - 1) });
  for (const [name, text] of files) entries.push({ name, data: Buffer.from(text, 'utf8'), rows: Math.max(0, parseCsv(text).records.length - 1) });

  const zip = new yazl.ZipFile();
  const mtime = opts.mtime ?? new Date();
  for (const e of entries) zip.addBuffer(e.data, e.name, { mtime, mode: 0o100600 });
  zip.end();

  const handle = await openZipOutput(outPath);
  const { bytes, sha256: zipSha } = await finishZip(zip, handle, outPath);
  return {
    bytes,
    sha256: zipSha,
    files: entries.map((e) => ({ name: e.name, bytes: e.data.length, sha256: sha256(e.data), rows: e.rows })),
  };
}

/** A data file already written to disk (the run's spool), with its data row count (header excluded). */
export interface SpooledBundleFile {
  path: string;
  rows: number;
  /** The source's own count for this file (API sources); see RowBatch.expected. */
  expected?: number | undefined;
}

/**
 * Like writeOneRosterZip, but the data files are streamed from disk into the zip (yazl `addReadStream`), so a large
 * district's users.csv is never held in memory. Each file's bytes and SHA-256 are measured as it goes into the zip.
 */
export async function writeOneRosterZipFromFiles(outPath: string, files: ReadonlyMap<string, SpooledBundleFile>, opts: WriteBundleOptions): Promise<BundleInfo> {
  const present = presentFiles(files.keys());
  const manifest = Buffer.from(buildManifest(present, opts.mode, opts.source), 'utf8');
  const infos: BundleFileInfo[] = [{ name: MANIFEST_FILE, bytes: manifest.length, sha256: sha256(manifest), rows: Math.max(0, parseCsv(manifest.toString('utf8')).records.length - 1) }];

  const handle = await openZipOutput(outPath);
  const zip = new yazl.ZipFile();
  const mtime = opts.mtime ?? new Date();
  zip.addBuffer(manifest, MANIFEST_FILE, { mtime, mode: 0o100600 });
  const inputs: ReadStream[] = [];
  for (const [name, file] of files) {
    const info: BundleFileInfo = { name, bytes: 0, sha256: '', rows: file.rows };
    infos.push(info);
    const h = createHash('sha256');
    const input = createReadStream(file.path);
    inputs.push(input);
    const measured = new Transform({
      transform(chunk: Buffer, _enc, done) {
        h.update(chunk);
        info.bytes += chunk.length;
        done(null, chunk);
      },
      flush(done) {
        info.sha256 = h.digest('hex');
        done();
      },
    });
    input.on('error', (err) => measured.destroy(err));
    zip.addReadStream(input.pipe(measured), name, { mtime, mode: 0o100600 });
  }
  zip.end();
  // yazl reports a failed input on the ZipFile, not on its output stream: end the pipeline with it.
  (zip as unknown as NodeJS.EventEmitter).on('error', (err: Error) => (zip.outputStream as unknown as { destroy(e: Error): void }).destroy(err));

  const { bytes, sha256: zipSha } = await finishZip(zip, handle, outPath, () => {
    for (const input of inputs) input.destroy();
  });
  return { bytes, sha256: zipSha, files: infos };
}

function presentFiles(names: Iterable<string>): Set<OneRosterFileName> {
  const present = new Set<OneRosterFileName>();
  for (const name of names) {
    const spec = specForFile(name);
    if (!spec) throw new FerryError('format', `${name} is not a OneRoster 1.1 file name (manifest.csv is generated)`, { field: 'file' });
    present.add(spec.name);
  }
  return present;
}

/** 'wx' + 0600: never overwrite, never readable by others, even for an instant. */
async function openZipOutput(outPath: string): Promise<fs.FileHandle> {
  try {
    return await fs.open(outPath, 'wx', 0o600);
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'EEXIST' ? 'the file already exists' : 'it cannot be created';
    throw new FerryError('spool', `the OneRoster zip ${outPath} cannot be written: ${why}`, { cause: err });
  }
}

/** Stream the finished zip into the file, hashing it; on failure remove the partial file. */
async function finishZip(zip: yazl.ZipFile, handle: fs.FileHandle, outPath: string, onError?: () => void): Promise<{ bytes: number; sha256: string }> {
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
    onError?.();
    await fs.rm(outPath, { force: true }).catch(() => undefined);
    throw new FerryError('spool', `the OneRoster zip ${outPath} could not be written completely`, { cause: err });
  }
  return { bytes, sha256: hash.digest('hex') };
}
