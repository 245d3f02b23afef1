#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError, formatProblem } from '../config/loader.js';
import { isFerryError } from '../core/errors.js';
import { DEFAULT_ZIP_LIMITS } from '../formats/oneroster/read-zip.js';
import { cmdList, cmdNext, cmdReload, cmdShow, cmdValidate } from './commands/config-commands.js';
import { cmdFields } from './commands/fields-commands.js';
import { cmdHistory, cmdLogs } from './commands/history-commands.js';
import { cmdRelease } from './commands/release-commands.js';
import { cmdReviewConfirm, cmdReviewDue, DEFAULT_REVIEW_WINDOW_DAYS } from './commands/review-commands.js';
import { cmdPreview, cmdRun } from './commands/run-commands.js';
import { cmdAgreements } from './commands/agreements-command.js';
import { cmdCheckFile } from './commands/check-file.js';
import { cmdAudit, cmdAuditVerify } from './commands/audit-commands.js';
import { cmdTestConnection } from './commands/source-commands.js';
import { cmdSetEnabled } from './commands/state-commands.js';
import { cmdWhy } from './commands/why-command.js';
import { cmdTrace } from './commands/trace-command.js';
import { cmdReport } from './commands/report-command.js';
import type { GlobalOptions, Io } from './context.js';

/** The admin CLI. Only this layer prints and picks exit codes: 0 ok, 1 a run failed, 2 usage or config error. */
export async function runCli(argv: string[], io: Io): Promise<number> {
  let code = 0;
  const program = new Command('ferry')
    .description('Ferry: run, schedule and audit school-data extracts delivered to district SFTP folders')
    .addOption(new Option('-c, --config <dir>', 'config folder').default(process.env.FERRY_CONFIG ?? 'config'))
    .option('-v, --verbose', 'show stack traces on errors')
    .option('--ticket <id>', 'the ticket behind this action, recorded in the audit log')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError('(run ferry --help for usage)');

  const g = (cmd: Command): GlobalOptions => cmd.optsWithGlobals() as GlobalOptions;
  const positiveInt = (v: string) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive whole number');
    return n;
  };
  const collect = (v: string, prev: string[]) => [...prev, v];
  // Binary units whichever way they are written (500MB = 500 MiB), as the refusals print them.
  const byteSize = (v: string) => {
    const m = /^(\d+(?:\.\d+)?)\s*(?:([KMG])i?B?)?$/i.exec(v.trim());
    const power = m?.[2] ? 'KMG'.indexOf(m[2].toUpperCase()) + 1 : 0;
    const n = m ? Math.floor(Number(m[1]) * 1024 ** power) : NaN;
    if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a size such as 500MB or 4GB (or a number of bytes)');
    return n;
  };

  program
    .command('reload')
    .description('check the config and, if valid, make the running daemons on this host load it (SIGHUP)')
    .action(async (_o, cmd: Command) => {
      code = await cmdReload(g(cmd), io);
    });
  program.command('validate').description('check the config, extracts and integrations; list every problem').action(async (_o, cmd: Command) => {
    code = await cmdValidate(g(cmd), io);
  });
  program.command('list').description('integrations with their next run and last status').option('--json', 'JSON output').action(async (o, cmd: Command) => {
    code = await cmdList({ ...g(cmd), ...o }, io);
  });
  program.command('show <id>').description('everything about one integration: what, where, when, why').option('--json', 'JSON output').action(async (id: string, o, cmd: Command) => {
    code = await cmdShow(id, { ...g(cmd), ...o }, io);
  });
  program
    .command('run <id>')
    .description('run an integration now, in the foreground')
    .option('-p, --param <name=value>', 'override a parameter (repeatable)', collect, [])
    .option('--dry-run', 'write the file locally and do not deliver it')
    .option('--bulk', 'OneRoster delta integrations: send a full bulk this time (it becomes the new baseline)')
    .option('--force', 'run even though it changes a parameter the config fixes, or the integration is disabled (needs --reason)')
    .option('-r, --reason <text>', 'with --force: why (recorded with the run)')
    .action(async (id: string, o, cmd: Command) => {
      code = await cmdRun(id, { ...g(cmd), ...o }, io);
    });
  program
    .command('preview <id>')
    .description('print the first rows as they would be written (nothing delivered; who saw how many rows goes in the audit log)')
    .option('-n, --limit <n>', 'rows to show', positiveInt, 10)
    .option('-p, --param <name=value>', 'override a parameter (repeatable)', collect, [])
    .option('-f, --file <name>', 'bundles: only this file (e.g. users.csv); default every file')
    .action(async (id: string, o, cmd: Command) => {
      code = await cmdPreview(id, { ...g(cmd), ...o }, io);
    });
  program
    .command('history [id]')
    .description('recorded runs, newest first')
    .option('--json', 'JSON output')
    .option('-n, --limit <n>', 'how many runs', positiveInt, 20)
    .action(async (id: string | undefined, o, cmd: Command) => {
      code = await cmdHistory(id, { ...g(cmd), ...o }, io);
    });
  program
    .command('release <run-id>')
    .description('deliver a run the roster safety gate held (recorded with who released it)')
    .option('--force', 'release even though the integration is disabled or a newer delivery exists (needs --reason)')
    .option('-r, --reason <text>', 'with --force: why (recorded with the run)')
    .action(async (id: string, o, cmd: Command) => {
      code = await cmdRelease(id, { ...g(cmd), ...o }, io);
    });
  program
    .command('fields [id]')
    .description('exactly which fields each vendor receives (one integration, or all grouped by vendor)')
    .option('--json', 'JSON output')
    .action(async (id: string | undefined, o, cmd: Command) => {
      code = await cmdFields(id, { ...g(cmd), ...o }, io);
    });
  program
    .command('agreements')
    .description("every district's agreements with vendors: state (active, expiring, expired, unused) and the integrations using each")
    .option('--district <id>', 'one district only')
    .option('--json', 'JSON output')
    .action(async (o, cmd: Command) => {
      code = await cmdAgreements({ ...g(cmd), ...o }, io);
    });
  program.command('logs <run-id>').description("a run's log lines").option('--json', 'JSON output').action(async (id: string, o, cmd: Command) => {
    code = await cmdLogs(id, { ...g(cmd), ...o }, io);
  });
  program
    .command('enable <id>')
    .description('enable an integration (recorded with who)')
    .option('-r, --reason <text>', 'why it is enabled (recorded in the audit log)')
    .action(async (id: string, o, cmd: Command) => {
      code = await cmdSetEnabled(id, true, { ...g(cmd), ...o }, io);
    });
  program
    .command('disable <id>')
    .description('disable an integration (recorded with who and why)')
    .requiredOption('-r, --reason <text>', 'why it is disabled')
    .action(async (id: string, o, cmd: Command) => {
      code = await cmdSetEnabled(id, false, { ...g(cmd), ...o }, io);
    });
  const review = program.command('review').description("the yearly review of each integration with its district (the summer clean-up)");
  review
    .command('due')
    .description('integrations whose review is overdue or due soon, with their last delivery')
    .option('-d, --district <id>', 'one district only')
    .option('--days <n>', 'also list reviews due within this many days, and say whether anything was delivered in as many days', positiveInt, DEFAULT_REVIEW_WINDOW_DAYS)
    .option('--json', 'JSON output')
    .action(async (o, cmd: Command) => {
      code = await cmdReviewDue({ ...g(cmd), ...o }, io);
    });
  review
    .command('confirm <id>')
    .description('record that the integration was reviewed with its district and is still needed (recorded with who)')
    .requiredOption('--note <text>', 'what was agreed with the district')
    .option('--ticket <ticket>', 'the ticket the review is filed under')
    .action(async (id: string, o, cmd: Command) => {
      code = await cmdReviewConfirm(id, { ...g(cmd), ...o }, io);
    });
  program
    .command('next <id>')
    .description('the next fire times of an integration')
    .option('-n, --count <n>', 'how many', positiveInt, 5)
    .action(async (id: string, o, cmd: Command) => {
      code = await cmdNext(id, { ...g(cmd), ...o }, io);
    });

  program
    .command('why <id>')
    .description('in plain sentences: last and next slots, what was missed and why, what is running, blackouts, enabled')
    .option('--json', 'JSON output')
    .action(async (id: string, o, cmd: Command) => {
      code = await cmdWhy(id, { ...g(cmd), ...o }, io);
    });

  program
    .command('trace <id> <person-key>')
    .description('is this student in the source today, past the filters, and in which recent deliveries (person digests)')
    .option('--runs <n>', 'how many recent deliveries to look in', (v) => Number(v), 20)
    .option('--json', 'JSON output')
    .action(async (id: string, key: string, o, cmd: Command) => {
      code = await cmdTrace(id, key, { ...g(cmd), ...o }, io);
    });

  program
    .command('report <kind>')
    .description('inventory | data-flows | exposure --vendor V --since DATE [--until DATE] | supplemental --district D --vendor V, as md (default), csv, json or html')
    .option('--district <id>', 'one district only')
    .option('--vendor <name>', 'exposure, supplemental: the vendor')
    .option('--since <date>', 'exposure: start of the window (YYYY-MM-DD, UTC, or an ISO timestamp)')
    .option('--until <date>', 'exposure: end of the window, that day included (default: now)')
    .option('--format <format>', 'md, csv, json or html', 'md')
    .option('--out <file>', 'write the report to this file instead of stdout')
    .action(async (kind: string, o, cmd: Command) => {
      code = await cmdReport(kind, { ...g(cmd), ...o }, io);
    });

  program
    .command('test-connection <source-or-integration>')
    .description('reach a source and check its credentials without reading student data; for an integration, also warn about declared columns empty in its first rows')
    .option('--json', 'JSON output')
    .action(async (id: string, o, cmd: Command) => {
      code = await cmdTestConnection(id, { ...g(cmd), ...o }, io);
    });

  program
    .command('check-file <file>')
    .description('check a OneRoster 1.1 zip, one OneRoster CSV by its file name, a folder of Clever CSVs or one Clever CSV, without sending it anywhere')
    .option('--json', 'JSON output')
    .option('--max-unzipped-size <size>', 'refuse a zip that unpacks to more than this (e.g. 500MB, 4GB; 1GB = 1024³ bytes)', byteSize, DEFAULT_ZIP_LIMITS.maxTotalBytes)
    .option('--max-zip-entries <n>', 'refuse a zip with more entries than this', positiveInt, DEFAULT_ZIP_LIMITS.maxEntries)
    .option('--max-zip-ratio <n>', 'refuse a zip entry over 1 MiB that unpacks to more than this many times its packed size', positiveInt, DEFAULT_ZIP_LIMITS.maxRatio)
    .action(async (file: string, o: { json?: boolean; maxUnzippedSize: number; maxZipEntries: number; maxZipRatio: number }) => {
      code = await cmdCheckFile(file, { json: o.json, maxUnzippedBytes: o.maxUnzippedSize, maxZipEntries: o.maxZipEntries, maxZipRatio: o.maxZipRatio }, io);
    });

  const audit = program
    .command('audit')
    .description('who changed or sent what, when and why (the audit log, oldest first)')
    .option('-i, --integration <id>', 'only entries about this integration')
    .option('-d, --district <id>', 'only entries about this district')
    .option('-s, --since <when>', 'only entries since a date (2026-12-01), a time, or an age (7d, 12h)')
    .option('--json', 'JSON output')
    .action(async (o, cmd: Command) => {
      code = await cmdAudit({ ...g(cmd), ...o }, io);
    });
  audit
    .command('verify')
    .description('check that no audit entry was changed or removed after it was written (exit 1 names the first broken one)')
    .action(async (_o, cmd: Command) => {
      code = await cmdAuditVerify(g(cmd), io);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    const verbose = argv.includes('--verbose') || argv.includes('-v');
    if (err instanceof ConfigError) {
      io.err(`ferry: the configuration has ${err.problems.length} problem${err.problems.length === 1 ? '' : 's'}:\n`);
      for (const p of err.problems) io.err(`  ${formatProblem(p)}\n`);
      return 2;
    }
    io.err(`ferry: ${err instanceof Error ? err.message : String(err)}\n`);
    if (verbose && err instanceof Error) io.err(`${err.stack}\n${err.cause instanceof Error ? `caused by: ${framesOnly(err.cause)}\n` : ''}`);
    return isFerryError(err) && (err.kind === 'config' || err.kind === 'params') ? 2 : 1;
  }
}

const isMain = process.argv[1] && import.meta.url === (await import('node:url')).pathToFileURL((await import('node:fs')).realpathSync(process.argv[1])).href;
if (isMain) {
  process.umask(0o077);
  const io: Io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t), isTty: Boolean(process.stderr.isTTY) };
  runCli(process.argv.slice(2), io).then((code) => {
    process.exitCode = code;
  });
}

/** A cause's name, code and stack frames, without its message: a driver's text may quote student data (see debugLog). */
function framesOnly(err: Error): string {
  const code = (err as { code?: unknown }).code;
  const frames = (err.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l));
  return [`${err.name}${typeof code === 'string' ? ` (${code})` : ''}; its text is kept only in the driver debug log (debugLog: true)`, ...frames].join('\n');
}
