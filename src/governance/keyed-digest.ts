import crypto from 'node:crypto';

/**
 * HMAC-SHA-256 of short person keys, truncated to 16 bytes, at a million keys a second or so.
 *
 * Node's createHmac costs a few microseconds a call, mostly in making objects: seconds per million-row file. The
 * key's inner and outer pads are hashed once (their SHA-256 states kept), so each person key costs two compressions
 * here in plain JS. Keys longer than 55 bytes (never seen for ids) go through createHmac; both give the same digest.
 */
export const DIGEST_BYTES = 16;

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

/** One SHA-256 compression of the 64-byte block at `off` into `state`. */
function compress(state: Uint32Array, block: Uint8Array, off: number, w: Uint32Array): void {
  for (let i = 0; i < 16; i++) {
    const j = off + i * 4;
    w[i] = ((block[j]! << 24) | (block[j + 1]! << 16) | (block[j + 2]! << 8) | block[j + 3]!) >>> 0;
  }
  for (let i = 16; i < 64; i++) {
    const a = w[i - 15]!;
    const b = w[i - 2]!;
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
    w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) >>> 0;
  }
  let a = state[0]!, b = state[1]!, c = state[2]!, d = state[3]!, e = state[4]!, f = state[5]!, g = state[6]!, h = state[7]!;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + S1 + ch + K[i]! + w[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = (state[0]! + a) >>> 0;
  state[1] = (state[1]! + b) >>> 0;
  state[2] = (state[2]! + c) >>> 0;
  state[3] = (state[3]! + d) >>> 0;
  state[4] = (state[4]! + e) >>> 0;
  state[5] = (state[5]! + f) >>> 0;
  state[6] = (state[6]! + g) >>> 0;
  state[7] = (state[7]! + h) >>> 0;
}

/** Writes a 16-byte digest of `key` (its UTF-8 bytes `key[start, end)`) into `out` at `outOff`. */
export type PersonHasher = (key: Uint8Array, start: number, end: number, out: Uint8Array, outOff: number) => void;

/** HMAC-SHA-256 under `secret`, truncated to DIGEST_BYTES. */
export function createPersonHasher(secret: string | Buffer): PersonHasher {
  let key = Buffer.isBuffer(secret) ? secret : Buffer.from(secret, 'utf8');
  if (key.length > 64) key = crypto.createHash('sha256').update(key).digest();
  const pad = (x: number) => {
    const p = new Uint8Array(64).fill(x);
    for (let i = 0; i < key.length; i++) p[i]! ^= key[i]!;
    return p;
  };
  const w = new Uint32Array(64);
  const innerMid = IV.slice();
  compress(innerMid, pad(0x36), 0, w);
  const outerMid = IV.slice();
  compress(outerMid, pad(0x5c), 0, w);
  const state = new Uint32Array(8);
  const block = new Uint8Array(64);
  const keyCopy = Buffer.from(key);
  return (msg, start, end, out, outOff) => {
    const len = end - start;
    if (len > 55) {
      const d = crypto.createHmac('sha256', keyCopy).update(msg.subarray(start, end)).digest();
      out.set(d.subarray(0, DIGEST_BYTES), outOff);
      return;
    }
    // Inner: pad block after 64 key bytes: message, 0x80, zeros, bit length of (64 + len) bytes.
    block.fill(0);
    block.set(msg.subarray(start, end), 0);
    block[len] = 0x80;
    let bits = (64 + len) * 8;
    block[63] = bits & 0xff;
    block[62] = (bits >>> 8) & 0xff;
    state.set(innerMid);
    compress(state, block, 0, w);
    // Outer: the 32-byte inner digest, 0x80, zeros, bit length of 96 bytes.
    block.fill(0);
    for (let i = 0; i < 8; i++) {
      const v = state[i]!;
      block[i * 4] = v >>> 24;
      block[i * 4 + 1] = (v >>> 16) & 0xff;
      block[i * 4 + 2] = (v >>> 8) & 0xff;
      block[i * 4 + 3] = v & 0xff;
    }
    block[32] = 0x80;
    bits = 96 * 8;
    block[63] = bits & 0xff;
    block[62] = (bits >>> 8) & 0xff;
    state.set(outerMid);
    compress(state, block, 0, w);
    for (let i = 0; i < DIGEST_BYTES / 4; i++) {
      const v = state[i]!;
      out[outOff + i * 4] = v >>> 24;
      out[outOff + i * 4 + 1] = (v >>> 16) & 0xff;
      out[outOff + i * 4 + 2] = (v >>> 8) & 0xff;
      out[outOff + i * 4 + 3] = v & 0xff;
    }
  };
}

/** The digest of one key given as text (`ferry trace`, tests). */
export function digestOf(hasher: PersonHasher, key: string): Buffer {
  const bytes = Buffer.from(key, 'utf8');
  const out = Buffer.alloc(DIGEST_BYTES);
  hasher(bytes, 0, bytes.length, out, 0);
  return out;
}
