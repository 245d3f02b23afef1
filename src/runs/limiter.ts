/**
 * Concurrency limits: one global cap plus one per key (a source, so that one district's database is not hammered).
 * Waiters are served in arrival order and can give up through an AbortSignal. Caps can change while runs hold slots
 * (a config reload): a larger cap admits waiters at once; a smaller one lets running holders finish and admits no one
 * until the count is under it.
 */
class Semaphore {
  private active = 0;
  private readonly waiters: (() => void)[] = [];
  constructor(private max: number) {}

  resize(max: number): void {
    this.max = max;
    this.admit();
  }

  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.active < this.max && this.waiters.length === 0) {
      this.active++;
      return this.releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const wake = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(wake);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(wake);
    });
    return this.releaser();
  }

  /** Hands free slots to waiters in arrival order; synchronous, so a newcomer cannot take a slot meant for a waiter. */
  private admit(): void {
    while (this.active < this.max && this.waiters.length > 0) {
      this.active++;
      this.waiters.shift()!();
    }
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.active--;
      this.admit();
    };
  }
}

export interface Limiter {
  /**
   * Wait for a slot under every key's cap (a source, a destination host), then under the global cap; returns the
   * release function. Keys are taken in the order given; a waiter holds no global slot while it waits for a key.
   */
  acquire(keys: string | readonly LimitKey[], keyMax?: number, signal?: AbortSignal): Promise<() => void>;
  /** Change the global cap (a config reload); see Semaphore for what growing and shrinking do. */
  resize(globalMax: number): void;
  /** Runs waiting for a slot right now. */
  waiting(): number;
}

export interface LimitKey {
  key: string;
  /** The key's cap as the caller's config has it now; a changed value resizes the key's cap. */
  max: number;
}

export function createLimiter(globalMax: number, onWaitingChange?: (waiting: number) => void): Limiter {
  const global = new Semaphore(globalMax);
  const perKey = new Map<string, Semaphore>();
  let waiting = 0;
  const changeWaiting = (d: number) => {
    waiting += d;
    onWaitingChange?.(waiting);
  };
  const semaphore = ({ key, max }: LimitKey) => {
    let sem = perKey.get(key);
    if (!sem) {
      sem = new Semaphore(max);
      perKey.set(key, sem);
    } else sem.resize(max);
    return sem;
  };
  return {
    waiting: () => waiting,
    resize: (max) => global.resize(max),
    async acquire(keys, keyMax, signal) {
      const list: readonly LimitKey[] = typeof keys === 'string' ? [{ key: keys, max: keyMax ?? 1 }] : keys;
      const releases: (() => void)[] = [];
      const releaseAll = () => {
        for (const r of releases.reverse()) r();
      };
      changeWaiting(1);
      try {
        for (const k of list) releases.push(await semaphore(k).acquire(signal));
        releases.push(await global.acquire(signal));
      } catch (err) {
        releaseAll();
        throw err;
      } finally {
        changeWaiting(-1);
      }
      return releaseAll;
    },
  };
}
