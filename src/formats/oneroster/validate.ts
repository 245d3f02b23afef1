import { decodeInput, type CheckInput } from './check-input.js';
import { DataFileCheck, type RefTarget } from './data-file-check.js';
import { checkManifest } from './manifest.js';
import { ProblemList, type CheckedFileSummary, type ValidationResult } from './problems.js';
import { DEFAULT_ZIP_LIMITS, openZip, type ZipLimitHints, type ZipLimits } from './read-zip.js';
import { MANIFEST_FILE, ONEROSTER_SPECS, specForFile, type ForeignKey, type OneRosterFileName } from './spec.js';
import { TableReader } from './table-reader.js';

export { formatValidationReport, PROBLEM_KINDS } from './problems.js';
export type { CheckedFileSummary, ProblemKind, ValidationProblem, ValidationResult } from './problems.js';

/**
 * Checks a OneRoster 1.1 CSV bundle (reference §4): header names and order, required values, vocabularies,
 * dates, references between files, duplicate sourcedIds, BOMs, bulk/delta purity and manifest.csv.
 * Messages name file, row and column and never a cell value.
 *
 * Files stream through the checks one at a time, each after the files it refers to (orgs before users, users before
 * enrollments), so that a reference is checked as its row is read and only each file's ids are kept; the report comes
 * out in bundle order all the same.
 */
export interface ValidateOptions {
  /** The mode the receiver expects; a manifest that says otherwise is a problem. Without a manifest, the mode files are checked in. */
  mode?: 'bulk' | 'delta';
  /** Check the given files on their own: no manifest required, no references to other files. */
  partial?: boolean;
  /** Problems kept in the result (counts cover all). Default 1000. */
  maxProblems?: number;
}

/** Files already in memory, by name. */
export function validateOneRosterFiles(files: ReadonlyMap<string, string>, opts: ValidateOptions = {}): ValidationResult {
  const check = new BundleCheck([...files.keys()], opts);
  const manifest = files.get(MANIFEST_FILE);
  if (manifest !== undefined) check.manifest(manifest);
  for (const name of check.order()) {
    const file = check.file(name);
    file.push(files.get(name)!);
    file.end();
  }
  return check.finish();
}

/** Files streamed from disk or a zip; a name given twice is checked once, with its last input. */
export async function validateOneRosterInputs(inputs: readonly CheckInput[], opts: ValidateOptions = {}): Promise<ValidationResult> {
  const byName = new Map(inputs.map((i) => [i.name, i]));
  const check = new BundleCheck([...byName.keys()], opts);
  const manifest = byName.get(MANIFEST_FILE);
  if (manifest) {
    let text = '';
    let tooLong = false;
    const valid = await decodeInput(manifest, (t) => {
      tooLong ||= text.length + t.length > MAX_MANIFEST_CHARS;
      if (!tooLong) text += t;
    });
    if (!valid) check.notUtf8(MANIFEST_FILE);
    if (tooLong) check.manifestTooLong();
    else check.manifest(text);
  }
  for (const name of check.order()) {
    const file = check.file(name);
    if (!(await decodeInput(byName.get(name)!, (t) => file.push(t)))) check.notUtf8(name);
    file.end();
  }
  // Files that are not checked as data are still read for their encoding, as a whole-zip read did.
  for (const name of check.unread()) if (!(await decodeInput(byName.get(name)!, () => undefined))) check.notUtf8(name);
  return check.finish();
}

/** Reads a OneRoster zip and checks it as a bundle. A file that is not a readable zip, or one over a limit, throws FerryError 'format'. */
export async function validateOneRosterZip(path: string, opts: ValidateOptions & { limits?: ZipLimits; hints?: ZipLimitHints } = {}): Promise<ValidationResult> {
  const zip = await openZip(path, opts.limits ?? DEFAULT_ZIP_LIMITS, opts.hints);
  try {
    return await validateOneRosterInputs(
      [...zip.entries.keys()].map((name) => ({ name, read: () => zip.read(name) })),
      opts,
    );
  } finally {
    zip.close();
  }
}

export function resultOf(problems: ProblemList, files: CheckedFileSummary[]): ValidationResult {
  return { ok: problems.total === 0, problems: problems.list, counts: problems.counts, files };
}

/** manifest.csv is 16 short rows; anything this long is not one and is not read into memory. */
const MAX_MANIFEST_CHARS = 64 * 1024;

/** One bundle's check: the names first, then the manifest, then each data file in order(), then finish(). */
class BundleCheck {
  private readonly max: number;
  /** Problems with names and with the manifest, reported first. */
  private readonly head: ProblemList;
  private readonly invalidUtf8 = new Set<string>();
  /** Data files by spec name, in bundle order. */
  private readonly data = new Map<OneRosterFileName, string>();
  private modes = new Map<OneRosterFileName, 'bulk' | 'delta'>();
  private readonly checks = new Map<OneRosterFileName, { check: DataFileCheck; reader: TableReader }>();
  /** Files that another file refers to: their ids are kept until the end. */
  private readonly referenced = new Set<OneRosterFileName>();

  constructor(
    private readonly names: readonly string[],
    private readonly opts: ValidateOptions,
  ) {
    this.max = opts.maxProblems ?? 1000;
    this.head = new ProblemList(this.max);
    for (const fileName of names) {
      if (fileName === MANIFEST_FILE) continue;
      const base = fileName.slice(fileName.lastIndexOf('/') + 1);
      const spec = specForFile(base);
      if (fileName.includes('/')) {
        this.head.add('manifest', fileName, base === '' ? 'the zip holds a folder; OneRoster files must be at the root of the zip' : 'OneRoster files must be at the root of the zip, not in a folder');
      } else if (!spec) {
        this.head.add('manifest', fileName, 'is not a OneRoster 1.1 file name (names are case-sensitive, e.g. academicSessions.csv)');
      } else this.data.set(spec.name, fileName);
    }
    if (!names.includes(MANIFEST_FILE) && !opts.partial) this.head.add('manifest', MANIFEST_FILE, 'manifest.csv is missing; a OneRoster bundle must include it at the root');
    for (const name of this.data.keys()) for (const fk of ONEROSTER_SPECS.get(name)!.foreignKeys) if (fk.target !== name) this.referenced.add(fk.target);
  }

  manifest(text: string): void {
    this.modes = checkManifest(text, this.opts.partial ? undefined : new Set(this.data.keys()), this.opts.mode, this.head);
  }

  manifestTooLong(): void {
    this.head.add('manifest', MANIFEST_FILE, `the file is longer than ${MAX_MANIFEST_CHARS} characters, so it is not a manifest and was not read`);
  }

  notUtf8(name: string): void {
    this.invalidUtf8.add(name);
  }

  /** Data files, each after the files it refers to (the spec's references form no cycle but a file's references to itself). */
  order(): string[] {
    const order: string[] = [];
    const placed = new Set<OneRosterFileName>();
    const place = (name: OneRosterFileName) => {
      if (placed.has(name)) return;
      placed.add(name);
      for (const fk of ONEROSTER_SPECS.get(name)!.foreignKeys) if (fk.target !== name && this.data.has(fk.target)) place(fk.target);
      order.push(this.data.get(name)!);
    };
    for (const name of this.data.keys()) place(name);
    return order;
  }

  /** Names in the bundle that are neither the manifest nor a data file (folders aside). */
  unread(): string[] {
    const data = new Set(this.data.values());
    return this.names.filter((n) => n !== MANIFEST_FILE && !data.has(n) && !n.endsWith('/'));
  }

  /** Starts checking one data file; push its text, then end(). */
  file(fileName: string): { push(text: string): void; end(): void } {
    const spec = specForFile(fileName)!;
    const mode = this.modeOf(spec.name);
    const targetOf = this.opts.partial ? undefined : (fk: ForeignKey) => this.targetOf(spec.name, mode, fk);
    const check = new DataFileCheck(fileName, spec, mode, this.max, targetOf);
    const bom = 'the file starts with a byte order mark (BOM); OneRoster files must not (it corrupts the first header)';
    const reader = new TableReader(fileName, bom, this.max, check);
    this.checks.set(spec.name, { check, reader });
    return {
      push: (text) => reader.push(text),
      end: () => {
        reader.end();
        if (!this.referenced.has(spec.name)) check.ids.release();
      },
    };
  }

  finish(): ValidationResult {
    const problems = new ProblemList(this.max);
    for (const name of this.names) if (this.invalidUtf8.has(name)) problems.add('csv', name, 'the file is not valid UTF-8');
    problems.absorb(this.head);
    const inOrder = [...this.data.keys()].map((name) => this.checks.get(name)!);
    for (const { reader } of inOrder) reader.drainInto(problems);
    for (const { check } of inOrder) check.drainRefsInto(problems);
    return resultOf(
      problems,
      inOrder.map(({ check, reader }) => ({ name: check.fileName, rows: reader.rows, mode: check.mode })),
    );
  }

  private modeOf(name: OneRosterFileName): 'bulk' | 'delta' {
    return this.modes.get(name) ?? this.opts.mode ?? 'bulk';
  }

  /** Bulk files only: a delta may point at records the receiver already holds from an earlier bulk load. */
  private targetOf(name: OneRosterFileName, mode: 'bulk' | 'delta', fk: ForeignKey): RefTarget | undefined {
    if (mode !== 'bulk') return undefined;
    if (!this.data.has(fk.target)) return 'missing';
    if (this.modeOf(fk.target) !== 'bulk') return undefined;
    if (fk.target === name) return 'self';
    return this.checks.get(fk.target)!.check.ids;
  }
}
