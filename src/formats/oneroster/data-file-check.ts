import { hashA, hashB, IdTable } from './id-table.js';
import { cellsOf, indexHeader, ProblemList } from './problems.js';
import type { TableRules } from './table-reader.js';
import type { ForeignKey, OneRosterFileSpec } from './spec.js';

/** What one reference column is checked against: another file's ids, this file's own, or nothing (the file is not in the bundle). */
export type RefTarget = IdTable | 'self' | 'missing';

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

interface RefCheck {
  fk: ForeignKey;
  col: number;
  multi: boolean;
  target: RefTarget;
  missingReported: boolean;
  /** Self references not yet resolved when their row was read: [row, n, n hash pairs]…, settled at the end of the file. */
  pending?: U32List;
}

/**
 * The rules of one OneRoster data file (reference §4), applied row by row as the file streams: header, required
 * values, vocabularies, dates, duplicate sourcedIds, bulk/delta purity, and references to files already read
 * (references within the file wait for its end). Only the ids are kept, hashed (IdTable).
 */
export class DataFileCheck implements TableRules {
  readonly ids = new IdTable();
  private index: ReadonlyMap<string, number> = new Map();
  private readonly refs: RefCheck[] = [];
  /** One list per reference column, in spec order, reported after every file's own problems. */
  private readonly refProblems: ProblemList[];

  constructor(
    readonly fileName: string,
    readonly spec: OneRosterFileSpec,
    readonly mode: 'bulk' | 'delta',
    private readonly max: number,
    /** What each reference column is checked against; undefined, or a column left out, is not checked. */
    private readonly targetOf: ((fk: ForeignKey) => RefTarget | undefined) | undefined,
  ) {
    this.refProblems = spec.foreignKeys.map(() => new ProblemList(max));
  }

  header(header: readonly string[], problems: ProblemList): void {
    this.index = checkHeader(this.fileName, this.spec, header, problems);
    if (!this.targetOf) return;
    this.spec.foreignKeys.forEach((fk, i) => {
      const col = this.index.get(fk.column);
      const target = col === undefined ? undefined : this.targetOf!(fk);
      if (col === undefined || target === undefined) return;
      const ref: RefCheck = { fk, col, multi: this.spec.multiValued.includes(fk.column), target, missingReported: false };
      if (target === 'self') ref.pending = new U32List();
      this.refs[i] = ref;
    });
  }

  row(cells: readonly string[], row: number, problems: ProblemList): void {
    const { fileName, spec, mode } = this;
    const at = (column: string) => ({ row, column });
    const get = cellsOf(this.index, cells);
    const add = problems.add.bind(problems);

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
      const first = this.ids.firstRowOf(id, row);
      if (first !== undefined) add('duplicate', fileName, `the same sourcedId as row ${first}`, at('sourcedId'));
    }

    // Reference §4.3: bulk leaves both blank, delta fills both on every row.
    for (const column of ['status', 'dateLastModified']) {
      const v = get(column);
      if (v === undefined) continue;
      if (mode === 'bulk' && v !== '') add('bulk_delta', fileName, 'must be blank in a bulk file', at(column));
      if (mode === 'delta' && v === '') add('bulk_delta', fileName, 'must be set on every row of a delta file', at(column));
    }

    this.refs.forEach((ref, i) => this.checkRef(ref, cells, row, this.refProblems[i]!));
  }

  end(): void {
    this.refs.forEach((ref, i) => {
      if (!ref.pending) return;
      const late = new ProblemList(this.max);
      const p = ref.pending.values;
      for (let k = 0; k < ref.pending.length; ) {
        const row = p[k]!;
        const n = p[k + 1]!;
        let missing = false;
        for (let j = 0; j < n; j++) missing ||= !this.ids.hasHash(p[k + 2 + 2 * j]!, p[k + 3 + 2 * j]!);
        if (missing) late.add('foreign_key', this.fileName, this.notInTarget(ref), { row, column: ref.fk.column });
        k += 2 + 2 * n;
      }
      ref.pending = undefined;
      this.refProblems[i] = ProblemList.mergeByRow(this.refProblems[i]!, late, this.max);
    });
    this.ids.dropRows();
  }

  /** The reference problems, after every file's own problems (as when references were checked once all files were read). */
  drainRefsInto(problems: ProblemList): void {
    for (const list of this.refProblems) problems.absorb(list);
  }

  private checkRef(ref: RefCheck, cells: readonly string[], row: number, problems: ProblemList): void {
    const v = cells[ref.col] ?? '';
    if (v === '') return;
    const where = { row, column: ref.fk.column };
    if (ref.target === 'missing') {
      if (!ref.missingReported) problems.add('foreign_key', this.fileName, `refers to ${ref.fk.target}.csv, which is not in the bundle`, where);
      ref.missingReported = true;
      return;
    }
    const items = ref.multi ? v.split(',') : [v];
    if (items.some((item) => item !== item.trim())) {
      problems.add('foreign_key', this.fileName, 'a list item has spaces around it; separate sourcedIds with commas only', where);
    } else if (ref.target === 'self') {
      const pending = ref.pending!;
      let start = -1;
      for (const item of items) {
        if (this.ids.has(item)) continue;
        if (start < 0) {
          start = pending.length;
          pending.push(row, 0);
        }
        pending.values[start + 1]!++;
        pending.push(hashA, hashB);
      }
    } else if (items.some((item) => !(ref.target as IdTable).has(item))) {
      problems.add('foreign_key', this.fileName, this.notInTarget(ref), where);
    }
  }

  private notInTarget(ref: RefCheck): string {
    return `${ref.multi ? 'an item refers' : 'refers'} to a sourcedId that is not in ${ref.fk.target}.csv`;
  }
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

/** A growable list of 32-bit numbers (a plain array of numbers costs twice as much and more). */
class U32List {
  values = new Uint32Array(1024);
  length = 0;
  push(...xs: number[]): void {
    if (this.length + xs.length > this.values.length) {
      const next = new Uint32Array(this.values.length * 2);
      next.set(this.values);
      this.values = next;
    }
    for (const x of xs) this.values[this.length++] = x;
  }
}
