/**
 * The scheduling benchmark (issue 5): 2,000 integrations due in the same minute, a concurrency cap of 8, a one-row
 * SQLite extract delivered to a local folder, the SQLite run store. A manual clock makes the minute come; one tick
 * starts every slot. Each run reports where its time went (`RunOutcomeReport.timings`): waiting for the cap, the
 * extract and delivery, and the rest — claiming the slot, recording the run, its logs, the scheduling glue — which is
 * Ferry's overhead. Then a real daemon with a few daily integrations sits idle and its CPU use is sampled.
 * Prints `sched_overhead_ms_p50=<x>` and `idle_cpu_pct=<x>`. Run alone: `node dist/bench/scheduling.js`.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import readline from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import YAML from 'yaml';
import { createManualClock } from '../src/core/clock.js';
import { ensureDemoSis } from '../src/demo/demo-sis.js';
import type { RunTimings } from '../src/runs/lifecycle.js';
import { openRuntime } from '../src/runtime/runtime.js';

const INTEGRATIONS = Number(process.env.BENCH_SCHED_INTEGRATIONS ?? 2000);
const CAP = 8;
const ALONE = 200;
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 10);
const TZ = 'America/New_York';
/** 03:30 in New York on a November day (UTC−5): the minute every integration is due. */
const SLOT = new Date('2026-11-24T08:30:00Z');
const DAEMON = join(dirname(fileURLToPath(import.meta.url)), '../src/daemon/main.js');

const progress = (msg: string) => console.error(`[bench] ${msg}`);

export interface SchedulingResult {
  runs: number;
  overheadP50: number;
  overheadP95: number;
  /** Part of the overhead: from the run's start to its slot claim recorded, queued behind the minute's other claims. */
  claimP50: number;
  /** The same runs one at a time: the overhead with no other run's store work queued ahead of it. */
  aloneP50: number;
  aloneP95: number;
  executeP50: number;
  waitP50: number;
  tickMsPerSlot: number;
  wallMsPerRun: number;
  idleCpuPct: number;
}

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN;
}

/** A config folder: `count` integrations of a one-row extract on `cron`, in districts of 100, SQLite store. */
async function writeConfig(root: string, count: number, cron: string): Promise<string> {
  const dir = join(root, 'config');
  const extracts = join(root, 'extracts', 'sqlite', 'one-row');
  await mkdir(join(dir, 'integrations'), { recursive: true });
  await mkdir(extracts, { recursive: true });
  await writeFile(
    join(extracts, 'extract.yaml'),
    'name: one-row\ndescription: One row naming the district.\nsource: sqlite\nparams:\n  districtId: { type: string, required: true }\ncolumns:\n  - { name: id, type: string, element: "Not personal data/school or district information" }\n',
  );
  await writeFile(join(extracts, 'query.sql'), 'SELECT :districtId AS id\n');
  const sis = join(root, 'sis.sqlite');
  ensureDemoSis(sis);
  await writeFile(
    join(dir, 'ferry.yaml'),
    YAML.stringify({
      dataDir: '../var',
      extractsDir: join(root, 'extracts'),
      concurrency: { global: CAP, perSource: CAP },
      http: false,
      sources: { sis: { kind: 'sqlite', path: sis } },
      destinations: { drop: { kind: 'local', basePath: join(root, 'drop') } },
    }),
  );
  for (let d = 0; d * 100 < count; d++) {
    const district = `district-${String(d + 1).padStart(3, '0')}`;
    const integrations = Array.from({ length: Math.min(100, count - d * 100) }, (_, i) => ({
      id: `${district}-feed-${String(i + 1).padStart(3, '0')}`,
      extract: 'one-row',
      source: 'sis',
      destination: 'drop',
      remotePath: '{district}/{integration}.csv',
      schedule: { cron, timezone: TZ },
      params: { districtId: district },
      safety: false,
      retry: false,
      inventory: { vendor: 'Bench', contact: 'ops', purpose: 'scheduling benchmark' },
    }));
    const agreements = [
      {
        id: `${district}-bench`,
        vendor: 'Bench',
        title: 'Scheduling benchmark',
        signed: '2026-01-01',
        expires: '2099-12-31',
        covers: ['Other'],
        purpose: 'Scheduling benchmark',
        supplementalUrl: 'https://example.org/bench/supplemental',
        dataAtEnd: { action: 'deleted', text: 'Deleted when the bench ends.' },
      },
    ];
    await writeFile(join(dir, 'integrations', `${district}.yaml`), YAML.stringify({ district: { id: district, name: `District ${d + 1}` }, agreements, integrations }));
  }
  return dir;
}

/** One tick starts every slot of the minute; each run's timings are collected. */
async function measureOverhead(root: string): Promise<Omit<SchedulingResult, 'idleCpuPct'>> {
  const configDir = await writeConfig(join(root, 'burst'), INTEGRATIONS, `${SLOT.getUTCMinutes()} 3 * * *`);
  const clock = createManualClock(new Date(SLOT.getTime() - 60_000));
  const runtime = await openRuntime({ configDir, clock });
  try {
    const timings: RunTimings[] = [];
    const failures: string[] = [];
    // The runner holds this same store object: time each slot claim (store round trip plus its queue).
    const claims: number[] = [];
    const claimRun = runtime.store.claimRun.bind(runtime.store);
    runtime.store.claimRun = async (input) => {
      const t = performance.now();
      try {
        return await claimRun(input);
      } finally {
        claims.push(performance.now() - t);
      }
    };
    // The daemon's own scheduler and run lifecycle (one composition root); each slot's report is looked at.
    const { scheduler, runs } = runtime;
    const claimSlot = runs.claimSlot.bind(runs);
    runs.claimSlot = async (integration, slot, note) => {
      const started = await claimSlot(integration, slot, note);
      void started.done.then((report) => {
        if (report.timings) timings.push(report.timings);
        if (report.run.status !== 'succeeded') failures.push(`${integration.id}: ${report.run.status} ${report.run.error ?? ''}`);
      });
      return started;
    };
    await scheduler.init();
    clock.set(new Date(SLOT.getTime() + 500));
    progress(`${INTEGRATIONS} integrations due at ${SLOT.toISOString()}, concurrency cap ${CAP}`);
    const t0 = performance.now();
    const tick = await scheduler.tick();
    const tickMs = performance.now() - t0;
    await tick.done;
    const wallMs = performance.now() - t0;
    if (tick.started !== INTEGRATIONS) throw new Error(`the tick started ${tick.started} slots, expected ${INTEGRATIONS}`);
    if (failures.length > 0) throw new Error(`${failures.length} runs did not succeed, e.g. ${failures.slice(0, 3).join('; ')}`);
    if (timings.length !== INTEGRATIONS) throw new Error(`${timings.length} runs reported timings, expected ${INTEGRATIONS}`);
    const overhead = timings.map((t) => t.overheadMs);

    // The same integrations one at a time, on the next day's slot: what each run costs when nothing is queued ahead.
    const alone: number[] = [];
    const next = new Date(SLOT.getTime() + 86_400_000);
    clock.set(new Date(next.getTime() + 500));
    for (const integration of [...runtime.config.integrations.values()].slice(0, ALONE)) {
      const report = await runtime.runs.run(integration, { trigger: 'schedule', requestedBy: 'scheduler', scheduledFor: next });
      if (report.run.status !== 'succeeded' || !report.timings) throw new Error(`${integration.id}: ${report.run.status} ${report.run.error ?? ''}`);
      alone.push(report.timings.overheadMs);
    }
    return {
      claimP50: quantile(claims.slice(0, INTEGRATIONS), 0.5),
      aloneP50: quantile(alone, 0.5),
      aloneP95: quantile(alone, 0.95),
      runs: timings.length,
      overheadP50: quantile(overhead, 0.5),
      overheadP95: quantile(overhead, 0.95),
      executeP50: quantile(timings.map((t) => t.executeMs), 0.5),
      waitP50: quantile(timings.map((t) => t.waitMs), 0.5),
      tickMsPerSlot: tickMs / INTEGRATIONS,
      wallMsPerRun: wallMs / INTEGRATIONS,
    };
  } finally {
    await runtime.close();
  }
}

/** utime + stime of a process, in ms (Linux /proc; clock ticks are 100 Hz on every Linux Node supports here). */
async function cpuMsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** A real daemon (its own process) with a few daily integrations, sampled while it has nothing to do. */
async function measureIdleCpu(root: string): Promise<number> {
  const configDir = await writeConfig(join(root, 'idle'), 5, '0 2 * * *');
  const child = spawn(process.execPath, [DAEMON, '--config', configDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the daemon did not start within 60 s: ${stderr.slice(-1000)}`)), 60_000);
      void exited.then((code) => reject(new Error(`the daemon exited (${code}) before it started: ${stderr.slice(-1000)}`)));
      readline.createInterface({ input: child.stdout }).on('line', (line) => {
        if (line.includes('"daemon started"')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await new Promise((r) => setTimeout(r, 2000)); // start-up work (migrations, first tick) is not idle time
    progress(`idle daemon: sampling CPU for ${IDLE_SECONDS} s`);
    const cpu0 = await cpuMsOf(child.pid!);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    const cpu1 = await cpuMsOf(child.pid!);
    return ((cpu1 - cpu0) / (performance.now() - t0)) * 100;
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

export async function runSchedulingBench(): Promise<SchedulingResult> {
  const root = await mkdtemp(join(tmpdir(), 'ferry-bench-sched-'));
  try {
    const burst = await measureOverhead(root);
    const idleCpuPct = await measureIdleCpu(root);
    return { ...burst, idleCpuPct };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

export function printScheduling(r: SchedulingResult): void {
  const ms = (x: number) => x.toFixed(2);
  console.log('');
  console.log(`Scheduling: ${r.runs} integrations due in the same minute, concurrency cap ${CAP}, one-row SQLite extract, local folder, SQLite store`);
  console.log(`  overhead per run (total − waiting for the cap − extract+delivery): p50 ${ms(r.overheadP50)} ms, p95 ${ms(r.overheadP95)} ms`);
  console.log(`    of which the slot claim, queued behind the minute's other claims: p50 ${ms(r.claimP50)} ms`);
  console.log(`  the same runs one at a time (nothing queued ahead): overhead p50 ${ms(r.aloneP50)} ms, p95 ${ms(r.aloneP95)} ms`);
  console.log(`  extract+delivery p50 ${ms(r.executeP50)} ms; waiting for the cap p50 ${ms(r.waitP50)} ms; tick ${ms(r.tickMsPerSlot)} ms per slot; wall ${ms(r.wallMsPerRun)} ms per run`);
  console.log(`sched_overhead_ms_p50=${ms(r.overheadP50)}`);
  console.log(`idle_cpu_pct=${r.idleCpuPct.toFixed(2)}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runSchedulingBench().then(printScheduling, (err: unknown) => {
    console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  });
}
