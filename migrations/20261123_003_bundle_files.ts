import type { Knex } from 'knex';

/** OneRoster bundles: each file in the delivered zip with its bytes, SHA-256 and rows (JSON); null for single files. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('runs', (t) => {
    t.text('files_json').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('runs', (t) => {
    t.dropColumn('files_json');
  });
}
