import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(REPO, 'dist/src/cli/main.js');
const DAEMON = path.join(REPO, 'dist/src/daemon/main.js');

function requireBuild(): void {
  if (!fs.existsSync(CLI) || !fs.existsSync(DAEMON)) throw new Error('dist/ is missing: end-to-end tests run the built CLI; run `npm run build` (npm test does it for you)');
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Who the CLI records for tests' runs: the OS user, with the desk name the tests set beside it (see currentUser). */
export const E2E_USER = `${os.userInfo().username} (as FERRY_USER=e2e-tester)`;

/** Run the real `ferry` CLI as a subprocess (as the OS user, FERRY_USER=e2e-tester and no sudo, unless `env` says otherwise). */
export function ferry(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  requireBuild();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? REPO, env: { ...process.env, FERRY_USER: 'e2e-tester', SUDO_USER: '', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface DaemonProcess {
  child: ChildProcess;
  /** Every JSON log line printed so far. */
  lines: Record<string, unknown>[];
  /** Every stdout line that is not a JSON object (a library's stray console output, a stack trace), as printed. */
  strayLines: string[];
  /** Resolves with the first log line (past or future) matching the predicate. */
  waitFor(pred: (line: Record<string, unknown>) => boolean, what: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
  /** Resolves once the process has exited and all of its stdout and stderr has been read (so `lines` is complete). */
  closed: Promise<void>;
  stderr: () => string;
}

/** Start the real daemon as a subprocess and follow its JSON log lines (events, not sleeps). */
export function startDaemonProcess(configDir: string, env: NodeJS.ProcessEnv = {}): DaemonProcess {
  requireBuild();
  const child = spawn(process.execPath, [DAEMON, '--config', configDir], { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  const strayLines: string[] = [];
  const waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  readline.createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
      if (line === null || typeof line !== 'object' || Array.isArray(line)) throw new Error('not a log line');
    } catch {
      strayLines.push(text); // a library's stray console output: kept for tests that require JSON lines only
      return;
    }
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.pred(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return {
    child,
    lines,
    strayLines,
    exited,
    closed,
    stderr: () => stderr,
    waitFor(pred, what, timeoutMs = 30_000) {
      const found = lines.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`daemon never logged ${what}; stderr: ${stderr.slice(-2000)}`)), timeoutMs);
        const w = {
          pred,
          resolve: (l: Record<string, unknown>) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        waiters.push(w);
        void exited.then(() => {
          if (waiters.includes(w)) {
            clearTimeout(timer);
            reject(new Error(`daemon exited before logging ${what}; stderr: ${stderr.slice(-2000)}`));
          }
        });
      });
    },
  };
}

export function tempDir(prefix = 'ferry-e2e-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
