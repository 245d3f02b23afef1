import { cellsOf, indexHeader, ProblemList, readTable, type CheckedFileSummary, type ValidationResult } from '../oneroster/problems.js';
import { CLEVER_SPECS, cleverSpecForFile, type CleverFileName, type CleverFileSpec } from './spec.js';

export { formatValidationReport, PROBLEM_KINDS } from '../oneroster/problems.js';
export type { CheckedFileSummary, ProblemKind, ValidationProblem, ValidationResult } from '../oneroster/problems.js';

/**
 * Checks a Clever SFTP CSV set (reference §5): known and required columns (in any order), required values,
 * MM/DD/YYYY dates, duplicate ids and references between files. Messages name file, row and column and
 * never a cell value. Same result shape as the OneRoster check; every file is a full snapshot ("bulk").
 */
export interface CleverValidateOptions {
  /** Check the given files on their own: references to files that are not given are not checked. */
  partial?: boolean;
  /** Problems kept in the result (counts cover all). Default 1000. */
  maxProblems?: number;
}

export function validateCleverFiles(files: ReadonlyMap<string, string>, opts: CleverValidateOptions = {}): ValidationResult {
  const problems = new ProblemList(opts.maxProblems ?? 1000);
  const summaries = checkCleverInto(files, opts, problems);
  return { ok: problems.total === 0, problems: problems.list, counts: problems.counts, files: summaries };
}

interface CheckedFile {
  spec: CleverFileSpec;
  fileName: string;
  rows: readonly string[][];
  index: ReadonlyMap<string, number>;
  ids: ReadonlySet<string>;
}

export function checkCleverInto(files: ReadonlyMap<string, string>, opts: CleverValidateOptions, problems: ProblemList): CheckedFileSummary[] {
  const checked: CheckedFile[] = [];
  for (const [fileName, text] of files) {
    const spec = cleverSpecForFile(fileName);
    if (!spec) {
      problems.add('csv', fileName, `is not a Clever file name (names are case-sensitive: ${[...CLEVER_SPECS.keys()].map((n) => `${n}.csv`).join(', ')})`);
      continue;
    }
    checked.push(checkDataFile(fileName, spec, text, problems));
  }
  checkForeignKeys(checked, opts.partial ?? false, problems);
  return checked.map((c) => ({ name: c.fileName, rows: c.rows.length, mode: 'bulk' as const }));
}

const DATE = /^(\d{2})\/(\d{2})\/(\d{4})$/;

/** `MM/DD/YYYY` naming a real calendar day. */
export function isCleverDate(v: string): boolean {
  const m = DATE.exec(v);
  if (!m) return false;
  const [mo, d, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d;
}

function checkDataFile(fileName: string, spec: CleverFileSpec, text: string, problems: ProblemList): CheckedFile {
  // §5 says nothing about a BOM, so it is not reported; it is dropped so that it does not corrupt the first header.
  if (text.startsWith('\ufeff')) text = text.slice(1);
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
    for (const column of spec.dates) {
      const v = get(column);
      if (v && !isCleverDate(v)) add('date', fileName, 'must be a real date written MM/DD/YYYY', at(column));
    }
    if (spec.id !== undefined) {
      const id = get(spec.id);
      if (id) {
        const first = ids.get(id);
        if (first !== undefined) add('duplicate', fileName, `the same ${spec.id} as row ${first}`, at(spec.id));
        else ids.set(id, i + 2);
      }
    }
  });
  return { spec, fileName, rows, index, ids: new Set(ids.keys()) };
}

/** Column order does not matter (§5); reports unknown, repeated and missing required columns. */
function checkHeader(fileName: string, spec: CleverFileSpec, header: readonly string[], problems: ProblemList): Map<string, number> {
  const index = indexHeader(fileName, header, spec.columns, `Clever ${spec.name}.csv`, `the file has no header row; Clever requires one (required columns: ${spec.required.join(', ')})`, problems);
  if (!index) return new Map();
  for (const name of spec.required) {
    if (!index.has(name)) problems.add('header', fileName, 'the required column is missing', { row: 1, column: name });
  }
  return index;
}

function checkForeignKeys(checked: readonly CheckedFile[], partial: boolean, problems: ProblemList): void {
  const byName = new Map<CleverFileName, CheckedFile>(checked.map((c) => [c.spec.name, c]));
  for (const file of checked) {
    for (const fk of file.spec.foreignKeys) {
      const col = file.index.get(fk.column);
      if (col === undefined) continue;
      const target = byName.get(fk.target);
      if (!target && partial) continue;
      let targetMissingReported = false;
      file.rows.forEach((row, i) => {
        const v = row[col] ?? '';
        if (v === '') return;
        const where = { row: i + 2, column: fk.column };
        if (!target) {
          if (!targetMissingReported) problems.add('foreign_key', file.fileName, `refers to ${fk.target}.csv, which is not in the set`, where);
          targetMissingReported = true;
        } else if (!target.ids.has(v)) {
          problems.add('foreign_key', file.fileName, `refers to a ${target.spec.id ?? 'record'} that is not in ${fk.target}.csv`, where);
        }
      });
    }
  }
}
