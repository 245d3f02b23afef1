/**
 * `npm run bench`: Ferry against what a user would otherwise script (psql \copy + OpenSSH sftp), in the same run on
 * the same machine, against a throwaway PostgreSQL and a real sshd. Prints medians, ratios and peak RSS and the line
 * `e2e_ratio=<x.xx> peak_rss_mb=<n>`; then the scheduling benchmark (scheduling.ts) ends with
 * `sched_overhead_ms_p50=<x>` and `idle_cpu_pct=<x>`. BENCH_ROWS overrides the row count (default 1,000,000).
 * Timing lives only here, never in the tests.
 */
import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sftpDestinationSchema } from '../src/config/schema.js';
import { createSftpDestination } from '../src/delivery/sftp-destination.js';
import { startPostgres, type PostgresServer } from '../test/helpers/postgres.js';
import { openSshSftpPut, startSshd, type SshdServer } from '../test/helpers/sshd.js';
import { ferryStages, killActiveChildren, mb, median, runChild, table, timed, type FerryStages } from './measure.js';
import { printScheduling, runSchedulingBench } from './scheduling.js';
import { printDigests, runDigestBench } from './digests.js';
import { createBenchTable, selectSql, writeFerryConfig, type BenchConfig } from './setup.js';

const N = Number(process.env.BENCH_ROWS ?? 1_000_000);
const REPS = 3;
const UPLOAD_MB = 100;
const CLI = join(dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');

const progress = (msg: string) => console.error(`[bench] ${msg}`);
const fmt = (s: number) => s.toFixed(2);
const ratio = (a: number, b: number) => (a / b).toFixed(2);

interface FerryRun {
  seconds: number;
  rssKb: number;
  bytes: number;
  stages: FerryStages | undefined;
}

interface BaselineRun {
  copy: number;
  put: number;
  total: number;
  bytes: number;
}

function findPsql(): string {
  try {
    const bin = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    accessSync(join(bin, 'psql'), constants.X_OK);
    return join(bin, 'psql');
  } catch {
    return 'psql'; // from PATH
  }
}

async function ferryRun(cfg: BenchConfig, id: string, remote: string, expectRows: number, password: string): Promise<FerryRun> {
  const r = await runChild(process.execPath, [CLI, 'run', id, '--config', cfg.dir], { env: { ...process.env, BENCH_PG_PASSWORD: password } });
  if (r.code !== 0) throw new Error(`ferry run ${id} exited ${r.code ?? r.signal}:\n${r.stdout}${r.stderr}`);
  const m = /run (\d+) succeeded: (\d+) rows, (\d+) bytes/.exec(r.stdout);
  if (!m) throw new Error(`ferry run ${id}: no success line in its output:\n${r.stdout}`);
  const [runId, rows, bytes] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (rows !== expectRows) throw new Error(`ferry run ${id}: ${rows} rows, expected ${expectRows}`);
  const size = statSync(remote).size;
  if (size !== bytes) throw new Error(`ferry run ${id}: delivered ${remote} has ${size} bytes, the run reported ${bytes}`);
  const stages = ferryStages(readFileSync(cfg.logFile, 'utf8'), runId, r.startedAt, r.seconds);
  return { seconds: r.seconds, rssKb: r.peakRssKb, bytes, stages };
}

async function baselineRun(psql: string, pgUrl: string, password: string, sql: string, localFile: string, sshd: SshdServer, remote: string, expectRows: number): Promise<BaselineRun> {
  await rm(localFile, { force: true });
  const copy = await runChild(psql, ['-X', '-v', 'ON_ERROR_STOP=1', pgUrl, '-c', `\\copy (${sql}) TO '${localFile}' WITH (FORMAT csv, HEADER)`], {
    env: { ...process.env, PGPASSWORD: password, PGTZ: 'UTC' },
  });
  if (copy.code !== 0) throw new Error(`psql exited ${copy.code ?? copy.signal}: ${copy.stderr.trim()}`);
  const rows = Number(/COPY (\d+)/.exec(copy.stdout)?.[1]);
  if (rows !== expectRows) throw new Error(`psql \\copy wrote ${rows} rows, expected ${expectRows}`);
  const put = await timed(() => openSshSftpPut(sshd, localFile, remote));
  const bytes = statSync(localFile).size;
  if (statSync(remote).size !== bytes) throw new Error(`sftp put: ${remote} has ${statSync(remote).size} bytes, expected ${bytes}`);
  return { copy: copy.seconds, put: put.seconds, total: copy.seconds + put.seconds, bytes };
}

async function uploadComparison(root: string, sshd: SshdServer, configDir: string): Promise<{ ferry: number[]; openssh: number[] }> {
  const file = join(root, `upload-${UPLOAD_MB}mb.bin`);
  await writeFile(file, randomFillSync(Buffer.allocUnsafe(UPLOAD_MB << 20)));
  const bytes = statSync(file).size;
  await mkdir(join(sshd.homeDir, 'upload'), { recursive: true });
  const config = {
    ...sftpDestinationSchema.parse({
      kind: 'sftp',
      host: sshd.host,
      port: sshd.port,
      username: sshd.user,
      privateKey: { file: sshd.privateKeyPath },
      hostKeySha256: sshd.hostKeyFingerprint,
      basePath: sshd.homeDir,
    }),
    id: 'bench-sftp',
  };
  const dest = createSftpDestination(config, { configDir, integration: 'bench-upload' });
  const ferry: number[] = [];
  const openssh: number[] = [];
  for (let rep = 1; rep <= REPS; rep++) {
    const f = await timed(() => dest.deliver({ localPath: file, remotePath: join(sshd.homeDir, 'upload/ferry.bin'), bytes, runId: `bench-${rep}` }));
    const o = await timed(() => openSshSftpPut(sshd, file, join(sshd.homeDir, 'upload/openssh.bin')));
    if (statSync(join(sshd.homeDir, 'upload/openssh.bin')).size !== bytes) throw new Error('openssh upload: wrong size');
    progress(`upload rep ${rep}: ferry deliver() ${fmt(f.seconds)} s, openssh sftp ${fmt(o.seconds)} s`);
    ferry.push(f.seconds);
    openssh.push(o.seconds);
  }
  await rm(file, { force: true });
  return { ferry, openssh };
}

async function main(): Promise<void> {
  if (!Number.isSafeInteger(N) || N < 4) throw new Error(`BENCH_ROWS must be a whole number >= 4 (got ${process.env.BENCH_ROWS})`);
  const cleanups: (() => Promise<unknown>)[] = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      for (const c of cleanups.reverse()) await c().catch((e: unknown) => progress(`cleanup: ${String(e)}`));
    })());
  const onSignal = (sig: NodeJS.Signals) => {
    progress(`${sig}: stopping children, PostgreSQL and sshd`);
    killActiveChildren();
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const root = await mkdtemp(join(tmpdir(), 'ferry-bench-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    progress(`starting PostgreSQL and sshd`);
    const started = await Promise.allSettled([
      startPostgres().then((s) => (cleanups.push(() => s.stop()), s)),
      startSshd().then((s) => (cleanups.push(() => s.stop()), s)),
    ]);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    const pgServer = (started[0] as PromiseFulfilledResult<PostgresServer>).value;
    const sshd = (started[1] as PromiseFulfilledResult<SshdServer>).value;

    progress(`building ${N.toLocaleString('en-US')} rows`);
    const load = await timed(() => createBenchTable(pgServer.url, N));
    progress(`table built in ${fmt(load.seconds)} s`);
    const dbUrl = new URL(load.value);
    dbUrl.password = '';
    const psql = findPsql();
    const cfg = await writeFerryConfig(root, load.value, sshd, N);
    await mkdir(join(sshd.homeDir, 'bench'), { recursive: true });
    const copyFile = join(root, 'psql-students.csv');
    const quarterRows = Math.floor(N / 4);
    const pw = pgServer.password;

    progress('warm-up (run store migrations, page cache): one quarter-size run of each side');
    await ferryRun(cfg, cfg.quarter, cfg.quarterRemote, quarterRows, pw);
    await baselineRun(psql, dbUrl.toString(), pw, selectSql(N / 4), copyFile, sshd, join(sshd.homeDir, 'bench/students-quarter-psql.csv'), quarterRows);

    const ferry: FerryRun[] = [];
    const base: BaselineRun[] = [];
    for (let rep = 1; rep <= REPS; rep++) {
      const f = await ferryRun(cfg, cfg.full, cfg.fullRemote, N, pw);
      const b = await baselineRun(psql, dbUrl.toString(), pw, selectSql(), copyFile, sshd, join(sshd.homeDir, 'bench/students-psql.csv'), N);
      progress(`rep ${rep}: ferry ${fmt(f.seconds)} s (${mb(f.rssKb).toFixed(0)} MB), psql+sftp ${fmt(b.total)} s`);
      ferry.push(f);
      base.push(b);
    }
    const quarter = await ferryRun(cfg, cfg.quarter, cfg.quarterRemote, quarterRows, pw);
    progress(`quarter run: ${fmt(quarter.seconds)} s, ${mb(quarter.rssKb).toFixed(0)} MB`);

    progress(`upload comparison: ${UPLOAD_MB} MB random file`);
    const up = await uploadComparison(root, sshd, cfg.dir);

    const ferryMed = median(ferry.map((f) => f.seconds));
    const baseMed = median(base.map((b) => b.total));
    const peakKb = Math.max(...ferry.map((f) => f.rssKb));
    const stage = (k: keyof FerryStages) => ferry.map((f) => f.stages?.[k] ?? NaN);
    const row = (label: string, xs: number[]) => [label, ...xs.map(fmt), fmt(median(xs))];
    const reps = Array.from({ length: REPS }, (_, i) => `rep${i + 1}`);

    console.log('');
    console.log(`Ferry vs psql \\copy + OpenSSH sftp: ${N.toLocaleString('en-US')} rows, ${REPS} reps (alternating), node ${process.version}, ${cpus().length} CPUs`);
    console.log(table(['seconds', ...reps, 'median'], [
      row('ferry run (total)', ferry.map((f) => f.seconds)),
      row('  startup (spawn → extract started)', stage('startup')),
      row('  extract (query+CSV+hash+spool)', stage('extract')),
      row('  deliver (sftp fastPut+rename)', stage('deliver')),
      row('  finish (record run, exit)', stage('finish')),
      row('psql \\copy + sftp (total)', base.map((b) => b.total)),
      row('  psql \\copy', base.map((b) => b.copy)),
      row('  openssh sftp put', base.map((b) => b.put)),
    ]));
    console.log(`ratio ferry / baseline (medians): ${ratio(ferryMed, baseMed)}`);
    console.log(`ferry peak RSS: ${ferry.map((f) => mb(f.rssKb).toFixed(0)).join(', ')} MB (max ${mb(peakKb).toFixed(0)} MB)`);
    console.log(`delivered bytes: ferry ${ferry[0]!.bytes.toLocaleString('en-US')}, psql ${base[0]!.bytes.toLocaleString('en-US')} (Ferry writes ISO timestamps and true/false; psql writes +00 offsets and t/f)`);
    console.log(`memory vs rows: peak RSS ${mb(quarter.rssKb).toFixed(0)} MB at ${quarterRows.toLocaleString('en-US')} rows, ${mb(peakKb).toFixed(0)} MB at ${N.toLocaleString('en-US')} rows`);
    console.log(`upload ${UPLOAD_MB} MB: ferry deliver() ${up.ferry.map(fmt).join(', ')} s (median ${fmt(median(up.ferry))}); openssh sftp ${up.openssh.map(fmt).join(', ')} s (median ${fmt(median(up.openssh))})`);
    console.log(`sftp_ratio=${ratio(median(up.ferry), median(up.openssh))}`);
    console.log(`e2e_ratio=${ratio(ferryMed, baseMed)} peak_rss_mb=${Math.round(mb(peakKb))}`);

    progress('scheduling: 2,000 integrations due in one minute, then an idle daemon');
    printScheduling(await runSchedulingBench());

    progress(`person digests: ${N.toLocaleString('en-US')}-row file without and with digests`);
    printDigests(await runDigestBench(N));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
