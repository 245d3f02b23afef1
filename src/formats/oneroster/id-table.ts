/**
 * The ids of one file (sourcedId, Student_id…) with the row each first appeared on, for duplicate and reference
 * checks over files of millions of rows. A Set of strings costs about 80 bytes an id; this keeps a 64-bit hash and a
 * row number in typed arrays, 14 to 21 bytes an id (8 to 14 once only lookups remain and the rows are dropped).
 * It is split into 256 open-addressing tables that grow by half, one at a time, so that growing never holds two
 * copies of the whole.
 *
 * Two different ids share a 64-bit hash with odds of about n²/2⁶⁵ for a file of n ids (1 in a million for six
 * million ids): that is the chance of a false "duplicate" or of a missed broken reference.
 */
export class IdTable {
  private readonly parts: Part[] = Array.from({ length: PARTS }, () => newPart(64, true));
  private keepRows = true;
  private size = 0;

  get count(): number {
    return this.size;
  }

  /** Adds `id` first seen at `row` and returns undefined; or, when it was already there, the row it was first seen at. */
  firstRowOf(id: string, row: number): number | undefined {
    if (!this.keepRows) throw new Error('IdTable: rows were dropped');
    hash(id);
    const part = this.parts[hashB >>> 24]!;
    const { keys, cap } = part;
    let slot = home(hashA, cap);
    for (;;) {
      const a = keys[slot * 2]!;
      const b = keys[slot * 2 + 1]!;
      if (a === 0 && b === 0) break;
      if (a === hashA && b === hashB) return part.rows![slot];
      slot = slot + 1 === cap ? 0 : slot + 1;
    }
    keys[slot * 2] = hashA;
    keys[slot * 2 + 1] = hashB;
    part.rows![slot] = row;
    this.size++;
    if (++part.size > part.cap * MAX_LOAD) this.parts[hashB >>> 24] = grow(part);
    return undefined;
  }

  has(id: string): boolean {
    hash(id);
    return this.hasHash(hashA, hashB);
  }

  hasHash(a: number, b: number): boolean {
    const { keys, cap } = this.parts[b >>> 24]!;
    let slot = home(a, cap);
    for (;;) {
      const ka = keys[slot * 2]!;
      const kb = keys[slot * 2 + 1]!;
      if (ka === a && kb === b) return true;
      if (ka === 0 && kb === 0) return false;
      slot = slot + 1 === cap ? 0 : slot + 1;
    }
  }

  /** After the file is read only membership is asked: the row numbers can go. */
  dropRows(): void {
    this.keepRows = false;
    for (const part of this.parts) part.rows = undefined;
  }

  /** Nothing will ask again: frees the table (it answers as if empty). */
  release(): void {
    this.dropRows();
    this.parts.fill(newPart(1, false));
    this.size = 0;
  }
}

interface Part {
  cap: number;
  size: number;
  /** Two 32-bit halves of a hash per slot; (0, 0) is an empty slot. */
  keys: Uint32Array;
  rows: Uint32Array | undefined;
}

const PARTS = 256;
const MAX_LOAD = 0.85;

function newPart(cap: number, rows: boolean): Part {
  return { cap, size: 0, keys: new Uint32Array(cap * 2), rows: rows ? new Uint32Array(cap) : undefined };
}

/** Maps a 32-bit hash onto 0…cap-1 by multiplying (any cap, not only powers of two), exactly in doubles. */
function home(a: number, cap: number): number {
  return Math.floor(((a >>> 8) * cap) / 16777216);
}

function grow(old: Part): Part {
  const part = newPart(Math.ceil(old.cap * 1.5), true);
  part.size = old.size;
  const { keys, cap } = part;
  for (let s = 0; s < old.cap; s++) {
    const a = old.keys[s * 2]!;
    const b = old.keys[s * 2 + 1]!;
    if (a === 0 && b === 0) continue;
    let slot = home(a, cap);
    while (keys[slot * 2] !== 0 || keys[slot * 2 + 1] !== 0) slot = slot + 1 === cap ? 0 : slot + 1;
    keys[slot * 2] = a;
    keys[slot * 2 + 1] = b;
    part.rows![slot] = old.rows![s]!;
  }
  return part;
}

/** The two 32-bit halves of the last hash() (no allocation per id). */
export let hashA = 0;
export let hashB = 0;

/** cyrb53's mixing over UTF-16 code units, kept at 64 bits; never (0, 0), which marks an empty slot. */
export function hash(s: string): void {
  let h1 = 0xdeadbeef ^ s.length;
  let h2 = 0x41c6ce57 ^ s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  hashA = h1 >>> 0;
  hashB = h2 >>> 0 || (hashA === 0 ? 1 : 0);
}
