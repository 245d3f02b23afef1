import type { Knex } from 'knex';

/**
 * The audit log (src/governance/audit.ts): who changed or sent what, when and why, hash-chained.
 * - `id` is not auto-incremented: each append takes the last id + 1 under the append lock, so ids have no gaps and a
 *   removed entry shows as one. It is part of the hash.
 * - `prev_hash` is unique: two appends that raced past the lock cannot both follow the same entry.
 * - Triggers refuse UPDATE and DELETE: the log is never rewritten by Ferry or by accident. Someone who drops them can
 *   still change a row, and `ferry audit verify` then names it.
 * Runs gain `config_digest`: the digest of the configuration in force when the run was claimed.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('audit', (t) => {
    t.bigInteger('id').primary();
    t.timestamp('at', { useTz: true }).notNullable();
    t.string('who', 128).notNullable();
    t.string('action', 32).notNullable();
    t.string('integration', 128).nullable();
    t.string('district', 128).nullable();
    t.text('what').notNullable();
    t.text('why').nullable();
    t.string('ticket', 128).nullable();
    t.text('details_json').nullable();
    t.string('config_digest', 64).nullable();
    t.string('prev_hash', 64).notNullable().unique();
    t.string('hash', 64).notNullable();
    t.index(['integration', 'id']);
    t.index(['district', 'id']);
    t.index(['action', 'id']);
  });
  if (knex.client.config.client === 'pg') {
    await knex.raw(`CREATE FUNCTION ferry_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'the audit log is append-only: % is refused', TG_OP; END $$`);
    await knex.raw('CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION ferry_audit_append_only()');
  } else {
    await knex.raw(`CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: UPDATE is refused'); END`);
    await knex.raw(`CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: DELETE is refused'); END`);
  }
  await knex.schema.alterTable('runs', (t) => {
    t.string('config_digest', 64).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('runs', (t) => {
    t.dropColumn('config_digest');
  });
  await knex.schema.dropTable('audit');
  if (knex.client.config.client === 'pg') await knex.raw('DROP FUNCTION IF EXISTS ferry_audit_append_only()');
}
