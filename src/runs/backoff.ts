import { setTimeout as delay } from 'node:timers/promises';
import { isFerryError } from '../core/errors.js';

/**
 * The one backoff in Ferry. Run retries, SFTP reconnects, HTTP requests and store writes all wait this way:
 * exponential from `baseMs`, capped at `maxMs`, with "equal jitter" (half fixed, half random), so that many callers
 * failing together against one server do not come back at the same instant, yet none comes back at once.
 */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** 0 ≤ x < 1; injectable so tests know the delay. */
  random?: (() => number) | undefined;
}

/** The wait before retry number `attempt` (1 = the first retry, after the first try failed). */
export function backoffMs(attempt: number, opts: BackoffOptions): number {
  const cap = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.max(0, attempt - 1));
  const random = opts.random ?? Math.random;
  return Math.round(cap / 2 + random() * (cap / 2));
}

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;
export const realSleep: Sleep = (ms, signal) => delay(ms, undefined, signal ? { signal } : undefined);

export interface RetryOptions extends Partial<BackoffOptions> {
  /** Attempts after the first one. */
  retries: number;
  signal?: AbortSignal | undefined;
  sleep?: Sleep | undefined;
  /** Which failures are worth another attempt; default: a FerryError whose kind the error table calls retryable. */
  retryable?: ((err: unknown) => boolean) | undefined;
  onRetry?: ((err: unknown, attempt: number, delayMs: number) => void) | undefined;
}

/** The error table's verdict, except for stops: an abort or a timeout is never worth another attempt in place. */
export function isRetryableFailure(err: unknown): boolean {
  return isFerryError(err) && err.retryable && err.kind !== 'aborted' && err.kind !== 'timeout';
}

/** Call `fn` until it succeeds, a failure is not retryable, the retries are spent or the signal aborts. */
export async function retryWithBackoff<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const sleep = opts.sleep ?? realSleep;
  const retryable = opts.retryable ?? isRetryableFailure;
  const backoff = { baseMs: opts.baseMs ?? 1000, maxMs: opts.maxMs ?? 30_000, random: opts.random };
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!retryable(err) || attempt > opts.retries || opts.signal?.aborted) throw err;
      const wait = backoffMs(attempt, backoff);
      opts.onRetry?.(err, attempt + 1, wait);
      await sleep(wait, opts.signal);
    }
  }
}
