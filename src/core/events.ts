import { EventEmitter } from 'node:events';
import type { RunRecord } from '../store/run-record.js';

/**
 * What happened, for whoever listens: metrics, alerts, the health check. The scheduler, the runner and the store
 * watchdog emit; nothing they do waits on a listener, and a listener that throws is logged, not propagated.
 * Events carry ids, counts and sentences, never row data or secrets.
 */
export type FerryEvent =
  /** A run reached its final state (succeeded, failed, held, interrupted, skipped, missed). */
  | { type: 'run.finished'; run: RunRecord }
  /** A run started; `lagMs` is how long after its scheduled time it started (scheduled runs only). */
  | { type: 'run.started'; run: RunRecord; lagMs: number | null }
  /** Runs waiting for a concurrency slot changed. */
  | { type: 'queue.changed'; waiting: number }
  /**
   * The scheduler looked for due slots (its heartbeat, for /healthz), emitted at the end of each tick: `ok` false, with
   * `error` saying why, when the tick failed (a store that does not answer), so a daemon that ticks but gets nothing
   * done is not reported healthy.
   */
  | { type: 'scheduler.tick'; at: Date; ok: boolean; error?: string }
  /** The store could not be reached (once per outage), and when it came back. */
  | { type: 'store.unreachable'; error: string; since: Date }
  | { type: 'store.recovered'; since: Date; at: Date };

export type FerryEventType = FerryEvent['type'];
export type EventOf<T extends FerryEventType> = Extract<FerryEvent, { type: T }>;

export interface EventBus {
  emit(event: FerryEvent): void;
  on<T extends FerryEventType>(type: T, listener: (event: EventOf<T>) => void): () => void;
}

export function createEventBus(onListenerError: (err: unknown, event: FerryEvent) => void = () => undefined): EventBus {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(50);
  return {
    emit(event) {
      for (const listener of emitter.listeners(event.type)) {
        try {
          (listener as (e: FerryEvent) => void)(event);
        } catch (err) {
          onListenerError(err, event);
        }
      }
    },
    on(type, listener) {
      emitter.on(type, listener);
      return () => emitter.off(type, listener);
    },
  };
}
