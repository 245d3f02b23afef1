/**
 * Values across the SQL Server boundary: Ferry's bind values as typed mssql parameters, and result values as the
 * cells Ferry writes. Dates never pass through the process time zone: parameters are UTC-midnight Dates sent with
 * `useUTC: true` (tedious then encodes the UTC calendar day), and results are formatted from their UTC parts.
 */
import sql from 'mssql';
import { findPlaceholders } from '../../src/core/named-sql.js';
import type { BindValue, BoundQuery, CellValue } from '../../src/core/source.js';

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export interface TypedParameter {
  /** As written in the SQL text, without '@'. */
  readonly name: string;
  readonly type: sql.ISqlType | (() => sql.ISqlType);
  readonly value: unknown;
}

/**
 * The parameters a T-SQL text uses (`@name`, outside literals and comments, not `DECLARE`d in the script), each with
 * the value bound under that name (matched case-insensitively, as SQL Server resolves variables) and an SQL type:
 * integers → int (bigint beyond 32 bits), other numbers → decimal(18, s), booleans → bit, `YYYY-MM-DD` strings and
 * `asOf` → date, other strings → nvarchar, lists → one comma-separated nvarchar (split with `STRING_SPLIT(@x, ',')`),
 * null → nvarchar NULL. Names without a value are left for SQL Server to report ("Must declare the scalar variable").
 */
export function typedParameters(query: BoundQuery): TypedParameter[] {
  const byLowerName = new Map(Object.keys(query.values).map((k) => [k.toLowerCase(), k]));
  const seen = new Set<string>();
  const out: TypedParameter[] = [];
  for (const name of findPlaceholders(query.text, '@')) {
    const lower = name.toLowerCase();
    const key = byLowerName.get(lower);
    if (key === undefined || seen.has(lower)) continue;
    seen.add(lower);
    out.push({ name, ...typeOf(key, query.values[key] ?? null) });
  }
  return out;
}

function typeOf(name: string, v: BindValue): Pick<TypedParameter, 'type' | 'value'> {
  if (v === null) return { type: sql.NVarChar, value: null };
  if (typeof v === 'boolean') return { type: sql.Bit, value: v };
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX) return { type: sql.Int, value: v };
    if (Number.isSafeInteger(v)) return { type: sql.BigInt, value: v };
    return decimalOf(v);
  }
  if (typeof v === 'string') {
    const date = utcMidnight(v);
    if (date && (name === 'asOf' || ISO_DATE.test(v))) return { type: sql.Date, value: date };
    return { type: sql.NVarChar, value: v };
  }
  return { type: sql.NVarChar, value: v.map(String).join(',') };
}

/** decimal(18, s) with as many decimals as the number shows; float when it does not fit 18 digits. */
function decimalOf(v: number): Pick<TypedParameter, 'type' | 'value'> {
  const text = String(Math.abs(v));
  if (!Number.isFinite(v) || /e/i.test(text)) return { type: sql.Float, value: v };
  const [whole = '', fraction = ''] = text.split('.');
  if (whole.length > 18) return { type: sql.Float, value: v };
  return { type: sql.Decimal(18, Math.min(fraction.length, 18 - whole.length)), value: v };
}

/** A `YYYY-MM-DD` day as the Date at UTC midnight of that day, or undefined when it is not a real date. */
function utcMidnight(s: string): Date | undefined {
  const m = ISO_DATE.exec(s);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d); // not Date.UTC: it maps years 0–99 to 1900–1999
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d ? date : undefined;
}

/** Column metadata as mssql reports it in array row mode. */
export interface ColumnMeta {
  readonly name: string;
  readonly type: unknown;
  readonly scale?: number | undefined;
}

export type Convert = (v: unknown) => CellValue;

/**
 * How each column's driver value becomes a cell: DATE → `YYYY-MM-DD`; DATETIME2/DATETIME/SMALLDATETIME →
 * `YYYY-MM-DDTHH:MM:SS[.fraction]` (wall time, no zone); DATETIMEOFFSET → ISO instant in UTC; TIME → `HH:MM:SS[.f]`;
 * DECIMAL/NUMERIC → text with the column's scale (tedious hands over a float); BIT is already boolean and BIGINT already text.
 */
export function converterFor(col: ColumnMeta): Convert {
  const scale = col.scale;
  switch (col.type) {
    case sql.Date:
      return (v) => (v instanceof Date ? utcDay(v) : (v as CellValue));
    case sql.DateTime2:
    case sql.DateTime:
    case sql.SmallDateTime:
      return (v) => (v instanceof Date ? `${utcDay(v)}T${utcTime(v, scale ?? 3)}` : (v as CellValue));
    case sql.DateTimeOffset:
      return (v) => (v instanceof Date ? v.toISOString() : (v as CellValue));
    case sql.Time:
      return (v) => (v instanceof Date ? utcTime(v, scale ?? 7) : (v as CellValue));
    case sql.Decimal:
    case sql.Numeric:
      return (v) => (typeof v === 'number' && Number.isFinite(v) && Math.abs(v) < 1e21 ? v.toFixed(scale ?? 0) : (v as CellValue));
    default:
      return (v) => v as CellValue;
  }
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

function utcDay(d: Date): string {
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** HH:MM:SS plus the fraction to the column's scale, trailing zeros dropped (tedious keeps sub-millisecond digits aside). */
function utcTime(d: Date, scale: number): string {
  const below = (d as Date & { nanosecondsDelta?: number }).nanosecondsDelta ?? 0;
  const ticks = d.getUTCMilliseconds() * 10_000 + Math.round(below * 1e7);
  const fraction = String(ticks).padStart(7, '0').slice(0, Math.max(0, scale)).replace(/0+$/, '');
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${fraction ? `.${fraction}` : ''}`;
}
