import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { FerryError } from '../../core/errors.js';
import { cleverSpecForFile } from '../../formats/clever/spec.js';
import { validateCleverInputs } from '../../formats/clever/validate.js';
import { fileInput } from '../../formats/oneroster/check-input.js';
import { parseCsv } from '../../formats/oneroster/parse-csv.js';
import { DEFAULT_ZIP_LIMITS, type ZipLimits } from '../../formats/oneroster/read-zip.js';
import { MANIFEST_FILE, specForFile } from '../../formats/oneroster/spec.js';
import { formatValidationReport, validateOneRosterInputs, validateOneRosterZip, type ValidationResult } from '../../formats/oneroster/validate.js';
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
export interface CheckFileOptions {
  json?: boolean;
  /** Zip limits (see ZipLimits); a zip over one is refused unread with one sentence. */
  maxUnzippedBytes?: number;
  maxZipEntries?: number;
  maxZipRatio?: number;
}

export async function cmdCheckFile(file: string, opts: CheckFileOptions, io: Io): Promise<number> {
  const { result, title } = await checkFile(file, {
    maxEntries: opts.maxZipEntries ?? DEFAULT_ZIP_LIMITS.maxEntries,
    maxTotalBytes: opts.maxUnzippedBytes ?? DEFAULT_ZIP_LIMITS.maxTotalBytes,
    maxRatio: opts.maxZipRatio ?? DEFAULT_ZIP_LIMITS.maxRatio,
  });
  if (opts.json) io.out(JSON.stringify(result, null, 2) + '\n');
  else io.out(formatValidationReport(result, { limit: 20, title }));
  return result.ok ? 0 : 1;
}

const CLEVER_TITLE = 'Clever check';

/** Where each zip limit is raised, named in a refusal. */
const HINTS = { maxEntries: '--max-zip-entries', maxTotalBytes: '--max-unzipped-size', maxRatio: '--max-zip-ratio' };

async function checkFile(file: string, limits: ZipLimits): Promise<{ result: ValidationResult; title?: string }> {
  const base = path.basename(file);
  if (base.toLowerCase().endsWith('.zip')) return { result: await validateOneRosterZip(file, { limits, hints: HINTS }) };
  if (await isDirectory(file)) return { result: await checkCleverFolder(file), title: CLEVER_TITLE };
  const isClever = cleverSpecForFile(base) !== undefined;
  if (!isClever && base !== MANIFEST_FILE && !specForFile(base)) {
    throw new FerryError(
      'params',
      `${base} is neither a .zip, a folder, a OneRoster 1.1 CSV name (e.g. users.csv, manifest.csv) nor a Clever CSV name (e.g. students.csv); names are case-sensitive`,
      { field: 'file' },
    );
  }
  const input = await readableInput(base, file);
  if (isClever && (!specForFile(base) || (await hasCleverHeader(file)))) {
    return { result: await validateCleverInputs([input], { partial: true }), title: CLEVER_TITLE };
  }
  return { result: await validateOneRosterInputs([input], { partial: true }) };
}

/** Every Clever file in the folder, checked as one set (references included). */
async function checkCleverFolder(dir: string): Promise<ValidationResult> {
  let names: string[];
  try {
    names = (await fs.readdir(dir)).sort();
  } catch (err) {
    throw new FerryError('params', `${dir} cannot be read`, { cause: err, field: 'file' });
  }
  const inputs = [];
  const leftOut = [];
  for (const name of names) {
    if (!cleverSpecForFile(name)) continue;
    const full = path.join(dir, name);
    if (await isDirectory(full)) continue;
    const input = await readableInput(name, full);
    if (specForFile(name) && !(await hasCleverHeader(full))) leftOut.push(input); // a OneRoster enrollments.csv
    else inputs.push(input);
  }
  if (inputs.length === 0) {
    throw new FerryError('params', `${dir} holds no Clever CSV files (schools.csv, students.csv, teachers.csv, sections.csv, enrollments.csv, staff.csv; names are case-sensitive)`, {
      field: 'file',
    });
  }
  return validateCleverInputs(inputs, { alsoDecoded: leftOut });
}

/** Clever when the header row has School_id and no sourcedId (see the note on cmdCheckFile). */
async function hasCleverHeader(file: string): Promise<boolean> {
  const firstLine = (await readFirstLine(file)).replace(/^\ufeff/, '').split(/\r?\n/, 1)[0] ?? '';
  const header = parseCsv(firstLine).records[0] ?? [];
  return header.includes('School_id') && !header.includes('sourcedId');
}

/** Up to the first line break (or the first 64 KiB: no header is longer). */
async function readFirstLine(file: string): Promise<string> {
  let text = '';
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 16 * 1024, end: 64 * 1024 - 1 })) {
    text += chunk as string;
    if (text.includes('\n')) break;
  }
  return text;
}

async function isDirectory(file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).isDirectory();
  } catch {
    return false;
  }
}

/** A file that can be opened, as a streamed input; one that cannot is refused before any check starts. */
async function readableInput(name: string, file: string) {
  try {
    await (await fs.open(file, 'r')).close();
  } catch (err) {
    throw new FerryError('params', `${file} cannot be read`, { cause: err, field: 'file' });
  }
  return fileInput(name, file);
}
