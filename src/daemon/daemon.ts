import fs from 'node:fs';
import path from 'node:path';
import type { Clock } from '../core/clock.js';
import { createEventBus, type EventBus } from '../core/events.js';
import { formatProblem, tryLoadConfig } from '../config/loader.js';
import { startDemoSftp } from '../demo/bootstrap.js';
import type { EmbeddedSftpServer } from '../demo/sftp-server.js';
import { openRuntime, type Runtime } from '../runtime/runtime.js';
import type { QueueWorker } from '../scheduler/queue-worker.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import { compileSchedule } from '../scheduler/slots.js';
import { startObservabilityServer } from '../observability/http-server.js';
import { createAlerter, type Alerter } from '../alerts/alerter.js';
import { needsRestartSentence, planReload } from '../config/reload-plan.js';
import { reloadResultFile, writeReloadResult, type ReloadResult } from './reload-result.js';
import { currentUser } from '../cli/context.js';

export interface DaemonOptions {
  configDir: string;
  /** Tests: a fixed clock instead of the store's. */
  clock?: Clock;
}

export interface Daemon {
  readonly runtime: Runtime;
  readonly bus: EventBus;
  readonly scheduler: Scheduler;
  readonly worker: QueueWorker;
  /** Load the configuration again; an invalid one is refused (logged) and the running one stays. True when applied. */
  reload(): Promise<boolean>;
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

/** Where a daemon leaves its pid, so that `ferry reload` on this host can find every daemon of this data folder. */
export function pidDir(dataDir: string): string {
  return path.join(dataDir, 'run');
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const bus = createEventBus();
  const runtime = await openRuntime({ configDir: opts.configDir, logToConsole: true, bus, ...(opts.clock ? { clock: opts.clock } : { syncClockWithStore: true }) });
  const { store, logger, runs, scheduler, worker } = runtime;
  const config = () => runtime.config;
  const clock: Clock = { now: () => runtime.clock.now() };
  // LIFO cleanup: each releaser runs even if an earlier one failed.
  const releasers: (() => Promise<unknown>)[] = [() => runtime.close()];
  let demoSftp: EmbeddedSftpServer | undefined;
  let alerter: Alerter | undefined;
  try {
    // Receipts first (a run that delivered is never called interrupted), then lapsed leases (runs a dead process left
    // behind are interrupted and retried before new slots start), then spool files no run needs.
    await runs.recover();
    // What changed in the configuration since the last one recorded, before any slot runs with it.
    await runtime.audit.recordConfig(config(), daemonUser(), 'daemon start');
    const demo = config().demo;
    if (demo) {
      demoSftp = await startDemoSftp(demo, logger);
      releasers.push(() => demoSftp!.close());
      logger.info('demo sftp server listening', { host: demoSftp.host, port: demoSftp.port, root: demo.sftp.root, hostKey: demoSftp.hostKeyFingerprint });
    }
    const s = config().scheduler;
    await scheduler.start();
    releasers.push(() => scheduler.stop());
    worker.start({ pollMs: s.pollSeconds * 1000, reapMs: Math.max(1000, (s.leaseSeconds * 1000) / 2), sweepMs: 3_600_000 });
    releasers.push(() => worker.stop());
    const clockSync = setInterval(() => {
      const synced = runtime.clock as Clock & { sync?: () => Promise<void> };
      void synced.sync?.().catch(() => undefined);
    }, 300_000);
    releasers.push(async () => clearInterval(clockSync));
    const http = config().http;
    if (http) {
      try {
        const tickMs = Math.min(60_000, ...[...config().integrations.values()].map((i) => compileSchedule(i.schedule.cron).stepMs));
        const srv = await startObservabilityServer({ config: config(), bus, store, clock, logger, schedulerTickMs: tickMs });
        releasers.push(() => srv.close());
        logger.info('http endpoint listening', { host: srv.host, port: srv.port, paths: ['/healthz', '/metrics'] });
      } catch (err) {
        // Another daemon on this host may hold the port: scheduling matters more than metrics, so go on without it.
        logger.error('http endpoint not started; the daemon runs without /healthz and /metrics', { error: (err as Error).message, host: http.host, port: http.port });
      }
    }
    // Even with alerts off: it reads the config at each event, so a reload can turn them on.
    const a = (alerter = createAlerter({ config, bus, store, logger, clock }));
    a.start();
    // Released at shutdown after the runner has drained, so the last runs' alerts still go out.
    releasers.push(() => a.stop());
    const pidFile = path.join(pidDir(config().dataDir), `ferryd-${process.pid}.pid`);
    fs.mkdirSync(path.dirname(pidFile), { recursive: true, mode: 0o700 });
    fs.writeFileSync(pidFile, `${process.pid}\n`, { mode: 0o600 });
    releasers.push(async () => {
      fs.rmSync(pidFile, { force: true });
      fs.rmSync(reloadResultFile(pidDir(config().dataDir), process.pid), { force: true });
    });
  } catch (err) {
    await runReleasers(releasers);
    throw err;
  }
  const states = await store.getStates();
  const integrations = [...config().integrations.values()];
  const enabled = integrations.filter((i) => states.get(i.id)?.enabled ?? i.enabled).length;
  logger.info('daemon started', { integrations: integrations.length, enabled, pid: process.pid, store: config().store.kind, leaseOwner: runs.owner });

  let stopping: Promise<void> | undefined;
  let reloads = 0;
  return {
    runtime,
    bus,
    scheduler,
    worker,
    async reload() {
      const res = tryLoadConfig(opts.configDir, clock.now());
      // For `ferry reload`, which waits for this answer; a failure to write it must not undo the reload.
      const answer = (result: Omit<ReloadResult, 'pid' | 'seq' | 'at'>) => {
        try {
          writeReloadResult(pidDir(config().dataDir), { pid: process.pid, seq: ++reloads, at: clock.now().toISOString(), ...result });
        } catch (err) {
          logger.warn('reload result not written for ferry reload', { error: (err as Error).message });
        }
      };
      if (!res.ok) {
        logger.error('reload refused: the new configuration has problems; the running one stays', { problems: res.problems.length });
        for (const p of res.problems) logger.error('config problem', { problem: formatProblem(p) });
        answer({ ok: false, problems: res.problems.length, applied: [], needsRestart: [] });
        return false;
      }
      // Restart-only settings keep their running values in the config put in force (see planReload).
      const plan = planReload(config(), res.config);
      try {
        await runtime.audit.recordConfig(plan.config, daemonUser(), 'reload');
      } catch (err) {
        // A change the audit log cannot record is not made.
        logger.error('reload refused: the audit log could not record the configuration change; the running one stays', { error: (err as Error).message });
        answer({ ok: false, problems: 0, applied: [], needsRestart: [], error: (err as Error).message });
        return false;
      }
      runtime.setConfig(plan.config); // the log level and the global concurrency cap, and every run from now on
      scheduler.refresh();
      alerter!.refresh();
      logger.info('configuration reloaded', { integrations: plan.config.integrations.size, applied: plan.applied, needsRestart: plan.needsRestart });
      if (plan.needsRestart.length > 0) logger.warn(needsRestartSentence(plan.needsRestart), { needsRestart: plan.needsRestart });
      answer({ ok: true, problems: 0, applied: plan.applied, needsRestart: plan.needsRestart });
      return true;
    },
    stop(reason) {
      stopping ??= (async () => {
        // Draining comes first, with no wait before the log line: after "daemon stopping" no run starts.
        runs.drain(`the daemon is stopping (${reason})`);
        logger.info('daemon stopping', { reason, running: runs.active() });
        await scheduler.stop();
        await worker.stop().catch(() => undefined);
        let idle = await runs.waitIdle(config().shutdownGraceSeconds * 1000);
        if (!idle) {
          logger.warn('grace period over: interrupting runs still going', { running: runs.active() });
          runs.abortAll('the daemon is shutting down');
          // An aborted run ends within seconds; recording its end may wait for the store up to its lease.
          idle = await runs.waitIdle(config().scheduler.leaseSeconds * 1000 + 5000);
          if (!idle) logger.error('runs still not recorded at shutdown: their leases will lapse and another daemon will interrupt and retry them', { running: runs.active() });
        }
        logger.info('daemon stopped');
        await runReleasers(releasers);
      })();
      return stopping;
    },
  };
}

/** The daemon's audit identity: the account it runs as (a reload's person is recorded by `ferry reload`). */
function daemonUser(): string {
  return `${currentUser()} (daemon pid ${process.pid})`.slice(0, 128);
}

async function runReleasers(releasers: (() => Promise<unknown>)[]): Promise<void> {
  while (releasers.length > 0) {
    const release = releasers.pop()!;
    await release().catch(() => undefined);
  }
}
