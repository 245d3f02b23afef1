import yauzl from 'yauzl';
import { FerryError } from '../../core/errors.js';

/**
 * What a zip we did not write may hold before it is refused unread. A OneRoster zip has at most 14 files, and roster
 * CSV packs 3 to 20 times; a zip of a few MB that unpacks to hundreds is a zip bomb, not a roster.
 */
export interface ZipLimits {
  /** Entries, folders included. */
  maxEntries: number;
  /** Unpacked bytes of all entries together. */
  maxTotalBytes: number;
  /** Unpacked bytes over packed bytes, for an entry that unpacks to more than RATIO_FLOOR. */
  maxRatio: number;
}

export const DEFAULT_ZIP_LIMITS: Readonly<ZipLimits> = Object.freeze({ maxEntries: 100, maxTotalBytes: 2 * 1024 ** 3, maxRatio: 100 });

/** Small entries may pack very well (a header and a few blank rows); the ratio is judged above this size only. */
export const RATIO_FLOOR = 1024 * 1024;

/** Where a limit can be raised, named in the refusal (the CLI's flags). */
export interface ZipLimitHints {
  maxEntries?: string;
  maxTotalBytes?: string;
  maxRatio?: string;
}

export interface OpenedZip {
  /** Every entry by name, in zip order (folders included; a repeated name keeps its first place and its last entry). */
  readonly entries: ReadonlyMap<string, yauzl.Entry>;
  /** One entry's bytes as they inflate, counted against the limits whatever its header says. */
  read(name: string): AsyncIterable<Buffer>;
  close(): void;
}

function size(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const [unit, div]: [string, number] = n < 1024 ** 2 ? ['KiB', 1024] : n < 1024 ** 3 ? ['MiB', 1024 ** 2] : ['GiB', 1024 ** 3];
  return `${(n / div).toFixed(1)} ${unit}`;
}

/**
 * Opens a zip and reads its central directory only: too many entries, a declared unpacked size over the limit, or an
 * entry that packs better than any roster are refused here, before anything is inflated. A file that is not a
 * readable zip is FerryError 'format'.
 */
export async function openZip(path: string, limits: ZipLimits = DEFAULT_ZIP_LIMITS, hints: ZipLimitHints = {}): Promise<OpenedZip> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) => {
    // Sizes are checked below, against the limits and against the central directory, in one place.
    yauzl.open(path, { lazyEntries: true, autoClose: false, validateEntrySizes: false }, (err, z) => (err ? reject(err) : resolve(z)));
  }).catch((err: unknown) => {
    throw new FerryError('format', `${path} cannot be opened as a zip file`, { cause: err, field: 'file' });
  });
  const raise = (hint: string | undefined) => (hint ? `; if it is genuine, raise ${hint}` : '');
  const refuse = (sentence: string, hint: string | undefined) => new FerryError('format', `${path} ${sentence}, so it was not read${raise(hint)}`, { field: 'file' });
  try {
    if (zip.entryCount > limits.maxEntries) throw refuse(`holds ${zip.entryCount} entries, more than the limit of ${limits.maxEntries}`, hints.maxEntries);
    const entries = new Map<string, yauzl.Entry>();
    await new Promise<void>((resolve, reject) => {
      zip.on('error', reject);
      zip.on('end', () => resolve());
      zip.on('entry', (entry: yauzl.Entry) => {
        entries.set(entry.fileName, entry);
        zip.readEntry();
      });
      zip.readEntry();
    });
    let total = 0;
    for (const e of entries.values()) {
      total += e.uncompressedSize;
      if (e.uncompressedSize > RATIO_FLOOR && e.uncompressedSize > limits.maxRatio * Math.max(1, e.compressedSize)) {
        const ratio = Math.round(e.uncompressedSize / Math.max(1, e.compressedSize));
        throw refuse(`looks like a zip bomb: ${e.fileName} would unpack to ${size(e.uncompressedSize)} from ${size(e.compressedSize)} (${ratio} times; the limit is ${limits.maxRatio})`, hints.maxRatio);
      }
    }
    if (total > limits.maxTotalBytes) throw refuse(`would unpack to ${size(total)}, more than the limit of ${size(limits.maxTotalBytes)}`, hints.maxTotalBytes);
    let inflated = 0;
    return {
      entries,
      close: () => zip.close(),
      async *read(name: string) {
        const entry = entries.get(name);
        if (!entry) throw new Error(`no entry ${name}`);
        const stream = await new Promise<NodeJS.ReadableStream>((resolve, reject) => zip.openReadStream(entry, (err, s) => (err ? reject(err) : resolve(s)))).catch(
          (err: unknown) => {
            throw new FerryError('format', `${path}: ${name} cannot be read from the zip`, { cause: err, field: 'file' });
          },
        );
        // Counted here as well as by yauzl: what inflates is what counts, whatever the headers say.
        // The declared size passed the limits above, so holding the entry to it holds it to them.
        let bytes = 0;
        try {
          for await (const chunk of stream as AsyncIterable<Buffer>) {
            bytes += chunk.length;
            inflated += chunk.length;
            if (bytes > entry.uncompressedSize) throw refuse(`looks like a zip bomb: ${name} unpacks to more than the ${entry.uncompressedSize} bytes its header says`, undefined);
            if (inflated > limits.maxTotalBytes) throw refuse(`unpacks to more than the limit of ${size(limits.maxTotalBytes)}`, hints.maxTotalBytes);
            yield chunk;
          }
          if (bytes !== entry.uncompressedSize) throw new FerryError('format', `${path}: ${name} unpacks to ${bytes} bytes, not the ${entry.uncompressedSize} its header says (the zip is damaged)`, { field: 'file' });
        } catch (err) {
          throw err instanceof FerryError ? err : new FerryError('format', `${path}: ${name} cannot be read from the zip (the zip is damaged)`, { cause: err, field: 'file' });
        } finally {
          (stream as unknown as { destroy(): void }).destroy();
        }
      },
    };
  } catch (err) {
    zip.close();
    throw err instanceof FerryError ? err : new FerryError('format', `${path} is not a readable zip file`, { cause: err, field: 'file' });
  }
}

/** Larger entries are refused before reading: a roster file this big is a mistake or a zip bomb. */
export const MAX_ENTRY_BYTES = 256 * 1024 * 1024;

/** Every entry of a zip Ferry wrote itself (a delta baseline), by name (folders included, empty), read into memory. */
export async function readZipEntries(path: string, maxEntryBytes = MAX_ENTRY_BYTES): Promise<Map<string, Buffer>> {
  const zip = await openZip(path, { maxEntries: 10_000, maxTotalBytes: Number.MAX_SAFE_INTEGER, maxRatio: Number.MAX_SAFE_INTEGER });
  try {
    const out = new Map<string, Buffer>();
    for (const [name, entry] of zip.entries) {
      if (name.endsWith('/')) {
        out.set(name, Buffer.alloc(0));
        continue;
      }
      if (entry.uncompressedSize > maxEntryBytes) throw new FerryError('format', `${path}: an entry is larger than ${maxEntryBytes} bytes; it was not read`, { field: 'file' });
      const chunks: Buffer[] = [];
      for await (const c of zip.read(name)) chunks.push(c);
      out.set(name, Buffer.concat(chunks));
    }
    return out;
  } finally {
    zip.close();
  }
}
