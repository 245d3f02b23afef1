import fs from 'node:fs/promises';
import path from 'node:path';
import { FerryError } from '../../core/errors.js';
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
 * `ferry check-file <file>`: check a OneRoster 1.1 zip, or one OneRoster CSV by its name (users.csv…), on its own.
 * Prints the first 20 problems and the counts by kind (or everything with --json); exit 0 when valid, 1 when not.
 * Output names file, row and column only, so it is safe to paste into a ticket.
 */
export async function cmdCheckFile(file: string, opts: { json?: boolean }, io: Io): Promise<number> {
  const result = await checkFile(file);
  if (opts.json) io.out(JSON.stringify(result, null, 2) + '\n');
  else io.out(formatValidationReport(result, { limit: 20 }));
  return result.ok ? 0 : 1;
}

async function checkFile(file: string): Promise<ValidationResult> {
  const base = path.basename(file);
  if (base.toLowerCase().endsWith('.zip')) return validateOneRosterZip(file);
  if (base !== MANIFEST_FILE && !specForFile(base)) {
    throw new FerryError('params', `${base} is neither a .zip nor a OneRoster 1.1 CSV name (e.g. users.csv, manifest.csv; names are case-sensitive)`, { field: 'file' });
  }
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    throw new FerryError('params', `${file} cannot be read`, { cause: err, field: 'file' });
  }
  const problems = new ProblemList(1000);
  const text = decodeCsvBytes(base, bytes, problems);
  return resultOf(problems, checkBundleInto(new Map([[base, text]]), { partial: true }, problems));
}
