import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { ferry, REPO, tempDir } from '../helpers/cli.js';
import { makeDemoConfigDir, type DemoConfigDir } from '../helpers/demo-config.js';

const USERS_HEADERS = 'sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password'.split(',');

const FILES = {
  'orgs.csv': 'oneroster-orgs',
  'academicSessions.csv': 'oneroster-academic-sessions',
  'courses.csv': 'oneroster-courses',
  'classes.csv': 'oneroster-classes',
  'users.csv': 'oneroster-users',
  'enrollments.csv': 'oneroster-enrollments',
  'demographics.csv': 'oneroster-demographics',
};

const bundleIntegration = (id: string, files: Record<string, string>, remote: string) => ({
  id,
  bundle: { format: 'oneroster', mode: 'bulk', files },
  source: 'demo-sis',
  destination: 'demo-sftp',
  remotePath: `{district}/${remote}`,
  schedule: { cron: '30 2 * * *', timezone: 'America/New_York' },
  params: { districtId: 'hilltop-csd', schoolYear: 2027 },
  inventory: { vendor: 'ClassLink', contact: 'SIS Admin', purpose: 'OneRoster rostering' },
});

/** The repo's extracts plus one that declares the users.csv headers but writes a user with an invalid role. */
function extractsWithBadUsers(): string {
  const dir = tempDir('ferry-extracts-');
  fs.cpSync(path.join(REPO, 'extracts'), dir, { recursive: true });
  const bad = path.join(dir, 'sqlite', 'oneroster-users-bad');
  fs.mkdirSync(bad);
  fs.writeFileSync(
    path.join(bad, 'extract.yaml'),
    YAML.stringify({ name: 'oneroster-users-bad', description: 'users.csv with a role outside the vocabulary', source: 'sqlite', columns: USERS_HEADERS.map((name) => ({ name, type: 'string', element: 'Not personal data/other' })) }),
  );
  const values: Record<string, string> = { sourcedId: 'u1', enabledUser: 'true', orgSourcedIds: 'HES', role: 'wizard', username: 'u1', givenName: 'Zebulon', familyName: 'Secret' };
  fs.writeFileSync(path.join(bad, 'query.sql'), `SELECT ${USERS_HEADERS.map((h) => `'${values[h] ?? ''}' AS "${h}"`).join(', ')}\n`);
  return dir;
}

interface Run {
  id: number;
  status: string;
  rows: number;
  bytes: number;
  sha256: string;
  remotePath: string | null;
  errorKind: string | null;
  error: string | null;
  files: { name: string; bytes: number; sha256: string; rows: number }[] | null;
}

describe('OneRoster bundle integration (spawned CLI, demo config)', () => {
  let cfg: DemoConfigDir;
  const c = () => ['--config', cfg.dir];

  beforeAll(async () => {
    cfg = await makeDemoConfigDir({
      extraFerry: { extractsDir: extractsWithBadUsers() },
      integrations: [
        bundleIntegration('hilltop-oneroster', FILES, 'oneroster/oneroster_{date:YYYYMMDD}.zip'),
        bundleIntegration('bad-oneroster', { ...FILES, 'users.csv': 'oneroster-users-bad' }, 'bad/oneroster.zip'),
      ],
    });
  });

  it('delivers one zip that ferry check-file passes, and records each file in history', async () => {
    const r = await ferry(['run', 'hilltop-oneroster', ...c()]);
    expect(r.code, r.stderr).toBe(0);
    const dir = path.join(cfg.sftpRoot, 'hilltop-csd', 'oneroster');
    const delivered = fs.readdirSync(dir);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]).toMatch(/^oneroster_\d{8}\.zip$/);
    const zip = path.join(dir, delivered[0]!);

    const check = await ferry(['check-file', zip]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toContain('no problems');

    const [run] = JSON.parse((await ferry(['history', 'hilltop-oneroster', '--json', ...c()])).stdout) as Run[];
    expect(run).toMatchObject({ status: 'succeeded', bytes: fs.statSync(zip).size });
    const files = run!.files!;
    expect(files.map((f) => f.name)).toEqual(['manifest.csv', ...Object.keys(FILES)]);
    for (const f of files) expect(f.sha256, f.name).toMatch(/^[0-9a-f]{64}$/);
    const users = files.find((f) => f.name === 'users.csv')!;
    expect(users.rows).toBeGreaterThan(500);
    expect(run!.rows).toBe(users.rows);

    const show = JSON.parse((await ferry(['show', 'hilltop-oneroster', '--json', ...c()])).stdout) as { bundle: { files: { name: string; extract: string }[] }; recentRuns: Run[] };
    expect(show.bundle.files.map((f) => f.extract)).toEqual(Object.values(FILES));
    expect(show.recentRuns[0]!.files).toEqual(files);
    // The member CSVs and the zip are spooled 0600 and removed after delivery.
    expect(fs.readdirSync(path.join(cfg.dataDir, 'spool'))).toEqual([]);
  });

  it('previews every file of a bundle (or the one asked for) without recording a run; --bulk is refused on a bulk integration', async () => {
    const all = await ferry(['preview', 'hilltop-oneroster', '-n', '2', ...c()]);
    expect(all.code, all.stderr).toBe(0);
    const headers = [...all.stdout.matchAll(/^==> (\S+) \(extract (\S+)\) <==$/gm)].map((m) => [m[1], m[2]]);
    expect(headers).toEqual(Object.entries(FILES));
    expect(all.stdout).toContain(USERS_HEADERS.join(','));
    expect(all.stderr).toContain('from 7 files, up to 2 each');
    const one = await ferry(['preview', 'hilltop-oneroster', '--file', 'users.csv', '-n', '3', ...c()]);
    expect(one.stdout.trim().split('\n')).toHaveLength(1 + 1 + 3);
    const none = await ferry(['preview', 'hilltop-oneroster', '--file', 'Users.csv', ...c()]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('integration hilltop-oneroster has no file Users.csv (files: orgs.csv, academicSessions.csv');
    const bulk = await ferry(['run', 'hilltop-oneroster', '--bulk', ...c()]);
    expect(bulk.code).toBe(2);
    expect(bulk.stderr).toContain('--bulk applies only to those');
  });

  it('fails a bundle whose users.csv does not pass the OneRoster check, delivering nothing and echoing no student data', async () => {
    const r = await ferry(['run', 'bad-oneroster', ...c()]);
    expect(r.code).toBe(1);
    expect(fs.existsSync(path.join(cfg.sftpRoot, 'hilltop-csd', 'bad'))).toBe(false);
    const [run] = JSON.parse((await ferry(['history', 'bad-oneroster', '--json', ...c()])).stdout) as Run[];
    expect(run).toMatchObject({ status: 'failed', errorKind: 'format', remotePath: null, files: null });
    expect(run!.error).toContain('did not pass its check');
    expect(run!.error).toMatch(/\[enum\] users\.csv, row 2, column role/);
    expect(run!.error).toContain('by kind:');
    expect(fs.readdirSync(path.join(cfg.dataDir, 'spool'))).toEqual([]);
    for (const text of [run!.error!, r.stderr, r.stdout]) {
      expect(text).not.toContain('wizard');
      expect(text).not.toContain('Zebulon');
    }
  });

  it('refuses at validation a bundle file whose extract does not have its OneRoster headers, or a bundle with an extract too', async () => {
    const bad = await makeDemoConfigDir({
      integrations: [
        bundleIntegration('wrong-headers', { ...FILES, 'users.csv': 'students-basic' }, 'x.zip'),
        { ...bundleIntegration('both', FILES, 'y.zip'), extract: 'students-basic' },
        bundleIntegration('bad-name', { 'Users.csv': 'oneroster-users' }, 'z.zip'),
      ],
    });
    const r = await ferry(['validate', '--config', bad.dir]);
    expect(r.code).toBe(2);
    const file = path.join(bad.dir, 'integrations/hilltop-csd.yaml');
    expect(r.stderr).toContain(`${file}: integrations[0] (wrong-headers).bundle.files.users.csv: extract students-basic's columns do not match users.csv's OneRoster headers`);
    expect(r.stderr).toContain(`${file}: integrations[1] (both).bundle: give either extract or bundle, not both`);
    expect(r.stderr).toContain(`${file}: integrations[2] (bad-name).bundle.files.Users.csv: Users.csv is not a OneRoster 1.1 file name`);
  });
});
