import type { Knex } from 'knex';

/** OneRoster bundles: whether the run's zip was a bulk or a delta (null for single files and Clever sets). */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('runs', (t) => {
    t.text('bundle_mode').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('runs', (t) => {
    t.dropColumn('bundle_mode');
  });
}
