import type { Knex } from 'knex';

/** One-off jobs that several daemons share (the daily alert digest): the first to insert (name, slot) does it. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('claims', (t) => {
    t.string('name', 64).notNullable();
    t.timestamp('slot', { useTz: true }).notNullable();
    t.string('owner', 255).notNullable();
    t.timestamp('claimed_at', { useTz: true }).notNullable();
    t.primary(['name', 'slot']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('claims');
}
