import { setTimeout as delay } from 'node:timers/promises';
import { isFerryError } from '../core/errors.js';

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;
export const realSleep: Sleep = (ms, signal) => delay(ms, undefined, signal ? { signal } : undefined);

export interface RetryOptions {
  retries: number;
  baseMs?: number;
  maxMs?: number;
  signal?: AbortSignal | undefined;
  sleep?: Sleep | undefined;
}

/** Retry what the error table calls retryable, with exponential backoff and full jitter; anything else fails at once. */
export async function retryWithBackoff<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const base = opts.baseMs ?? 1000;
  const max = opts.maxMs ?? 30_000;
  const sleep = opts.sleep ?? realSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      const retryable = isFerryError(err) && err.retryable && err.kind !== 'aborted' && err.kind !== 'timeout';
      if (!retryable || attempt > opts.retries || opts.signal?.aborted) throw err;
      const cap = Math.min(max, base * 2 ** (attempt - 1));
      await sleep(cap / 2 + Math.random() * (cap / 2), opts.signal);
    }
  }
}
