import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FerryError, toFerryError } from '../core/errors.js';
import type { Source } from '../core/source.js';
import type { FormatOptions } from '../config/schema.js';
import { encodeCsv } from '../formats/csv.js';
import { validateCleverInputs } from '../formats/clever/validate.js';
import { fileInput, textInput } from '../formats/oneroster/check-input.js';
import { writeOneRosterZipFromFiles, type BundleFileInfo, type SpooledBundleFile } from '../formats/oneroster/bundle.js';
import { computeDeltaFile } from '../formats/oneroster/delta.js';
import { buildManifest } from '../formats/oneroster/manifest.js';
import { formatValidationReport, type ValidationResult } from '../formats/oneroster/problems.js';
import { specForFile, type OneRosterFileName } from '../formats/oneroster/spec.js';
import { validateOneRosterFiles, validateOneRosterInputs } from '../formats/oneroster/validate.js';
import { loadBaseline, saveBaseline, sha256OfFile } from './delta-baseline.js';
import { emptyColumnsError, watchStream } from './column-presence.js';
import { isApiSource, openSpool, type ExecuteOptions, type RunContext, type RunResult } from './execute-run.js';
import { deliverOrHold } from './deliver.js';
import { renderRunPath } from './run-paths.js';

/** OneRoster 1.1 CSV rules (§4.1): comma, UTF-8 without a BOM, a header row, CRLF, booleans true/false. */
export const ONEROSTER_CSV: FormatOptions = { kind: 'csv', delimiter: ',', lineEnding: 'crlf', bom: false, header: true, booleans: ['true', 'false'], dateFormat: 'YYYY-MM-DD' };
/** Clever SFTP CSV (§5): comma, a header row, dates MM/DD/YYYY; Clever's own flags are Y/N. */
export const CLEVER_CSV: FormatOptions = { kind: 'csv', delimiter: ',', lineEnding: 'crlf', bom: false, header: true, booleans: ['Y', 'N'], dateFormat: 'MM/DD/YYYY' };

/**
 * A bundle run: each member extract streamed (row path) into its own spool CSV (0600) in a per-run folder (0700), the
 * set checked as a whole (streamed from the spool, keeping only the ids that references need), then:
 * - OneRoster: one zip with manifest.csv, delivered like any file; a delta integration sends what changed since its
 *   last delivered bulk;
 * - Clever: each file to the same folder, all uploaded before any is moved into place.
 * A set that fails its check fails the run (kind `format`) and nothing is delivered. The run's rows are the data rows
 * of users.csv (OneRoster) or students.csv (Clever), or of every file when that one is not in the set.
 */
export async function executeBundleRun(ctx: RunContext, opts: ExecuteOptions, at: Date): Promise<RunResult> {
  const { integration, signal } = ctx;
  const bundle = integration.bundle!;
  // Render first: a path that escapes the base folder fails before any student data is read.
  const remote =
    bundle.format === 'clever'
      ? new Map(bundle.files.map((f) => [f.name, renderRunPath(integration, ctx.runId, at, f.name)]))
      : new Map([['', renderRunPath(integration, ctx.runId, at)]]);
  await fsp.mkdir(opts.spoolDir, { recursive: true, mode: 0o700 });
  const partsDir = path.join(opts.spoolDir, `${ctx.runId}-${integration.id}.${bundle.format === 'clever' ? 'clever' : 'parts'}`);
  const zipSpool = path.join(opts.spoolDir, `${ctx.runId}-${integration.id}.zip`);
  const state = { keepParts: false, keepZip: false, zipStarted: false };
  const source = opts.openSource();
  try {
    try {
      await fsp.mkdir(partsDir, { mode: 0o700 });
    } catch (err) {
      throw new FerryError('spool', `integration ${integration.id}: cannot create spool folder ${partsDir} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { integration: integration.id, field: 'dataDir', cause: err });
    }
    const spooled = await spoolMembers(ctx, opts, source, partsDir, bundle.format === 'clever' ? CLEVER_CSV : ONEROSTER_CSV);
    await source.close();
    const main = bundle.format === 'clever' ? 'students.csv' : 'users.csv';
    const rows = spooled.get(main)?.rows ?? [...spooled.values()].reduce((n, f) => n + f.rows, 0);
    if (rows === 0 && !integration.allowEmpty) {
      throw new FerryError('empty_result', `integration ${integration.id}: the bundle has no rows${spooled.has(main) ? ` in ${main}` : ''}, so nothing was delivered (set allowEmpty: true if an empty file is expected)`, {
        integration: integration.id,
        field: 'allowEmpty',
      });
    }
    // The same file(s) as `rows`: each member's source count, or its rows for SQL sources.
    const expectedOf = (f: { rows: number; expected?: number | undefined }) => f.expected ?? f.rows;
    const expected = spooled.has(main) ? expectedOf(spooled.get(main)!) : [...spooled.values()].reduce((n, f) => n + expectedOf(f), 0);
    const done =
      bundle.format === 'clever'
        ? await finishClever(ctx, opts, spooled, rows, partsDir, remote, state)
        : await finishOneRoster(ctx, opts, spooled, rows, partsDir, zipSpool, remote.get('')!, state);
    return { ...done, expected };
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
    if (!state.keepParts) await fsp.rm(partsDir, { recursive: true, force: true });
    if (!state.keepZip && state.zipStarted) await fsp.rm(zipSpool, { force: true });
  }
}

interface KeepState {
  keepParts: boolean;
  keepZip: boolean;
  zipStarted: boolean;
}

async function spoolMembers(ctx: RunContext, opts: ExecuteOptions, source: Source, dir: string, format: FormatOptions): Promise<Map<string, SpooledBundleFile>> {
  const { integration, logger, signal } = ctx;
  const spooled = new Map<string, SpooledBundleFile>();
  let total = 0;
  for (const { name, extract } of integration.bundle!.files) {
    signal.throwIfAborted();
    const params = ctx.params.members?.get(extract.name) ?? ctx.params;
    const stats = { rows: 0 };
    const file = path.join(dir, name);
    logger.info('extract started', { source: integration.source.id, extract: extract.name, file: name, mode: 'rows' });
    const watched = watchStream(extract.columns);
    const batches = watched.watch(source.stream({ text: extract.sql, values: params.binds, request: extract.request, columns: extract.columns }, { signal, logger }));
    const encoded = encodeCsv(batches, extract.columns, format, integration.id, stats);
    const out = await openSpool(file, integration.id);
    try {
      await pipeline(Readable.from(encoded), out, { signal });
    } catch (err) {
      // Name the file and its extract: "column Dob, row 12" alone does not say which of seven files.
      if (err instanceof FerryError && (err.kind === 'format' || err.kind === 'columns')) {
        const prefix = `integration ${integration.id}: `;
        const rest = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
        throw new FerryError(err.kind, `${prefix}${name} (extract ${extract.name}): ${rest}; nothing was delivered`, { integration: integration.id, field: `bundle.files.${name}${err.field ? `.${err.field}` : ''}`, cause: err });
      }
      throw err;
    }
    const empty = isApiSource(integration) ? watched.emptyColumns() : [];
    if (empty.length > 0) throw emptyColumnsError(integration.id, extract, empty, { rows: stats.rows, expected: watched.expected }, name);
    spooled.set(name, { path: file, rows: stats.rows, expected: watched.expected });
    total += stats.rows;
    opts.onProgress?.(total);
    logger.info('extract written', { extract: extract.name, file: name, rows: stats.rows });
  }
  return spooled;
}

async function readTexts(files: ReadonlyMap<string, SpooledBundleFile>): Promise<Map<string, string>> {
  const texts = new Map<string, string>();
  for (const [name, f] of files) texts.set(name, await fsp.readFile(f.path, 'utf8'));
  return texts;
}

/** The first 20 problems and the counts by kind, in one message; validator messages never carry a cell value. */
function checkFailure(ctx: RunContext, what: string, result: ValidationResult): FerryError {
  const report = formatValidationReport(result, { limit: 20 }).trim().split('\n').map((l) => l.trim()).join('; ');
  ctx.logger.error('bundle check failed', { counts: Object.fromEntries(Object.entries(result.counts).filter(([, n]) => n > 0)) });
  return new FerryError('format', `integration ${ctx.integration.id}: the ${what} did not pass its check, so nothing was delivered: ${report}`, { integration: ctx.integration.id, field: 'bundle' });
}

async function finishOneRoster(
  ctx: RunContext,
  opts: ExecuteOptions,
  spooled: Map<string, SpooledBundleFile>,
  rows: number,
  partsDir: string,
  zipSpool: string,
  remotePath: string,
  state: KeepState,
): Promise<Omit<RunResult, 'expected'>> {
  const { integration, logger, signal } = ctx;
  const bundle = integration.bundle!;
  const present = new Set<OneRosterFileName>([...spooled.keys()].map((n) => specForFile(n)!.name));

  // Today's full snapshot is checked as a bulk first, delta or not: references between files only hold in a whole set.
  const inputs = [...spooled].map(([name, f]) => fileInput(name, f.path));
  const full = await validateOneRosterInputs([...inputs, textInput('manifest.csv', buildManifest(present, 'bulk'))], { mode: 'bulk' });
  if (!full.ok) throw checkFailure(ctx, 'OneRoster bundle', full);

  let mode: 'bulk' | 'delta' = 'bulk';
  let files = spooled;
  if (bundle.mode === 'delta') {
    const baseline = opts.forceBulk ? null : await loadBaseline(opts.baselineDir, integration.id, logger);
    if (!baseline) {
      logger.info(opts.forceBulk ? 'delta integration: a bulk was asked for' : 'delta integration: no delivered bulk to compare with, so this run sends a bulk');
    } else {
      mode = 'delta';
      // The delta is computed in memory, from today's files and the baseline's.
      const texts = await readTexts(spooled);
      const stamp = ctx.clock.now().toISOString();
      const deltaDir = path.join(partsDir, 'delta');
      await fsp.mkdir(deltaDir, { mode: 0o700 });
      const deltaTexts = new Map<string, string>();
      files = new Map();
      let changed = 0;
      let deleted = 0;
      for (const [name, text] of texts) {
        const d = computeDeltaFile(name, baseline.files.get(name), text, stamp);
        changed += d.changed;
        deleted += d.deleted;
        const file = path.join(deltaDir, name);
        const out = await openSpool(file, integration.id);
        await pipeline(Readable.from([d.text]), out);
        deltaTexts.set(name, d.text);
        files.set(name, { path: file, rows: d.changed + d.deleted });
      }
      logger.info('delta computed', { baselineRunId: baseline.runId, changed, deleted });
      deltaTexts.set('manifest.csv', buildManifest(present, 'delta'));
      const check = validateOneRosterFiles(deltaTexts, { mode: 'delta' });
      if (!check.ok) throw checkFailure(ctx, 'OneRoster delta bundle', check);
    }
  }
  logger.info('bundle checked', { files: files.size, mode });

  let info;
  try {
    info = await writeOneRosterZipFromFiles(zipSpool, files, { mode });
  } catch (err) {
    // The writer removes a partial zip itself; a zip it could not create is not ours to remove.
    const e = toFerryError(err);
    throw new FerryError(e.kind, `integration ${integration.id}: ${e.message}; nothing was delivered`, { integration: integration.id, field: 'dataDir', cause: err });
  }
  state.zipStarted = true;
  logger.info('bundle written', { rows, bytes: info.bytes, files: info.files.length, mode });
  const base = { rows, bytes: info.bytes, sha256: info.sha256, files: info.files, bundleMode: mode };

  const out = await deliverOrHold(
    { integration, runId: ctx.runId, logger, signal, dryRun: opts.dryRun, previousDelivery: opts.previousDelivery, beforeDeliver: opts.beforeDeliver, openDestination: opts.openDestination },
    { files: [{ localPath: zipSpool, remotePath, bytes: info.bytes }], set: false, recordedPath: remotePath, rows },
  );
  if (out.kind !== 'delivered') {
    state.keepZip = true;
    return { ...base, remotePath: null, target: null, spoolPath: zipSpool, ...(out.kind === 'held' ? { held: out.held } : {}) };
  }
  const receipt = out;
  if (bundle.mode === 'delta' && mode === 'bulk') await keepBaseline(ctx, opts.baselineDir, zipSpool, info.sha256);
  state.keepZip = opts.keepSpool;
  return { ...base, remotePath: receipt.remotePath, target: receipt.target, spoolPath: state.keepZip ? zipSpool : null };
}

/** After a bulk went out: it becomes the delta baseline. A failure to keep it is logged; the delivery stands. */
export async function keepBaseline(ctx: Pick<RunContext, 'integration' | 'logger' | 'runId' | 'clock'>, dir: string, zip: string, sha256: string): Promise<void> {
  try {
    await saveBaseline(dir, ctx.integration.id, zip, ctx.runId, sha256, ctx.clock.now());
    ctx.logger.info('delta baseline kept', { baselineRunId: ctx.runId });
  } catch (err) {
    ctx.logger.error('delta baseline not kept', { error: (err as Error).message });
  }
}

/**
 * The SHA-256 recorded for a Clever set: of its `sha256sum`-style listing (`<hex>  <name>` lines, sorted by name), so
 * `sha256sum *.csv | sort -k2 | sha256sum` in the delivered folder gives the same value.
 */
export function setSha256(files: readonly BundleFileInfo[]): string {
  const listing = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((f) => `${f.sha256}  ${f.name}\n`).join('');
  return crypto.createHash('sha256').update(listing).digest('hex');
}

/** Bytes and SHA-256 of each spooled file of a set, in set order. */
export async function describeSetFiles(dir: string, files: ReadonlyMap<string, { rows: number }>): Promise<BundleFileInfo[]> {
  const out: BundleFileInfo[] = [];
  for (const [name, f] of files) {
    const file = path.join(dir, name);
    const { size } = await fsp.stat(file);
    out.push({ name, bytes: size, sha256: await sha256OfFile(file), rows: f.rows });
  }
  return out;
}

async function finishClever(
  ctx: RunContext,
  opts: ExecuteOptions,
  spooled: Map<string, SpooledBundleFile>,
  rows: number,
  partsDir: string,
  remote: ReadonlyMap<string, string>,
  state: KeepState,
): Promise<Omit<RunResult, 'expected'>> {
  const { integration, logger, signal } = ctx;
  // Files not in the set are not checked against (the vendor may get them elsewhere); the ones sent must agree.
  const result = await validateCleverInputs([...spooled].map(([name, f]) => fileInput(name, f.path)), { partial: true });
  if (!result.ok) throw checkFailure(ctx, 'Clever file set', result);
  logger.info('bundle checked', { files: spooled.size });

  const files = await describeSetFiles(partsDir, spooled);
  const bytes = files.reduce((n, f) => n + f.bytes, 0);
  const folder = path.posix.dirname(remote.values().next().value!) + '/';
  const base = { rows, bytes, sha256: setSha256(files), files };
  const out = await deliverOrHold(
    { integration, runId: ctx.runId, logger, signal, dryRun: opts.dryRun, previousDelivery: opts.previousDelivery, beforeDeliver: opts.beforeDeliver, openDestination: opts.openDestination },
    { files: files.map((f) => ({ localPath: spooled.get(f.name)!.path, remotePath: remote.get(f.name)!, bytes: f.bytes })), set: true, recordedPath: folder, rows },
  );
  if (out.kind !== 'delivered') {
    state.keepParts = true;
    return { ...base, remotePath: null, target: null, spoolPath: partsDir, ...(out.kind === 'held' ? { held: out.held } : {}) };
  }
  state.keepParts = opts.keepSpool;
  return { ...base, remotePath: folder, target: out.target, spoolPath: state.keepParts ? partsDir : null };
}
