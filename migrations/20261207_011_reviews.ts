import type { Knex } from 'knex';

/**
 * The summer clean-up, on the record: each `reviews` row is one person confirming, with a district, that an
 * integration is still needed (`ferry review confirm`). `next_review` is the date (YYYY-MM-DD, in the integration's
 * time zone) the next review falls due, fixed when the review was recorded so that a later change to the review
 * interval does not rewrite what was agreed. Rows are only ever added; the latest row of an integration is its state.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('reviews', (t) => {
    t.increments('id').primary();
    t.string('integration_id', 128).notNullable();
    t.string('district_id', 128).notNullable();
    t.timestamp('reviewed_at', { useTz: true }).notNullable();
    t.string('reviewed_by', 128).notNullable();
    t.text('note').notNullable();
    t.string('ticket', 128).nullable();
    t.string('next_review', 10).notNullable();
    t.index(['integration_id', 'id'], 'reviews_latest');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('reviews');
}
