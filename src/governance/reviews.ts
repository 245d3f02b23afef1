import type { FerryConfig, Integration } from '../config/model.js';
import { dateInZone } from '../config/params.js';
import type { ReviewRecord, RunRecord, RunStore } from '../store/run-store.js';
import type { HoldCheck } from './holds.js';

/**
 * The summer clean-up: once a year each integration is reviewed with its district ("is this still needed, still
 * covered, still sending only what it should?"). Its review date is, in order:
 * - the `next_review` of its latest recorded review (`ferry review confirm`);
 * - before any review, `inventory.nextReview` when set;
 * - otherwise `inventory.reviewEveryMonths` (default 12) after `inventory.startDate`;
 * - with none of these the date is unknown: `ferry review due` lists the integration so someone sets a start date or
 *   reviews it, but nothing is held for a date nobody knows.
 * Dates are calendar days in the integration's time zone; a review is due on its date and overdue the day after.
 */
export const DEFAULT_REVIEW_MONTHS = 12;
const DAY_MS = 24 * 60 * 60 * 1000;

export type ReviewBasis = 'review' | 'nextReview' | 'startDate' | 'none';
/** overdue: the date has passed; due: it is today; soon: within the window asked for; later; unknown: no date. */
export type ReviewState = 'overdue' | 'due' | 'soon' | 'later' | 'unknown';

export interface ReviewDate {
  date: string | null;
  basis: ReviewBasis;
}

export function reviewDateOf(integration: Integration, last: ReviewRecord | undefined): ReviewDate {
  if (last) return { date: last.nextReview, basis: 'review' };
  const inv = integration.inventory;
  if (inv.nextReview) return { date: inv.nextReview, basis: 'nextReview' };
  if (inv.startDate) return { date: addMonths(inv.startDate, inv.reviewEveryMonths ?? DEFAULT_REVIEW_MONTHS), basis: 'startDate' };
  return { date: null, basis: 'none' };
}

/** Whole days from `from` to `to` (YYYY-MM-DD); negative when `to` is earlier. */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);
}

/** `months` after a YYYY-MM-DD date; the 29th–31st fall back to the month's last day (2028-02-29 + 12 → 2029-02-28). */
export function addMonths(date: string, months: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const index = y * 12 + (m - 1) + months;
  const year = Math.floor(index / 12);
  const month = (index % 12) + 1;
  const last = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(Math.min(d, last)).padStart(2, '0')}`;
}

export function reviewStateOf(date: string | null, today: string, withinDays: number): { state: ReviewState; days: number | null } {
  if (date === null) return { state: 'unknown', days: null };
  const days = daysBetween(today, date);
  return { state: days < 0 ? 'overdue' : days === 0 ? 'due' : days <= withinDays ? 'soon' : 'later', days };
}

export interface ReviewDue {
  integration: Integration;
  date: string | null;
  basis: ReviewBasis;
  state: ReviewState;
  /** Days from today to the review date: negative when overdue; null when the date is unknown. */
  days: number | null;
  lastReview: ReviewRecord | undefined;
  lastDelivery: RunRecord | undefined;
  /** Whether anything reached the vendor in the last `withinDays` days: "nothing in 30 days" hints it is not needed. */
  deliveredRecently: boolean;
}

/**
 * Integrations whose review is overdue, due today, due within `withinDays`, or has no known date (`ferry review due`),
 * the most overdue first and the unknown last.
 */
export async function reviewsDue(
  config: FerryConfig,
  store: Pick<RunStore, 'latestReviews' | 'lastDelivered'>,
  at: Date,
  opts: { withinDays: number; district?: string | undefined },
): Promise<ReviewDue[]> {
  const latest = await store.latestReviews();
  const since = at.getTime() - opts.withinDays * DAY_MS;
  const out: ReviewDue[] = [];
  for (const integration of config.integrations.values()) {
    if (opts.district !== undefined && integration.district.id !== opts.district) continue;
    const last = latest.get(integration.id);
    const { date, basis } = reviewDateOf(integration, last);
    const { state, days } = reviewStateOf(date, dateInZone(at, integration.schedule.timezone), opts.withinDays);
    if (state === 'later') continue;
    const lastDelivery = await store.lastDelivered(integration.id);
    const deliveredAt = lastDelivery?.deliveredAt ?? lastDelivery?.finishedAt;
    out.push({ integration, date, basis, state, days, lastReview: last, lastDelivery, deliveredRecently: deliveredAt !== undefined && deliveredAt !== null && deliveredAt.getTime() >= since });
  }
  return out.sort((a, b) => (a.date ?? '9999').localeCompare(b.date ?? '9999') || a.integration.id.localeCompare(b.integration.id));
}

export interface OverdueReview {
  integrationId: string;
  districtId: string;
  vendor: string;
  /** The date the review fell due (YYYY-MM-DD). */
  dueOn: string;
}

/** Integrations whose yearly review is overdue at `at` (the daily digest). */
export function overdueReviews(config: FerryConfig, latest: ReadonlyMap<string, ReviewRecord>, at: Date): OverdueReview[] {
  const out: OverdueReview[] = [];
  for (const integration of config.integrations.values()) {
    const { date } = reviewDateOf(integration, latest.get(integration.id));
    if (date === null || reviewStateOf(date, dateInZone(at, integration.schedule.timezone), 0).state !== 'overdue') continue;
    out.push({ integrationId: integration.id, districtId: integration.district.id, vendor: integration.inventory.vendor, dueOn: date });
  }
  return out.sort((a, b) => a.dueOn.localeCompare(b.dueOn) || a.integrationId.localeCompare(b.integrationId));
}

export interface ConfirmInput {
  by: string;
  note: string;
  ticket: string | null;
  at: Date;
}

/**
 * Record a review: the one place a review is written (`ferry review confirm`), so whatever else must happen when one
 * is recorded (an audit entry) goes here. The next review falls due `reviewEveryMonths` after the review's date.
 */
export async function recordReview(store: Pick<RunStore, 'recordReview'>, integration: Integration, input: ConfirmInput): Promise<ReviewRecord> {
  const today = dateInZone(input.at, integration.schedule.timezone);
  return store.recordReview({
    integrationId: integration.id,
    districtId: integration.district.id,
    reviewedBy: input.by,
    note: input.note,
    ticket: input.ticket,
    nextReview: addMonths(today, integration.inventory.reviewEveryMonths ?? DEFAULT_REVIEW_MONTHS),
    reviewedAt: input.at,
  });
}

/** With `governance.holdOverdueReviews`, a scheduled run of an integration whose review is overdue sends nothing. */
export const overdueReviewHold: HoldCheck = async (integration, config, at, store) => {
  if (!config.governance.holdOverdueReviews) return null;
  const { date } = reviewDateOf(integration, (await store.latestReviews(integration.id)).get(integration.id));
  if (date === null || reviewStateOf(date, dateInZone(at, integration.schedule.timezone), 0).state !== 'overdue') return null;
  return `its yearly review was due on ${date} and the center holds overdue integrations (governance.holdOverdueReviews); once reviewed with the district: ferry review confirm ${integration.id} --note "…"`;
};
