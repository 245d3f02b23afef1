import fs from 'node:fs';
import path from 'node:path';
import { scrubSecrets } from '../config/secrets.js';
import type { FerryError } from '../core/errors.js';

export const DRIVER_DEBUG_FILE = 'driver-debug.log';

/**
 * The one place a driver's own text is kept. Run records, logs, alerts and digests carry a failure's kind, the
 * driver's code and Ferry's sentence; the driver's message (which may quote a value from the data, e.g.
 * `invalid input syntax for type integer: "Maria"`) is written only here, and only when `debugLog: true`:
 * one JSON line per failed run in <dataDir>/logs/driver-debug.log, readable by the Ferry user alone (0600).
 * Known secrets are scrubbed as in every log.
 */
export function recordDriverText(settings: { debugLog: boolean; logDir: string }, run: { runId: number; integration: string }, failure: FerryError): void {
  if (!settings.debugLog) return;
  const causes: { name: string; code?: string; message: string }[] = [];
  const seen = new Set<unknown>();
  for (let e: unknown = failure.cause; e instanceof Error && !seen.has(e) && causes.length < 8; e = e.cause ?? (e as { originalError?: unknown }).originalError) {
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    causes.push({ name: e.name, ...(typeof code === 'string' || typeof code === 'number' ? { code: String(code) } : {}), message: scrubSecrets(e.message) });
  }
  if (causes.length === 0) return;
  const line = JSON.stringify({ at: new Date().toISOString(), runId: run.runId, integration: run.integration, errorKind: failure.kind, error: failure.message, causes });
  fs.mkdirSync(settings.logDir, { recursive: true, mode: 0o700 });
  const file = path.join(settings.logDir, DRIVER_DEBUG_FILE);
  fs.appendFileSync(file, line + '\n', { mode: 0o600 });
  // appendFile's mode applies only when it creates the file; a file made some other way is tightened here.
  fs.chmodSync(file, 0o600);
}
