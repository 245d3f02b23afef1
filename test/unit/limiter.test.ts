import { describe, expect, it } from 'vitest';
import { createLimiter } from '../../src/runs/limiter.js';

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

  /** Whether a pending acquire has got its slot, after every already-due callback has run. */
  async function admitted(p: Promise<() => void>): Promise<boolean> {
    let done = false;
    void p.then(() => (done = true));
    await new Promise((r) => setImmediate(r));
    return done;
  }

  it('a larger global cap (a reload) admits waiters at once, in arrival order', async () => {
    const limiter = createLimiter(1);
    const first = await limiter.acquire('a', 5);
    const second = limiter.acquire('b', 5);
    const third = limiter.acquire('c', 5);
    expect(await admitted(second)).toBe(false);
    expect(limiter.waiting()).toBe(2);
    limiter.resize(2);
    expect(await admitted(second)).toBe(true);
    expect(await admitted(third)).toBe(false);
    limiter.resize(3);
    expect(await admitted(third)).toBe(true);
    expect(limiter.waiting()).toBe(0);
    for (const r of [first, await second, await third]) r();
  });

  it('a smaller global cap lets running holders finish and admits no one until the count is under it', async () => {
    const limiter = createLimiter(3);
    const holders = [await limiter.acquire('a', 5), await limiter.acquire('b', 5), await limiter.acquire('c', 5)];
    limiter.resize(1);
    const next = limiter.acquire('d', 5);
    holders[0]!();
    expect(await admitted(next)).toBe(false); // 2 still running, cap 1
    holders[1]!();
    expect(await admitted(next)).toBe(false); // 1 running, cap 1
    holders[2]!();
    expect(await admitted(next)).toBe(true);
    const after = limiter.acquire('e', 5);
    expect(await admitted(after)).toBe(false); // the cap is 1 now, for newcomers too
    (await next)();
    expect(await admitted(after)).toBe(true);
    (await after)();
  });

  it('a per-key cap follows the max each acquire brings (a reload changed perSource)', async () => {
    const limiter = createLimiter(10);
    const holder = await limiter.acquire('source:sis', 1);
    const waiter = limiter.acquire('source:sis', 1);
    expect(await admitted(waiter)).toBe(false);
    // The next run comes with the new config's cap of 2: the waiter goes first, the newcomer waits.
    const newcomer = limiter.acquire('source:sis', 2);
    expect(await admitted(waiter)).toBe(true);
    expect(await admitted(newcomer)).toBe(false);
    holder();
    expect(await admitted(newcomer)).toBe(true);
    (await waiter)();
    (await newcomer)();
  });
});
