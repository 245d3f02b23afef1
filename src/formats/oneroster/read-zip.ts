import yauzl from 'yauzl';
import { FerryError } from '../../core/errors.js';

/** Larger entries are refused before reading: a roster file this big is a mistake or a zip bomb. */
export const MAX_ENTRY_BYTES = 256 * 1024 * 1024;

/** Every entry of a zip by its name (folders included, with an empty buffer), read into memory. */
export async function readZipEntries(path: string, maxEntryBytes = MAX_ENTRY_BYTES): Promise<Map<string, Buffer>> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true, autoClose: true }, (err, z) => (err ? reject(err) : resolve(z)));
  }).catch((err: unknown) => {
    throw new FerryError('format', `${path} cannot be opened as a zip file`, { cause: err, field: 'file' });
  });
  const entries = new Map<string, Buffer>();
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('error', reject);
      zip.on('end', () => resolve());
      zip.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName.endsWith('/')) {
          entries.set(entry.fileName, Buffer.alloc(0));
          zip.readEntry();
          return;
        }
        if (entry.uncompressedSize > maxEntryBytes) {
          reject(new FerryError('format', `${path}: an entry is larger than ${maxEntryBytes} bytes; it was not read`, { field: 'file' }));
          return;
        }
        zip.openReadStream(entry, (err, stream) => {
          if (err) return reject(err);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('error', reject);
          stream.on('end', () => {
            entries.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  } catch (err) {
    throw err instanceof FerryError ? err : new FerryError('format', `${path} is not a readable zip file`, { cause: err, field: 'file' });
  } finally {
    zip.close();
  }
  return entries;
}
