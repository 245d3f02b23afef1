import { describe, expect, it } from 'vitest';
import { createLimiter } from '../../src/scheduler/limiter.js';

/** A run that holds its slot until the test lets it go. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

describe('concurrency limiter', () => {
  it('never lets more than the per-source cap run against one source, nor more than the global cap overall', async () => {
    const limiter = createLimiter(3);
    let running = 0;
    let peak = 0;
    const perSource = new Map<string, number>();
    const peakPerSource = new Map<string, number>();
    const gates = Array.from({ length: 12 }, gate);
    const jobs = gates.map(async (g, i) => {
      const source = i % 2 === 0 ? 'district-a' : 'district-b';
      const release = await limiter.acquire(source, 2);
      running++;
      perSource.set(source, (perSource.get(source) ?? 0) + 1);
      peak = Math.max(peak, running);
      peakPerSource.set(source, Math.max(peakPerSource.get(source) ?? 0, perSource.get(source)!));
      await g.opened;
      running--;
      perSource.set(source, perSource.get(source)! - 1);
      release();
    });
    // Let jobs go one at a time, in order; each release hands its slot on.
    for (const g of gates) {
      await new Promise((r) => setImmediate(r));
      g.open();
    }
    await Promise.all(jobs);
    expect(peak).toBe(3);
    expect(peakPerSource.get('district-a')).toBe(2);
    expect(peakPerSource.get('district-b')).toBe(2);
  });

  it('a waiter that gives up (abort) leaves the queue without taking a slot', async () => {
    const limiter = createLimiter(1);
    const release = await limiter.acquire('s', 1);
    const ac = new AbortController();
    const waiting = limiter.acquire('s', 1, ac.signal);
    ac.abort(new Error('shutdown'));
    await expect(waiting).rejects.toThrow('shutdown');
    release();
    const again = await limiter.acquire('s', 1); // the slot is free, not held by the aborted waiter
    again();
  });
});
