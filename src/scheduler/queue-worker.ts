import type { Logger } from 'winston';
import { oneLine } from '../runs/leases.js';
import type { Runs } from '../runs/lifecycle.js';

/**
 * The daemon's share of the work other daemons can see, through the store. It decides nothing about runs itself: it
 * asks the run lifecycle (runs/lifecycle.ts), at its own pace:
 * - poll: queued runs that are due (retries after their backoff, slots queued behind a running run) are claimed,
 *   each by exactly one daemon, as many as this daemon has room for;
 * - reap: runs whose lease lapsed (their process died, or lost the store for longer than a lease) are interrupted,
 *   with their retry; receipts the store missed are replayed; the spool is swept of what no run needs.
 * The heartbeat (lease renewal and the store watchdog) is the lease keeper's own timer.
 */
export interface QueueWorkerDeps {
  runs: Runs;
  logger: Logger;
  /** How many runs this daemon runs at once (its global cap): it claims no more queued runs than it has room for. */
  capacity: () => number;
}

export interface QueueWorker {
  pollOnce(integrationId?: string): Promise<{ started: number; done: Promise<unknown> }>;
  /** Reap lapsed leases and replay receipts; sweep the spool when `sweep` is set. */
  reapOnce(sweep?: boolean): Promise<void>;
  start(intervals: { pollMs: number; reapMs: number; sweepMs: number }): void;
  /** Stop the loops (runs already started go on; the drain deals with them). */
  stop(): Promise<void>;
  /** Resolves when every run started by a poll has finished (tests). */
  idle(): Promise<void>;
}

export function createQueueWorker(deps: QueueWorkerDeps): QueueWorker {
  const { runs } = deps;
  const timers: NodeJS.Timeout[] = [];
  const busy = new Set<Promise<unknown>>();
  const loops = new Set<Promise<unknown>>();

  async function pollOnce(integrationId?: string): Promise<{ started: number; done: Promise<unknown> }> {
    const started = await runs.claimQueued(deps.capacity() - runs.active(), integrationId);
    const done = Promise.allSettled(
      started.map(async ({ run, done: finished }) => {
        const report = await finished;
        // A slot queued behind this one (overlap policy queue-one) may start now, without waiting for the next poll.
        if (integrationId === undefined) await pollOnce(run.integrationId).then((r) => r.done);
        return report;
      }),
    );
    busy.add(done);
    void done.finally(() => busy.delete(done));
    return { started: started.length, done };
  }

  async function reapOnce(sweep = false): Promise<void> {
    await runs.replayReceipts();
    await runs.reap();
    if (sweep) await runs.sweepSpool();
  }

  const loop = (ms: number, what: string, fn: () => Promise<unknown>) => {
    let running = false;
    let failing = false;
    const t = setInterval(() => {
      if (running || runs.draining) return;
      running = true;
      const p = fn()
        .then(() => {
          failing = false;
        })
        .catch((err: unknown) => {
          // The store watchdog says "store unreachable" once per outage; the loops need not say it again.
          if (!failing && !runs.leases.storeDown()) deps.logger.error(`${what} failed; it is tried again`, { error: oneLine(err) });
          failing = true;
        })
        .finally(() => {
          running = false;
          loops.delete(p);
        });
      loops.add(p);
    }, ms);
    timers.push(t);
  };

  return {
    pollOnce,
    reapOnce,
    start({ pollMs, reapMs, sweepMs }) {
      runs.leases.start();
      loop(reapMs, 'reaping lapsed leases', () => reapOnce());
      loop(sweepMs, 'sweeping the spool', () => runs.sweepSpool());
      loop(pollMs, 'claiming queued runs', () => pollOnce());
    },
    async stop() {
      for (const t of timers) clearInterval(t);
      timers.length = 0;
      await Promise.allSettled([...loops]);
    },
    async idle() {
      while (busy.size > 0) await Promise.allSettled([...busy]);
    },
  };
}
