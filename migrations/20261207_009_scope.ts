import type { Knex } from 'knex';

/**
 * Scope changes and deliveries, on the record:
 * - `forced_reason`, `forced_scope`: a run a person forced (`ferry run --force --reason`) past what the config fixes
 *   (a parameter, a disabled integration): why, in their words, and what was overridden. Who is `requested_by`.
 * - `release_forced_reason`, `release_forced_scope`: the same for a forced `ferry release`. Who is `released_by`.
 * - `delivered_at`: when the file reached the vendor. A held run released later is delivered after runs with higher
 *   ids, so "the latest delivery" is ordered by this, not by id. Existing deliveries get their release or finish time.
 * The new `expired` status (a held file nobody released in time) is a plain string, like every status.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('runs', (t) => {
    t.text('forced_reason').nullable();
    t.text('forced_scope').nullable();
    t.text('release_forced_reason').nullable();
    t.text('release_forced_scope').nullable();
    t.timestamp('delivered_at', { useTz: true }).nullable();
  });
  await knex('runs')
    .where({ status: 'succeeded', dry_run: false })
    .whereNotNull('remote_path')
    .update({ delivered_at: knex.raw('coalesce(released_at, finished_at)') });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('runs', (t) => {
    t.dropColumn('delivered_at');
    t.dropColumn('release_forced_scope');
    t.dropColumn('release_forced_reason');
    t.dropColumn('forced_scope');
    t.dropColumn('forced_reason');
  });
}
