import type { Logger } from 'winston';
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import { loadConfig } from '../config/loader.js';
import type { FerryConfig } from '../config/model.js';
import { resolveSecret } from '../config/secrets.js';
import { ensureDemo } from '../demo/bootstrap.js';
import { createLogger, RunLogCollector, setLogLevel } from '../logging/logger.js';
import type { Runs } from '../runs/lifecycle.js';
import type { QueueWorker } from '../scheduler/queue-worker.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import { compose } from './compose.js';
import { openRunStore, type RunStore } from '../store/run-store.js';
import type { EventBus } from '../core/events.js';
import { createAuditLog, type AuditLog } from '../governance/audit.js';
import { createStoreClock } from '../scheduler/store-clock.js';
import path from 'node:path';
import type winston from 'winston';

/** What both the daemon and the CLI work with: config parsed once, the store, a logger, and the composed run handling. */
export interface Runtime {
  /** The configuration in force; the daemon swaps it on reload (SIGHUP / `ferry reload`). */
  readonly config: FerryConfig;
  setConfig(next: FerryConfig): void;
  readonly store: RunStore;
  /** Who changed or sent what, and why (src/governance/audit.ts). */
  readonly audit: AuditLog;
  readonly logger: Logger;
  readonly runs: Runs;
  /** The daemon starts these; the CLI leaves them be. */
  readonly scheduler: Scheduler;
  readonly worker: QueueWorker;
  readonly clock: Clock;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  configDir: string;
  clock?: Clock;
  /** Daemon: JSON lines on stdout as well as the log file. */
  logToConsole?: boolean;
  /** Extra winston transports, e.g. a test capture. */
  transports?: winston.transport[];
  bus?: EventBus;
  /** The daemon: follow the store's clock (several daemons on several hosts agree on time). */
  syncClockWithStore?: boolean;
}

/** The demo makes the person-digest key it names as a file, like its SSH keys. */
function demoSecretFile(config: FerryConfig): string | undefined {
  const ref = config.personDigests.secret;
  return ref && 'file' in ref ? path.resolve(config.dir, ref.file) : undefined;
}

export async function openRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const base = opts.clock ?? systemClock;
  let config = loadConfig(opts.configDir, base.now());
  if (config.demo) await ensureDemo(config.demo, demoSecretFile(config));
  const collector = new RunLogCollector();
  const logger = createLogger({
    level: config.logLevel,
    console: opts.logToConsole ?? false,
    file: path.join(config.logDir, 'ferry.log'),
    transports: [collector, ...(opts.transports ?? [])],
  });
  const target =
    config.store.kind === 'sqlite'
      ? { kind: 'sqlite' as const, path: config.store.path }
      : { kind: 'postgres' as const, url: resolveSecret(config.store.url, { configDir: config.dir, owner: 'store', field: 'postgres.url' }) };
  // The store's own clock is the store clock's source: the store is opened on the base clock, then follows it.
  let clock: Clock = base;
  const store = await openRunStore(target, { now: () => clock.now() }, logger);
  if (opts.syncClockWithStore) {
    const synced = createStoreClock(() => store.dbNow(), base);
    await synced.sync();
    clock = synced;
  }
  const { runs, scheduler, worker, limiter } = compose({ config: () => config, store, logger, collector, clock: { now: () => clock.now() }, bus: opts.bus });
  let closing: Promise<void> | undefined;
  return {
    get config() {
      return config;
    },
    setConfig(next) {
      config = next;
      // The runtime made the logger and the limiter, so it applies their settings (per-key caps come with each acquire).
      setLogLevel(logger, next.logLevel);
      limiter.resize(next.concurrency.global);
    },
    store,
    audit: createAuditLog(store.audit, { now: () => clock.now() }),
    logger,
    runs,
    scheduler,
    worker,
    get clock() {
      return clock;
    },
    close() {
      closing ??= (async () => {
        await runs.close();
        await store.close().catch(() => undefined);
        await new Promise<void>((resolve) => {
          logger.on('finish', () => resolve());
          logger.end();
        });
      })();
      return closing;
    },
  };
}
