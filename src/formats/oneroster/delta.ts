import { quoteField } from '../csv.js';
import { parseCsv } from './parse-csv.js';

/**
 * A OneRoster 1.1 delta file (reference §4.3) from two bulk snapshots of the same file: the last delivered bulk and
 * today's. Rows are matched by sourcedId and compared on every column but status and dateLastModified:
 * - a row that is new or changed is written as today's row with `status=active`;
 * - a row that is gone is written as its last delivered version with `status=tobedeleted` (a receiver deletes only
 *   through tobedeleted, and the row keeps its required values);
 * - an unchanged row is left out.
 * Both get `dateLastModified` = `stamp`. Output: the current file's header, CRLF line ends, RFC 4180 quoting.
 */
export interface DeltaFile {
  text: string;
  /** New or changed rows (status active). */
  changed: number;
  /** Rows in the baseline that are gone (status tobedeleted). */
  deleted: number;
}

export function computeDeltaFile(fileName: string, baselineText: string | undefined, currentText: string, stamp: string): DeltaFile {
  const current = parseStrict(fileName, 'today’s file', currentText);
  const header = current.header;
  const id = header.indexOf('sourcedId');
  const status = header.indexOf('status');
  const modified = header.indexOf('dateLastModified');
  if (id < 0 || status < 0 || modified < 0) throw new Error(`${fileName}: the header lacks sourcedId, status or dateLastModified`);
  const keyOf = (row: readonly string[]) => row.filter((_, i) => i !== status && i !== modified).join('\u0000');

  const before = new Map<string, readonly string[]>();
  if (baselineText !== undefined) {
    const base = parseStrict(fileName, 'the last delivered bulk', baselineText);
    // Columns are matched by name, so a baseline written before a column was renamed or moved still compares.
    const from = header.map((h) => base.header.indexOf(h));
    for (const row of base.rows) {
      const aligned = from.map((i) => (i < 0 ? '' : (row[i] ?? '')));
      before.set(aligned[id]!, aligned);
    }
  }

  const out: string[][] = [];
  const seen = new Set<string>();
  let changed = 0;
  for (const row of current.rows) {
    const key = row[id]!;
    seen.add(key);
    const old = before.get(key);
    if (old !== undefined && keyOf(old) === keyOf(row)) continue;
    out.push(stamped(row, 'active'));
    changed++;
  }
  let deleted = 0;
  for (const [key, row] of before) {
    if (seen.has(key)) continue;
    out.push(stamped(row, 'tobedeleted'));
    deleted++;
  }
  const line = (cells: readonly string[]) => cells.map((c) => quoteField(c, ',')).join(',');
  const text = [line(header), ...out.map(line)].join('\r\n') + '\r\n';
  return { text, changed, deleted };

  function stamped(row: readonly string[], value: 'active' | 'tobedeleted'): string[] {
    const copy = [...row];
    copy[status] = value;
    copy[modified] = stamp;
    return copy;
  }
}

function parseStrict(fileName: string, what: string, text: string): { header: string[]; rows: string[][] } {
  const parsed = parseCsv(text);
  if (parsed.error) throw new Error(`${fileName} (${what}) is not valid CSV: ${parsed.error.message}`);
  const [header = [], ...rows] = parsed.records;
  return { header, rows };
}
