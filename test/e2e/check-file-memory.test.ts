import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, tempDir } from '../helpers/cli.js';
import { BOMB_ROW, forgeDeclaredSizes, writeLargeOneRosterZip, writeZipBomb } from '../helpers/large-zips.js';

/**
 * `ferry check-file` streams: its peak memory does not grow with the bytes it reads. The spawned CLI reports its own
 * peak resident set size as it exits (getrusage's maxRSS, what the kernel counted: heap and buffers alike), through a
 * module preloaded with --import, so the CLI itself carries no test hook. The CLI alone, before reading anything, is
 * about 120 MB; a whole-file read of these zips took gigabytes (and a process that dies reports nothing: the test fails).
 */
const PEAK_LIMIT_KB = 300 * 1024;
const CLI = path.join(REPO, 'dist/src/cli/main.js');
const REPORT_PEAK = `data:text/javascript,process.on('exit', () => process.stderr.write('peak-rss-kb=' + process.resourceUsage().maxRSS + '\\n'))`;
const dir = tempDir();
/** Rows of one 250 MiB zip bomb entry. */
const BOMB_ROWS = Math.floor((250 * 1024 * 1024) / BOMB_ROW.length);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Measured {
  code: number | null;
  stdout: string;
  stderr: string;
  peakKb: number;
}

function checkFileMeasured(file: string, flags: string[] = []): Promise<Measured> {
  if (!fs.existsSync(CLI)) throw new Error('dist/ is missing: run `npm run build`');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', REPORT_PEAK, CLI, 'check-file', file, ...flags], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const m = /peak-rss-kb=(\d+)\n?$/.exec(stderr);
      if (!m) return reject(new Error(`no peak RSS in: ${stderr}`));
      resolve({ code, stdout, stderr: stderr.slice(0, m.index), peakKb: Number(m[1]) });
    });
  });
}

describe('ferry check-file in bounded memory (spawned, peak RSS measured)', () => {
  it('refuses a 1.5 MB zip that unpacks to 500 MB with one sentence, before inflating it', async () => {
    const bomb = path.join(dir, 'bomb.zip');
    const zipBytes = await writeZipBomb(bomb, { entries: ['users.csv', 'enrollments.csv'], rowsPerEntry: BOMB_ROWS });
    expect(zipBytes).toBeLessThan(2 * 1024 * 1024);
    const r = await checkFileMeasured(bomb);
    console.log(`zip bomb (${zipBytes} bytes, 500 MiB unpacked): peak RSS ${Math.round(r.peakKb / 1024)} MiB`);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^ferry: \S+bomb\.zip looks like a zip bomb: users\.csv would unpack to 250\.0 MiB from \d+\.\d KiB \(\d+ times; the limit is 100\), so it was not read; if it is genuine, raise --max-zip-ratio\n$/);
    expect(r.peakKb).toBeLessThan(PEAK_LIMIT_KB);
  });

  it('refuses the same zip with headers that claim 2 MiB entries, counting what inflates', async () => {
    const bomb = path.join(dir, 'forged.zip');
    await writeZipBomb(bomb, { entries: ['users.csv', 'enrollments.csv'], rowsPerEntry: BOMB_ROWS });
    forgeDeclaredSizes(bomb, 2 * 1024 * 1024);
    const r = await checkFileMeasured(bomb);
    console.log(`zip bomb with forged sizes: peak RSS ${Math.round(r.peakKb / 1024)} MiB`);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`ferry: ${bomb} looks like a zip bomb: users.csv unpacks to more than the 2097152 bytes its header says, so it was not read\n`);
    expect(r.peakKb).toBeLessThan(PEAK_LIMIT_KB);
  });

  it('streams a 500 MB users.csv when the ratio limit is raised: 13 million rows, every duplicate counted, in bounded memory', async () => {
    const bomb = path.join(dir, 'one-entry.zip');
    const rows = 2 * BOMB_ROWS;
    await writeZipBomb(bomb, { entries: ['users.csv'], rowsPerEntry: rows });
    const r = await checkFileMeasured(bomb, ['--max-zip-ratio', '2000', '--json']);
    console.log(`500 MiB users.csv of one repeated row, checked: peak RSS ${Math.round(r.peakKb / 1024)} MiB`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { counts: Record<string, number>; problems: unknown[]; files: unknown[] };
    expect(report.files).toEqual([{ name: 'users.csv', rows, mode: 'bulk' }]);
    // Every row after the first repeats its sourcedId; orgs.csv is missing, which is said once.
    expect(Object.fromEntries(Object.entries(report.counts).filter(([, n]) => n > 0))).toEqual({ duplicate: rows - 1, foreign_key: 1 });
    expect(report.problems).toHaveLength(1000);
    expect(r.peakKb).toBeLessThan(PEAK_LIMIT_KB);
  }, 240_000);

  it('checks a valid bundle of about 290 MB unpacked (1.7 million rows) and finds no problem', async () => {
    const zip = path.join(dir, 'large.zip');
    const info = await writeLargeOneRosterZip(zip, 200_000);
    expect(info.unpackedBytes).toBeGreaterThan(250 * 1024 * 1024);
    const r = await checkFileMeasured(zip);
    console.log(`bundle of ${Math.round(info.unpackedBytes / 1024 / 1024)} MiB unpacked (${info.zipBytes} bytes zipped, ${info.rows} rows): peak RSS ${Math.round(r.peakKb / 1024)} MiB`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`OneRoster check: no problems (7 files, ${info.rows} rows)\n`);
    expect(r.code).toBe(0);
    expect(r.peakKb).toBeLessThan(PEAK_LIMIT_KB);

    // The same zip over a lower limit: refused from its central directory alone.
    const refused = await checkFileMeasured(zip, ['--max-unzipped-size', '100MB']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^ferry: \S+large\.zip would unpack to 2\d\d\.\d MiB, more than the limit of 100\.0 MiB, so it was not read; if it is genuine, raise --max-unzipped-size\n$/);
  }, 240_000);
});
