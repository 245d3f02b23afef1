import type { Knex } from 'knex';

/**
 * Runs record what the source said it holds beside what was read:
 * - `expected`: an API source's own count (PowerSchool's /count, eSchoolData's totalCount; before Ferry's filters),
 *   which the read was reconciled against; for SQL sources the rows themselves. Null for runs from before this column,
 *   and for runs that failed before reading.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('runs', (t) => {
    t.bigInteger('expected').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('runs', (t) => {
    t.dropColumn('expected');
  });
}
