import type { Logger } from 'winston';
import type { Clock } from '../core/clock.js';
import type { EventBus } from '../core/events.js';
import type { Integration } from '../config/model.js';
import { queueRetry, type Runner } from '../pipeline/runner.js';
import type { RunRecord, RunStore } from '../store/run-store.js';

/**
 * The daemon's share of the work other daemons can see, through the store:
 * - poll: queued runs that are due (retries after their backoff, slots queued behind a running run) are claimed,
 *   each by exactly one daemon, and run here;
 * - heartbeat: the leases of the runs this daemon is running are pushed back, proving it is alive; a store that
 *   cannot be reached is reported once per outage;
 * - reap: runs whose lease lapsed (their daemon died, or lost the store for longer than a lease) are marked
 *   interrupted, and the integration's retry policy queues their retry.
 * Time is the store's: leases are compared with the synced clock, so hosts with wrong clocks still agree.
 */
export interface QueueWorkerDeps {
  store: RunStore;
  clock: Clock;
  logger: Logger;
  bus?: EventBus | undefined;
  runner: Runner;
  integrations: () => ReadonlyMap<string, Integration>;
  leaseMs: number;
  /** How many runs this daemon runs at once (its global cap): it claims no more queued runs than it has room for. */
  capacity: number;
  random?: () => number;
}

export interface QueueWorker {
  pollOnce(integrationId?: string): Promise<{ started: number; done: Promise<unknown> }>;
  heartbeatOnce(): Promise<boolean>;
  reapOnce(): Promise<RunRecord[]>;
  /** Start the three loops. */
  start(intervals: { pollMs: number; heartbeatMs: number; reapMs: number }): void;
  /** Stop the loops (runs already started go on; the runner's shutdown deals with them). */
  stop(): Promise<void>;
  /** Resolves when every run started by a poll has finished (tests). */
  idle(): Promise<void>;
}

export function createQueueWorker(deps: QueueWorkerDeps): QueueWorker {
  const timers: NodeJS.Timeout[] = [];
  const busy = new Set<Promise<unknown>>();
  let unreachableSince: Date | null = null;

  const lease = () => ({ owner: deps.runner.leaseOwner, until: new Date(deps.clock.now().getTime() + deps.leaseMs) });

  async function pollOnce(integrationId?: string): Promise<{ started: number; done: Promise<unknown> }> {
    const room = deps.capacity - deps.runner.active();
    if (room <= 0) return { started: 0, done: Promise.resolve() };
    const claimed = await deps.store.claimQueued(lease(), deps.clock.now(), room, integrationId);
    const runs = claimed.map(async (run) => {
      const integration = deps.integrations().get(run.integrationId);
      if (!integration) {
        // Removed from the config since it was queued: record why instead of leaving it running forever.
        const done = await deps.store.finishRun(run.id, { status: 'skipped', errorKind: 'config', error: `integration ${run.integrationId} is no longer in the configuration; the queued run was dropped` });
        deps.bus?.emit({ type: 'run.finished', run: done });
        return;
      }
      deps.logger.info('queued run claimed', { integration: run.integrationId, runId: run.id, trigger: run.trigger, attempt: run.attempt });
      const report = await deps.runner.runClaimed(integration, run);
      // A slot queued behind this one (overlap policy queue-one) may start now, without waiting for the next poll.
      if (integrationId === undefined) await pollOnce(run.integrationId).then((r) => r.done);
      return report;
    });
    const done = Promise.allSettled(runs);
    busy.add(done);
    void done.finally(() => busy.delete(done));
    return { started: claimed.length, done };
  }

  async function heartbeatOnce(): Promise<boolean> {
    try {
      await deps.store.renewLeases(deps.runner.leaseOwner, lease().until);
      if (unreachableSince) {
        deps.logger.info('store reachable again', { since: unreachableSince.toISOString() });
        deps.bus?.emit({ type: 'store.recovered', since: unreachableSince, at: deps.clock.now() });
        unreachableSince = null;
      }
      return true;
    } catch (err) {
      if (!unreachableSince) {
        unreachableSince = deps.clock.now();
        deps.logger.error('store unreachable', { error: (err as Error).message });
        deps.bus?.emit({ type: 'store.unreachable', error: (err as Error).message, since: unreachableSince });
      }
      return false;
    }
  }

  async function reapOnce(): Promise<RunRecord[]> {
    const reaped = await deps.store.reapLapsedLeases(deps.clock.now());
    for (const run of reaped) {
      deps.logger.warn('run interrupted: its daemon stopped renewing its lease', { integration: run.integrationId, runId: run.id, leaseOwner: run.leaseOwner });
      deps.bus?.emit({ type: 'run.finished', run });
      const integration = deps.integrations().get(run.integrationId);
      if (integration) await queueRetry({ store: deps.store, clock: deps.clock, logger: deps.logger, random: deps.random ?? Math.random }, integration, run, true, 'aborted');
    }
    return reaped;
  }

  const loop = (ms: number, fn: () => Promise<unknown>) => {
    let running = false;
    const t = setInterval(() => {
      if (running) return;
      running = true;
      fn()
        .catch((err: unknown) => deps.logger.error('scheduler background task failed', { error: (err as Error).message }))
        .finally(() => {
          running = false;
        });
    }, ms);
    timers.push(t);
  };

  return {
    pollOnce,
    heartbeatOnce,
    reapOnce,
    start({ pollMs, heartbeatMs, reapMs }) {
      loop(heartbeatMs, heartbeatOnce);
      loop(reapMs, reapOnce);
      loop(pollMs, () => pollOnce());
    },
    async stop() {
      for (const t of timers) clearInterval(t);
      timers.length = 0;
    },
    async idle() {
      while (busy.size > 0) await Promise.allSettled([...busy]);
    },
  };
}
