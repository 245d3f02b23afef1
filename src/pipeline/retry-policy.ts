import type { RetryPolicy } from '../config/model.js';
import { backoffMs } from '../runs/backoff.js';

/** The wait before retry number `attempt` of a run, by the integration's retry policy and the one backoff. */
export function retryDelayMs(policy: RetryPolicy, attempt: number, random: () => number): number {
  return backoffMs(attempt, { baseMs: policy.initialDelaySeconds * 1000, maxMs: policy.maxDelaySeconds * 1000, random });
}
