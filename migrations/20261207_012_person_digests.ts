import type { Knex } from 'knex';

/**
 * Who was in each delivered file, without keeping who they are (src/governance/person-digests.ts):
 * - `person_digest_runs`: one row per run whose digests are complete (written in the same transaction as its chunks),
 *   so a run without a row here is "not known", never "nobody";
 * - `person_digest_chunks`: the run's digests (16-byte keyed HMACs of the person key column), sorted, without
 *   repeats, packed up to 65,536 to a blob; `first_digest`/`last_digest` let a lookup read the one chunk that can hold it.
 * Packed blobs keep a million-row delivery near 16 MB in either store, where a row per digest costs 3 to 6 times that.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('person_digest_runs', (t) => {
    t.integer('run_id').primary().references('id').inTable('runs').onDelete('CASCADE');
    t.text('key_column').notNullable();
    t.integer('persons').notNullable();
    t.integer('rows').notNullable();
    t.timestamp('recorded_at', { useTz: true }).notNullable();
  });
  await knex.schema.createTable('person_digest_chunks', (t) => {
    t.integer('run_id').notNullable().references('run_id').inTable('person_digest_runs').onDelete('CASCADE');
    t.integer('chunk').notNullable();
    t.binary('first_digest').notNullable();
    t.binary('last_digest').notNullable();
    t.binary('digests').notNullable();
    t.primary(['run_id', 'chunk']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('person_digest_chunks');
  await knex.schema.dropTable('person_digest_runs');
}
