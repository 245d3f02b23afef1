import crypto from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/core/clock.js';
import { countDistinctPersons, createKeyDigester, createPersonHasher, findPerson } from '../../src/governance/person-digests.js';
import { openRunStore, type RunStore } from '../../src/store/run-store.js';
import { createTestDatabase } from '../helpers/pg-database.js';

const T0 = new Date('2026-01-05T07:00:00.000Z');
const hasher = createPersonHasher(crypto.randomBytes(32).toString('hex'));

/** A delivered CSV file of these student ids (key in the second column, some quoted), as its digest set. */
function fileOf(ids: readonly string[]) {
  const d = createKeyDigester({ hasher, keyColumn: 'Student_id', columnIndex: 1, format: { delimiter: ',', header: true } });
  const csv = 'School_id,Student_id,Note\r\n' + ids.map((id, i) => `S1,${i % 2 ? `"${id}"` : id},"a, ""b""\r\nc"\r\n`).join('');
  // In small uneven pieces: a key split across chunks is read whole.
  const bytes = Buffer.from(csv);
  for (let i = 0; i < bytes.length; i += 7) d.push(bytes.subarray(i, i + 7));
  return d.finish();
}

const ids = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `STU${String(from + i).padStart(6, '0')}`);

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`person digests in the ${backend} run store`, () => {
    async function withStore(fn: (store: RunStore, clock: ReturnType<typeof createManualClock>) => Promise<void>): Promise<void> {
      const clock = createManualClock(T0);
      if (backend === 'sqlite') {
        const dir = await mkdtemp(join(tmpdir(), 'ferry-digests-'));
        const store = await openRunStore({ kind: 'sqlite', path: join(dir, 'ferry.sqlite') }, clock);
        try {
          await fn(store, clock);
        } finally {
          await store.close();
          await rm(dir, { recursive: true, force: true });
        }
      } else {
        const db = await createTestDatabase('digests');
        const store = await openRunStore({ kind: 'postgres', url: db.url }, clock);
        try {
          await fn(store, clock);
        } finally {
          await store.close();
          await db.drop();
        }
      }
    }
    const claim = async (store: RunStore, integrationId: string) => {
      const r = await store.claimRun({ integrationId, districtId: 'd1', extract: 'x', trigger: 'manual', requestedBy: 't', scheduledFor: null, params: {}, host: 'h', pid: 1 });
      if (!r.claimed) throw new Error('not claimed');
      return r.run.id;
    };

    it('counts distinct persons across overlapping files, answers "was K in run R", and calls a run without digests unknown', async () => {
      await withStore(async (store) => {
        const [a, b, c, none] = [await claim(store, 'i-a'), await claim(store, 'i-b'), await claim(store, 'i-c'), await claim(store, 'i-d')];
        // 70,000 keys spans two stored chunks; a repeated row counts once.
        await store.personDigests.put(a, fileOf([...ids(0, 70_000), 'STU000005']), T0);
        await store.personDigests.put(b, fileOf(ids(60_000, 80_000)), T0);
        await store.personDigests.put(c, fileOf(ids(79_000, 81_000)), T0);
        const recorded = await store.personDigests.recordedRuns([a, b, c, none]);
        expect(recorded.get(a)).toEqual({ persons: 70_000, rows: 70_001, keyColumn: 'Student_id' });
        expect(recorded.has(none)).toBe(false);

        expect(await countDistinctPersons(store.personDigests, [a, b, c, none])).toEqual({ persons: 81_000, unknownRuns: [none] });
        expect((await countDistinctPersons(store.personDigests, [b, c])).persons).toBe(21_000);

        const found = await findPerson(store.personDigests, hasher, 'STU065536', [a, b, c, none]);
        expect(Object.fromEntries(found)).toEqual({ [a]: 'included', [b]: 'included', [c]: 'absent', [none]: 'unknown' });
        const quoted = await findPerson(store.personDigests, hasher, 'STU000001', [a]);
        expect(quoted.get(a)).toBe('included');
        expect((await findPerson(store.personDigests, hasher, 'STU999999', [a, b, c])).get(a)).toBe('absent');
      });
    });

    it('digests expire after governance.digestDays: swept with the runs older than the cut-off, newer ones kept', async () => {
      await withStore(async (store, clock) => {
        const old = await claim(store, 'i-a');
        await store.personDigests.put(old, fileOf(ids(0, 10)), clock.now());
        clock.set(new Date(T0.getTime() + 401 * 86_400_000));
        const recent = await claim(store, 'i-b');
        await store.personDigests.put(recent, fileOf(ids(0, 10)), clock.now());
        const swept = await store.personDigests.sweep(new Date(clock.now().getTime() - 400 * 86_400_000));
        expect(swept).toBe(1);
        expect([...(await store.personDigests.recordedRuns([old, recent])).keys()]).toEqual([recent]);
        expect(await findPerson(store.personDigests, hasher, 'STU000003', [old, recent])).toEqual(new Map([[old, 'unknown'], [recent, 'included']]));
        expect(await store.getRun(old)).toBeDefined(); // the run record itself stays
      });
    });
  });
}

describe('the keyed digest', () => {
  it('is HMAC-SHA-256 under the key, truncated to 16 bytes', () => {
    const secret = 'a-test-secret-of-some-length';
    const h = createPersonHasher(secret);
    for (const key of ['S1', 'Zoë-陈伟', 'x'.repeat(55), 'y'.repeat(56), 'z'.repeat(300)]) {
      const out = Buffer.alloc(16);
      const bytes = Buffer.from(key);
      h(bytes, 0, bytes.length, out, 0);
      expect(out).toEqual(crypto.createHmac('sha256', secret).update(key).digest().subarray(0, 16));
    }
  });
});
