import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { agreementsWith } from '../helpers/agreements.js';
import { ferry, REPO, tempDir } from '../helpers/cli.js';
import { makeDemoConfigDir, type DemoConfigDir } from '../helpers/demo-config.js';

/** Student_id of each data row of a delivered Clever students.csv (second column; the demo's ids need no quoting). */
const idsOf = (csv: string) => csv.split('\r\n').slice(1, -1).map((line) => line.split(',')[1]!);

const SUPPLEMENTAL_URL = 'https://hilltop.example.org/privacy/clever-supplemental';
const AGREEMENT = { ...agreementsWith(['Clever'], 'hilltop-csd')[0]!, id: 'hilltop-clever-2027', title: 'Clever NDPA 2027', expires: '2099-06-30', purpose: 'Rostering of student accounts.', supplementalUrl: SUPPLEMENTAL_URL };

/** The element each Clever students.csv column carries, set on a copy of the shipped extract so the test owns its tags. */
const TAGS: Record<string, string> = {
  School_id: 'Not personal data/school or district information',
  Student_id: 'Student Identifiers/local ID',
  Student_number: 'Student Identifiers/local ID',
  State_id: 'Student Identifiers/state ID',
  Last_name: 'Student Name',
  Middle_name: 'Student Name',
  First_name: 'Student Name',
  Gender: 'Demographics/gender',
  Dob: 'Demographics/date of birth',
  Grade: 'Enrollment/student grade level',
  Student_email: 'Student Contact Information/email',
};

function taggedExtracts(): string {
  const dir = path.join(tempDir(), 'extracts');
  const from = path.join(REPO, 'extracts/sqlite/clever-students');
  const to = path.join(dir, 'sqlite/clever-students');
  fs.mkdirSync(to, { recursive: true });
  fs.copyFileSync(path.join(from, 'query.sql'), path.join(to, 'query.sql'));
  const meta = YAML.parse(fs.readFileSync(path.join(from, 'extract.yaml'), 'utf8')) as { columns: { name: string; element?: string }[] };
  for (const c of meta.columns) c.element = TAGS[c.name]!;
  fs.writeFileSync(path.join(to, 'extract.yaml'), YAML.stringify(meta));
  return dir;
}

/** Every http(s) URL in a text. */
const urls = (text: string) => text.match(/https?:\/\/[^\s<>"')]+/g) ?? [];

describe('ferry report (spawned CLI, demo, after a real run)', () => {
  let cfg: DemoConfigDir;
  const c = () => ['--config', cfg.dir];
  let delivered: string[];
  let runId: number;
  const report = (...args: string[]) => ferry(['report', ...args, ...c()]);
  const json = async (...args: string[]) => {
    const r = await report(...args, '--format', 'json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout) as { kind: string; facts: Record<string, string | number>; rows: Record<string, string | number | null>[]; notes: string[] };
  };
  const csv = async (...args: string[]) => {
    const r = await report(...args, '--format', 'csv');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return r.stdout.split('\r\n').filter((l) => l !== '');
  };
  const html = async (...args: string[]) => {
    const r = await report(...args, '--format', 'html');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^<!DOCTYPE html>/);
    expect(r.stdout).toContain('@media print');
    expect(r.stdout.toLowerCase()).not.toContain('<script');
    expect(r.stdout).not.toMatch(/<(link|img|iframe|object|embed)\b/i);
    for (const u of urls(r.stdout)) expect(u).toBe(SUPPLEMENTAL_URL);
    return r.stdout;
  };
  const md = async (...args: string[]) => {
    const r = await report(...args);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    cfg = await makeDemoConfigDir({ agreements: [AGREEMENT], extraFerry: { extractsDir: taggedExtracts(), governance: { personKeySecret: { file: '../var/demo/person-key.secret' } } } });
    const r = await ferry(['run', 'hilltop-clever-students', ...c()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    runId = Number(/^run (\d+) succeeded/.exec(r.stdout)![1]);
    delivered = idsOf(fs.readFileSync(path.join(cfg.sftpRoot, 'hilltop-csd/clever/students.csv'), 'utf8'));
    expect(delivered.length).toBeGreaterThan(100);
  });

  it('inventory: every integration with the seed columns, its agreement and expiry, enabled, last delivery and review', async () => {
    const j = await json('inventory');
    expect(j.rows).toHaveLength(1);
    const row = j.rows[0]!;
    expect(Object.keys(row)).toEqual(expect.arrayContaining(['Source', 'Destination', 'District Contact', 'Method', 'Filtering', 'Path', 'Timing', 'Start Date', 'Ticket Number', 'Local Location', 'Notes']));
    expect(row).toMatchObject({
      Integration: 'hilltop-clever-students',
      Source: 'demo-sis (sqlite)',
      'District Contact': 'SIS Admin',
      Method: 'SFTP, CSV file',
      Timing: 'daily at 02:00 (America/New_York)',
      'Ticket Number': 'T-1',
      'Local Location': 'demo-sftp:{district}/clever/students.csv',
      Vendor: 'Clever',
      Agreement: 'hilltop-clever-2027 (Clever NDPA 2027)',
      'Agreement Expires': '2099-06-30',
      Enabled: 'enabled',
    });
    expect(row.Filtering).toContain('grades=K-5');
    expect(String(row['Last Delivery'])).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(row.Review).toMatch(/^unknown/); // no start date and no review recorded

    const lines = await csv('inventory');
    expect(lines[0]).toBe(
      'District,Integration,Source,Destination,District Contact,Method,Filtering,Path,Timing,Start Date,Ticket Number,Local Location,Notes,Vendor,Agreement,Agreement Expires,Agreement State,Enabled,Last Delivery,Review',
    );
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('hilltop-clever-2027 (Clever NDPA 2027),2099-06-30');

    const m = await md('inventory');
    expect(m).toContain('| hilltop-csd | hilltop-clever-students | demo-sis (sqlite) |');
    expect(m).toContain('hilltop-clever-2027');
    const h = await html('inventory', '--district', 'hilltop-csd');
    expect(h).toContain('<th>Ticket Number</th>');
    expect(h).toContain('<td>hilltop-clever-2027 (Clever NDPA 2027)</td>');
  });

  it('data-flows: names the data elements each vendor gets, why, under which agreement, how often and when last', async () => {
    const j = await json('data-flows');
    expect(j.rows).toEqual([
      expect.objectContaining({
        District: 'hilltop-csd',
        Vendor: 'Clever',
        Integration: 'hilltop-clever-students',
        'Data elements':
          'Demographics/date of birth; Demographics/gender; Enrollment/student grade level; Student Contact Information/email; Student Identifiers/local ID; Student Identifiers/state ID; Student Name',
        Purpose: 'Rostering',
        'How often': 'daily at 02:00 (America/New_York)',
      }),
    ]);
    expect(String(j.rows[0]!.Agreement)).toContain('hilltop-clever-2027');
    expect(String(j.rows[0]!['Last delivered'])).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect((await csv('data-flows'))[1]).toContain('Demographics/date of birth; Demographics/gender');
    expect(await md('data-flows')).toContain('Student Identifiers/state ID');
    expect(await html('data-flows')).toContain('Student Contact Information/email');
  });

  it('exposure: the delivery in the window, its elements, and the distinct students (= rows of the file)', async () => {
    const since = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const j = await json('exposure', '--vendor', 'clever', '--since', since);
    expect(j.facts).toMatchObject({ Vendor: 'Clever', Districts: 'hilltop-csd', Integrations: 'hilltop-clever-students', Deliveries: 1, 'Distinct students': delivered.length, 'Distinct staff': 0, 'Deliveries with unknown persons': 'none' });
    expect(j.rows[0]).toMatchObject({ District: 'hilltop-csd', Integration: 'hilltop-clever-students', Run: runId, Rows: delivered.length, Persons: 'students', 'Distinct Persons': delivered.length, 'Remote Path': '/hilltop-csd/clever/students.csv' });
    expect(String(j.rows[0]!['Data Elements'])).toContain('Demographics/date of birth');
    expect(j.rows.at(-1)).toMatchObject({ District: '(all)', Persons: 'distinct students', 'Distinct Persons': delivered.length });

    const lines = await csv('exposure', '--vendor', 'Clever', '--since', since);
    expect(lines[0]).toBe('District,Integration,Run,Delivered At,Remote Path,Data Elements,Rows,Persons,Distinct Persons');
    expect(lines.at(-1)).toMatch(new RegExp(`^\\(all\\),.*,distinct students,${delivered.length}$`));
    expect(await md('exposure', '--vendor', 'Clever', '--since', since)).toContain(`- **Distinct students:** ${delivered.length}`);
    expect(await html('exposure', '--vendor', 'Clever', '--since', since)).toContain(`<dt>Distinct students</dt><dd>${delivered.length}</dd>`);
    // No student id in any of it.
    for (const id of [delivered[0]!, delivered.at(-1)!]) expect(JSON.stringify(j).includes(id)).toBe(false);

    // A window that ended before the run: nothing delivered, and zero is then true.
    const before = await json('exposure', '--vendor', 'Clever', '--since', '2020-01-01', '--until', '2020-12-31');
    expect(before.rows).toEqual([]);
    expect(before.facts).toMatchObject({ Deliveries: 0, 'Distinct students': 0 });
  });

  it('exposure refuses a missing --vendor or --since, or an unknown vendor, in one sentence', async () => {
    const noVendor = await report('exposure', '--since', '2026-01-01');
    expect(noVendor.code).toBe(2);
    expect(noVendor.stdout).toBe('');
    expect(noVendor.stderr.trim().split('\n')).toHaveLength(1);
    expect(noVendor.stderr).toContain('report exposure needs --vendor NAME');
    const noSince = await report('exposure', '--vendor', 'Clever');
    expect(noSince.code).toBe(2);
    expect(noSince.stderr.trim().split('\n')).toHaveLength(1);
    expect(noSince.stderr).toContain('report exposure needs --since DATE');
    const unknown = await report('exposure', '--vendor', 'Acme', '--since', '2026-01-01');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown vendor "Acme" (known: Clever)');
    const district = await report('inventory', '--district', 'nowhere');
    expect(district.code).toBe(2);
    expect(district.stderr).toContain('unknown district "nowhere" (known: hilltop-csd)');
  });

  it('supplemental: the six points filled from the agreement and flows, the unknown parts marked for the district', async () => {
    const j = await json('supplemental', '--district', 'hilltop-csd', '--vendor', 'Clever');
    expect(j.rows.map((r) => r['#'])).toEqual([1, 2, 3, 4, 5, 6]);
    const draft = j.rows.map((r) => String(r.Draft));
    expect(draft[0]).toContain('Rostering of student accounts.');
    expect(draft[1]).toMatch(/^\[district to complete: how Clever binds its subcontractors/);
    expect(draft[2]).toBe('Signed 2026-01-01; expires 2099-06-30. When it ends the data is deleted: Deleted at the end of the test.');
    expect(draft[3]).toContain('[district to complete: whom to contact');
    expect(draft[4]).toMatch(/^\[district to complete: where Clever stores the data/);
    expect(draft[5]).toContain('over SFTP');
    expect(draft[5]).toContain('[district to complete: how Clever encrypts the data at rest]');
    expect(j.facts).toMatchObject({ 'Published at': SUPPLEMENTAL_URL, Vendor: 'Clever' });
    expect(String(j.facts['Data elements sent'])).toContain('Student Name');

    const m = await md('supplemental', '--district', 'hilltop-csd', '--vendor', 'Clever');
    expect(m).toContain('[district to complete:');
    expect((await csv('supplemental', '--district', 'hilltop-csd', '--vendor', 'Clever'))[0]).toBe('#,Supplemental information,Draft');
    const h = await html('supplemental', '--district', 'hilltop-csd', '--vendor', 'Clever');
    expect(h).toContain('<span class="complete">[district to complete: how Clever encrypts the data at rest]</span>');
    expect(h).toContain(`<dd>${SUPPLEMENTAL_URL}</dd>`); // as text, not a link

    const missing = await report('supplemental', '--district', 'hilltop-csd', '--vendor', 'Acme');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('district hilltop-csd has no agreement with vendor "Acme"');
  });

  it('--out writes the file, and each report is in the audit log without row data', async () => {
    const out = path.join(tempDir(), 'inventory.html');
    const r = await report('inventory', '--format', 'html', '--out', out);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(fs.readFileSync(out, 'utf8')).toContain('<td>hilltop-clever-2027 (Clever NDPA 2027)</td>');
    const a = await ferry(['audit', '--json', ...c()]);
    expect(a.code).toBe(0);
    const entries = JSON.parse(a.stdout) as { action: string; what: string; details: Record<string, unknown> | null }[];
    const reports = entries.filter((e) => e.action === 'report');
    expect(reports.length).toBeGreaterThanOrEqual(5);
    expect(reports.at(-1)).toMatchObject({ what: `report inventory (html) written to ${out}`, details: { kind: 'inventory', format: 'html', rows: 1 } });
    expect(reports.some((e) => e.details?.kind === 'exposure' && e.details.vendor === 'Clever')).toBe(true);
    for (const id of [delivered[0]!, delivered.at(-1)!]) expect(a.stdout.includes(id)).toBe(false);
  });
});

describe('ferry report exposure: two integrations with overlapping students, several runs, one vendor', () => {
  it('counts each student once across every delivery in the window', async () => {
    const base = { extract: 'clever-students', source: 'demo-sis', destination: 'demo-sftp', schedule: { cron: '0 2 * * *', timezone: 'America/New_York' }, inventory: { vendor: 'Clever', contact: 'SIS Admin', purpose: 'Rostering' } };
    const integrations = [
      { ...base, id: 'hilltop-clever-es', remotePath: '{district}/clever/es.csv', params: { districtId: 'hilltop-csd', asOf: '2026-11-23', schoolYear: 2027, grades: 'K-5' } },
      { ...base, id: 'hilltop-clever-mid', remotePath: '{district}/clever/mid.csv', params: { districtId: 'hilltop-csd', asOf: '2026-11-23', schoolYear: 2027, grades: '3-8' } },
    ];
    const cfg = await makeDemoConfigDir({ integrations, agreements: [AGREEMENT], extraFerry: { extractsDir: taggedExtracts(), governance: { personKeySecret: { file: '../var/demo/person-key.secret' } } } });
    for (const id of ['hilltop-clever-es', 'hilltop-clever-mid', 'hilltop-clever-es']) {
      const r = await ferry(['run', id, '--config', cfg.dir]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    const es = idsOf(fs.readFileSync(path.join(cfg.sftpRoot, 'hilltop-csd/clever/es.csv'), 'utf8'));
    const mid = idsOf(fs.readFileSync(path.join(cfg.sftpRoot, 'hilltop-csd/clever/mid.csv'), 'utf8'));
    const overlap = es.filter((id) => mid.includes(id)).length;
    expect(overlap).toBeGreaterThan(0); // grades 3-5 are in both
    const union = new Set([...es, ...mid]).size;
    expect(union).toBe(es.length + mid.length - overlap);

    const r = await ferry(['report', 'exposure', '--vendor', 'Clever', '--since', '2026-01-01', '--until', '2099-12-31', '--format', 'json', '--config', cfg.dir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { facts: Record<string, unknown>; rows: Record<string, unknown>[] };
    expect(j.facts).toMatchObject({ Deliveries: 3, Integrations: 'hilltop-clever-es, hilltop-clever-mid', 'Distinct students': union });
    expect(j.rows.filter((row) => row.District === 'hilltop-csd').map((row) => [row.Integration, row['Distinct Persons']])).toEqual(
      expect.arrayContaining([
        ['hilltop-clever-es', es.length],
        ['hilltop-clever-mid', mid.length],
      ]),
    );
  });
});
