/**
 * What person digests cost a million-row delivery: the same CSV bytes written to a spool file without and with the
 * key scanner + keyed digest on the way (added seconds), then the digests recorded in a fresh SQLite run store
 * (added seconds and MB). Prints `digest_added_s=<x.xx> digest_store_mb=<x.x>`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../src/core/clock.js';
import { createKeyDigester, createPersonHasher } from '../src/governance/person-digests.js';
import { openRunStore } from '../src/store/run-store.js';

/** Rows like the bench table's: a quoted note with a comma and a line break in some, the key in the first column. */
function* csvChunks(n: number): Generator<Buffer> {
  yield Buffer.from('student_id,first_name,last_name,school_name,notes,grade_level,birth_date,active\r\n');
  const per = 10_000;
  for (let start = 1; start <= n; start += per) {
    let text = '';
    for (let i = start; i < Math.min(n + 1, start + per); i++) {
      text += `S${String(i).padStart(9, '0')},Zoë,"Smith, Jr.",School ${i % 40},${i % 6 === 1 ? '"IEP on file\nreview in May"' : 'none'},${(i % 14) - 1},2010-01-01,true\r\n`;
    }
    yield Buffer.from(text);
  }
}

async function writeFile(file: string, n: number, push?: (b: Buffer) => void): Promise<number> {
  const t = performance.now();
  const h = await open(file, 'w', 0o600);
  for (const chunk of csvChunks(n)) {
    push?.(chunk);
    await h.write(chunk);
  }
  await h.close();
  return (performance.now() - t) / 1000;
}

export interface DigestBench {
  rows: number;
  plainSeconds: number;
  digestSeconds: number;
  recordSeconds: number;
  storeMb: number;
}

export async function runDigestBench(n: number): Promise<DigestBench> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-digests-'));
  try {
    const file = join(dir, 'out.csv');
    await writeFile(file, n); // warm-up
    const plainSeconds = await writeFile(file, n);
    const digester = createKeyDigester({ hasher: createPersonHasher(randomBytes(32).toString('hex')), keyColumn: 'student_id', columnIndex: 0, format: { delimiter: ',', header: true } });
    const t = performance.now();
    await writeFile(file, n, (b) => digester.push(b));
    const set = digester.finish();
    const digestSeconds = (performance.now() - t) / 1000;
    if (set.persons !== n) throw new Error(`digests: ${set.persons} persons for ${n} rows`);

    const storePath = join(dir, 'ferry.sqlite');
    const store = await openRunStore({ kind: 'sqlite', path: storePath }, systemClock);
    const claimed = await store.claimRun({ integrationId: 'bench', districtId: 'd', extract: 'x', trigger: 'manual', requestedBy: 'bench', scheduledFor: null, params: {}, host: 'h', pid: 1 });
    const size = async () => (await stat(storePath)).size + (await stat(`${storePath}-wal`).catch(() => ({ size: 0 }))).size;
    const before = await size();
    const tr = performance.now();
    await store.personDigests.put(claimed.run.id, set, new Date());
    const recordSeconds = (performance.now() - tr) / 1000;
    await store.close(); // checkpoints the write-ahead log into the file
    const storeMb = ((await size()) - before) / (1 << 20);
    return { rows: n, plainSeconds, digestSeconds, recordSeconds, storeMb };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function printDigests(b: DigestBench): void {
  const added = b.digestSeconds - b.plainSeconds + b.recordSeconds;
  console.log('');
  console.log(`person digests, ${b.rows.toLocaleString('en-US')} rows: write ${b.plainSeconds.toFixed(2)} s without, ${b.digestSeconds.toFixed(2)} s with the key scanner + HMAC; record ${b.recordSeconds.toFixed(2)} s; store +${b.storeMb.toFixed(1)} MB`);
  console.log(`digest_added_s=${added.toFixed(2)} digest_store_mb=${b.storeMb.toFixed(1)}`);
}

// `node dist/bench/digests.js` runs this part alone.
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').slice(-2).join('/'))) {
  printDigests(await runDigestBench(Number(process.env.BENCH_ROWS ?? 1_000_000)));
}
