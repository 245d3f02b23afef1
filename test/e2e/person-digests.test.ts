import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { makeDemoConfigDir, type DemoConfigDir } from '../helpers/demo-config.js';

/** Student_id of each data row of a delivered Clever students.csv (second column; the demo's ids need no quoting). */
const idsOf = (csv: string) => csv.split('\r\n').slice(1, -1).map((line) => line.split(',')[1]!);

describe('who was in a file: person digests and ferry trace (spawned CLI, demo)', () => {
  let cfg: DemoConfigDir;
  const c = () => ['--config', cfg.dir];
  let delivered: string[];
  let runId: number;

  beforeAll(async () => {
    cfg = await makeDemoConfigDir({ extraFerry: { governance: { personKeySecret: { file: '../var/demo/person-key.secret' } } } });
    const r = await ferry(['run', 'hilltop-clever-students', ...c()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    runId = Number(/^run (\d+) succeeded/.exec(r.stdout)![1]);
    delivered = idsOf(fs.readFileSync(path.join(cfg.sftpRoot, 'hilltop-csd/clever/students.csv'), 'utf8'));
  });

  it('the demo made its person-digest key, 0600', () => {
    const key = path.join(cfg.dataDir, 'demo/person-key.secret');
    expect(fs.statSync(key).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(key, 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('records one 16-byte digest per student delivered, and no student id in the store', () => {
    expect(delivered.length).toBeGreaterThan(100);
    expect(new Set(delivered).size).toBe(delivered.length);
    const storeFile = path.join(cfg.dataDir, 'ferry.sqlite');
    const db = new Database(storeFile, { readonly: true });
    const head = db.prepare('SELECT key_column, persons, rows FROM person_digest_runs WHERE run_id = ?').get(runId);
    const blobs = db.prepare('SELECT digests FROM person_digest_chunks WHERE run_id = ? ORDER BY chunk').all(runId) as { digests: Buffer }[];
    db.close();
    expect(head).toEqual({ key_column: 'Student_id', persons: delivered.length, rows: delivered.length });
    expect(blobs.reduce((n, b) => n + b.digests.length, 0)).toBe(16 * delivered.length);
    // The store file and its write-ahead log, byte for byte: no delivered student id anywhere.
    const bytes = fs.readdirSync(cfg.dataDir).filter((f) => f.startsWith('ferry.sqlite')).map((f) => fs.readFileSync(path.join(cfg.dataDir, f)).toString('latin1')).join('');
    for (const id of [delivered[0]!, delivered[Math.floor(delivered.length / 2)]!, delivered.at(-1)!]) expect(bytes.includes(id)).toBe(false);
  });

  it('trace: a delivered student is in the source, passes the filters and was in the delivery', async () => {
    const key = delivered[3]!;
    const r = await ferry(['trace', 'hilltop-clever-students', key, ...c()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${key} is in the source today and passes hilltop-clever-students's filters.`);
    expect(r.stdout).toContain('In 1 of the last 1 deliveries:');
    expect(r.stdout).toMatch(new RegExp(`run ${runId}  .*  /hilltop-csd/clever/students\\.csv  included`));
    // Only the traced student's key: no other delivered id is printed.
    for (const other of delivered.filter((id) => id !== key)) expect(r.stdout.includes(other)).toBe(false);
  });

  it('trace: a high-school student is named as excluded by the grades filter, and not in the delivery', async () => {
    const p = await ferry(['preview', 'hilltop-clever-students', '--param', 'grades=9-12', '--limit', '1', ...c()]);
    expect(p.stderr).toMatch(/row shown/);
    expect(p.code).toBe(0);
    const key = p.stdout.split('\n')[1]!.split(',')[1]!;
    expect(delivered).not.toContain(key);
    const r = await ferry(['trace', 'hilltop-clever-students', key, '--json', ...c()]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { source: unknown; deliveries: { runId: number; included: string }[] };
    expect(out.source).toEqual({ in: 'excluded', by: [{ filter: 'grades', value: 'K-5' }] });
    expect(out.deliveries).toEqual([expect.objectContaining({ runId, included: 'absent' })]);
    const text = await ferry(['trace', 'hilltop-clever-students', key, ...c()]);
    expect(text.stdout).toContain(`${key} is in the source today, but the grades filter ("K-5") of hilltop-clever-students excludes them.`);
    expect(text.stdout).toMatch(new RegExp(`run ${runId}  .*  not included`));
  });

  it('trace: a key not in the source is said to be not in the source at all', async () => {
    const r = await ferry(['trace', 'hilltop-clever-students', 'NO-SUCH-STUDENT-42', ...c()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('NO-SUCH-STUDENT-42 is not in the source at all for hilltop-clever-students (even with the grades, activeOnly filters off)');
    expect(r.stdout).toContain('In 0 of the last 1 deliveries:');
  });
});
