import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

export interface ChildResult {
  seconds: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** VmHWM of the child in kB, the last value read before it exited (0 when never read). */
  peakRssKb: number;
  /** Date.now() when the child was spawned, to line it up with its own log timestamps. */
  startedAt: number;
}

const active = new Set<ChildProcess>();

/** Kills the children still running (on SIGINT), each by its own pid. */
export function killActiveChildren(): void {
  for (const child of active) child.kill('SIGKILL');
}

function readHwmKb(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined; // exited (or a zombie without memory fields)
  }
}

/** Runs a command to completion, timing it and polling its peak RSS (VmHWM) every pollMs. */
export function runChild(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; pollMs?: number } = {}): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const startedAt = Date.now();
    const t0 = performance.now();
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    active.add(child);
    let peak = 0;
    const poll = () => {
      if (child.pid === undefined) return;
      const v = readHwmKb(child.pid);
      if (v !== undefined) peak = v;
    };
    poll();
    const timer = setInterval(poll, opts.pollMs ?? 20);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-8192)));
    child.once('error', (err) => {
      clearInterval(timer);
      active.delete(child);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      const seconds = (performance.now() - t0) / 1000;
      clearInterval(timer);
      active.delete(child);
      // 'exit' can come before the pipes drain; wait for 'close' to have all output.
      child.once('close', () => resolve({ seconds, code, signal, stdout, stderr, peakRssKb: peak, startedAt }));
    });
  });
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { seconds: (performance.now() - t0) / 1000, value };
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export const mb = (kb: number) => kb / 1024;

/** Left-aligned label, then right-aligned cells. */
export function table(header: string[], rows: (string | number)[][]): string {
  const all = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '))
    .join('\n');
}

/** Per-stage seconds of one Ferry run, from its JSON-lines log (winston timestamps, ms resolution). */
export interface FerryStages {
  startup: number;
  extract: number;
  deliver: number;
  finish: number;
}

export function ferryStages(logText: string, runId: number, startedAt: number, totalSeconds: number): FerryStages | undefined {
  const at = new Map<string, number>();
  for (const line of logText.split('\n')) {
    if (!line.includes(`"runId":${runId}`)) continue;
    try {
      const e = JSON.parse(line) as { message?: string; timestamp?: string; runId?: number };
      if (e.runId === runId && e.message && e.timestamp && !at.has(e.message)) at.set(e.message, Date.parse(e.timestamp));
    } catch {
      // not a JSON line
    }
  }
  const started = at.get('extract started');
  const written = at.get('extract written');
  const delivery = at.get('delivery started');
  const done = at.get('run succeeded');
  if (started === undefined || written === undefined || delivery === undefined || done === undefined) return undefined;
  const startup = (started - startedAt) / 1000;
  const extract = (delivery - started) / 1000;
  const deliver = (done - delivery) / 1000;
  return { startup, extract, deliver, finish: totalSeconds - startup - extract - deliver };
}
