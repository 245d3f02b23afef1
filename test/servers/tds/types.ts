/**
 * SQL Server column types the test server can return, how a SQLite declared type maps onto them, and how a SQLite
 * value is encoded as TYPE_INFO (MS-TDS 2.2.5.4) and as a ROW value (2.2.5.5).
 */
import type { ByteSink } from './packets.js';

export type SqlType =
  | { readonly kind: 'int'; readonly size: 1 | 2 | 4 | 8 }
  | { readonly kind: 'bit' }
  | { readonly kind: 'nvarchar' | 'varchar'; readonly length: number | 'max' }
  | { readonly kind: 'date' }
  | { readonly kind: 'datetime2'; readonly scale: number }
  | { readonly kind: 'decimal'; readonly precision: number; readonly scale: number }
  | { readonly kind: 'float' };

export interface ResultColumn {
  readonly name: string;
  readonly type: SqlType;
}

/** An error SQL Server would raise, with its message number. */
export class SqlError extends Error {
  constructor(
    readonly number: number,
    message: string,
  ) {
    super(message);
  }
}

/** SQL_Latin1_General_CP1_CI_AS: LCID 0x0409, case- and width-insensitive, sort id 52 (code page 1252). */
export const COLLATION = Buffer.from([0x09, 0x04, 0xd0, 0x00, 0x34]);

const NVARCHAR_DEFAULT: SqlType = { kind: 'nvarchar', length: 4000 };

/** `INT`, `NVARCHAR(100)`, `DECIMAL(10,2)`, `DATETIME2(3)`…; undefined when the name is not one this server knows. */
export function parseDeclaredType(declared: string): SqlType | undefined {
  const m = /^\s*([A-Za-z][A-Za-z0-9_ ]*?)\s*(?:\(\s*([^)]*)\))?\s*$/.exec(declared);
  if (!m) return undefined;
  const name = m[1]!.toUpperCase().replace(/\s+/g, ' ');
  const args = (m[2] ?? '').split(',').map((a) => a.trim()).filter((a) => a !== '');
  const num = (i: number, dflt: number) => (args[i] === undefined ? dflt : Number(args[i]));
  const len = (dflt: number): number | 'max' => (args[0]?.toUpperCase() === 'MAX' ? 'max' : num(0, dflt));
  switch (name) {
    case 'TINYINT':
      return { kind: 'int', size: 1 };
    case 'SMALLINT':
      return { kind: 'int', size: 2 };
    case 'INT':
    case 'INTEGER':
      return { kind: 'int', size: 4 };
    case 'BIGINT':
      return { kind: 'int', size: 8 };
    case 'BIT':
    case 'BOOLEAN':
      return { kind: 'bit' };
    case 'NVARCHAR':
    case 'NCHAR':
      return { kind: 'nvarchar', length: len(4000) };
    case 'TEXT':
    case 'NTEXT':
      return NVARCHAR_DEFAULT;
    case 'VARCHAR':
    case 'CHAR':
      return { kind: 'varchar', length: len(8000) };
    case 'DATE':
      return { kind: 'date' };
    case 'DATETIME':
    case 'SMALLDATETIME':
      return { kind: 'datetime2', scale: 3 };
    case 'DATETIME2':
    case 'TIMESTAMP':
      return { kind: 'datetime2', scale: num(0, 7) };
    case 'DECIMAL':
    case 'NUMERIC':
      return { kind: 'decimal', precision: num(0, 18), scale: num(1, 0) };
    case 'FLOAT':
    case 'REAL':
    case 'DOUBLE':
    case 'DOUBLE PRECISION':
      return { kind: 'float' };
    default:
      return undefined;
  }
}

/** The type of an expression column, judged from its first value (SQLite has no declared type for expressions). */
export function typeOfValue(v: unknown): SqlType {
  if (typeof v === 'bigint') return v >= -(2n ** 31n) && v < 2n ** 31n ? { kind: 'int', size: 4 } : { kind: 'int', size: 8 };
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 2 ** 31 ? { kind: 'int', size: 4 } : { kind: 'float' };
  if (typeof v === 'string' && v.length > 4000) return { kind: 'nvarchar', length: 'max' };
  return NVARCHAR_DEFAULT;
}

const decimalBytes = (precision: number): number => (precision <= 9 ? 4 : precision <= 19 ? 8 : precision <= 28 ? 12 : 16);
const timeBytes = (scale: number): number => (scale <= 2 ? 3 : scale <= 4 ? 4 : 5);

export function writeTypeInfo(w: ByteSink, t: SqlType): void {
  switch (t.kind) {
    case 'int':
      w.u8(0x26); // INTN
      w.u8(t.size);
      return;
    case 'bit':
      w.u8(0x68); // BITN
      w.u8(1);
      return;
    case 'nvarchar':
    case 'varchar':
      w.u8(t.kind === 'nvarchar' ? 0xe7 : 0xa7); // NVARCHAR / BIGVARCHR
      w.u16(t.length === 'max' ? 0xffff : t.kind === 'nvarchar' ? t.length * 2 : t.length);
      w.bytes(COLLATION);
      return;
    case 'date':
      w.u8(0x28); // DATEN
      return;
    case 'datetime2':
      w.u8(0x2a); // DATETIME2N
      w.u8(t.scale);
      return;
    case 'decimal':
      w.u8(0x6a); // DECIMALN
      w.u8(1 + decimalBytes(t.precision));
      w.u8(t.precision);
      w.u8(t.scale);
      return;
    case 'float':
      w.u8(0x6d); // FLTN
      w.u8(8);
      return;
  }
}

const INT_RANGE = { 1: [0n, 255n], 2: [-(2n ** 15n), 2n ** 15n - 1n], 4: [-(2n ** 31n), 2n ** 31n - 1n], 8: [-(2n ** 63n), 2n ** 63n - 1n] } as const;

/**
 * Converts a SQLite value for a column of type `t` into what the ROW encoding needs. Throws SqlError (nothing written)
 * when the value does not fit, as SQL Server would refuse it.
 */
export function prepareValue(t: SqlType, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  switch (t.kind) {
    case 'int': {
      const n = typeof v === 'bigint' ? v : typeof v === 'number' ? BigInt(Math.trunc(v)) : /^\s*-?\d+\s*$/.test(String(v)) ? BigInt(String(v).trim()) : undefined;
      if (n === undefined) throw new SqlError(245, `Conversion failed when converting the nvarchar value '${String(v)}' to data type int.`);
      const [lo, hi] = INT_RANGE[t.size];
      if (n < lo || n > hi) throw new SqlError(8115, `Arithmetic overflow error converting expression to data type ${t.size === 8 ? 'bigint' : 'int'}.`);
      return n;
    }
    case 'bit':
      return typeof v === 'string' ? (/^(1|true)$/i.test(v) ? 1 : 0) : Number(v) !== 0 ? 1 : 0;
    case 'nvarchar':
    case 'varchar': {
      const s = Buffer.isBuffer(v) ? v.toString('hex') : String(v);
      const bytes = t.kind === 'nvarchar' ? Buffer.from(s, 'utf16le') : encodeCp1252(s);
      const units = t.kind === 'nvarchar' ? bytes.length / 2 : bytes.length;
      if (t.length !== 'max' && units > t.length) throw new SqlError(8152, 'String or binary data would be truncated.');
      return bytes;
    }
    case 'date': {
      const p = parseDateTime(String(v));
      if (!p) throw new SqlError(241, 'Conversion failed when converting date and/or time from character string.');
      return p.days;
    }
    case 'datetime2': {
      const p = parseDateTime(String(v));
      if (!p) throw new SqlError(241, 'Conversion failed when converting date and/or time from character string.');
      const frac = (p.fraction + '0'.repeat(t.scale)).slice(0, t.scale);
      return { days: p.days, time: BigInt(p.seconds) * 10n ** BigInt(t.scale) + BigInt(frac === '' ? 0 : frac) };
    }
    case 'decimal': {
      const scaled = scaleDecimal(v, t.scale);
      if (scaled === undefined) throw new SqlError(8114, `Error converting data type nvarchar to numeric.`);
      if ((scaled < 0n ? -scaled : scaled) >= 10n ** BigInt(t.precision)) throw new SqlError(8115, 'Arithmetic overflow error converting numeric to data type numeric.');
      return scaled;
    }
    case 'float': {
      const n = Number(v);
      if (Number.isNaN(n)) throw new SqlError(8114, 'Error converting data type nvarchar to float.');
      return n;
    }
  }
}

/** Writes a value prepared by prepareValue (never throws). */
export function writePrepared(w: ByteSink, t: SqlType, p: unknown): void {
  switch (t.kind) {
    case 'int':
      if (p === null) return w.u8(0);
      w.u8(t.size);
      return w.uintN(BigInt.asUintN(t.size * 8, p as bigint), t.size);
    case 'bit':
      if (p === null) return w.u8(0);
      w.u8(1);
      return w.u8(p as number);
    case 'nvarchar':
    case 'varchar': {
      if (t.length === 'max') {
        // PLP (2.2.5.2.3): total length, chunks, zero-length terminator.
        if (p === null) return w.u64(0xffffffffffffffffn);
        const b = p as Buffer;
        w.u64(b.length);
        if (b.length > 0) {
          w.u32(b.length);
          w.bytes(b);
        }
        return w.u32(0);
      }
      if (p === null) return w.u16(0xffff);
      w.u16((p as Buffer).length);
      return w.bytes(p as Buffer);
    }
    case 'date':
      if (p === null) return w.u8(0);
      w.u8(3);
      return w.uintN(BigInt(p as number), 3);
    case 'datetime2': {
      if (p === null) return w.u8(0);
      const { days, time } = p as { days: number; time: bigint };
      const tb = timeBytes(t.scale);
      w.u8(tb + 3);
      w.uintN(time, tb);
      return w.uintN(BigInt(days), 3);
    }
    case 'decimal': {
      if (p === null) return w.u8(0);
      const n = p as bigint;
      const bytes = decimalBytes(t.precision);
      w.u8(1 + bytes);
      w.u8(n < 0n ? 0 : 1);
      return w.uintN(n < 0n ? -n : n, bytes);
    }
    case 'float':
      if (p === null) return w.u8(0);
      w.u8(8);
      return w.f64(p as number);
  }
}

/** Days from 0001-01-01 (the DATE epoch) to the given civil date, proleptic Gregorian. */
export function daysSinceYear1(y: number, m: number, d: number): number {
  return daysFromCivil(y, m, d) - daysFromCivil(1, 1, 1);
}

/** The civil date `days` after 0001-01-01, as YYYY-MM-DD. */
export function dateFromDays(days: number): string {
  const z = days + daysFromCivil(1, 1, 1) + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

function daysFromCivil(y0: number, m: number, d: number): number {
  const y = m <= 2 ? y0 - 1 : y0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** `YYYY-MM-DD`, optionally followed by ` HH:MM[:SS[.fffffff]]` and a zone (ignored: DATETIME2 is wall time). */
function parseDateTime(s: string): { days: number; seconds: number; fraction: string } | undefined {
  const m = /^\s*(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(?:Z|[+-]\d{2}:?\d{2})?\s*$/i.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, sec] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0)) as [number, number, number, number, number, number];
  const days = daysSinceYear1(y, mo, d);
  if (y < 1 || dateFromDays(days) !== `${m[1]}-${m[2]}-${m[3]}` || h > 23 || mi > 59 || sec > 59) return undefined;
  return { days, seconds: (h * 60 + mi) * 60 + sec, fraction: m[7] ?? '' };
}

/** An exact decimal value times 10^scale, rounded half away from zero. */
function scaleDecimal(v: unknown, scale: number): bigint | undefined {
  if (typeof v === 'bigint') return v * 10n ** BigInt(scale);
  // toFixed rounds the exact binary value once, so a REAL from SQLite needs no second rounding below.
  const text = typeof v === 'number' ? (Number.isFinite(v) ? v.toFixed(scale) : '') : String(v);
  const m = /^\s*([+-])?(\d*)(?:\.(\d*))?\s*$/.exec(text);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return undefined;
  const frac = (m[3] ?? '') + '0'.repeat(scale + 1);
  let n = BigInt((m[2] || '0') + frac.slice(0, scale));
  if (Number(frac[scale]) >= 5) n += 1n;
  return m[1] === '-' ? -n : n;
}

/** VARCHAR data in code page 1252; characters outside it become '?', as SQL Server stores them. */
function encodeCp1252(s: string): Buffer {
  const out = Buffer.alloc(s.length);
  let n = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    out[n++] = c < 0x80 || (c >= 0xa0 && c <= 0xff) ? c : 0x3f;
  }
  return out.subarray(0, n);
}
