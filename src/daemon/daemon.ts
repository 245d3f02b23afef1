import os from 'node:os';
import type { Clock } from '../core/clock.js';
import { startDemoSftp } from '../demo/bootstrap.js';
import type { EmbeddedSftpServer } from '../demo/sftp-server.js';
import { openRuntime, type Runtime } from '../runtime/runtime.js';
import { createScheduler, type Scheduler } from '../scheduler/scheduler.js';

export interface DaemonOptions {
  configDir: string;
  clock?: Clock;
}

export interface Daemon {
  readonly runtime: Runtime;
  /** Stop starting runs, let running ones finish within the grace period, interrupt the rest. Idempotent. */
  stop(reason: string): Promise<void>;
}

export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const runtime = await openRuntime({ configDir: opts.configDir, logToConsole: true, ...(opts.clock ? { clock: opts.clock } : {}) });
  const { config, store, logger, runner } = runtime;
  // LIFO cleanup: each releaser runs even if an earlier one failed.
  const releasers: (() => Promise<unknown>)[] = [() => runtime.close()];
  let demoSftp: EmbeddedSftpServer | undefined;
  let scheduler: Scheduler | undefined;
  try {
    const orphans = await store.interruptOrphans(os.hostname(), isPidAlive);
    if (orphans > 0) logger.warn('runs left running by a stopped process were marked interrupted', { count: orphans });
    if (config.demo) {
      demoSftp = await startDemoSftp(config.demo, logger);
      releasers.push(() => demoSftp!.close());
      logger.info('demo sftp server listening', { host: demoSftp.host, port: demoSftp.port, root: config.demo.sftp.root, hostKey: demoSftp.hostKeyFingerprint });
    }
    scheduler = createScheduler({
      integrations: config.integrations.values(),
      logger,
      onSlot: async (integration, scheduledFor) => {
        const state = (await store.getStates()).get(integration.id);
        if (!(state?.enabled ?? integration.enabled)) {
          // Not a run, so not in the run history; the log answers "why didn't it run?".
          logger.info('slot not run: integration disabled', { integration: integration.id, district: integration.district.id, scheduledFor: scheduledFor.toISOString(), reason: state?.reason ?? 'disabled in config' });
          return;
        }
        await runner.run(integration, { trigger: 'schedule', requestedBy: 'scheduler', scheduledFor });
      },
    });
    scheduler.start();
    releasers.push(() => scheduler!.stop());
  } catch (err) {
    await runReleasers(releasers);
    throw err;
  }
  const states = await store.getStates();
  const enabled = [...config.integrations.values()].filter((i) => states.get(i.id)?.enabled ?? i.enabled).length;
  logger.info('daemon started', { integrations: config.integrations.size, enabled, pid: process.pid, store: config.store.kind });

  let stopping: Promise<void> | undefined;
  return {
    runtime,
    stop(reason) {
      stopping ??= (async () => {
        logger.info('daemon stopping', { reason, running: runner.active() });
        await scheduler?.stop();
        const idle = await runner.waitIdle(config.shutdownGraceSeconds * 1000);
        if (!idle) {
          logger.warn('grace period over: interrupting runs still going', { running: runner.active() });
          runner.abortAll('the daemon is shutting down');
          await runner.waitIdle(30_000);
        }
        logger.info('daemon stopped');
        await runReleasers(releasers);
      })();
      return stopping;
    },
  };
}

async function runReleasers(releasers: (() => Promise<unknown>)[]): Promise<void> {
  while (releasers.length > 0) {
    const release = releasers.pop()!;
    await release().catch(() => undefined);
  }
}
