import type { Logger } from 'winston';
import type { Clock } from '../core/clock.js';
import type { EventBus } from '../core/events.js';
import { scrubSecrets } from '../config/secrets.js';
import type { RunStore } from '../store/run-store.js';

/**
 * Leases: how every process sharing a store tells a live run from a dead one. A run is claimed with a lease
 * (owner, expiry); its process renews it every heartbeat while the run is in flight here, and only then. Once a lease
 * lapses, any daemon may mark the run interrupted (reaping), however the process died. A CLI `ferry run` holds one too.
 *
 * The heartbeat doubles as the store watchdog: a store that cannot be reached is logged once per outage, in one
 * sentence, and its return is announced so that what waited for it (receipts) goes in at once.
 */
export interface LeaseKeeper {
  readonly owner: string;
  /** A lease for a run claimed now. */
  fresh(): { owner: string; until: Date };
  /** Renew this run's lease while it is in flight here; `until` is the lease its claim wrote. */
  hold(runId: number, until: Date | null): void;
  /** The run is over here (recorded, or given up): stop renewing it. */
  drop(runId: number): void;
  /** When this run's lease lapses, as far as this process knows (the last renewal the store accepted). */
  expiresAt(runId: number): Date | undefined;
  /** Fencing: does this process still hold the run's lease in the store? */
  holds(runId: number): Promise<boolean>;
  /** One heartbeat: renew the leases of runs in flight (or ping the store when there are none); false when the store failed. */
  beat(): Promise<boolean>;
  /** Beat every `heartbeatMs` from now on (the daemon); without it, beats run only while a run is held (the CLI). */
  start(): void;
  stop(): void;
  /** True while the last beat failed. */
  storeDown(): boolean;
}

export interface LeaseDeps {
  store: RunStore;
  clock: Clock;
  logger: Logger;
  bus?: EventBus | undefined;
  owner: string;
  leaseMs: () => number;
  heartbeatMs: () => number;
  /** The store answers again after an outage. */
  onRecovered?: () => void;
}

export function createLeaseKeeper(deps: LeaseDeps): LeaseKeeper {
  const { store, clock, logger } = deps;
  const held = new Map<number, Date>();
  let timer: NodeJS.Timeout | undefined;
  let always = false;
  let beating: Promise<boolean> | undefined;
  let unreachableSince: Date | null = null;

  const arm = () => {
    if (timer || (!always && held.size === 0)) return;
    timer = setInterval(() => {
      if (!always && held.size === 0) return disarm();
      void beat();
    }, deps.heartbeatMs());
    // The CLI exits when its work is done, not when the timer says so.
    if (!always) timer.unref();
  };
  const disarm = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
  };

  function beat(): Promise<boolean> {
    // One beat at a time: a slow store must not pile renewals up.
    beating ??= (async () => {
      const ids = [...held.keys()];
      const until = new Date(clock.now().getTime() + deps.leaseMs());
      try {
        if (ids.length > 0) await store.renewLeases(deps.owner, ids, until);
        else await store.ping();
        for (const id of ids) if (held.has(id)) held.set(id, until);
        if (unreachableSince) {
          logger.info('store reachable again', { since: unreachableSince.toISOString() });
          deps.bus?.emit({ type: 'store.recovered', since: unreachableSince, at: clock.now() });
          unreachableSince = null;
          deps.onRecovered?.();
        }
        return true;
      } catch (err) {
        if (!unreachableSince) {
          unreachableSince = clock.now();
          logger.error('store unreachable: runs go on, and what they record waits until it is back', { error: oneLine(err) });
          deps.bus?.emit({ type: 'store.unreachable', error: oneLine(err), since: unreachableSince });
        }
        return false;
      } finally {
        beating = undefined;
      }
    })();
    return beating;
  }

  return {
    owner: deps.owner,
    fresh: () => ({ owner: deps.owner, until: new Date(clock.now().getTime() + deps.leaseMs()) }),
    hold(runId, until) {
      held.set(runId, until ?? new Date(clock.now().getTime() + deps.leaseMs()));
      arm();
    },
    drop(runId) {
      held.delete(runId);
    },
    expiresAt: (runId) => held.get(runId),
    holds: (runId) => store.holdsLease(runId, deps.owner, clock.now()),
    beat,
    start() {
      always = true;
      disarm();
      arm();
    },
    stop() {
      always = false;
      disarm();
    },
    storeDown: () => unreachableSince !== null,
  };
}

/** A driver's error as one line: no stack, no newlines (knex and pg put both in their messages). */
export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return scrubSecrets(msg.split('\n')[0]!).slice(0, 300);
}
