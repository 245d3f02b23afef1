import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { readZipEntries } from '../../src/formats/oneroster/read-zip.js';
import { parseCsv } from '../../src/formats/oneroster/parse-csv.js';
import { ferry, REPO, tempDir } from '../helpers/cli.js';
import { makeDemoConfigDir, type DemoConfigDir } from '../helpers/demo-config.js';

const FILES = {
  'orgs.csv': 'oneroster-orgs',
  'academicSessions.csv': 'oneroster-academic-sessions',
  'courses.csv': 'oneroster-courses',
  'classes.csv': 'oneroster-classes',
  'users.csv': 'oneroster-users',
  'enrollments.csv': 'oneroster-enrollments',
  'demographics.csv': 'oneroster-demographics',
};

interface Run {
  id: number;
  status: string;
  rows: number;
  sha256: string;
  remotePath: string | null;
  bundleMode: 'bulk' | 'delta' | null;
  files: { name: string; rows: number }[] | null;
}

/** Only the OneRoster extracts this test needs, copied so that the test does not depend on the rest of the library. */
function oneRosterExtracts(): string {
  const dir = tempDir('ferry-extracts-');
  for (const name of Object.values(FILES)) fs.cpSync(path.join(REPO, 'extracts', 'sqlite', name), path.join(dir, 'sqlite', name), { recursive: true });
  return dir;
}

/** The data rows of one file of a delivered zip, as records keyed by header. */
async function rowsOf(zip: string, file: string): Promise<Record<string, string>[]> {
  const text = (await readZipEntries(zip)).get(file)!.toString('utf8');
  const [header = [], ...rows] = parseCsv(text).records;
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ''])));
}

describe('OneRoster delta integration (spawned CLI, demo config)', () => {
  let cfg: DemoConfigDir;
  const c = () => ['--config', cfg.dir];
  const zipPath = () => path.join(cfg.sftpRoot, 'hilltop-csd', 'oneroster', 'delta.zip');
  const history = async () => JSON.parse((await ferry(['history', 'hilltop-oneroster-delta', '--json', ...c()])).stdout) as Run[];

  beforeAll(async () => {
    cfg = await makeDemoConfigDir({
      extraFerry: { extractsDir: oneRosterExtracts() },
      integrations: [
        {
          id: 'hilltop-oneroster-delta',
          bundle: { format: 'oneroster', mode: 'delta', files: FILES },
          source: 'demo-sis',
          destination: 'demo-sftp',
          remotePath: '{district}/oneroster/delta.zip',
          schedule: { cron: '30 2 * * *', timezone: 'America/New_York' },
          params: { districtId: 'hilltop-csd', schoolYear: 2027 },
          safety: false,
          inventory: { vendor: 'ClassLink', contact: 'SIS Admin', purpose: 'OneRoster rostering, deltas nightly' },
        },
      ],
    });
  });

  it('sends a bulk first, then only what changed since that bulk, with deletions as tobedeleted; --bulk starts again', async () => {
    // 1. No delivered bulk yet: a bulk goes out and is kept (0600) as the baseline.
    const first = await ferry(['run', 'hilltop-oneroster-delta', ...c()]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('a OneRoster bulk');
    const [bulkRun] = await history();
    expect(bulkRun).toMatchObject({ status: 'succeeded', bundleMode: 'bulk' });
    const baseline = path.join(cfg.dataDir, 'baselines', 'hilltop-oneroster-delta', 'bulk.zip');
    expect(fs.statSync(baseline).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(baseline)).mode & 0o777).toBe(0o700);
    const bulkUsers = await rowsOf(zipPath(), 'users.csv');
    expect(bulkUsers.every((u) => u['status'] === '' && u['dateLastModified'] === '')).toBe(true);

    // 2. The SIS changes: one student is renamed, another leaves every class and the school year.
    const students = bulkUsers.filter((u) => u['role'] === 'student');
    const renamed = students[0]!['sourcedId']!;
    const gone = students[1]!['sourcedId']!;
    const sis = new Database(path.join(cfg.dataDir, 'demo', 'sis.sqlite'));
    sis.prepare("UPDATE students SET first_name = 'Renamed' WHERE student_id = ?").run(renamed);
    const goneClasses = sis.prepare('DELETE FROM section_enrollments WHERE student_id = ?').run(gone).changes;
    sis.prepare('DELETE FROM student_enrollments WHERE student_id = ? AND school_year = 2027').run(gone);
    sis.close();
    expect(goneClasses).toBeGreaterThan(0);

    const second = await ferry(['run', 'hilltop-oneroster-delta', ...c()]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('a OneRoster delta');
    const [deltaRun] = await history();
    expect(deltaRun).toMatchObject({ status: 'succeeded', bundleMode: 'delta', rows: bulkRun!.rows - 1 });

    const check = await ferry(['check-file', zipPath()]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    const manifest = (await readZipEntries(zipPath())).get('manifest.csv')!.toString('utf8');
    expect(manifest).toContain('file.users,delta');

    const users = await rowsOf(zipPath(), 'users.csv');
    expect(users.map((u) => [u['sourcedId'], u['status']]).sort()).toEqual([[gone, 'tobedeleted'], [renamed, 'active']].sort());
    expect(users.find((u) => u['sourcedId'] === renamed)!['givenName']).toBe('Renamed');
    // A deleted record keeps its last delivered values, so it still has every required field.
    expect(users.find((u) => u['sourcedId'] === gone)).toMatchObject({ ...bulkUsers.find((u) => u['sourcedId'] === gone), status: 'tobedeleted', dateLastModified: expect.any(String) });
    for (const u of users) expect(u['dateLastModified']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const enrollments = await rowsOf(zipPath(), 'enrollments.csv');
    expect(enrollments).toHaveLength(goneClasses);
    expect(enrollments.every((e) => e['userSourcedId'] === gone && e['status'] === 'tobedeleted')).toBe(true);
    expect(await rowsOf(zipPath(), 'orgs.csv')).toEqual([]);
    expect(deltaRun!.files!.find((f) => f.name === 'users.csv')!.rows).toBe(2);

    // 3. Deltas are against the last delivered bulk, not the last delta: the next one carries the same changes.
    const third = await ferry(['run', 'hilltop-oneroster-delta', ...c()]);
    expect(third.code, third.stderr).toBe(0);
    expect((await rowsOf(zipPath(), 'users.csv')).map((u) => u['sourcedId']).sort()).toEqual([gone, renamed].sort());

    // 4. --bulk sends everything again and makes it the new baseline; after it, nothing has changed.
    const bulk = await ferry(['run', 'hilltop-oneroster-delta', '--bulk', ...c()]);
    expect(bulk.code, bulk.stderr).toBe(0);
    const [rebased] = await history();
    expect(rebased).toMatchObject({ bundleMode: 'bulk', rows: bulkRun!.rows - 1 });
    expect(JSON.parse(fs.readFileSync(path.join(path.dirname(baseline), 'bulk.json'), 'utf8'))).toMatchObject({ runId: rebased!.id, sha256: rebased!.sha256 });
    const after = await ferry(['run', 'hilltop-oneroster-delta', ...c()]);
    expect(after.code, after.stderr).toBe(0);
    expect(await rowsOf(zipPath(), 'users.csv')).toEqual([]);
    expect(fs.readdirSync(path.join(cfg.dataDir, 'spool'))).toEqual([]);
  });

  it('sends a bulk again when the kept baseline was changed on disk', async () => {
    const baseline = path.join(cfg.dataDir, 'baselines', 'hilltop-oneroster-delta', 'bulk.zip');
    fs.appendFileSync(baseline, 'tampered');
    const r = await ferry(['run', 'hilltop-oneroster-delta', ...c()]);
    expect(r.code, r.stderr).toBe(0);
    const [run] = await history();
    expect(run).toMatchObject({ bundleMode: 'bulk' });
    expect((await rowsOf(zipPath(), 'users.csv')).length).toBe(run!.rows);
  });
});
