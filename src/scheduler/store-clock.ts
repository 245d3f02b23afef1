import type { Clock } from '../core/clock.js';

/**
 * A clock that follows the store's: "now" is this host's clock plus the offset to the database's, measured at start
 * and then every few minutes (half the round trip is taken as the one-way delay). Several daemons on hosts whose
 * clocks disagree still agree on slots and leases. On the SQLite store the offset is zero.
 */
export interface StoreClock extends Clock {
  /** Measure the offset again; keeps the old one if the store does not answer. */
  sync(): Promise<void>;
  /** Milliseconds added to this host's clock. */
  offsetMs(): number;
}

export function createStoreClock(dbNow: () => Promise<Date>, base: Clock): StoreClock {
  let offset = 0;
  return {
    now: () => new Date(base.now().getTime() + offset),
    offsetMs: () => offset,
    async sync() {
      const before = base.now().getTime();
      const db = (await dbNow()).getTime();
      const after = base.now().getTime();
      offset = Math.round(db - (before + after) / 2);
    },
  };
}
