import fs from 'node:fs';
import path from 'node:path';

/**
 * How a daemon tells `ferry reload` what its last reload did. A signal carries no answer, so the daemon writes one
 * small file next to its pid file (<dataDir>/run/ferryd-<pid>.reload.json, 0600) after every reload, and the CLI
 * waits for that file to change after it signals.
 */
export interface ReloadResult {
  readonly pid: number;
  /** Counts this daemon's reloads, so that every result differs from the one before. */
  readonly seq: number;
  readonly at: string;
  /** False when the daemon refused the configuration and kept the one it runs. */
  readonly ok: boolean;
  /** When refused: how many problems (the daemon's log names them). */
  readonly problems: number;
  readonly applied: readonly string[];
  readonly needsRestart: readonly string[];
  /** When not reloaded for another reason than the configuration's problems (the audit log could not record it). */
  readonly error?: string | undefined;
}

export function reloadResultFile(runDir: string, pid: number): string {
  return path.join(runDir, `ferryd-${pid}.reload.json`);
}

/** Written whole (a temporary file renamed over the old one), so a reader never sees half of it. */
export function writeReloadResult(runDir: string, result: ReloadResult): void {
  const file = reloadResultFile(runDir, result.pid);
  const tmp = `${file}.tmp`;
  fs.mkdirSync(runDir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(tmp, JSON.stringify(result) + '\n', { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** The file's text as it is now (null when there is none): what `waitForReloadResult` waits to see change. */
export function readReloadResultText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/**
 * Resolves with the daemon's result once its file differs from `before`, or null after `timeoutMs`. It watches the
 * folder and also looks every 250 ms, because file-change notices are not delivered on every file system.
 */
export function waitForReloadResult(file: string, before: string | null, timeoutMs: number): Promise<ReloadResult | null> {
  return new Promise((resolve) => {
    let watcher: fs.FSWatcher | undefined;
    const finish = (result: ReloadResult | null) => {
      clearInterval(poll);
      clearTimeout(timer);
      watcher?.close();
      resolve(result);
    };
    const look = () => {
      const text = readReloadResultText(file);
      if (text === null || text === before) return;
      try {
        finish(JSON.parse(text) as ReloadResult);
      } catch {
        // Not ours to judge: wait for the next write.
      }
    };
    const poll = setInterval(look, 250);
    const timer = setTimeout(() => finish(null), timeoutMs);
    try {
      watcher = fs.watch(path.dirname(file), look);
      watcher.on('error', () => undefined);
    } catch {
      // The poll covers it.
    }
    look();
  });
}
