import { checkManifest } from './manifest.js';
import { readZipEntries } from './read-zip.js';
import { cellsOf, indexHeader, ProblemList, readTable, type CheckedFileSummary, type ValidationResult } from './problems.js';
import { MANIFEST_FILE, specForFile, type OneRosterFileName, type OneRosterFileSpec } from './spec.js';

export { formatValidationReport, PROBLEM_KINDS } from './problems.js';
export type { CheckedFileSummary, ProblemKind, ValidationProblem, ValidationResult } from './problems.js';

/**
 * Checks a OneRoster 1.1 CSV bundle (reference §4): header names and order, required values, vocabularies,
 * dates, references between files, duplicate sourcedIds, BOMs, bulk/delta purity and manifest.csv.
 * Messages name file, row and column and never a cell value.
 */
export interface ValidateOptions {
  /** The mode the receiver expects; a manifest that says otherwise is a problem. Without a manifest, the mode files are checked in. */
  mode?: 'bulk' | 'delta';
  /** Check the given files on their own: no manifest required, no references to other files. */
  partial?: boolean;
  /** Problems kept in the result (counts cover all). Default 1000. */
  maxProblems?: number;
}

export function validateOneRosterFiles(files: ReadonlyMap<string, string>, opts: ValidateOptions = {}): ValidationResult {
  const problems = new ProblemList(opts.maxProblems ?? 1000);
  const summaries = checkBundleInto(files, opts, problems);
  return resultOf(problems, summaries);
}

export function resultOf(problems: ProblemList, files: CheckedFileSummary[]): ValidationResult {
  return { ok: problems.total === 0, problems: problems.list, counts: problems.counts, files };
}

interface CheckedFile {
  spec: OneRosterFileSpec;
  fileName: string;
  mode: 'bulk' | 'delta';
  header: readonly string[];
  rows: readonly string[][];
  index: ReadonlyMap<string, number>;
  ids: ReadonlySet<string>;
}

export function checkBundleInto(files: ReadonlyMap<string, string>, opts: ValidateOptions, problems: ProblemList): CheckedFileSummary[] {
  const data = new Map<OneRosterFileName, { fileName: string; text: string }>();
  for (const [fileName, text] of files) {
    if (fileName === MANIFEST_FILE) continue;
    const base = fileName.slice(fileName.lastIndexOf('/') + 1);
    const spec = specForFile(base);
    if (fileName.includes('/')) {
      problems.add('manifest', fileName, base === '' ? 'the zip holds a folder; OneRoster files must be at the root of the zip' : 'OneRoster files must be at the root of the zip, not in a folder');
    } else if (!spec) {
      problems.add('manifest', fileName, 'is not a OneRoster 1.1 file name (names are case-sensitive, e.g. academicSessions.csv)');
    } else data.set(spec.name, { fileName, text });
  }

  let modes = new Map<OneRosterFileName, 'bulk' | 'delta'>();
  const manifest = files.get(MANIFEST_FILE);
  if (manifest !== undefined) modes = checkManifest(manifest, opts.partial ? undefined : new Set(data.keys()), opts.mode, problems);
  else if (!opts.partial) problems.add('manifest', MANIFEST_FILE, 'manifest.csv is missing; a OneRoster bundle must include it at the root');

  const checked: CheckedFile[] = [];
  for (const [name, { fileName, text }] of data) {
    const spec = specForFile(`${name}.csv`)!;
    checked.push(checkDataFile(fileName, spec, text, modes.get(name) ?? opts.mode ?? 'bulk', problems));
  }
  if (!opts.partial) checkForeignKeys(checked, problems);
  return checked.map((c) => ({ name: c.fileName, rows: c.rows.length, mode: c.mode }));
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME = /^(\d{4}-\d{2}-\d{2})T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,3})?Z$/;
const YEAR = /^\d{4}$/;

function isDate(v: string): boolean {
  const m = DATE.exec(v);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d;
}

function isDateTime(v: string): boolean {
  const m = DATETIME.exec(v);
  return m !== null && isDate(m[1]!);
}

function checkDataFile(fileName: string, spec: OneRosterFileSpec, text: string, mode: 'bulk' | 'delta', problems: ProblemList): CheckedFile {
  if (text.startsWith('\ufeff')) {
    problems.add('bom', fileName, 'the file starts with a byte order mark (BOM); OneRoster files must not (it corrupts the first header)', { row: 1 });
    text = text.slice(1);
  }
  const { header, rows } = readTable(fileName, text, problems);
  const index = checkHeader(fileName, spec, header, problems);
  const ids = new Map<string, number>();
  const add = problems.add.bind(problems);

  rows.forEach((row, i) => {
    const at = (column: string) => ({ row: i + 2, column });
    const get = cellsOf(index, row);

    for (const column of spec.required) {
      if (get(column) === '') add('required', fileName, 'a value is required', at(column));
    }
    for (const [column, allowed] of Object.entries(spec.enums)) {
      const v = get(column);
      if (v && !allowed.includes(v)) add('enum', fileName, `must be one of ${allowed.join(', ')} (case-sensitive)`, at(column));
    }
    for (const column of spec.dates) {
      const v = get(column);
      if (v && !isDate(v)) add('date', fileName, 'must be a date written YYYY-MM-DD', at(column));
    }
    for (const column of spec.datetimes) {
      const v = get(column);
      if (v && !isDateTime(v)) add('date', fileName, 'must be an ISO 8601 UTC date-time like 2024-01-15T10:30:00.000Z', at(column));
    }
    for (const column of spec.years) {
      const v = get(column);
      if (v && !YEAR.test(v)) add('date', fileName, 'must be the four-digit year in which the school year ends', at(column));
    }

    const id = get('sourcedId');
    if (id) {
      const first = ids.get(id);
      if (first !== undefined) add('duplicate', fileName, `the same sourcedId as row ${first}`, at('sourcedId'));
      else ids.set(id, i + 2);
    }

    // Reference §4.3: bulk leaves both blank, delta fills both on every row.
    for (const column of ['status', 'dateLastModified']) {
      const v = get(column);
      if (v === undefined) continue;
      if (mode === 'bulk' && v !== '') add('bulk_delta', fileName, 'must be blank in a bulk file', at(column));
      if (mode === 'delta' && v === '') add('bulk_delta', fileName, 'must be set on every row of a delta file', at(column));
    }
  });
  return { spec, fileName, mode, header, rows, index, ids: new Set(ids.keys()) };
}

/** Reports missing, unknown, repeated or misordered columns; returns where each known column is. */
function checkHeader(fileName: string, spec: OneRosterFileSpec, header: readonly string[], problems: ProblemList): Map<string, number> {
  const index = indexHeader(fileName, header, spec.headers, `${spec.name}.csv`, `the file has no header row; expected ${spec.headers.join(',')}`, problems);
  if (!index) return new Map();
  for (const name of spec.headers) {
    if (!index.has(name)) problems.add('header', fileName, 'the column is missing (every column must be present, even when blank)', { row: 1, column: name });
  }
  const inOrder = spec.headers.every((name, i) => header[i] === name) && header.length === spec.headers.length;
  if (!inOrder && index.size === spec.headers.length && header.length === spec.headers.length) {
    problems.add('header', fileName, `the columns are not in spec order: ${spec.headers.join(',')}`, { row: 1 });
  }
  return index;
}

/** Bulk files only: a delta may point at records the receiver already holds from an earlier bulk load. */
function checkForeignKeys(checked: readonly CheckedFile[], problems: ProblemList): void {
  const byName = new Map(checked.map((c) => [c.spec.name, c]));
  for (const file of checked) {
    if (file.mode !== 'bulk') continue;
    for (const fk of file.spec.foreignKeys) {
      const col = file.index.get(fk.column);
      if (col === undefined) continue;
      const target = byName.get(fk.target);
      const multi = file.spec.multiValued.includes(fk.column);
      if (target && target.mode !== 'bulk') continue;
      let targetMissingReported = false;
      file.rows.forEach((row, i) => {
        const v = row[col] ?? '';
        if (v === '') return;
        const where = { row: i + 2, column: fk.column };
        if (!target) {
          if (!targetMissingReported) problems.add('foreign_key', file.fileName, `refers to ${fk.target}.csv, which is not in the bundle`, where);
          targetMissingReported = true;
          return;
        }
        const items = multi ? v.split(',') : [v];
        if (items.some((item) => item !== item.trim())) {
          problems.add('foreign_key', file.fileName, 'a list item has spaces around it; separate sourcedIds with commas only', where);
        } else if (items.some((item) => !target.ids.has(item))) {
          const what = multi ? 'an item refers' : 'refers';
          problems.add('foreign_key', file.fileName, `${what} to a sourcedId that is not in ${fk.target}.csv`, where);
        }
      });
    }
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Bytes → text for the checks, keeping a BOM so that it is reported; invalid UTF-8 is a problem, not an exception. */
export function decodeCsvBytes(fileName: string, bytes: Uint8Array, problems: ProblemList): string {
  try {
    return UTF8.decode(bytes);
  } catch {
    problems.add('csv', fileName, 'the file is not valid UTF-8');
    return new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
  }
}

/** Reads a OneRoster zip (yauzl) and checks it as a bundle. A file that is not a readable zip throws FerryError 'format'. */
export async function validateOneRosterZip(path: string, opts: ValidateOptions = {}): Promise<ValidationResult> {
  const entries = await readZipEntries(path);
  const problems = new ProblemList(opts.maxProblems ?? 1000);
  const files = new Map<string, string>();
  for (const [name, bytes] of entries) files.set(name, decodeCsvBytes(name, bytes, problems));
  return resultOf(problems, checkBundleInto(files, opts, problems));
}
