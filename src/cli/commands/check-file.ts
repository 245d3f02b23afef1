import fs from 'node:fs/promises';
import path from 'node:path';
import { FerryError } from '../../core/errors.js';
import { cleverSpecForFile } from '../../formats/clever/spec.js';
import { checkCleverInto } from '../../formats/clever/validate.js';
import { parseCsv } from '../../formats/oneroster/parse-csv.js';
import { ProblemList } from '../../formats/oneroster/problems.js';
import { MANIFEST_FILE, specForFile } from '../../formats/oneroster/spec.js';
import {
  checkBundleInto,
  decodeCsvBytes,
  formatValidationReport,
  resultOf,
  validateOneRosterZip,
  type ValidationResult,
} from '../../formats/oneroster/validate.js';
import type { Io } from '../context.js';

/**
 * `ferry check-file <file|folder>`: check a OneRoster 1.1 zip, one OneRoster CSV by its name (users.csv…) on its own,
 * a Clever SFTP set (a folder holding schools.csv, students.csv, teachers.csv, sections.csv, enrollments.csv, staff.csv),
 * or one Clever CSV by its name on its own (partial: references to files not given are not checked).
 * Prints the first 20 problems and the counts by kind (or everything with --json); exit 0 when valid, 1 when not.
 * Output names file, row and column only, so it is safe to paste into a ticket.
 *
 * Ambiguity: only `enrollments.csv` is both a OneRoster and a Clever name (`users.csv` is OneRoster only). It is
 * decided by its header row: a header with `School_id` and without `sourcedId` is Clever (Clever's enrollments
 * header is School_id,Section_id,Student_id in any order); anything else (OneRoster starts with `sourcedId`) stays
 * OneRoster, as before. In a folder, an enrollments.csv with a OneRoster header is left out of the Clever set.
 */
export async function cmdCheckFile(file: string, opts: { json?: boolean }, io: Io): Promise<number> {
  const { result, title } = await checkFile(file);
  if (opts.json) io.out(JSON.stringify(result, null, 2) + '\n');
  else io.out(formatValidationReport(result, { limit: 20, title }));
  return result.ok ? 0 : 1;
}

const CLEVER_TITLE = 'Clever check';

async function checkFile(file: string): Promise<{ result: ValidationResult; title?: string }> {
  const base = path.basename(file);
  if (base.toLowerCase().endsWith('.zip')) return { result: await validateOneRosterZip(file) };
  if (await isDirectory(file)) return { result: await checkCleverFolder(file), title: CLEVER_TITLE };
  const isClever = cleverSpecForFile(base) !== undefined;
  if (!isClever && base !== MANIFEST_FILE && !specForFile(base)) {
    throw new FerryError(
      'params',
      `${base} is neither a .zip, a folder, a OneRoster 1.1 CSV name (e.g. users.csv, manifest.csv) nor a Clever CSV name (e.g. students.csv); names are case-sensitive`,
      { field: 'file' },
    );
  }
  const problems = new ProblemList(1000);
  const text = decodeCsvBytes(base, await readBytes(file), problems);
  const files = new Map([[base, text]]);
  if (isClever && (!specForFile(base) || hasCleverHeader(text))) {
    return { result: resultOf(problems, checkCleverInto(files, { partial: true }, problems)), title: CLEVER_TITLE };
  }
  return { result: resultOf(problems, checkBundleInto(files, { partial: true }, problems)) };
}

/** Every Clever file in the folder, checked as one set (references included). */
async function checkCleverFolder(dir: string): Promise<ValidationResult> {
  let names: string[];
  try {
    names = (await fs.readdir(dir)).sort();
  } catch (err) {
    throw new FerryError('params', `${dir} cannot be read`, { cause: err, field: 'file' });
  }
  const problems = new ProblemList(1000);
  const files = new Map<string, string>();
  for (const name of names) {
    if (!cleverSpecForFile(name)) continue;
    const full = path.join(dir, name);
    if (await isDirectory(full)) continue;
    const text = decodeCsvBytes(name, await readBytes(full), problems);
    if (specForFile(name) && !hasCleverHeader(text)) continue; // a OneRoster enrollments.csv
    files.set(name, text);
  }
  if (files.size === 0) {
    throw new FerryError('params', `${dir} holds no Clever CSV files (schools.csv, students.csv, teachers.csv, sections.csv, enrollments.csv, staff.csv; names are case-sensitive)`, {
      field: 'file',
    });
  }
  return resultOf(problems, checkCleverInto(files, {}, problems));
}

/** Clever when the header row has School_id and no sourcedId (see the note on cmdCheckFile). */
function hasCleverHeader(text: string): boolean {
  const firstLine = text.replace(/^\ufeff/, '').split(/\r?\n/, 1)[0] ?? '';
  const header = parseCsv(firstLine).records[0] ?? [];
  return header.includes('School_id') && !header.includes('sourcedId');
}

async function isDirectory(file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).isDirectory();
  } catch {
    return false;
  }
}

async function readBytes(file: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    throw new FerryError('params', `${file} cannot be read`, { cause: err, field: 'file' });
  }
}
