import type { Knex } from 'knex';
import type { PersonDigestSet } from '../governance/person-digests.js';
import { containsDigest, DIGEST_BYTES } from '../governance/person-digests.js';

/** Digests per stored blob: 1 MB. */
const CHUNK = 65_536;

/** The run store's side of person digests (migration 012): written whole, read by run, swept with retention. */
export interface PersonDigestStore {
  /** One file's digests, in one transaction: a run either has all of them or none. Replaces any earlier set. */
  put(runId: number, set: PersonDigestSet, at: Date): Promise<void>;
  /** Of these runs, those with digests recorded, with their counts. */
  recordedRuns(runIds: readonly number[]): Promise<Map<number, { persons: number; rows: number; keyColumn: string }>>;
  /** A run's digests, blob by blob (sorted within and across blobs). */
  chunks(runId: number): AsyncIterable<Buffer>;
  /** Of these runs, those whose file held `digest`: reads only the one blob per run whose range can hold it. */
  runsContaining(digest: Buffer, runIds: readonly number[]): Promise<Set<number>>;
  /** Removes the digests of runs created before `before`; returns how many runs lost theirs. */
  sweep(before: Date): Promise<number>;
}

export function createPersonDigestStore(knex: Knex): PersonDigestStore {
  const toBuffer = (v: unknown): Buffer => (Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array));
  return {
    async put(runId, set, at) {
      await knex.transaction(async (trx) => {
        await trx('person_digest_runs').where({ run_id: runId }).delete();
        await trx('person_digest_runs').insert({ run_id: runId, key_column: set.keyColumn, persons: set.persons, rows: set.rows, recorded_at: at.toISOString() });
        const D = DIGEST_BYTES;
        for (let c = 0; c * CHUNK < set.persons; c++) {
          const blob = set.digests.subarray(c * CHUNK * D, Math.min(set.persons, (c + 1) * CHUNK) * D);
          await trx('person_digest_chunks').insert({ run_id: runId, chunk: c, first_digest: blob.subarray(0, D), last_digest: blob.subarray(blob.length - D), digests: blob });
        }
      });
    },
    async recordedRuns(runIds) {
      const out = new Map<number, { persons: number; rows: number; keyColumn: string }>();
      for (let i = 0; i < runIds.length; i += 500) {
        const rows = (await knex('person_digest_runs').whereIn('run_id', runIds.slice(i, i + 500))) as { run_id: number; persons: number; rows: number; key_column: string }[];
        for (const r of rows) out.set(Number(r.run_id), { persons: Number(r.persons), rows: Number(r.rows), keyColumn: r.key_column });
      }
      return out;
    },
    async *chunks(runId) {
      // One blob at a time: a year of daily million-row files is never in memory at once.
      for (let c = 0; ; c++) {
        const row = (await knex('person_digest_chunks').where({ run_id: runId, chunk: c }).first('digests')) as { digests: unknown } | undefined;
        if (!row) return;
        yield toBuffer(row.digests);
      }
    },
    async runsContaining(digest, runIds) {
      const hits = new Set<number>();
      for (let i = 0; i < runIds.length; i += 500) {
        const rows = (await knex('person_digest_chunks')
          .whereIn('run_id', runIds.slice(i, i + 500))
          .where('first_digest', '<=', digest)
          .where('last_digest', '>=', digest)
          .select('run_id', 'digests')) as { run_id: number; digests: unknown }[];
        for (const r of rows) if (containsDigest(toBuffer(r.digests), digest)) hits.add(Number(r.run_id));
      }
      return hits;
    },
    async sweep(before) {
      const old = knex('runs').select('id').where('created_at', '<', before.toISOString());
      const ids = ((await knex('person_digest_runs').whereIn('run_id', old).select('run_id')) as { run_id: number }[]).map((r) => Number(r.run_id));
      for (let i = 0; i < ids.length; i += 500) {
        const batch = ids.slice(i, i + 500);
        await knex.transaction(async (trx) => {
          await trx('person_digest_chunks').whereIn('run_id', batch).delete();
          await trx('person_digest_runs').whereIn('run_id', batch).delete();
        });
      }
      return ids.length;
    },
  };
}
