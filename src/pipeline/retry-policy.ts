import type { RetryPolicy } from '../config/model.js';

/**
 * The wait before retry number `attempt` (1 = the first retry, after attempt 1 failed): exponential from
 * `initialDelaySeconds`, capped at `maxDelaySeconds`, with "equal jitter" (half fixed, half random) so that many
 * integrations failing together against one server do not come back at the same instant, yet none comes back at once.
 */
export function retryDelayMs(policy: RetryPolicy, attempt: number, random: () => number): number {
  const cap = Math.min(policy.maxDelaySeconds, policy.initialDelaySeconds * 2 ** (attempt - 1)) * 1000;
  return Math.round(cap / 2 + random() * (cap / 2));
}
