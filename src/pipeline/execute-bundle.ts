import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FerryError, toFerryError } from '../core/errors.js';
import type { FormatOptions } from '../config/schema.js';
import { encodeCsv } from '../formats/csv.js';
import { writeOneRosterZipFromFiles, type SpooledBundleFile } from '../formats/oneroster/bundle.js';
import { buildManifest } from '../formats/oneroster/manifest.js';
import { specForFile, type OneRosterFileName } from '../formats/oneroster/spec.js';
import { formatValidationReport, validateOneRosterFiles } from '../formats/oneroster/validate.js';
import { openSpool, type ExecuteOptions, type RunContext, type RunResult } from './execute-run.js';
import { checkRowDrop } from './safety-gate.js';

/** OneRoster 1.1 CSV rules (§4.1): comma, UTF-8 without a BOM, a header row, CRLF, booleans true/false. */
export const ONEROSTER_CSV: FormatOptions = { kind: 'csv', delimiter: ',', lineEnding: 'crlf', bom: false, header: true, booleans: ['true', 'false'] };

/**
 * A OneRoster bundle run: each member extract streamed (row path) into its own spool CSV (0600) in a per-run folder,
 * the bundle checked with the OneRoster validator, then one zip built from the files and delivered like any file.
 * The validator reads the spooled CSVs into memory (it needs every file at once for references between files); the
 * extract and the zip stream. A bundle that fails the check fails the run (kind `format`) and nothing is delivered.
 * The run's rows are users.csv's data rows (the bundle's total data rows when it has no users.csv).
 */
export async function executeBundleRun(ctx: RunContext, opts: ExecuteOptions, remotePath: string): Promise<RunResult> {
  const { integration, logger, signal } = ctx;
  const bundle = integration.bundle!;
  await fsp.mkdir(opts.spoolDir, { recursive: true, mode: 0o700 });
  const partsDir = path.join(opts.spoolDir, `${ctx.runId}-${integration.id}.parts`);
  const finalSpool = path.join(opts.spoolDir, `${ctx.runId}-${integration.id}.zip`);
  let kept = false;
  let zipStarted = false;
  const source = opts.openSource();
  try {
    try {
      await fsp.mkdir(partsDir, { mode: 0o700 });
    } catch (err) {
      throw new FerryError('spool', `integration ${integration.id}: cannot create spool folder ${partsDir} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { integration: integration.id, field: 'dataDir', cause: err });
    }
    const spooled = new Map<string, SpooledBundleFile>();
    let total = 0;
    for (const { name, extract } of bundle.files) {
      signal.throwIfAborted();
      const params = ctx.params.members?.get(extract.name) ?? ctx.params;
      const stats = { rows: 0 };
      const file = path.join(partsDir, name);
      logger.info('extract started', { source: integration.source.id, extract: extract.name, file: name, mode: 'rows' });
      const batches = source.stream({ text: extract.sql, values: params.binds, request: extract.request, columns: extract.columns }, { signal, logger });
      const encoded = encodeCsv(batches, extract.columns, ONEROSTER_CSV, integration.id, stats);
      const out = await openSpool(file, integration.id);
      await pipeline(Readable.from(encoded), out, { signal });
      spooled.set(name, { path: file, rows: stats.rows });
      total += stats.rows;
      opts.onProgress?.(total);
      logger.info('extract written', { extract: extract.name, file: name, rows: stats.rows });
    }
    await source.close();
    const rows = spooled.get('users.csv')?.rows ?? total;
    if (rows === 0 && !integration.allowEmpty) {
      throw new FerryError('empty_result', `integration ${integration.id}: the bundle has no rows${spooled.has('users.csv') ? ' in users.csv' : ''}, so nothing was delivered (set allowEmpty: true if an empty file is expected)`, {
        integration: integration.id,
        field: 'allowEmpty',
      });
    }

    // The check needs every file at once (references between files): the spooled CSVs are read into memory here.
    const texts = new Map<string, string>();
    const present = new Set<OneRosterFileName>();
    for (const [name, f] of spooled) {
      texts.set(name, await fsp.readFile(f.path, 'utf8'));
      present.add(specForFile(name)!.name);
    }
    texts.set('manifest.csv', buildManifest(present, bundle.mode));
    const result = validateOneRosterFiles(texts, { mode: bundle.mode });
    texts.clear();
    if (!result.ok) {
      // Validator messages name file, row and column, never a cell value.
      const report = formatValidationReport(result, { limit: 10 }).trim().split('\n').map((l) => l.trim()).join('; ');
      logger.error('bundle check failed', { counts: Object.fromEntries(Object.entries(result.counts).filter(([, n]) => n > 0)) });
      throw new FerryError('format', `integration ${integration.id}: the OneRoster bundle did not pass its check, so nothing was delivered: ${report}`, { integration: integration.id, field: 'bundle' });
    }
    logger.info('bundle checked', { files: result.files.length });

    zipStarted = true;
    const info = await writeOneRosterZipFromFiles(finalSpool, spooled, { mode: bundle.mode });
    logger.info('bundle written', { rows, bytes: info.bytes, files: info.files.length });
    const base = { rows, bytes: info.bytes, sha256: info.sha256, files: info.files };

    if (opts.dryRun) {
      kept = true;
      logger.info('dry run: file kept locally, not delivered', { spoolPath: finalSpool });
      return { ...base, remotePath: null, target: null, spoolPath: finalSpool };
    }
    const held = checkRowDrop(integration, ctx.runId, rows, opts.previousDelivery);
    if (held) {
      kept = true;
      return { ...base, remotePath: null, target: null, spoolPath: finalSpool, held };
    }
    signal.throwIfAborted();
    const dest = integration.destination;
    logger.info('delivery started', { destination: dest.id, remotePath });
    const destination = opts.openDestination();
    const receipt = await destination.deliver({ localPath: finalSpool, remotePath, bytes: info.bytes, runId: ctx.runId, signal });
    await destination.close?.();
    kept = opts.keepSpool;
    return { ...base, remotePath: receipt.remotePath, target: receipt.target, spoolPath: kept ? finalSpool : null };
  } catch (err) {
    if (signal.aborted) {
      throw new FerryError('aborted', `integration ${integration.id}: run stopped (${String(signal.reason instanceof Error ? signal.reason.message : signal.reason ?? 'aborted')}); nothing was delivered`, {
        integration: integration.id,
        cause: err,
      });
    }
    throw toFerryError(err);
  } finally {
    await source.close().catch(() => undefined);
    await fsp.rm(partsDir, { recursive: true, force: true });
    if (!kept && zipStarted) await fsp.rm(finalSpool, { force: true });
  }
}

