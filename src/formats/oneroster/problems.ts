/**
 * What the OneRoster check reports. A problem names the file, row and column; its message never carries a
 * cell value (row data must not reach logs), only spec facts such as the allowed values of a vocabulary.
 */
export const PROBLEM_KINDS = ['header', 'required', 'enum', 'date', 'foreign_key', 'duplicate', 'bom', 'bulk_delta', 'manifest', 'csv'] as const;
export type ProblemKind = (typeof PROBLEM_KINDS)[number];

export interface ValidationProblem {
  file: string;
  /** 1-based record number, header = row 1 (what a spreadsheet shows unless a value holds a line break). */
  row?: number;
  column?: string;
  kind: ProblemKind;
  message: string;
}

export interface CheckedFileSummary {
  name: string;
  rows: number;
  mode: 'bulk' | 'delta';
}

export interface ValidationResult {
  ok: boolean;
  /** At most `maxProblems` of them; counts always cover every problem found. */
  problems: ValidationProblem[];
  counts: Record<ProblemKind, number>;
  files: CheckedFileSummary[];
}

export function zeroCounts(): Record<ProblemKind, number> {
  return Object.fromEntries(PROBLEM_KINDS.map((k) => [k, 0])) as Record<ProblemKind, number>;
}

/** Collects problems; keeps the first `max` so that a file with a million bad rows stays cheap. */
export class ProblemList {
  readonly list: ValidationProblem[] = [];
  readonly counts = zeroCounts();
  constructor(readonly max: number) {}

  add(kind: ProblemKind, file: string, detail: string, where: { row?: number; column?: string } = {}): void {
    this.counts[kind]++;
    if (this.list.length >= this.max) return;
    let place = file;
    if (where.row !== undefined) place += `, row ${where.row}`;
    if (where.column !== undefined) place += `, column ${where.column}`;
    this.list.push({ file, ...where, kind, message: `${place}: ${detail}` });
  }

  /** Appends what another list found after this one's (a file checked out of order keeps its place). */
  absorb(other: ProblemList): void {
    for (const p of other.list) {
      if (this.list.length >= this.max) break;
      this.list.push(p);
    }
    for (const k of PROBLEM_KINDS) this.counts[k] += other.counts[k];
  }

  /** Two lists of one column's problems, each in row order, as one list in row order. */
  static mergeByRow(a: ProblemList, b: ProblemList, max: number): ProblemList {
    const out = new ProblemList(max);
    let i = 0;
    let j = 0;
    while (out.list.length < max && (i < a.list.length || j < b.list.length)) {
      const p = a.list[i];
      const q = b.list[j];
      if (q === undefined || (p !== undefined && (p.row ?? 0) <= (q.row ?? 0))) {
        out.list.push(p!);
        i++;
      } else {
        out.list.push(q);
        j++;
      }
    }
    for (const k of PROBLEM_KINDS) out.counts[k] = a.counts[k] + b.counts[k];
    return out;
  }

  get total(): number {
    return PROBLEM_KINDS.reduce((sum, k) => sum + this.counts[k], 0);
  }
}

/** The first `limit` problems and the counts by kind, as plain text for a terminal or a run log. */
export function formatValidationReport(result: ValidationResult, opts: { limit?: number; title?: string } = {}): string {
  const limit = opts.limit ?? 20;
  const title = opts.title ?? 'OneRoster check';
  const rows = result.files.reduce((sum, f) => sum + f.rows, 0);
  const scope = `${result.files.length} file${result.files.length === 1 ? '' : 's'}, ${rows} row${rows === 1 ? '' : 's'}`;
  const total = PROBLEM_KINDS.reduce((sum, k) => sum + result.counts[k], 0);
  if (total === 0) return `${title}: no problems (${scope})\n`;
  let text = `${title}: ${total} problem${total === 1 ? '' : 's'} (${scope})\n`;
  for (const p of result.problems.slice(0, limit)) text += `  [${p.kind}] ${p.message}\n`;
  if (total > Math.min(limit, result.problems.length)) text += `  … ${total - Math.min(limit, result.problems.length)} more not shown\n`;
  const byKind = PROBLEM_KINDS.filter((k) => result.counts[k] > 0).map((k) => `${k} ${result.counts[k]}`);
  text += `by kind: ${byKind.join(', ')}\n`;
  return text;
}

/** One row's cells by column name: undefined when the file has no such column, '' when the row is short. */
export function cellsOf(index: ReadonlyMap<string, number>, row: readonly string[]): (column: string) => string | undefined {
  return (column) => {
    const c = index.get(column);
    return c === undefined ? undefined : (row[c] ?? '');
  };
}

/**
 * Where each known column sits in a header row, reporting repeated and unknown names (with a spelling hint, never
 * echoing the unknown text: a file without a header row would put student data there). `noHeader` is the message for
 * an empty first row; then the result is undefined.
 */
export function indexHeader(fileName: string, header: readonly string[], known: readonly string[], unknownLabel: string, noHeader: string, problems: ProblemList): Map<string, number> | undefined {
  if (header.length === 0 || (header.length === 1 && header[0] === '')) {
    problems.add('header', fileName, noHeader, { row: 1 });
    return undefined;
  }
  const index = new Map<string, number>();
  const expected = new Set(known);
  const byLowerCase = new Map(known.map((h) => [h.toLowerCase(), h]));
  header.forEach((name, i) => {
    if (expected.has(name)) {
      if (index.has(name)) problems.add('header', fileName, `column ${i + 1} repeats ${name}`, { row: 1, column: name });
      else index.set(name, i);
      return;
    }
    const near = byLowerCase.get(name.trim().toLowerCase());
    const hint = near ? `; it should be spelled ${near} (names are case-sensitive, no spaces)` : '';
    problems.add('header', fileName, `column ${i + 1} is not a ${unknownLabel} column${hint}`, { row: 1 });
  });
  return index;
}
