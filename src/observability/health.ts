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
    /** `failing`: the last tick failed; `stalled`: no tick for too long. */
    status: 'ok' | 'failing' | 'stalled';
    /** The last `scheduler.tick` (ISO 8601), null before the first. */
    lastTick: string | null;
    /** Why the last tick failed (scrubbed of secrets); present only when it did. */
    error?: string;
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
  /** How long the store check waits (default 750 ms): /healthz must answer within a second, store or no store. */
  storeTimeoutMs?: number;
}

/** Leaves a quarter second of the one second a supervisor's check allows for the rest of the request on a busy host. */
export const HEALTH_STORE_TIMEOUT_MS = 750;

export function createHealthCheck(deps: HealthDeps): HealthCheck {
  const storeTimeoutMs = deps.storeTimeoutMs ?? HEALTH_STORE_TIMEOUT_MS;
  const maxSilenceMs = 3 * deps.schedulerTickMs;
  // Before the first tick, the scheduler gets the same grace from the moment the check was created.
  const createdAt = deps.clock.now();
  let lastTick: Date | null = null;
  let lastTickError: string | undefined;
  const off = deps.bus.on('scheduler.tick', (e) => {
    if (lastTick && e.at < lastTick) return;
    lastTick = e.at;
    lastTickError = e.ok ? undefined : scrubSecrets(e.error ?? 'the scheduler tick failed');
  });

  // One probe at a time: while the store hangs, each /healthz must not leave two more queries waiting on the pool the
  // scheduler and the runs need. A check that comes while a probe is still out waits on that probe.
  let probing: Promise<unknown> | undefined;
  async function checkStore(): Promise<string | undefined> {
    try {
      // dbNow() alone is not enough: on SQLite it reads this host's clock without touching the database, so a
      // one-row read proves the store answers queries.
      probing ??= Promise.all([deps.store.dbNow(), deps.store.listRuns({ limit: 1 })]).finally(() => {
        probing = undefined;
      });
      await withDeadline(probing, storeTimeoutMs, 'the run store');
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
      const scheduler = stalled ? 'stalled' : lastTickError !== undefined ? 'failing' : 'ok';
      const failing: HealthReport['failing'] = [];
      if (storeError !== undefined) failing.push('store');
      if (scheduler !== 'ok') failing.push('scheduler');
      return {
        status: failing.length ? 'failing' : 'ok',
        failing,
        store: storeError === undefined ? 'ok' : 'unreachable',
        ...(storeError === undefined ? {} : { storeError }),
        scheduler: {
          status: scheduler,
          lastTick: lastTick?.toISOString() ?? null,
          ...(lastTickError === undefined ? {} : { error: lastTickError }),
          maxSilenceSeconds: maxSilenceMs / 1000,
        },
      };
    },
    close: off,
  };
}
