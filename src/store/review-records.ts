import type { Knex } from 'knex';
import type { Clock } from '../core/clock.js';

/** One recorded yearly review (`ferry review confirm`): who confirmed the integration is still needed, when and why. */
export interface ReviewRecord {
  id: number;
  integrationId: string;
  districtId: string;
  reviewedAt: Date;
  reviewedBy: string;
  note: string;
  ticket: string | null;
  /** When the next review falls due (YYYY-MM-DD, the integration's time zone). */
  nextReview: string;
}

export interface NewReview {
  integrationId: string;
  districtId: string;
  reviewedBy: string;
  note: string;
  ticket: string | null;
  nextReview: string;
  /** Default: the store's clock. */
  reviewedAt?: Date;
}

export interface ReviewQueries {
  recordReview(review: NewReview): Promise<ReviewRecord>;
  /** The latest review of each integration (or of one), by integration id. */
  latestReviews(integrationId?: string): Promise<Map<string, ReviewRecord>>;
}

/** The `reviews` table (migration 011); the run store exposes these as its own methods. */
export function reviewQueries(knex: Knex, clock: Clock): ReviewQueries {
  return {
    async recordReview(review) {
      const [row] = await knex('reviews')
        .insert({
          integration_id: review.integrationId,
          district_id: review.districtId,
          reviewed_at: (review.reviewedAt ?? clock.now()).toISOString(),
          reviewed_by: review.reviewedBy,
          note: review.note,
          ticket: review.ticket,
          next_review: review.nextReview,
        })
        .returning('*');
      return rowToReview(row);
    },
    async latestReviews(integrationId) {
      const latest = knex('reviews').max('id').groupBy('integration_id');
      if (integrationId !== undefined) latest.where({ integration_id: integrationId });
      const rows = await knex('reviews').whereIn('id', latest);
      return new Map(rows.map((r) => [r.integration_id as string, rowToReview(r)]));
    },
  };
}

function rowToReview(r: Record<string, unknown>): ReviewRecord {
  return {
    id: Number(r.id),
    integrationId: String(r.integration_id),
    districtId: String(r.district_id),
    reviewedAt: new Date(r.reviewed_at as string | Date),
    reviewedBy: String(r.reviewed_by),
    note: String(r.note),
    ticket: r.ticket === null || r.ticket === undefined ? null : String(r.ticket),
    nextReview: String(r.next_review),
  };
}
