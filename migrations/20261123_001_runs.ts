import type { Knex } from 'knex';

/** Runs, their log lines, and enable/disable overrides set from the CLI. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('runs', (t) => {
    t.increments('id').primary();
    t.string('integration_id', 64).notNullable();
    t.string('district_id', 64).notNullable();
    t.string('extract', 64).notNullable();
    t.string('trigger', 16).notNullable(); // schedule | manual | retry
    t.string('requested_by', 128).notNullable();
    t.timestamp('scheduled_for', { useTz: true }).nullable();
    t.text('params_json').notNullable();
    t.string('status', 16).notNullable(); // running | succeeded | failed | skipped | interrupted
    t.boolean('dry_run').notNullable().defaultTo(false);
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('started_at', { useTz: true }).nullable();
    t.timestamp('finished_at', { useTz: true }).nullable();
    t.bigInteger('rows').nullable();
    t.bigInteger('bytes').nullable();
    t.string('sha256', 64).nullable();
    t.text('remote_path').nullable();
    t.text('target').nullable();
    t.string('error_kind', 32).nullable();
    t.text('error').nullable();
    t.string('host', 255).notNullable();
    t.integer('pid').notNullable();
    // A scheduled slot is recorded once; manual runs have no scheduled_for and are not constrained.
    t.unique(['integration_id', 'scheduled_for'], { indexName: 'runs_slot_unique' });
    t.index(['integration_id', 'id'], 'runs_integration_idx');
  });
  // At most one running run per integration, across every process that shares the store.
  await knex.raw("CREATE UNIQUE INDEX runs_one_running ON runs (integration_id) WHERE status = 'running'");

  await knex.schema.createTable('run_logs', (t) => {
    t.increments('id').primary();
    t.integer('run_id').notNullable().references('id').inTable('runs').onDelete('CASCADE');
    t.timestamp('at', { useTz: true }).notNullable();
    t.string('level', 8).notNullable();
    t.text('message').notNullable();
    t.text('fields_json').nullable();
    t.index(['run_id', 'id'], 'run_logs_run_idx');
  });

  await knex.schema.createTable('integration_state', (t) => {
    t.string('integration_id', 64).primary();
    t.boolean('enabled').notNullable();
    t.text('reason').nullable();
    t.string('changed_by', 128).notNullable();
    t.timestamp('changed_at', { useTz: true }).notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('run_logs');
  await knex.schema.dropTableIfExists('integration_state');
  await knex.schema.dropTableIfExists('runs');
}
