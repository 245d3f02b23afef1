import type { Knex } from 'knex';

/**
 * Held deliveries (the roster safety gate): where the kept spool file is, why it was held, and who released it.
 * `status` is a plain string column, so the new `held` status needs no schema change.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('runs', (t) => {
    t.text('spool_path').nullable();
    t.text('hold_reason').nullable();
    t.string('released_by', 128).nullable();
    t.timestamp('released_at', { useTz: true }).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('runs', (t) => {
    t.dropColumn('released_at');
    t.dropColumn('released_by');
    t.dropColumn('hold_reason');
    t.dropColumn('spool_path');
  });
}
