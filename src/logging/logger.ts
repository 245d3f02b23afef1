import fs from 'node:fs';
import path from 'node:path';
import winston from 'winston';
import TransportStream from 'winston-transport';
import { scrubSecrets } from '../config/secrets.js';
import type { LogEntry } from '../store/run-store.js';

/**
 * JSON-lines logs through winston. Callers pass a short stable message plus structured fields (runId, integration,
 * district, counts) and never row values. As a last line of defence every string is scrubbed of known secrets.
 */
export interface LoggerOptions {
  level: string;
  /** Write JSON lines to stdout (the daemon). */
  console?: boolean;
  /** Append JSON lines to this file (created 0600). */
  file?: string | undefined;
  /** Extra transports (the per-run collector, a test capture). */
  transports?: winston.transport[];
}

const scrub = winston.format((info) => {
  for (const key of Object.keys(info)) {
    const v = info[key];
    if (typeof v === 'string') info[key] = scrubSecrets(v);
  }
  if (typeof info.message === 'string') info.message = scrubSecrets(info.message);
  return info;
});

export function createLogger(opts: LoggerOptions): winston.Logger {
  const transports: winston.transport[] = [...(opts.transports ?? [])];
  // No transport gets a level of its own: they follow the logger's, which setLogLevel changes.
  if (opts.console) transports.push(new winston.transports.Console());
  if (opts.file) {
    fs.mkdirSync(path.dirname(opts.file), { recursive: true, mode: 0o700 });
    fs.closeSync(fs.openSync(opts.file, 'a', 0o600));
    transports.push(new winston.transports.File({ filename: opts.file }));
  }
  if (transports.length === 0) transports.push(new winston.transports.Console({ silent: true }));
  return winston.createLogger({
    level: opts.level,
    format: winston.format.combine(winston.format.timestamp(), scrub(), winston.format.json()),
    transports,
  });
}

/**
 * Change the level of a logger made by createLogger, and of every child made from it, while it runs (a config
 * reload). Its transports carry no level of their own: winston's transports then filter at their parent's level,
 * and child loggers read the level through their prototype, so setting it on the root reaches all of them.
 */
export function setLogLevel(logger: winston.Logger, level: string): void {
  logger.level = level;
}

/** Keeps each run's log lines until the run is recorded, so that `ferry logs <run-id>` can show them. */
export class RunLogCollector extends TransportStream {
  private readonly buffers = new Map<number, LogEntry[]>();

  override log(info: Record<string, unknown>, next: () => void): void {
    const runId = info.runId;
    if (typeof runId === 'number') {
      const { level, message, timestamp, runId: _r, ...fields } = info;
      const entry: LogEntry = { at: timestamp ? new Date(String(timestamp)) : new Date(), level: String(level), message: String(message), fields };
      const list = this.buffers.get(runId);
      if (list) list.push(entry);
      else this.buffers.set(runId, [entry]);
    }
    next();
  }

  take(runId: number): LogEntry[] {
    const list = this.buffers.get(runId) ?? [];
    this.buffers.delete(runId);
    return list;
  }
}
