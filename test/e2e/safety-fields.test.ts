import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { E2E_USER, ferry } from '../helpers/cli.js';
import { makeDemoConfigDir, type DemoConfigDir } from '../helpers/demo-config.js';

const integration = (id: string, remote: string, extra: Record<string, unknown> = {}) => ({
  id,
  extract: 'clever-students',
  source: 'demo-sis',
  destination: 'demo-sftp',
  remotePath: `{district}/${remote}`,
  schedule: { cron: '0 2 * * *', timezone: 'America/New_York' },
  params: { districtId: 'hilltop-csd', asOf: '2026-11-23', schoolYear: 2027, grades: 'K-5' },
  inventory: { vendor: 'Clever', contact: 'SIS Admin', purpose: 'Rostering', ticket: 'T-1' },
  ...extra,
});

/** These tests shrink the roster by narrowing a fixed parameter, which takes force. */
const FORCE = ['--force', '--reason', 'test: a smaller roster'];

interface Run {
  id: number;
  status: string;
  rows: number;
  sha256: string;
  spoolPath: string | null;
  holdReason: string | null;
  releasedBy: string | null;
  releasedAt: string | null;
  remotePath: string | null;
}

describe('roster safety gate (spawned CLI, demo config)', () => {
  let cfg: DemoConfigDir;
  const c = () => ['--config', cfg.dir];
  const history = async (id: string): Promise<Run[]> => JSON.parse((await ferry(['history', id, '--json', ...c()])).stdout) as Run[];

  beforeAll(async () => {
    cfg = await makeDemoConfigDir({
      integrations: [
        integration('gate-default', 'gate/students.csv'),
        integration('gate-loose', 'loose/students.csv', { safety: { maxRowDrop: 0.9 } }),
        integration('gate-off', 'off/students.csv', { safety: { maxRowDrop: 1 } }),
      ],
    });
  });

  it('holds a run whose roster falls past the limit, keeps its file 0600, and delivers it on ferry release', async () => {
    const first = await ferry(['run', 'gate-default', ...c()]);
    expect(first.code).toBe(0);
    const delivered = path.join(cfg.sftpRoot, 'hilltop-csd/gate/students.csv');
    const before = fs.readFileSync(delivered);
    const [full] = await history('gate-default');

    const small = await ferry(['run', 'gate-default', '--param', 'grades=K', ...FORCE, ...c()]);
    expect(small.code).toBe(1);
    const [held] = await history('gate-default');
    expect(held).toMatchObject({ status: 'held', remotePath: null, releasedBy: null });
    expect(held!.rows).toBeGreaterThan(0);
    expect(held!.rows).toBeLessThan(full!.rows * 0.9);
    expect(held!.holdReason).toMatch(new RegExp(`^held: ${held!.rows} rows against ${full!.rows.toLocaleString('en-US')} in run ${full!.id} \\(a \\d+% drop, over the 10% limit\\); release with ferry release ${held!.id}$`));
    expect(small.stderr.split('\n').at(-2)).toBe(`ferry: run ${held!.id} of gate-default ${held!.holdReason} [warning: forced run (reason: test: a smaller roster)]`);
    expect(fs.readFileSync(delivered)).toEqual(before); // the vendor still has yesterday's file
    expect(fs.statSync(held!.spoolPath!).mode & 0o777).toBe(0o600);
    const heldBytes = fs.readFileSync(held!.spoolPath!);

    const list = JSON.parse((await ferry(['list', '--json', ...c()])).stdout) as { id: string; lastRun: { status: string } }[];
    expect(list.find((l) => l.id === 'gate-default')!.lastRun.status).toBe('held');
    expect((await ferry(['history', ...c()])).stdout).toContain('held: ');

    const rel = await ferry(['release', String(held!.id), ...c()]);
    expect(rel.stderr).toBe('');
    expect(rel.code).toBe(0);
    expect(rel.stdout.startsWith(`run ${held!.id} released by ${E2E_USER}: ${held!.rows} rows`)).toBe(true);
    expect(fs.readFileSync(delivered)).toEqual(heldBytes);
    expect(fs.existsSync(held!.spoolPath!)).toBe(false);
    const [released] = await history('gate-default');
    expect(released).toMatchObject({ id: held!.id, status: 'succeeded', releasedBy: E2E_USER, remotePath: '/hilltop-csd/gate/students.csv', spoolPath: null, holdReason: held!.holdReason });
    expect(released!.releasedAt).not.toBeNull();

    const again = await ferry(['release', String(held!.id), ...c()]);
    expect(again.code).toBe(2);
    expect(again.stderr).toBe(`ferry: run ${held!.id} of gate-default is succeeded, not held; only a held delivery can be released\n`);
  });

  it('a rerun is compared with the last delivered run, so a still-small roster is held again', async () => {
    // The vendor has the released K roster now, so back to K-5 is a rise past safety.maxRowGrowth: held, then released.
    expect((await ferry(['run', 'gate-default', ...c()])).code).toBe(1);
    const [grown] = await history('gate-default');
    expect(grown!.holdReason).toMatch(/ rise, over the 50% limit of safety\.maxRowGrowth\); release with ferry release /);
    expect((await ferry(['release', String(grown!.id), ...c()])).code).toBe(0);
    expect((await ferry(['run', 'gate-default', '--param', 'grades=K', ...FORCE, ...c()])).code).toBe(1);
    expect((await ferry(['run', 'gate-default', '--param', 'grades=K', ...FORCE, ...c()])).code).toBe(1);
    const [second, first] = await history('gate-default');
    expect([first!.status, second!.status]).toEqual(['held', 'held']);
  });

  it('a drop within the limit is delivered, and maxRowDrop: 1 never holds', async () => {
    for (const id of ['gate-loose', 'gate-off']) {
      expect((await ferry(['run', id, ...c()])).code).toBe(0);
      const r = await ferry(['run', id, '--param', 'grades=K', ...FORCE, ...c()]);
      expect(r.stderr).toMatch(/^ferry: warning: gate-\w+ runs forced by .+: parameter grades=K overrides the config's K-5 \[warning: forced run \(reason: test: a smaller roster\)\]\n$/);
      expect(r.code).toBe(0);
      expect((await history(id))[0]).toMatchObject({ status: 'succeeded' });
    }
  });
});

describe('field minimization (spawned CLI, demo config)', () => {
  let cfg: DemoConfigDir;
  const c = () => ['--config', cfg.dir];

  beforeAll(async () => {
    cfg = await makeDemoConfigDir({
      integrations: [
        integration('narrow-clever', 'narrow/students.csv', { fields: ['Grade', 'Student_id', 'First_name'] }),
        { ...integration('full-fastbridge', 'fb/students.csv'), inventory: { vendor: 'FastBridge', contact: 'x', purpose: 'Screening' } },
      ],
    });
  });

  it('ships exactly the allowed columns, in the extract\'s order', async () => {
    const r = await ferry(['run', 'narrow-clever', ...c()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = fs.readFileSync(path.join(cfg.sftpRoot, 'hilltop-csd/narrow/students.csv'), 'utf8').split('\r\n').slice(0, -1);
    expect(lines[0]).toBe('Student_id,First_name,Grade');
    expect(lines.length).toBeGreaterThan(2);
    for (const l of lines.slice(1)) expect(l.split(',')).toHaveLength(3);
    const preview = await ferry(['preview', 'narrow-clever', '--limit', '2', ...c()]);
    expect(preview.stdout.split('\n')[0]).toBe('Student_id,First_name,Grade');
  });

  it('ferry fields lists what each vendor receives and what is withheld', async () => {
    const one = await ferry(['fields', 'narrow-clever', ...c()]);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain('vendor    Clever');
    expect(one.stdout).toContain('sends 3 of 11 declared fields');
    expect(one.stdout).toMatch(/Student_id\s+string\s+Student Identifiers\/local ID\s+SIS student id/);
    // Only what is sent: the withheld Dob's element is not listed.
    expect(one.stdout).toContain('elements  Student Identifiers/local ID, Student Name, Enrollment/student grade level\n');
    expect(one.stdout).toContain('withheld  School_id, Student_number, State_id, Last_name, Middle_name, Gender, Dob, Student_email');
    const json = JSON.parse((await ferry(['fields', 'narrow-clever', '--json', ...c()])).stdout) as { fields: { name: string; element: string }[]; withheld: unknown[] };
    expect(json.fields.map((f) => [f.name, f.element])).toEqual([
      ['Student_id', 'Student Identifiers/local ID'],
      ['First_name', 'Student Name'],
      ['Grade', 'Enrollment/student grade level'],
    ]);
    expect(json.withheld).toHaveLength(8);
    const show = await ferry(['show', 'narrow-clever', ...c()]);
    expect(show.stdout).toContain('  data sent    Student Identifiers/local ID, Student Name, Enrollment/student grade level\n');
    const shown = JSON.parse((await ferry(['show', 'narrow-clever', '--json', ...c()])).stdout) as { dataElements: string[]; extract: { personKey: string } };
    expect(shown).toMatchObject({ dataElements: ['Student Identifiers/local ID', 'Student Name', 'Enrollment/student grade level'], extract: { personKey: 'Student_id' } });

    const all = await ferry(['fields', ...c()]);
    expect(all.code).toBe(0);
    expect(all.stdout.indexOf('Clever\n')).toBe(0);
    expect(all.stdout).toContain('\nFastBridge\n  full-fastbridge');
    const grouped = JSON.parse((await ferry(['fields', '--json', ...c()])).stdout) as { vendor: string; integrations: { integration: string; fields: unknown[] }[] }[];
    expect(grouped.map((g) => [g.vendor, g.integrations.map((i) => [i.integration, i.fields.length])])).toEqual([
      ['Clever', [['narrow-clever', 3]]],
      ['FastBridge', [['full-fastbridge', 11]]],
    ]);
  });

  it('a field the extract does not declare is a validation problem with file and field', async () => {
    const bad = await makeDemoConfigDir({ integrations: [integration('bad-fields', 'x.csv', { fields: ['Student_id', 'Nickname'] })] });
    const r = await ferry(['validate', '--config', bad.dir]);
    expect(r.code).toBe(2);
    const file = path.join(bad.dir, 'integrations/hilltop-csd.yaml');
    expect(r.stderr).toContain(`${file}: integrations[0] (bad-fields).fields[1]: unknown field "Nickname": extract clever-students declares School_id,`);
  });
});
