import type { Clock } from '../core/clock.js';
import type { EventBus } from '../core/events.js';
import { scrubSecrets } from '../config/secrets.js';
import type { RunStore } from '../store/run-store.js';
import { withDeadline } from './deadline.js';

/** What /healthz answers. `failing` names each part that is not ok; empty when healthy. */
export interface HealthReport {
  status: 'ok' | 'failing';
  failing: ('store' | 'scheduler')[];
  store: 'ok' | 'unreachable';
  /** Why the store check failed (scrubbed of secrets); absent when it is ok. */
  storeError?: string;
  scheduler: {
    status: 'ok' | 'stalled';
    /** The last `scheduler.tick` (ISO 8601), null before the first. */
    lastTick: string | null;
    /** Silence longer than this (3 × the tick interval) means the scheduler is stalled. */
    maxSilenceSeconds: number;
  };
}

export interface HealthCheck {
  check(): Promise<HealthReport>;
  /** Stop listening to the bus; idempotent. */
  close(): void;
}

export interface HealthDeps {
  bus: EventBus;
  store: Pick<RunStore, 'dbNow' | 'listRuns'>;
  clock: Clock;
  schedulerTickMs: number;
  storeTimeoutMs?: number;
}

export function createHealthCheck(deps: HealthDeps): HealthCheck {
  const storeTimeoutMs = deps.storeTimeoutMs ?? 2000;
  const maxSilenceMs = 3 * deps.schedulerTickMs;
  // Before the first tick, the scheduler gets the same grace from the moment the check was created.
  const createdAt = deps.clock.now();
  let lastTick: Date | null = null;
  const off = deps.bus.on('scheduler.tick', (e) => {
    if (!lastTick || e.at > lastTick) lastTick = e.at;
  });

  async function checkStore(): Promise<string | undefined> {
    try {
      // dbNow() alone is not enough: on SQLite it reads this host's clock without touching the database, so a
      // one-row read proves the store answers queries.
      await withDeadline(Promise.all([deps.store.dbNow(), deps.store.listRuns({ limit: 1 })]), storeTimeoutMs, 'the run store');
      return undefined;
    } catch (err) {
      return scrubSecrets(err instanceof Error ? err.message : String(err));
    }
  }

  return {
    async check() {
      const storeError = await checkStore();
      const silentSince = lastTick ?? createdAt;
      const stalled = deps.clock.now().getTime() - silentSince.getTime() > maxSilenceMs;
      const failing: HealthReport['failing'] = [];
      if (storeError !== undefined) failing.push('store');
      if (stalled) failing.push('scheduler');
      return {
        status: failing.length ? 'failing' : 'ok',
        failing,
        store: storeError === undefined ? 'ok' : 'unreachable',
        ...(storeError === undefined ? {} : { storeError }),
        scheduler: { status: stalled ? 'stalled' : 'ok', lastTick: lastTick?.toISOString() ?? null, maxSilenceSeconds: maxSilenceMs / 1000 },
      };
    },
    close: off,
  };
}
