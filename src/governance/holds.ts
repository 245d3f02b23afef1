import type { FerryConfig, Integration } from '../config/model.js';
import type { RunStore } from '../store/run-store.js';
import { overdueReviewHold } from './reviews.js';
import { agreementHold } from './agreements.js';

/**
 * Governance holds: reasons a scheduled run must not send anything today even though nothing is wrong with the data
 * (its agreement has expired, its yearly review is overdue and the center holds overdue integrations). Each check is a
 * function here; the run lifecycle asks `holdReason` before a scheduled run or a retry does any work, and records the
 * run `held` with the sentence. Manual runs are refused by the CLI instead, unless forced with a reason.
 * A check may read the run store (a review is recorded there, not in config), so it may answer with a promise.
 */
export type HoldCheck = (integration: Integration, config: FerryConfig, at: Date, store: RunStore) => string | null | Promise<string | null>;

const CHECKS: HoldCheck[] = [agreementHold, overdueReviewHold];

/** The first governance reason to hold this integration's run for the slot `at`, or null. */
export async function holdReason(integration: Integration, config: FerryConfig, at: Date, store: RunStore): Promise<string | null> {
  for (const check of CHECKS) {
    const reason = await check(integration, config, at, store);
    if (reason) return reason;
  }
  return null;
}
