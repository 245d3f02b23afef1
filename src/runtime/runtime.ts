import type { Logger } from 'winston';
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import { loadConfig } from '../config/loader.js';
import type { FerryConfig } from '../config/model.js';
import { resolveSecret } from '../config/secrets.js';
import { ensureDemo } from '../demo/bootstrap.js';
import { createLogger, RunLogCollector } from '../logging/logger.js';
import { createRunner, type Runner } from '../pipeline/runner.js';
import { createLimiter } from '../scheduler/limiter.js';
import { openRunStore, type RunStore } from '../store/run-store.js';
import path from 'node:path';
import type winston from 'winston';

/** What both the daemon and the CLI work with: config parsed once, the store, a logger and a runner. */
export interface Runtime {
  readonly config: FerryConfig;
  readonly store: RunStore;
  readonly logger: Logger;
  readonly runner: Runner;
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
}

export async function openRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const clock = opts.clock ?? systemClock;
  const config = loadConfig(opts.configDir, clock.now());
  if (config.demo) await ensureDemo(config.demo);
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
  const store = await openRunStore(target, clock);
  const runner = createRunner({ config, store, logger, collector, limiter: createLimiter(config.concurrency.global), clock });
  let closing: Promise<void> | undefined;
  return {
    config,
    store,
    logger,
    runner,
    clock,
    close() {
      closing ??= (async () => {
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
