import type { Knex } from 'knex';

/**
 * Runs belong to their slot:
 * - `slot_at`: the time a run is for. A scheduled run's slot, a manual run's start, and for a retry the slot of the run
 *   it retries, so a retry renders the same file name and `{date}` parameters as the slot it stands for, and a retry
 *   overtaken by a newer delivery to the same path can be told apart (status `superseded`).
 * Existing runs get their scheduled time, or their creation time.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('runs', (t) => {
    t.timestamp('slot_at', { useTz: true }).nullable();
  });
  await knex('runs').update({ slot_at: knex.raw('coalesce(scheduled_for, created_at)') });
  // "Has a newer slot already delivered this path?", asked before every delivery.
  await knex.raw("CREATE INDEX runs_delivered_path ON runs (integration_id, remote_path) WHERE status = 'succeeded'");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS runs_delivered_path');
  await knex.schema.alterTable('runs', (t) => {
    t.dropColumn('slot_at');
  });
}
