/**
 * Concurrency limits: one global cap plus one per key (a source, so that one district's database is not hammered).
 * Waiters are served in arrival order and can give up through an AbortSignal.
 */
class Semaphore {
  private active = 0;
  private readonly waiters: (() => void)[] = [];
  constructor(private readonly max: number) {}

  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.active < this.max) {
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

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiters.shift();
      if (next) next(); // hand the slot straight over
      else this.active--;
    };
  }
}

export interface Limiter {
  /** Wait for a slot under the global cap and under `key`'s cap; returns the release function. */
  acquire(key: string, keyMax: number, signal?: AbortSignal): Promise<() => void>;
}

export function createLimiter(globalMax: number): Limiter {
  const global = new Semaphore(globalMax);
  const perKey = new Map<string, Semaphore>();
  return {
    async acquire(key, keyMax, signal) {
      let sem = perKey.get(key);
      if (!sem) {
        sem = new Semaphore(keyMax);
        perKey.set(key, sem);
      }
      // Per-key first, so a run waiting on its busy source does not sit on a global slot.
      const releaseKey = await sem.acquire(signal);
      try {
        const releaseGlobal = await global.acquire(signal);
        return () => {
          releaseGlobal();
          releaseKey();
        };
      } catch (err) {
        releaseKey();
        throw err;
      }
    },
  };
}
