import { createSource } from '../../../connectors/index.js';
import type { Integration } from '../../config/model.js';
import { resolveIntegrationParams } from '../../config/params.js';
import { FerryError } from '../../core/errors.js';
import type { RowBatch } from '../../core/source.js';
import { startDemoSftp } from '../../demo/bootstrap.js';
import type { EmbeddedSftpServer } from '../../demo/sftp-server.js';
import { encodeCsv } from '../../formats/csv.js';
import { CLEVER_CSV, ONEROSTER_CSV } from '../../pipeline/execute-bundle.js';
import { isApiSource, queryOf, withheldNames } from '../../pipeline/execute-run.js';
import { emptyColumnsWarning, watchStream } from '../../pipeline/column-presence.js';
import { blackoutNow } from '../../config/blackouts.js';
import type { Runtime } from '../../runtime/runtime.js';
import { currentUser, findIntegration, forcedIo, parseForce, parseParamPairs, withRuntime, type GlobalOptions, type Io } from '../context.js';
import { formatBytes } from '../output.js';
import { runScopeChanges } from '../scope.js';
import { configDigest } from '../../governance/config-digest.js';

export interface RunCommandOptions extends GlobalOptions {
  param: string[];
  dryRun?: boolean;
  bulk?: boolean;
  force?: boolean;
  reason?: string;
}

/**
 * `ferry run <id>`: run now, in the foreground, recorded as a manual run by the current user.
 * A run outside what the config fixes (a fixed parameter changed, a disabled integration) is refused unless
 * `--force --reason`; a forced run is recorded with what it overrode and why, and every line it prints says so.
 * Exit 0 when it succeeded, 1 when it failed or was skipped, 2 for a bad parameter or a refusal.
 */
export async function cmdRun(id: string, opts: RunCommandOptions, baseIo: Io): Promise<number> {
  const overrides = parseParamPairs(opts.param);
  const forceReason = parseForce(opts);
  return withRuntime(opts, async (rt) => {
    const integration = findIntegration(rt, id);
    if (opts.bulk && integration.bundle?.mode !== 'delta') {
      throw new FerryError('params', `integration ${id} is not a OneRoster delta integration; --bulk applies only to those (bundle mode: delta)`, { integration: id, field: 'bulk' });
    }
    // A dry run sends nothing to anyone, so it may try any scope without force.
    const changes = opts.dryRun ? [] : await runScopeChanges(rt, integration, overrides);
    const by = currentUser();
    if (changes.length > 0 && forceReason === undefined) {
      rt.logger.warn('run refused: it changes the scope the config fixes', { integration: id, by, changes });
      throw new FerryError('params', `integration ${id} was not run: ${changes.join(', and ')}; run it only with --force --reason "…" (a dry run needs neither)`, {
        integration: id,
        field: Object.keys(overrides).length ? 'param' : 'enabled',
      });
    }
    const forced = changes.length > 0 && forceReason !== undefined ? { scope: changes.join(', and '), reason: forceReason } : undefined;
    if (forceReason !== undefined && !forced) baseIo.err(`ferry: note: --force is not needed: ${opts.dryRun ? 'a dry run' : `this run of ${id}`} changes nothing the config fixes, so it is not recorded as forced\n`);
    const io = forced ? forcedIo(baseIo, 'run', forced.reason) : baseIo;
    if (forced) {
      rt.logger.warn('forced run', { integration: id, by, forced: forced.scope, reason: forced.reason });
      io.err(`ferry: warning: ${id} runs forced by ${by}: ${forced.scope}\n`);
    }
    // Recorded before anything is read or sent: when the audit log cannot take it, nothing runs.
    await rt.audit.append({
      who: by,
      action: opts.dryRun ? 'dry-run' : 'run',
      integration: id,
      district: integration.district.id,
      what: `asked to run ${id}${opts.dryRun ? ' as a dry run (nothing delivered)' : ''}${opts.bulk ? ' as a full bulk' : ''}${forced ? ` forced: ${forced.scope}` : ''}`,
      why: forced?.reason ?? null,
      ticket: opts.ticket ?? null,
      details: { overrides, dryRun: opts.dryRun ?? false, bulk: opts.bulk ?? false, forced: forced?.scope ?? null },
      configDigest: configDigest(rt.config),
    });
    const blackout = blackoutNow(integration, rt.clock.now());
    if (blackout) io.err(`ferry: warning: ${id} is in a blackout from ${blackout.from} to ${blackout.to} (${blackout.reason}); running it anyway because you asked\n`);
    // Like a daemon at start: receipts in, runs a dead process left behind (a killed `ferry run` too) interrupted once
    // their lease lapsed, leftover spool files removed. A run still going elsewhere holds a live lease and is untouched.
    await rt.runs.recover();
    const demo = await startDemoSftpIfNeeded(rt, integration);
    const controller = new AbortController();
    const onSignal = () => controller.abort(new Error('stopped from the keyboard'));
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      const progress = baseIo.isTty ? (rows: number) => baseIo.err(`\r${id}: ${rows.toLocaleString('en-US')} rows`) : undefined;
      const report = await rt.runs.run(integration, {
        trigger: 'manual',
        requestedBy: by,
        ...(forced ? { forced } : {}),
        overrides,
        dryRun: opts.dryRun ?? false,
        forceBulk: opts.bulk ?? false,
        signal: controller.signal,
        ...(progress ? { onProgress: progress } : {}),
      });
      if (baseIo.isTty) baseIo.err('\n');
      const r = report.run;
      if (r.status === 'succeeded') {
        const where = report.spoolPath ? `written to ${report.spoolPath} (dry run: not delivered)` : `delivered to ${r.target}${r.remotePath}`;
        const what = r.bundleMode ? `a OneRoster ${r.bundleMode}, ` : r.files && !r.bundleMode ? `${r.files.length} files, ` : '';
        io.out(`run ${r.id} succeeded: ${what}${r.rows} rows, ${r.bytes} bytes (${formatBytes(r.bytes)}), sha256 ${r.sha256}, ${where}\n`);
        return 0;
      }
      if (r.status === 'held') {
        // Nothing went to the vendor, so this is not a success; the file waits for `ferry release`.
        io.err(`ferry: run ${r.id} of ${id} ${r.holdReason}\n`);
        return 1;
      }
      io.err(`ferry: run ${r.id} ${r.status}: ${report.error?.message ?? r.error}\n`);
      return report.error?.kind === 'params' ? 2 : 1;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await demo?.close();
    }
  });
}

/**
 * The demo's SFTP server normally lives in the daemon. When the daemon is not running, `ferry run` starts it for the
 * length of the run so the demo works from the CLI alone; when the port is taken, the daemon is serving it.
 */
export async function startDemoSftpIfNeeded(rt: Runtime, integration: Integration): Promise<EmbeddedSftpServer | undefined> {
  const demo = rt.config.demo;
  if (!demo || integration.destination.kind !== 'sftp' || integration.destination.port !== demo.sftp.port) return undefined;
  try {
    return await startDemoSftp(demo);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') return undefined;
    throw err;
  }
}

/** `ferry preview <id> [--limit N]`: the first rows exactly as they would be written, without recording a run or delivering. */
export async function cmdPreview(id: string, opts: GlobalOptions & { param: string[]; limit: number; file?: string }, io: Io): Promise<number> {
  const overrides = parseParamPairs(opts.param);
  if (!Number.isSafeInteger(opts.limit) || opts.limit < 1) throw new FerryError('params', '--limit must be a positive whole number', { field: 'limit' });
  return withRuntime(opts, async (rt) => {
    const i = findIntegration(rt, id);
    const params = resolveIntegrationParams(i, { ...i.params, ...overrides }, rt.clock.now(), i.schedule.timezone);
    // A bundle previews each of its files (or the one asked for), written by its format's rules; a single extract its one file.
    const parts = i.bundle
      ? i.bundle.files
          .filter((f) => opts.file === undefined || f.name === opts.file)
          .map((f) => ({ label: `${f.name} (extract ${f.extract.name})`, query: queryOf({ ...i, extract: f.extract }, params.members?.get(f.extract.name) ?? params), columns: f.extract.columns, extract: f.extract, format: i.bundle!.format === 'clever' ? CLEVER_CSV : ONEROSTER_CSV, withheld: [] as string[] }))
      : [{ label: '', query: queryOf(i, params), columns: i.extract.columns, extract: i.extract, format: i.format, withheld: withheldNames(i) }];
    if (opts.file !== undefined && (!i.bundle || parts.length === 0)) {
      const names = i.bundle ? i.bundle.files.map((f) => f.name).join(', ') : 'none: it is not a bundle';
      throw new FerryError('params', `integration ${i.id} has no file ${opts.file} (files: ${names})`, { integration: i.id, field: 'file' });
    }
    const source = createSource(i.source, { configDir: rt.config.dir, integration: i.id });
    const controller = new AbortController();
    // Student rows reach the screen only once the audit log has recorded who saw how many of them.
    const screen: string[] = [];
    const out = (text: string) => screen.push(text);
    let shown = 0;
    const warnings: string[] = [];
    try {
      for (const [n, part] of parts.entries()) {
        if (part.label) out(`${n > 0 ? '\n' : ''}==> ${part.label} <==\n`);
        const stats = { rows: 0 };
        const watched = watchStream(part.columns);
        const limited = watched.watch(limitRows(source.stream(part.query, { signal: controller.signal, batchSize: Math.min(opts.limit, 1000) }), opts.limit));
        for await (const chunk of encodeCsv(limited, part.columns, { ...part.format, bom: false, lineEnding: 'lf' }, i.id, stats, part.withheld)) out(chunk);
        shown += stats.rows;
        const empty = isApiSource(i) ? watched.emptyColumns() : [];
        if (empty.length > 0) warnings.push(emptyColumnsWarning(i.id, part.extract, empty, watched.rows));
      }
    } finally {
      controller.abort();
      await source.close();
    }
    await rt.audit.append({
      who: currentUser(),
      action: 'preview',
      integration: i.id,
      district: i.district.id,
      what: `previewed ${shown} row${shown === 1 ? '' : 's'} of ${i.id}${parts.length > 1 ? ` from ${parts.length} files` : ''}`,
      ticket: opts.ticket ?? null,
      details: { rows: shown, files: parts.map((p) => p.label || i.extract.name), limit: opts.limit, overrides },
      configDigest: configDigest(rt.config),
    });
    for (const text of screen) io.out(text);
    rt.logger.info('preview shown', { integration: i.id, rows: shown, files: parts.length, by: currentUser() });
    const perFile = parts.length > 1 ? ` from ${parts.length} files, up to ${opts.limit} each` : '';
    for (const w of warnings) io.err(`${w}\n`);
    io.err(`(${shown} row${shown === 1 ? '' : 's'} shown${perFile}; nothing delivered; recorded in the audit log)\n`);
    return 0;
  });
}

async function* limitRows(batches: AsyncIterable<RowBatch>, limit: number): AsyncGenerator<RowBatch> {
  let left = limit;
  for await (const b of batches) {
    const rows = b.rows.length > left ? b.rows.slice(0, left) : b.rows;
    left -= rows.length;
    yield { columns: b.columns, rows };
    if (left <= 0) return;
  }
}
