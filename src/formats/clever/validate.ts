import { decodeInput, type CheckInput } from '../oneroster/check-input.js';
import { IdTable } from '../oneroster/id-table.js';
import { cellsOf, indexHeader, ProblemList, type ValidationResult } from '../oneroster/problems.js';
import { TableReader, type TableRules } from '../oneroster/table-reader.js';
import { CLEVER_SPECS, cleverSpecForFile, type CleverFileName, type CleverFileSpec, type CleverForeignKey } from './spec.js';

export { formatValidationReport, PROBLEM_KINDS } from '../oneroster/problems.js';
export type { CheckedFileSummary, ProblemKind, ValidationProblem, ValidationResult } from '../oneroster/problems.js';

/**
 * Checks a Clever SFTP CSV set (reference §5): known and required columns (in any order), required values,
 * MM/DD/YYYY dates, duplicate ids and references between files. Messages name file, row and column and
 * never a cell value. Same result shape as the OneRoster check; every file is a full snapshot ("bulk").
 * Files stream through the checks, each after the files it refers to, keeping only their ids; the report comes out
 * in the order the files were given.
 */
export interface CleverValidateOptions {
  /** Check the given files on their own: references to files that are not given are not checked. */
  partial?: boolean;
  /** Problems kept in the result (counts cover all). Default 1000. */
  maxProblems?: number;
}

/** Files already in memory, by name. */
export function validateCleverFiles(files: ReadonlyMap<string, string>, opts: CleverValidateOptions = {}): ValidationResult {
  const check = new SetCheck([...files.keys()], opts);
  for (const name of check.order()) {
    const file = check.file(name);
    file.push(files.get(name)!);
    file.end();
  }
  return check.finish();
}

/**
 * Files streamed from disk. `alsoDecoded` are files read only for their encoding, reported (in `decodeOrder`) like the
 * checked ones: a folder check decodes every Clever-named file before it leaves one out.
 */
export async function validateCleverInputs(inputs: readonly CheckInput[], opts: CleverValidateOptions & { alsoDecoded?: readonly CheckInput[] } = {}): Promise<ValidationResult> {
  const byName = new Map(inputs.map((i) => [i.name, i]));
  const decodeOrder = [...new Set([...(opts.alsoDecoded ?? []), ...inputs].map((i) => i.name))].sort();
  const check = new SetCheck([...byName.keys()], opts);
  for (const name of check.order()) {
    const file = check.file(name);
    if (!(await decodeInput(byName.get(name)!, (t) => file.push(t)))) check.notUtf8(name);
    file.end();
  }
  for (const input of opts.alsoDecoded ?? []) if (!(await decodeInput(input, () => undefined))) check.notUtf8(input.name);
  return check.finish(decodeOrder);
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

type Slot = { kind: 'name'; problems: ProblemList } | { kind: 'file'; name: CleverFileName };

class SetCheck {
  private readonly max: number;
  private readonly slots: Slot[] = [];
  private readonly data = new Map<CleverFileName, string>();
  private readonly checks = new Map<CleverFileName, { check: CleverFileCheck; reader: TableReader }>();
  private readonly invalidUtf8 = new Set<string>();
  private readonly referenced = new Set<CleverFileName>();

  constructor(
    names: readonly string[],
    private readonly opts: CleverValidateOptions,
  ) {
    this.max = opts.maxProblems ?? 1000;
    for (const fileName of names) {
      const spec = cleverSpecForFile(fileName);
      if (!spec) {
        const problems = new ProblemList(this.max);
        problems.add('csv', fileName, `is not a Clever file name (names are case-sensitive: ${[...CLEVER_SPECS.keys()].map((n) => `${n}.csv`).join(', ')})`);
        this.slots.push({ kind: 'name', problems });
        continue;
      }
      this.data.set(spec.name, fileName);
      this.slots.push({ kind: 'file', name: spec.name });
    }
    for (const name of this.data.keys()) for (const fk of CLEVER_SPECS.get(name)!.foreignKeys) this.referenced.add(fk.target);
  }

  /** Each file after the files it refers to (Clever's references form no cycle). */
  order(): string[] {
    const order: string[] = [];
    const placed = new Set<CleverFileName>();
    const place = (name: CleverFileName) => {
      if (placed.has(name)) return;
      placed.add(name);
      for (const fk of CLEVER_SPECS.get(name)!.foreignKeys) if (this.data.has(fk.target)) place(fk.target);
      order.push(this.data.get(name)!);
    };
    for (const name of this.data.keys()) place(name);
    return order;
  }

  notUtf8(name: string): void {
    this.invalidUtf8.add(name);
  }

  file(fileName: string): { push(text: string): void; end(): void } {
    const spec = cleverSpecForFile(fileName)!;
    const check = new CleverFileCheck(fileName, spec, this.max, (fk) => {
      const target = this.checks.get(fk.target);
      if (target) return { ids: target.check.ids, idColumn: target.check.spec.id };
      return this.opts.partial ? undefined : 'missing';
    });
    // §5 says nothing about a BOM, so it is not reported; it is dropped so that it does not corrupt the first header.
    const reader = new TableReader(fileName, undefined, this.max, check);
    this.checks.set(spec.name, { check, reader });
    return {
      push: (text) => reader.push(text),
      end: () => {
        reader.end();
        if (this.referenced.has(spec.name)) check.ids.dropRows();
        else check.ids.release();
      },
    };
  }

  finish(decodeOrder: readonly string[] = []): ValidationResult {
    const problems = new ProblemList(this.max);
    for (const name of decodeOrder) if (this.invalidUtf8.has(name)) problems.add('csv', name, 'the file is not valid UTF-8');
    const files: { check: CleverFileCheck; reader: TableReader }[] = [];
    for (const slot of this.slots) {
      if (slot.kind === 'name') problems.absorb(slot.problems);
      else {
        const f = this.checks.get(slot.name)!;
        f.reader.drainInto(problems);
        files.push(f);
      }
    }
    for (const { check } of files) check.drainRefsInto(problems);
    return {
      ok: problems.total === 0,
      problems: problems.list,
      counts: problems.counts,
      files: files.map(({ check, reader }) => ({ name: check.fileName, rows: reader.rows, mode: 'bulk' as const })),
    };
  }
}

type CleverTarget = { ids: IdTable; idColumn: string | undefined } | 'missing';

/** One Clever file's rules, row by row; references to files already read are checked as each row is. */
class CleverFileCheck implements TableRules {
  readonly ids = new IdTable();
  private index: ReadonlyMap<string, number> = new Map();
  private readonly refs: { fk: CleverForeignKey; col: number; target: CleverTarget; missingReported: boolean }[] = [];
  private readonly refProblems: ProblemList[];

  constructor(
    readonly fileName: string,
    readonly spec: CleverFileSpec,
    max: number,
    private readonly targetOf: (fk: CleverForeignKey) => CleverTarget | undefined,
  ) {
    this.refProblems = spec.foreignKeys.map(() => new ProblemList(max));
  }

  /** Column order does not matter (§5); reports unknown, repeated and missing required columns. */
  header(header: readonly string[], problems: ProblemList): void {
    const { fileName, spec } = this;
    const index = indexHeader(fileName, header, spec.columns, `Clever ${spec.name}.csv`, `the file has no header row; Clever requires one (required columns: ${spec.required.join(', ')})`, problems);
    if (!index) return;
    for (const name of spec.required) {
      if (!index.has(name)) problems.add('header', fileName, 'the required column is missing', { row: 1, column: name });
    }
    this.index = index;
    spec.foreignKeys.forEach((fk, i) => {
      const col = index.get(fk.column);
      const target = col === undefined ? undefined : this.targetOf(fk);
      if (col !== undefined && target !== undefined) this.refs[i] = { fk, col, target, missingReported: false };
    });
  }

  row(cells: readonly string[], row: number, problems: ProblemList): void {
    const { fileName, spec } = this;
    const at = (column: string) => ({ row, column });
    const get = cellsOf(this.index, cells);
    const add = problems.add.bind(problems);
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
        const first = this.ids.firstRowOf(id, row);
        if (first !== undefined) add('duplicate', fileName, `the same ${spec.id} as row ${first}`, at(spec.id));
      }
    }
    this.refs.forEach((ref, i) => {
      const v = cells[ref.col] ?? '';
      if (v === '') return;
      const where = { row, column: ref.fk.column };
      const list = this.refProblems[i]!;
      if (ref.target === 'missing') {
        if (!ref.missingReported) list.add('foreign_key', fileName, `refers to ${ref.fk.target}.csv, which is not in the set`, where);
        ref.missingReported = true;
      } else if (!ref.target.ids.has(v)) {
        list.add('foreign_key', fileName, `refers to a ${ref.target.idColumn ?? 'record'} that is not in ${ref.fk.target}.csv`, where);
      }
    });
  }

  drainRefsInto(problems: ProblemList): void {
    for (const list of this.refProblems) problems.absorb(list);
  }
}
