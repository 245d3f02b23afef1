import type { Knex } from 'knex';

/**
 * Scheduling you can trust (several daemons on one store):
 * - `attempt` and `retry_of`: a retry is a new run that points at the first run of its chain;
 * - `not_before`: a queued run (a retry waiting out its backoff, or a slot queued behind a running run) starts no sooner;
 * - `lease_owner` and `lease_expires_at`: the daemon running a run renews its lease; once it lapses, any daemon may
 *   mark the run interrupted and queue its retry;
 * - `note`: the scheduler's decision in a sentence (missed slot and policy, blackout, catch-up).
 * Statuses gain `queued` and `missed`. At most one queued run per integration, like at most one running.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('runs', (t) => {
    t.integer('attempt').notNullable().defaultTo(1);
    t.integer('retry_of').nullable();
    t.timestamp('not_before', { useTz: true }).nullable();
    t.string('lease_owner', 255).nullable();
    t.timestamp('lease_expires_at', { useTz: true }).nullable();
    t.text('note').nullable();
  });
  await knex.raw("CREATE UNIQUE INDEX runs_one_queued ON runs (integration_id) WHERE status = 'queued'");
  await knex.raw("CREATE INDEX runs_queued_due ON runs (not_before) WHERE status = 'queued'");
  await knex.raw("CREATE INDEX runs_running_lease ON runs (lease_expires_at) WHERE status = 'running'");
  await knex.raw('CREATE INDEX runs_slot_latest ON runs (integration_id, scheduled_for)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS runs_slot_latest');
  await knex.raw('DROP INDEX IF EXISTS runs_running_lease');
  await knex.raw('DROP INDEX IF EXISTS runs_queued_due');
  await knex.raw('DROP INDEX IF EXISTS runs_one_queued');
  await knex.schema.alterTable('runs', (t) => {
    t.dropColumn('note');
    t.dropColumn('lease_expires_at');
    t.dropColumn('lease_owner');
    t.dropColumn('not_before');
    t.dropColumn('retry_of');
    t.dropColumn('attempt');
  });
}
