import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../src/formats/oneroster/parse-csv.js';
import { E2E_USER, ferry } from '../helpers/cli.js';
import { makeDemoConfigDir, type DemoConfigDir } from '../helpers/demo-config.js';

const FILES = {
  'schools.csv': 'clever-schools',
  'students.csv': 'clever-students',
  'teachers.csv': 'clever-teachers',
  'sections.csv': 'clever-sections',
  'enrollments.csv': 'clever-enrollments',
  'staff.csv': 'clever-staff',
};

interface Run {
  id: number;
  status: string;
  rows: number;
  bytes: number;
  sha256: string;
  remotePath: string | null;
  spoolPath: string | null;
  releasedBy: string | null;
  files: { name: string; bytes: number; sha256: string; rows: number }[] | null;
}

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

describe('Clever CSV set integration (spawned CLI, demo config)', () => {
  let cfg: DemoConfigDir;
  const c = () => ['--config', cfg.dir];
  const folder = () => path.join(cfg.sftpRoot, 'hilltop-csd', 'clever');
  const history = async () => JSON.parse((await ferry(['history', 'hilltop-clever', '--json', ...c()])).stdout) as Run[];
  const snapshot = () => Object.fromEntries(fs.readdirSync(folder()).map((n) => [n, sha256(fs.readFileSync(path.join(folder(), n)))]));

  beforeAll(async () => {
    cfg = await makeDemoConfigDir({
      integrations: [
        {
          id: 'hilltop-clever',
          bundle: { format: 'clever', files: FILES },
          source: 'demo-sis',
          destination: 'demo-sftp',
          remotePath: '{district}/clever/',
          schedule: { cron: '0 1 * * *', timezone: 'America/New_York' },
          params: { districtId: 'hilltop-csd', schoolYear: 2027, asOf: '2026-11-23', activeOnly: true },
          inventory: { vendor: 'Clever', contact: 'SIS Admin', purpose: 'Rostering' },
        },
      ],
    });
  });

  it('delivers the six files into one folder, checked, 0600, MM/DD/YYYY dates, each hashed in the run record', async () => {
    const r = await ferry(['run', 'hilltop-clever', ...c()]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^run \d+ succeeded: 6 files, \d+ rows/);
    expect(fs.readdirSync(folder()).sort()).toEqual(Object.keys(FILES).sort());
    for (const n of Object.keys(FILES)) expect(fs.statSync(path.join(folder(), n)).mode & 0o777, n).toBe(0o600);

    const check = await ferry(['check-file', folder()]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toContain('no problems');

    const [students = [], ...rows] = parseCsv(fs.readFileSync(path.join(folder(), 'students.csv'), 'utf8')).records;
    const dob = students.indexOf('Dob');
    expect(dob).toBeGreaterThanOrEqual(0);
    expect(rows.length).toBeGreaterThan(500);
    for (const row of rows) expect(row[dob]).toMatch(/^(0[1-9]|1[0-2])\/(0[1-9]|[12]\d|3[01])\/20\d\d$/);

    const [run] = await history();
    expect(run).toMatchObject({ status: 'succeeded', rows: rows.length, remotePath: '/hilltop-csd/clever/' });
    const delivered = Object.keys(FILES).map((name) => ({ name, sha256: sha256(fs.readFileSync(path.join(folder(), name))) }));
    expect(run!.files!.map((f) => ({ name: f.name, sha256: f.sha256 }))).toEqual(delivered);
    // The set's hash is that of `sha256sum` over its files, sorted by name.
    const listing = [...delivered].sort((a, b) => a.name.localeCompare(b.name)).map((f) => `${f.sha256}  ${f.name}\n`).join('');
    expect(run!.sha256).toBe(sha256(Buffer.from(listing)));
    expect(run!.bytes).toBe(Object.keys(FILES).reduce((n, f) => n + fs.statSync(path.join(folder(), f)).size, 0));
    expect(fs.readdirSync(path.join(cfg.dataDir, 'spool'))).toEqual([]);
  });

  it('holds a set whose students fall past the limit, leaving the whole old set in place, and delivers it on release', async () => {
    const before = snapshot();
    const small = await ferry(['run', 'hilltop-clever', '--param', 'buildings=HES', '--force', '--reason', 'test: a smaller set', ...c()]);
    expect(small.code).toBe(1);
    const [held] = await history();
    expect(held).toMatchObject({ status: 'held', remotePath: null });
    expect(snapshot()).toEqual(before);
    const kept = held!.spoolPath!;
    expect(fs.statSync(kept).mode & 0o777).toBe(0o700);
    for (const n of fs.readdirSync(kept)) expect(fs.statSync(path.join(kept, n)).mode & 0o777).toBe(0o600);

    const rel = await ferry(['release', String(held!.id), ...c()]);
    expect(rel.code, rel.stderr).toBe(0);
    const [released] = await history();
    expect(released).toMatchObject({ id: held!.id, status: 'succeeded', remotePath: '/hilltop-csd/clever/', spoolPath: null });
    expect(released!.releasedBy).toBe(E2E_USER);
    const after = snapshot();
    for (const f of held!.files!) expect(after[f.name], f.name).toBe(f.sha256);
    expect(fs.existsSync(kept)).toBe(false);
  });

  it('refuses to release a held set whose kept files were changed', async () => {
    await ferry(['run', 'hilltop-clever', ...c()]);
    const small = await ferry(['run', 'hilltop-clever', '--param', 'buildings=HHS', '--force', '--reason', 'test: a smaller set', ...c()]);
    expect(small.code).toBe(1);
    const [held] = await history();
    expect(held!.status).toBe('held');
    fs.appendFileSync(path.join(held!.spoolPath!, 'students.csv'), 'X,Y,Z\r\n');
    const before = snapshot();
    const rel = await ferry(['release', String(held!.id), ...c()]);
    expect(rel.code).toBe(1);
    expect(rel.stderr).toContain('changed after it was written; it was not delivered');
    expect(snapshot()).toEqual(before);
  });
});
