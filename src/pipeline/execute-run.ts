import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'winston';
import type { Clock } from '../core/clock.js';
import type { Destination } from '../core/destination.js';
import { FerryError, toFerryError } from '../core/errors.js';
import type { BoundQuery, Source } from '../core/source.js';
import type { Integration } from '../config/model.js';
import type { ResolvedParams } from '../config/params.js';
import { csvPrefix, encodeCsv, lfToCrlfOutsideQuotes } from '../formats/csv.js';
import type { BundleFileInfo } from '../formats/oneroster/bundle.js';
import { executeBundleRun } from './execute-bundle.js';
import { renderRunPath } from './run-paths.js';
import { emptyColumnsError, watchStream } from './column-presence.js';
import { API_SOURCE_KINDS } from '../config/schema.js';
import { deliverOrHold } from './deliver.js';
import type { HoldDecision, PreviousDelivery } from './safety-gate.js';
import { createKeyDigester, type PersonDigestSet, type PersonHasher } from '../governance/person-digests.js';

/** Everything one stage of a run may use; nothing reads globals or process.env after start-up. */
export interface RunContext {
  readonly runId: number;
  readonly integration: Integration;
  readonly scheduledFor: Date | null;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  readonly clock: Clock;
  readonly params: ResolvedParams;
}

export interface ExecuteOptions {
  spoolDir: string;
  keepSpool: boolean;
  dryRun?: boolean | undefined;
  openSource: () => Source;
  openDestination: () => Destination;
  onProgress?: ((rows: number) => void) | undefined;
  /** Where delta integrations keep their last delivered bulk (dataDir/baselines). */
  baselineDir: string;
  /** A delta integration sends a bulk (and makes it the new baseline) instead of a delta: `ferry run --bulk`. */
  forceBulk?: boolean | undefined;
  /**
   * Called just before anything is sent, with the path the run's record will name: throws when the run may no longer
   * deliver (its process lost the lease, or a newer slot already delivered that path), so the vendor never gets the
   * file twice, nor older data over newer.
   */
  beforeDeliver?: ((remotePath: string) => Promise<void>) | undefined;
  /** The last delivered run, for the roster safety gate; null when there is none (or the gate is off). */
  previousDelivery?: PreviousDelivery | null | undefined;
  /**
   * Keep who is in the file: digests of the extract's person key column, read from the bytes written, handed to
   * `record` after the file is complete and before anything is sent (so a held file released later has them too).
   */
  personDigests?: { hasher: PersonHasher; record: (set: PersonDigestSet) => Promise<void> } | undefined;
}

export interface RunResult {
  rows: number;
  /** The source's own count of what it holds (API sources, before Ferry's filters); the rows for SQL sources. */
  expected: number;
  bytes: number;
  sha256: string;
  remotePath: string | null;
  target: string | null;
  /** The spool file, when it was kept (dry run, held delivery or spool.keep). */
  spoolPath: string | null;
  /** Bundles: each file in the zip (manifest.csv first) or in the Clever set, with its bytes, SHA-256 and data rows. */
  files?: BundleFileInfo[];
  /** OneRoster bundles: whether this run's zip is a bulk or a delta. */
  bundleMode?: 'bulk' | 'delta';
  /** Set when the safety gate held the delivery: nothing was sent and the spool file is kept for `ferry release`. */
  held?: HoldDecision;
}

/** One run: source → rows (streamed) → CSV → local spool file (0600) → delivery. Throws a FerryError on failure. */
export async function executeRun(ctx: RunContext, opts: ExecuteOptions): Promise<RunResult> {
  const { integration, logger, signal } = ctx;
  const at = ctx.scheduledFor ?? ctx.clock.now();
  if (integration.bundle) return executeBundleRun(ctx, opts, at);
  // Render first: a path that escapes the base folder fails before any student data is read.
  const remotePath = renderRunPath(integration, ctx.runId, at);

  await fsp.mkdir(opts.spoolDir, { recursive: true, mode: 0o700 });
  const ext = integration.format.delimiter === '\t' ? 'tsv' : 'csv';
  const finalSpool = path.join(opts.spoolDir, `${ctx.runId}-${integration.id}.${ext}`);
  const partSpool = `${finalSpool}.part`;
  let kept = false;
  const source = opts.openSource();
  try {
    const hash = crypto.createHash('sha256');
    let bytes = 0;
    const stats = { rows: 0 };
    let lastProgress = 0;
    let rowsWritten = () => stats.rows;
    const copy = source.copyCsv
      ? await source.copyCsv({ query: queryOf(integration, ctx.params), columns: integration.extract.columns, withheld: withheldNames(integration), format: integration.format, signal })
      : undefined;
    let encoded: AsyncIterable<string | Buffer>;
    const watched = watchStream(integration.extract.columns);
    if (copy) {
      // The database writes the records; Ferry adds the header and, for CRLF files, the CR.
      const body = integration.format.lineEnding === 'crlf' ? lfToCrlfOutsideQuotes(copy.body) : copy.body;
      encoded = prefixed(csvPrefix(integration.extract.columns, integration.format), body);
      rowsWritten = copy.rowCount;
    } else {
      const batches = watched.watch(source.stream(queryOf(integration, ctx.params), { signal, logger }));
      encoded = encodeCsv(batches, integration.extract.columns, integration.format, integration.id, stats, withheldNames(integration));
    }
    const digester = !opts.dryRun && opts.personDigests ? keyDigester(integration, opts.personDigests.hasher, logger) : undefined;
    async function* hashed(): AsyncGenerator<Buffer> {
      for await (const chunk of encoded) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
        hash.update(buf);
        digester?.push(buf);
        bytes += buf.length;
        if (opts.onProgress && stats.rows - lastProgress >= 10_000) {
          lastProgress = stats.rows;
          opts.onProgress(stats.rows);
        }
        yield buf;
      }
    }
    logger.info('extract started', { source: integration.source.id, extract: integration.extract.name, mode: copy ? 'database-csv' : 'rows' });
    const out = await openSpool(partSpool, integration.id);
    await pipeline(Readable.from(hashed()), out, { signal });
    await source.close();
    stats.rows = rowsWritten();
    opts.onProgress?.(stats.rows);
    const sha256 = hash.digest('hex');
    // API sources report their own count (reconciled by the connector); for SQL sources the rows are the count.
    const expected = watched.expected ?? stats.rows;
    logger.info('extract written', { rows: stats.rows, expected, bytes });
    const empty = isApiSource(integration) ? watched.emptyColumns() : [];
    if (empty.length > 0) throw emptyColumnsError(integration.id, integration.extract, empty, { rows: stats.rows, expected });

    if (stats.rows === 0 && !integration.allowEmpty) {
      throw new FerryError('empty_result', `integration ${integration.id}: the extract returned no rows, so nothing was delivered (set allowEmpty: true if an empty file is expected)`, {
        integration: integration.id,
        field: 'allowEmpty',
      });
    }
    await fsp.rename(partSpool, finalSpool);
    if (digester) await opts.personDigests!.record(digester.finish());

    const base = { rows: stats.rows, expected, bytes, sha256 };
    const sent = await deliverOrHold(
      { integration, runId: ctx.runId, logger, signal, dryRun: opts.dryRun, previousDelivery: opts.previousDelivery, beforeDeliver: opts.beforeDeliver, openDestination: opts.openDestination },
      { files: [{ localPath: finalSpool, remotePath, bytes }], set: false, recordedPath: remotePath, rows: stats.rows },
    );
    if (sent.kind !== 'delivered') {
      kept = true;
      return { ...base, remotePath: null, target: null, spoolPath: finalSpool, ...(sent.kind === 'held' ? { held: sent.held } : {}) };
    }
    kept = opts.keepSpool;
    return { ...base, remotePath: sent.remotePath, target: sent.target, spoolPath: kept ? finalSpool : null };
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
    await fsp.rm(partSpool, { force: true });
    if (!kept) await fsp.rm(finalSpool, { force: true });
  }
}

export async function openSpool(file: string, integrationId: string): Promise<Writable> {
  try {
    // 'wx' + 0600: never reuse a file, never world-readable, even for an instant.
    const handle = await fsp.open(file, 'wx', 0o600);
    return handle.createWriteStream({ highWaterMark: 1 << 20 });
  } catch (err) {
    throw new FerryError('spool', `integration ${integrationId}: cannot create spool file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, {
      integration: integrationId,
      field: 'dataDir',
      cause: err,
    });
  }
}

async function* prefixed(prefix: string, body: AsyncIterable<Buffer>): AsyncGenerator<string | Buffer> {
  if (prefix) yield prefix;
  yield* body;
}

/** Reads the person key column out of the file being written; none when the extract names no key or the file lacks it. */
function keyDigester(integration: Integration, hasher: PersonHasher, logger: Logger): ReturnType<typeof createKeyDigester> | undefined {
  const keyColumn = integration.extract.personKey;
  if (!keyColumn) return undefined;
  const columnIndex = integration.extract.columns.findIndex((c) => c.name === keyColumn);
  if (columnIndex < 0) {
    logger.warn('person digests not kept: the person key column is not in the file (fields: leaves it out)', { personKey: keyColumn });
    return undefined;
  }
  return createKeyDigester({ hasher, keyColumn, columnIndex, format: integration.format });
}

/** Declared columns the integration does not ship (its `fields:` allowlist leaves them out). */
export function withheldNames(integration: Pick<Integration, 'withheld'>): string[] {
  return integration.withheld.map((c) => c.name);
}

/** The query a source runs for this integration: SQL or an API request, with the bound parameter values. */
export function queryOf(integration: Integration, params: ResolvedParams): BoundQuery {
  const { extract } = integration;
  return { text: extract.sql, values: params.binds, request: extract.request, columns: extract.columns };
}

/** API extracts map declared columns onto record paths, so a column empty in every row is checked (column-presence.ts). */
export function isApiSource(integration: Pick<Integration, 'source'>): boolean {
  return API_SOURCE_KINDS.includes(integration.source.kind);
}
