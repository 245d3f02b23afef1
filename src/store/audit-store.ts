import type { Knex } from 'knex';
import type { AuditRow, AuditStore } from '../governance/audit.js';
import { retryWithBackoff } from '../runs/backoff.js';

/**
 * The audit log's table on the run store's knex. Appends are serialized across every process sharing the store
 * (daemons and CLI alike), so each entry follows exactly one other:
 * - PostgreSQL: a transaction-scoped advisory lock (it also covers the first entry, when there is no row to lock);
 * - SQLite: BEGIN IMMEDIATE, which takes the write lock before reading the tip (a deferred transaction would read a
 *   tip another writer can change before this one writes).
 * The primary key on id and the unique prev_hash stop a second entry after the same tip should the lock ever fail;
 * such an append is tried again with the one backoff.
 */
export function createAuditStore(knex: Knex): AuditStore {
  const pg = knex.client.config.client === 'pg';
  type Seal = Parameters<AuditStore['append']>[0];

  const appendPg = (seal: Seal, withLastConfig: boolean) =>
    knex.transaction(async (trx) => {
      await trx.raw('SELECT pg_advisory_xact_lock(?)', [AUDIT_LOCK]);
      const last = await trx('audit').orderBy('id', 'desc').first();
      const lastConfig = withLastConfig ? await trx('audit').where({ action: 'config' }).orderBy('id', 'desc').first() : undefined;
      const row = seal({ last: last ? fromDb(last) : undefined, lastConfig: lastConfig ? fromDb(lastConfig) : undefined });
      if (row) await trx('audit').insert(toDb(row));
      return row;
    });

  const appendSqlite = async (seal: Seal, withLastConfig: boolean) => {
    // better-sqlite3's own transaction runs BEGIN IMMEDIATE; knex's would run a deferred BEGIN. The pool holds one
    // connection, so nothing else uses it meanwhile.
    const client = knex.client as { acquireConnection(): Promise<SqliteDb>; releaseConnection(c: SqliteDb): Promise<void> };
    const db = await client.acquireConnection();
    try {
      const tx = db.transaction(() => {
        const last = db.prepare('SELECT * FROM audit ORDER BY id DESC LIMIT 1').get() as Record<string, unknown> | undefined;
        const lastConfig = withLastConfig ? (db.prepare("SELECT * FROM audit WHERE action = 'config' ORDER BY id DESC LIMIT 1").get() as Record<string, unknown> | undefined) : undefined;
        const row = seal({ last: last ? fromDb(last) : undefined, lastConfig: lastConfig ? fromDb(lastConfig) : undefined });
        if (row) {
          const r = toDb(row);
          const cols = Object.keys(r);
          db.prepare(`INSERT INTO audit (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`).run(...Object.values(r));
        }
        return row;
      });
      return tx.immediate();
    } finally {
      await client.releaseConnection(db);
    }
  };

  return {
    append(seal, opts = {}) {
      const withLastConfig = opts.withLastConfig ?? false;
      return retryWithBackoff(() => (pg ? appendPg(seal, withLastConfig) : appendSqlite(seal, withLastConfig)), {
        retries: 8,
        baseMs: 50,
        maxMs: 2000,
        retryable: (err) => isRaceLost(err),
      });
    },
    async list(filter) {
      const q = knex('audit').orderBy('id');
      if (filter.integration) q.where((w) => w.where({ integration: filter.integration }).orWhere({ action: 'config' }));
      if (filter.district) q.where((w) => w.where({ district: filter.district }).orWhere({ action: 'config' }));
      if (filter.since) q.where('at', '>=', filter.since.toISOString());
      return (await q).map(fromDb);
    },
    async page(afterId, limit) {
      return (await knex('audit').where('id', '>', afterId).orderBy('id').limit(limit)).map(fromDb);
    },
  };
}

/** Any fixed 64-bit key, the same in every process: "ferry audit" as the lock's name. */
const AUDIT_LOCK = '7236912437011316';

interface SqliteDb {
  prepare(sql: string): { get(...p: unknown[]): unknown; run(...p: unknown[]): unknown };
  transaction<T>(fn: () => T): { immediate(): T };
}

/** Another writer got there first (or held the file past busy_timeout): read the new tip and try again. */
function isRaceLost(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e.code === '23505' || e.code === 'SQLITE_BUSY' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || e.code === 'SQLITE_CONSTRAINT_UNIQUE' || /UNIQUE constraint failed|database is locked/.test(e.message ?? '');
}

function toDb(r: AuditRow): Record<string, unknown> {
  return {
    id: r.id,
    at: r.at,
    who: r.who,
    action: r.action,
    integration: r.integration,
    district: r.district,
    what: r.what,
    why: r.why,
    ticket: r.ticket,
    details_json: r.detailsJson,
    config_digest: r.configDigest,
    prev_hash: r.prevHash,
    hash: r.hash,
  };
}

/** PostgreSQL gives Dates and bigint strings, SQLite text and numbers: one mapping for both, `at` back to its ISO text. */
function fromDb(r: Record<string, unknown>): AuditRow {
  const opt = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return {
    id: Number(r.id),
    at: new Date(r.at as string | Date).toISOString(),
    who: String(r.who),
    action: String(r.action),
    integration: opt(r.integration),
    district: opt(r.district),
    what: String(r.what),
    why: opt(r.why),
    ticket: opt(r.ticket),
    detailsJson: opt(r.details_json),
    configDigest: opt(r.config_digest),
    prevHash: String(r.prev_hash),
    hash: String(r.hash),
  };
}
