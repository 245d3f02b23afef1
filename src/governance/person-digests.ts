import type { FerryConfig } from '../config/model.js';
import type { FormatOptions } from '../config/schema.js';
import { resolveSecret } from '../config/secrets.js';
import type { PersonDigestStore } from '../store/person-digest-store.js';
import { createPersonHasher, DIGEST_BYTES, digestOf, type PersonHasher } from './keyed-digest.js';

/**
 * Who was in each delivered file, without keeping student data: per delivered file, the keyed digests (HMAC-SHA-256
 * under governance.personKeySecret, truncated to 16 bytes) of each row's person key (the extract's `personKey`
 * column), never the values. "How many distinct students" and "was this student in that file" are set operations on
 * them. A run with no recorded digests is unknown (delivered before digests were kept, or their write failed), never
 * "nobody".
 */
export { createPersonHasher, digestOf, DIGEST_BYTES, type PersonHasher } from './keyed-digest.js';

/** One file's digests: sorted, without repeats, DIGEST_BYTES each. */
export interface PersonDigestSet {
  readonly keyColumn: string;
  /** Data rows that carried a person key (a key on several rows counts once in `persons`). */
  readonly rows: number;
  readonly persons: number;
  readonly digests: Buffer;
}

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

/**
 * Reads one column out of a CSV byte stream as Ferry writes it (RFC 4180 quoting, the format's delimiter, an optional
 * BOM and header) and digests each record's value. It reads the bytes the vendor gets, so the database's own CSV
 * (COPY) and Ferry's encoder are read alike, and a key is digested exactly as it appears in the file.
 */
export function createKeyDigester(opts: { hasher: PersonHasher; keyColumn: string; columnIndex: number; format: Pick<FormatOptions, 'delimiter' | 'header'> }) {
  const delim = opts.format.delimiter.charCodeAt(0);
  const k = opts.columnIndex;
  let skipHeader = opts.format.header;
  let atStart = true;
  let field = 0;
  let inQuotes = false;
  let afterQuote = false;
  let key = Buffer.alloc(256);
  let keyLen = 0;
  let recordHasBytes = false;
  let out = Buffer.alloc(DIGEST_BYTES * 65_536);
  let n = 0;
  let rows = 0;

  const endRecord = () => {
    if (skipHeader) skipHeader = false;
    else if (recordHasBytes && keyLen > 0) {
      if ((n + 1) * DIGEST_BYTES > out.length) {
        const bigger = Buffer.alloc(out.length * 2);
        out.copy(bigger, 0, 0, n * DIGEST_BYTES);
        out = bigger;
      }
      opts.hasher(key, 0, keyLen, out, n * DIGEST_BYTES);
      n++;
      rows++;
    }
    field = 0;
    keyLen = 0;
    afterQuote = false;
    recordHasBytes = false;
  };
  const push = (c: number) => {
    if (keyLen === key.length) {
      const bigger = Buffer.alloc(key.length * 2);
      key.copy(bigger);
      key = bigger;
    }
    key[keyLen++] = c;
  };

  return {
    push(chunk: Uint8Array): void {
      let i = 0;
      if (atStart && chunk.length > 0) {
        atStart = false;
        if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) i = 3;
      }
      for (; i < chunk.length; i++) {
        const c = chunk[i]!;
        if (inQuotes) {
          if (c === QUOTE) {
            inQuotes = false;
            afterQuote = true;
          } else if (field === k) push(c);
          continue;
        }
        if (c === QUOTE) {
          // A quote right after a closing quote is an escaped quote inside the field.
          if (afterQuote && field === k) push(QUOTE);
          inQuotes = true;
          afterQuote = false;
          recordHasBytes = true;
          continue;
        }
        afterQuote = false;
        if (c === LF) endRecord();
        else if (c === delim) {
          field++;
          recordHasBytes = true;
        } else if (c !== CR) {
          recordHasBytes = true;
          if (field === k) push(c);
        }
      }
    },
    /** The file's digest set; call once, after the last chunk. */
    finish(): PersonDigestSet {
      if (recordHasBytes) endRecord();
      const digests = sortUnique(out, n);
      return { keyColumn: opts.keyColumn, rows, persons: digests.length / DIGEST_BYTES, digests };
    },
  };
}

/**
 * Sorted and without repeats, in linear time: HMAC output is uniform, so a counting sort on the first two bytes leaves
 * buckets of a few digests each (about 15 for a million), finished by insertion sort.
 */
export function sortUnique(raw: Buffer, n: number): Buffer {
  const D = DIGEST_BYTES;
  const starts = new Uint32Array(65_537);
  for (let i = 0; i < n; i++) starts[raw.readUInt16BE(i * D) + 1]!++;
  for (let b = 1; b <= 65_536; b++) starts[b]! += starts[b - 1]!;
  const pos = starts.slice(0, 65_536);
  const sorted = Buffer.alloc(n * D);
  for (let i = 0; i < n; i++) raw.copy(sorted, pos[raw.readUInt16BE(i * D)]!++ * D, i * D, i * D + D);
  const tmp = Buffer.alloc(D);
  for (let b = 0; b < 65_536; b++) {
    const s = starts[b]!;
    const e = starts[b + 1]!;
    for (let i = s + 1; i < e; i++) {
      sorted.copy(tmp, 0, i * D, i * D + D);
      let j = i - 1;
      while (j >= s && sorted.compare(tmp, 0, D, j * D, j * D + D) > 0) {
        sorted.copy(sorted, (j + 1) * D, j * D, j * D + D);
        j--;
      }
      tmp.copy(sorted, (j + 1) * D);
    }
  }
  let w = 0;
  for (let i = 0; i < n; i++) {
    if (w > 0 && sorted.compare(sorted, i * D, i * D + D, (w - 1) * D, w * D) === 0) continue;
    if (w !== i) sorted.copy(sorted, w * D, i * D, i * D + D);
    w++;
  }
  return sorted.subarray(0, w * D);
}

/** Binary search in a sorted, packed digest blob. */
export function containsDigest(sorted: Uint8Array, digest: Uint8Array): boolean {
  const D = DIGEST_BYTES;
  const buf = Buffer.from(sorted.buffer, sorted.byteOffset, sorted.byteLength);
  let lo = 0;
  let hi = buf.length / D - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = buf.compare(digest, 0, D, mid * D, mid * D + D);
    if (c === 0) return true;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/**
 * How many distinct persons the files of these runs carried, and which runs are unknown (no digests recorded).
 * For the exposure report: distinct students per vendor and window.
 */
export async function countDistinctPersons(store: PersonDigestStore, runIds: readonly number[]): Promise<{ persons: number; unknownRuns: number[] }> {
  const recorded = await store.recordedRuns(runIds);
  const seen = new Set<string>();
  for (const runId of runIds) {
    if (!recorded.has(runId)) continue;
    for await (const blob of store.chunks(runId)) {
      for (let i = 0; i < blob.length; i += DIGEST_BYTES) seen.add(blob.toString('latin1', i, i + DIGEST_BYTES));
    }
  }
  return { persons: seen.size, unknownRuns: runIds.filter((id) => !recorded.has(id)) };
}

export type PersonPresence = 'included' | 'absent' | 'unknown';

/** Was the person with key `key` in each of these runs' files? `unknown` where no digests were recorded. */
export async function findPerson(store: PersonDigestStore, hasher: PersonHasher, key: string, runIds: readonly number[]): Promise<Map<number, PersonPresence>> {
  const digest = digestOf(hasher, key);
  const recorded = await store.recordedRuns(runIds);
  const hits = await store.runsContaining(digest, [...recorded.keys()]);
  return new Map(runIds.map((id) => [id, !recorded.has(id) ? 'unknown' : hits.has(id) ? 'included' : 'absent']));
}

const hashers = new Map<string, PersonHasher>();

/**
 * The person-digest hasher of this configuration (governance.personKeySecret), or null when none is set: then no
 * digests are kept. Throws a FerryError when the secret is set but cannot be read.
 */
export function personHasherOf(config: Pick<FerryConfig, 'dir' | 'personDigests'>, integration?: string): PersonHasher | null {
  const ref = config.personDigests.secret;
  if (!ref) return null;
  const secret = resolveSecret(ref, { configDir: config.dir, owner: 'governance', field: 'personKeySecret', integration });
  let hasher = hashers.get(secret);
  if (!hasher) hashers.set(secret, (hasher = createPersonHasher(secret)));
  return hasher;
}
