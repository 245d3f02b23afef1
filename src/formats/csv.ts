import { FerryError } from '../core/errors.js';
import type { CellValue, RowBatch } from '../core/source.js';
import type { ColumnDef } from '../config/model.js';
import type { ColumnType, FormatOptions } from '../config/schema.js';

/**
 * CSV by the declared column types: dates as YYYY-MM-DD with no time zone shift, timestamps as ISO 8601,
 * booleans as configured, NULL as an empty field, RFC 4180 quoting (quoteField).
 * Error messages name the column and row number, never the value (row data stays out of logs).
 */

type Convert = (v: Exclude<CellValue, null | undefined>) => string | undefined;

export interface CsvEncoderStats {
  rows: number;
}

/** Turns row batches into CSV text chunks (one per batch), header and BOM first. */
export async function* encodeCsv(
  batches: AsyncIterable<RowBatch>,
  columns: readonly ColumnDef[],
  format: FormatOptions,
  integrationId: string,
  stats: CsvEncoderStats,
  /** Declared columns the integration does not ship (`fields:`): the query may return them, and they are dropped. */
  withheld: readonly string[] = [],
): AsyncGenerator<string> {
  const delimiter = format.delimiter;
  const eol = format.lineEnding === 'crlf' ? '\r\n' : '\n';
  const names = columns.map((c) => c.name);
  const prefix = csvPrefix(columns, format);
  if (prefix) yield prefix;

  const converters = columns.map((c) => converterFor(c.type, format));
  let mapping: number[] | undefined;
  for await (const batch of batches) {
    mapping ??= mapColumns(batch.columns, names, withheld, integrationId);
    // One string per batch, built field by field: no per-record arrays (this loop runs once per cell).
    let text = '';
    for (let r = 0; r < batch.rows.length; r++) {
      const row = batch.rows[r]!;
      for (let c = 0; c < mapping.length; c++) {
        if (c > 0) text += delimiter;
        const v = row[mapping[c]!];
        if (v === null || v === undefined) continue;
        const out = converters[c]!(v);
        if (out === undefined) throw cellError(integrationId, columns[c]!, stats.rows + r + 1);
        text += quoteField(out, delimiter);
      }
      text += eol;
    }
    stats.rows += batch.rows.length;
    if (batch.rows.length > 0) yield text;
  }
}

/** The BOM (if asked for) and the header row. */
export function csvPrefix(columns: readonly ColumnDef[], format: FormatOptions): string {
  const eol = format.lineEnding === 'crlf' ? '\r\n' : '\n';
  let prefix = format.bom ? '\ufeff' : '';
  if (format.header) prefix += columns.map((c) => quoteField(c.name, format.delimiter)).join(format.delimiter) + eol;
  return prefix;
}

const LF = 0x0a;
const QUOTE = 0x22;
const CRLF = Buffer.from('\r\n');

/**
 * Turns the LF that ends each CSV record into CRLF, leaving line breaks inside quoted values as they are.
 * Quote state carries across chunks; a doubled quote toggles twice and so changes nothing.
 */
export async function* lfToCrlfOutsideQuotes(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let inQuotes = false;
  for await (const chunk of chunks) {
    const parts: Buffer[] = [];
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === QUOTE) inQuotes = !inQuotes;
      else if (b === LF && !inQuotes) {
        parts.push(chunk.subarray(start, i), CRLF);
        start = i + 1;
      }
    }
    if (parts.length === 0) {
      yield chunk;
      continue;
    }
    parts.push(chunk.subarray(start));
    yield Buffer.concat(parts);
  }
}

/**
 * RFC 4180 quoting: a field is quoted when it holds the delimiter, a double quote, CR or LF (a bare LF too, even in a
 * CRLF file), and its double quotes are doubled. Empty strings and NULLs are both written as nothing.
 */
export function quoteField(value: string, delimiter: string): string {
  const hasQuote = value.includes('"');
  if (hasQuote || value.includes(delimiter) || value.includes('\n') || value.includes('\r')) {
    return `"${hasQuote ? value.replaceAll('"', '""') : value}"`;
  }
  return value;
}

/**
 * Where each wanted column sits in the source's result. Only the withheld declared columns may come back unwanted:
 * any other extra column is still an error, so a query that drifts from its declaration is never silently trimmed.
 */
function mapColumns(got: readonly string[], want: readonly string[], withheld: readonly string[], integrationId: string): number[] {
  const index = new Map(got.map((name, i) => [name, i]));
  const missing = want.filter((w) => !index.has(w));
  const extra = got.filter((g) => !want.includes(g) && !withheld.includes(g));
  if (missing.length > 0 || extra.length > 0) {
    const parts = [];
    if (missing.length) parts.push(`missing ${missing.join(', ')}`);
    if (extra.length) parts.push(`not declared ${extra.join(', ')}`);
    throw new FerryError('columns', `integration ${integrationId}: the query's columns do not match the extract's declared columns (${parts.join('; ')})`, {
      integration: integrationId,
      field: 'columns',
    });
  }
  return want.map((w) => index.get(w)!);
}

function cellError(integrationId: string, column: ColumnDef, row: number): FerryError {
  const what: Record<ColumnType, string> = {
    string: 'text',
    integer: 'a whole number',
    decimal: 'a number',
    boolean: 'a boolean',
    date: 'a date (YYYY-MM-DD)',
    timestamp: 'a timestamp',
  };
  return new FerryError('format', `integration ${integrationId}: column ${column.name}, row ${row}: value is not ${what[column.type]}`, {
    integration: integrationId,
    field: `columns.${column.name}`,
  });
}

const DATE_PREFIX = /^(\d{4}-\d{2}-\d{2})(?:$|[ T])/;
const TIMESTAMP = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

function converterFor(type: ColumnType, format: FormatOptions): Convert {
  const [yes, no] = format.booleans;
  switch (type) {
    case 'string':
      return (v) => (typeof v === 'string' ? v : typeof v === 'boolean' ? (v ? yes : no) : v instanceof Date ? v.toISOString() : Buffer.isBuffer(v) ? undefined : String(v));
    case 'integer':
      return (v) => (typeof v === 'bigint' ? v.toString() : typeof v === 'number' ? (Number.isInteger(v) ? String(v) : undefined) : typeof v === 'string' && /^-?\d+$/.test(v) ? v : undefined);
    case 'decimal':
      return (v) => (typeof v === 'bigint' ? v.toString() : typeof v === 'number' ? (Number.isFinite(v) ? String(v) : undefined) : typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v) ? v : undefined);
    case 'boolean':
      return (v) => {
        if (v === true || v === 1 || v === 1n) return yes;
        if (v === false || v === 0 || v === 0n) return no;
        if (typeof v === 'string') {
          const s = v.toLowerCase();
          if (s === 't' || s === 'true' || s === '1' || s === 'y' || s === 'yes') return yes;
          if (s === 'f' || s === 'false' || s === '0' || s === 'n' || s === 'no') return no;
        }
        return undefined;
      };
    case 'date': {
      const iso = (v: unknown): string | undefined => {
        if (typeof v === 'string') return DATE_PREFIX.exec(v)?.[1];
        if (v instanceof Date) return dateOfMidnight(v);
        return undefined;
      };
      if (format.dateFormat !== 'MM/DD/YYYY') return iso;
      return (v) => {
        const d = iso(v);
        return d === undefined ? undefined : `${d.slice(5, 7)}/${d.slice(8, 10)}/${d.slice(0, 4)}`;
      };
    }
    case 'timestamp':
      return (v) => {
        if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v.toISOString();
        if (typeof v !== 'string') return undefined;
        const m = TIMESTAMP.exec(v);
        if (!m) return undefined;
        const zone = m[3] === undefined ? '' : /^z$/i.test(m[3]) || /^[+-]00(:?00)?$/.test(m[3]) ? 'Z' : normalizeOffset(m[3]);
        return `${m[1]}T${m[2]!.length === 5 ? `${m[2]}:00` : m[2]}${zone}`;
      };
  }
}

function normalizeOffset(z: string): string {
  const digits = z.replace(':', '');
  return digits.length === 3 ? `${digits}:00` : `${digits.slice(0, 3)}:${digits.slice(3)}`;
}

/** A driver's Date for a DATE column is midnight somewhere; take the calendar day it was meant as, or refuse. */
function dateOfMidnight(d: Date): string | undefined {
  if (Number.isNaN(d.getTime())) return undefined;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (d.getUTCHours() === 0 && d.getUTCMinutes() === 0 && d.getUTCSeconds() === 0 && d.getUTCMilliseconds() === 0) return d.toISOString().slice(0, 10);
  if (d.getHours() === 0 && d.getMinutes() === 0 && d.getSeconds() === 0 && d.getMilliseconds() === 0) return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return undefined;
}
