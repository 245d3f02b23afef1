/** A counting semaphore: waiters are served in arrival order and can give up through an AbortSignal. */
export interface Semaphore {
  acquire(signal?: AbortSignal): Promise<() => void>;
}

export function createSemaphore(max: number): Semaphore {
  let active = 0;
  const waiters: (() => void)[] = [];
  const releaser = () => {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = waiters.shift();
      if (next) next(); // hand the slot straight over
      else active--;
    };
  };
  return {
    async acquire(signal) {
      signal?.throwIfAborted();
      if (active < max) {
        active++;
        return releaser();
      }
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          const i = waiters.indexOf(wake);
          if (i >= 0) waiters.splice(i, 1);
          reject(signal!.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        waiters.push(wake);
      });
      return releaser();
    },
  };
}
