import type { Logger } from 'winston';
import type { Clock } from '../core/clock.js';
import type { Integration, RetryPolicy } from '../config/model.js';
import type { RunRecord, RunStore } from '../store/run-store.js';
import { backoffMs } from './backoff.js';

/** The wait before retry number `attempt` of a run, by the integration's retry policy and the one backoff. */
export function retryDelayMs(policy: RetryPolicy, attempt: number, random: () => number): number {
  return backoffMs(attempt, { baseMs: policy.initialDelaySeconds * 1000, maxMs: policy.maxDelaySeconds * 1000, random });
}

/**
 * The retry policy: a scheduled (or retry) run that ended for a reason that may pass (the error table's `retryable`:
 * network, timeouts, 5xx/429, deadlocks, an interrupted run) gets a queued retry after a backoff, until the
 * integration's maxAttempts. Bad SQL, bad credentials and failed checks are never retried; manual runs neither (the
 * person who ran it sees the error). A retry stands for the same slot: it keeps the slot's time (`slotAt`), so it
 * renders the same file name and parameters, and it resolves its parameters afresh from the integration's config.
 */
export async function queueRetry(
  deps: { store: RunStore; clock: Clock; logger: Logger; random: () => number; host: string; pid: number },
  integration: Integration,
  failed: RunRecord,
  retryable: boolean,
  kind: string,
): Promise<RunRecord | undefined> {
  const policy = integration.retry;
  if (!policy || !retryable || failed.dryRun || failed.trigger === 'manual') return undefined;
  if (failed.attempt >= policy.maxAttempts) {
    deps.logger.warn('no retry left', { integration: integration.id, runId: failed.id, attempt: failed.attempt, maxAttempts: policy.maxAttempts, errorKind: kind });
    return undefined;
  }
  const delay = retryDelayMs(policy, failed.attempt, deps.random);
  const notBefore = new Date(deps.clock.now().getTime() + delay);
  const attempt = failed.attempt + 1;
  const retry = await deps.store.enqueue({
    integrationId: integration.id,
    districtId: integration.district.id,
    extract: integration.extract.name,
    trigger: 'retry',
    requestedBy: 'scheduler',
    scheduledFor: null,
    slotAt: failed.slotAt,
    params: integration.params,
    host: deps.host,
    pid: deps.pid,
    attempt,
    retryOf: failed.retryOf ?? failed.id,
    notBefore,
    note: `retry ${attempt - 1} of ${policy.maxAttempts - 1} after run ${failed.id} (${kind}), for the slot of ${failed.slotAt.toISOString()}, not before ${notBefore.toISOString()}`,
  });
  if (retry) deps.logger.info('retry queued', { integration: integration.id, runId: failed.id, retryRunId: retry.id, attempt, notBefore: notBefore.toISOString(), delayMs: delay });
  else deps.logger.info('retry not queued: a run of the integration is already queued', { integration: integration.id, runId: failed.id, attempt });
  return retry;
}
