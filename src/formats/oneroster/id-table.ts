/**
 * The ids of one file (sourcedId, Student_id…) with the row each first appeared on, for duplicate and reference
 * checks over files of millions of rows. A Set of strings costs about 80 bytes an id; this keeps a 64-bit hash and a
 * row number in typed arrays (12 bytes a slot, 16 to 32 bytes an id), and drops the rows once only lookups remain.
 *
 * Two different ids share a 64-bit hash with odds of about n²/2⁶⁵ for a file of n ids (1 in a million for six
 * million ids): that is the chance of a false "duplicate" or of a missed broken reference.
 */
export class IdTable {
  private keys: Uint32Array;
  private rows: Uint32Array | undefined;
  private mask: number;
  private size = 0;

  constructor(capacity = 1024) {
    this.keys = new Uint32Array(capacity * 2);
    this.rows = new Uint32Array(capacity);
    this.mask = capacity - 1;
  }

  get count(): number {
    return this.size;
  }

  /** Adds `id` first seen at `row` and returns undefined; or, when it was already there, the row it was first seen at. */
  firstRowOf(id: string, row: number): number | undefined {
    const rows = this.rows;
    if (!rows) throw new Error('IdTable: rows were dropped');
    hash(id);
    let slot = hashA & this.mask;
    for (;;) {
      const k = slot * 2;
      const a = this.keys[k]!;
      const b = this.keys[k + 1]!;
      if (a === 0 && b === 0) break;
      if (a === hashA && b === hashB) return rows[slot];
      slot = (slot + 1) & this.mask;
    }
    this.keys[slot * 2] = hashA;
    this.keys[slot * 2 + 1] = hashB;
    rows[slot] = row;
    if (++this.size * 4 > (this.mask + 1) * 3) this.grow();
    return undefined;
  }

  has(id: string): boolean {
    hash(id);
    return this.hasHash(hashA, hashB);
  }

  hasHash(a: number, b: number): boolean {
    let slot = a & this.mask;
    for (;;) {
      const ka = this.keys[slot * 2]!;
      const kb = this.keys[slot * 2 + 1]!;
      if (ka === a && kb === b) return true;
      if (ka === 0 && kb === 0) return false;
      slot = (slot + 1) & this.mask;
    }
  }

  /** After the file is read only membership is asked: the row numbers can go. */
  dropRows(): void {
    this.rows = undefined;
  }

  /** Nothing will ask again: frees the table (it answers as if empty). */
  release(): void {
    this.keys = new Uint32Array(2);
    this.rows = undefined;
    this.mask = 0;
    this.size = 0;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldRows = this.rows!;
    const capacity = (this.mask + 1) * 2;
    this.keys = new Uint32Array(capacity * 2);
    this.rows = new Uint32Array(capacity);
    this.mask = capacity - 1;
    for (let s = 0; s < oldRows.length; s++) {
      const a = oldKeys[s * 2]!;
      const b = oldKeys[s * 2 + 1]!;
      if (a === 0 && b === 0) continue;
      let slot = a & this.mask;
      while (this.keys[slot * 2] !== 0 || this.keys[slot * 2 + 1] !== 0) slot = (slot + 1) & this.mask;
      this.keys[slot * 2] = a;
      this.keys[slot * 2 + 1] = b;
      this.rows[slot] = oldRows[s]!;
    }
  }
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
