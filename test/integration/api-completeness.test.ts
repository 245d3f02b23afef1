import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { openRuntime, type Runtime } from '../../src/runtime/runtime.js';
import { ferry, REPO } from '../helpers/cli.js';
import { demoStudents } from '../servers/demo-students.js';
import { startFakeESchoolData, type FakeESchoolData } from '../servers/eschooldata/fake-eschooldata.js';
import { startFakePowerSchool, type FakePowerSchool } from '../servers/powerschool/fake-powerschool.js';
import { agreementsWith } from '../helpers/agreements.js';

/**
 * Completeness through the runner: an API extract delivers every record its source counted or nothing at all, every
 * run records the count beside the rows, and a declared column or filter whose path matches nothing fails the run by
 * name instead of shipping blanks (or an "empty result").
 */
const PS_SECRET = 'ps-complete-secret-51b2';
const ESD_SECRET = 'esd-complete-secret-8e0d';
const HILLTOP = 'hilltop-csd';
const N = demoStudents(HILLTOP).length;

/** students-basic-ps / -esd, copied under another name with one line changed. */
function variant(from: string, name: string, edit: (yaml: string) => string): [string, string] {
  const kind = from.endsWith('-ps') ? 'powerschool' : 'eschooldata';
  const text = fs.readFileSync(path.join(REPO, 'extracts', kind, from, 'extract.yaml'), 'utf8').replace(`name: ${from}`, `name: ${name}`);
  const out = edit(text);
  if (out === text) throw new Error(`variant ${name}: the edit changed nothing`);
  return [name, out];
}

describe('API completeness, end to end through the runner and the CLI', () => {
  let ps: FakePowerSchool;
  let esd: FakeESchoolData;
  let dir: string;
  let rt: Runtime;
  const config = () => path.join(dir, 'config');
  const env = { FERRY_TEST_PS_SECRET: PS_SECRET, FERRY_TEST_ESD_SECRET: ESD_SECRET };
  const outFile = (id: string) => path.join(dir, 'out', `${id}.csv`);

  beforeAll(async () => {
    // The plugin clips every page to 50 records; /ws/v1/metadata still says 100.
    ps = await startFakePowerSchool({ clientId: 'ferry-plugin', clientSecret: PS_SECRET, district: HILLTOP, maxPageSize: 100, silentClip: 50 });
    esd = await startFakeESchoolData({ clientId: 'ferry-esd', clientSecret: ESD_SECRET, district: HILLTOP, maxPageSize: 50 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-complete-'));
    Object.assign(process.env, env);
    const extracts: [string, string][] = [
      variant('students-basic-ps', 'students-basic-ps', (t) => `${t}\n`),
      variant('students-basic-esd', 'students-basic-esd', (t) => `${t}\n`),
      variant('students-basic-ps', 'students-typo-ps', (t) => t.replace('path: name.middle_name', 'path: name.midle_name')),
      variant('students-basic-ps', 'students-typo-optional-ps', (t) => t.replace('path: name.middle_name,', 'path: name.midle_name, optional: true,')),
      variant('students-basic-ps', 'students-bad-filter-ps', (t) => t.replace('buildings: school_enrollment.school_number', 'buildings: school_enrollment.school_nmber')),
    ];
    for (const [name, text] of extracts) {
      const folder = path.join(dir, 'extracts', name.endsWith('-esd') ? 'eschooldata' : 'powerschool', name);
      fs.mkdirSync(folder, { recursive: true });
      fs.writeFileSync(path.join(folder, 'extract.yaml'), text);
    }
    fs.mkdirSync(path.join(config(), 'integrations'), { recursive: true });
    fs.writeFileSync(
      path.join(config(), 'ferry.yaml'),
      YAML.stringify({
        dataDir: '../var',
        extractsDir: '../extracts',
        sources: {
          ps: { kind: 'powerschool', baseUrl: ps.url, clientId: 'ferry-plugin', clientSecret: { env: 'FERRY_TEST_PS_SECRET' }, pageSize: 100, retries: 1 },
          esd: { kind: 'eschooldata', tokenUrl: esd.tokenUrl, apiBase: esd.apiBase, clientId: 'ferry-esd', clientSecret: { env: 'FERRY_TEST_ESD_SECRET' }, pageSize: 50, retries: 1 },
        },
        destinations: { out: { kind: 'local', basePath: '../out' } },
      }),
    );
    const integ = (id: string, extract: string, source: string, params: Record<string, unknown> = {}) => ({
      id,
      extract,
      source,
      destination: 'out',
      remotePath: `${id}.csv`,
      schedule: { cron: '0 3 * * *', timezone: 'America/New_York' },
      params,
      safety: false,
      inventory: { vendor: 'FastBridge', contact: 'SIS Admin', purpose: 'Screening' },
    });
    fs.writeFileSync(
      path.join(config(), 'integrations', 'hilltop.yaml'),
      YAML.stringify({
        district: { id: HILLTOP, name: 'Hilltop' },
        agreements: agreementsWith(['FastBridge']),
        integrations: [
          integ('ps-all', 'students-basic-ps', 'ps', { activeOnly: false }),
          integ('esd-all', 'students-basic-esd', 'esd', { activeOnly: false }),
          integ('ps-typo', 'students-typo-ps', 'ps', { activeOnly: false }),
          integ('ps-typo-optional', 'students-typo-optional-ps', 'ps', { activeOnly: false }),
          integ('ps-bad-filter', 'students-bad-filter-ps', 'ps', { activeOnly: false, buildings: ['HES'] }),
        ],
      }),
    );
    rt = await openRuntime({ configDir: config() });
  });
  afterAll(async () => {
    await rt?.close();
    await ps?.close();
    await esd?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    for (const f of [ps.faults, esd.faults]) for (const k of Object.keys(f)) delete (f as Record<string, unknown>)[k];
    fs.rmSync(path.join(dir, 'out'), { recursive: true, force: true });
  });

  const run = (id: string) => rt.runs.run(rt.config.integrations.get(id)!, { trigger: 'manual', requestedBy: 'test' });
  const dataLines = (id: string) => fs.readFileSync(outFile(id), 'utf8').trim().split(/\r?\n/).slice(1);

  it('pages clipped by the plugin without a word in /ws/v1/metadata: ferry run delivers every student, and history and show print both numbers', async () => {
    const res = await ferry(['run', 'ps-all', '--config', config()], { env });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(dataLines('ps-all')).toHaveLength(N);
    const [last] = await rt.store.listRuns({ integrationId: 'ps-all', limit: 1 });
    expect([last!.status, last!.rows, last!.expected]).toEqual(['succeeded', N, N]);
    // After page 1 (asked 100, got 50), every page asks for the 50 the server used.
    const pageSizes = ps.requests.filter((r) => r.path === '/ws/v1/district/student' && r.query['pagesize'] !== '1').map((r) => r.query['pagesize']);
    expect(pageSizes).toEqual(['100', ...Array.from({ length: Math.ceil(N / 50) - 1 }, () => '50')]);

    const history = await ferry(['history', 'ps-all', '--config', config()], { env });
    expect(history.code).toBe(0);
    const [header, row] = history.stdout.split('\n');
    expect(header).toMatch(/ ROWS +EXPECTED +BYTES /);
    expect(row).toMatch(new RegExp(`succeeded .* ${N} +${N} +\\d+ \\(`));
    const show = await ferry(['show', 'ps-all', '--config', config()], { env });
    expect(show.stdout).toContain(`${N} rows (${N} expected)`);
    const json = JSON.parse((await ferry(['history', 'ps-all', '--json', '--config', config()], { env })).stdout) as { rows: number; expected: number }[];
    expect(json[0]).toMatchObject({ rows: N, expected: N });
  });

  it('a student deleted and one added mid-paging: the run fails retryably with both numbers recorded, and nothing is delivered', async () => {
    esd.faults.countDrift = { remove: 1, add: 1 }; // right after page 1: the total holds, a still-enrolled student shifts out of reach
    // A scheduled slot, as at 2 AM: its failure is retried (manual runs never are).
    const r = await rt.runs.run(rt.config.integrations.get('esd-all')!, { trigger: 'schedule', requestedBy: 'scheduler', scheduledFor: new Date('2026-11-23T08:00:00Z') });
    expect([r.run.status, r.run.errorKind, r.run.rows, r.run.expected]).toEqual(['failed', 'source_transient', N, N]);
    expect(r.run.error).toBe(
      'integration esd-all: source esd: records of endpoint students moved while it was paged (page 1 no longer ends with the record read there), so a record may have been skipped; nothing was delivered (a retry reads it again)',
    );
    expect([r.retry?.status, r.retry?.trigger, r.retry?.retryOf]).toEqual(['queued', 'retry', r.run.id]);
    expect(fs.existsSync(outFile('esd-all'))).toBe(false);
    const stored = await rt.store.getRun(r.run.id);
    expect([stored!.rows, stored!.expected, stored!.error]).toEqual([N, N, r.run.error]);
  });

  it('a record deleted after the count: read against the count, the run fails retryably and says both numbers', async () => {
    esd.faults.countDrift = { remove: 3 };
    const r = await run('esd-all');
    expect([r.run.status, r.run.errorKind, r.run.rows, r.run.expected]).toEqual(['failed', 'source_transient', N - 3, N]);
    expect(r.run.error).toBe(
      `integration esd-all: source esd: read ${N - 3} records but endpoint students counted ${N}; nothing was delivered (records changed during the read, or the server clipped pages; a retry reads it again)`,
    );
    expect(fs.existsSync(outFile('esd-all'))).toBe(false);
  });

  it('a declared column whose path matches nothing fails the run by column and path; marked optional, it goes out blank', async () => {
    const bad = await run('ps-typo');
    expect([bad.run.status, bad.run.errorKind]).toEqual(['failed', 'columns']);
    expect(bad.run.error).toBe(
      `integration ps-typo: column middle_name (path name.midle_name) is empty in every one of ${N} rows, so nothing was delivered; fix the path in extract students-typo-ps, or mark the column optional: true if it may be empty`,
    );
    expect(fs.existsSync(outFile('ps-typo'))).toBe(false);

    const ok = await run('ps-typo-optional');
    expect([ok.run.status, ok.run.rows, ok.run.expected]).toEqual(['succeeded', N, N]);
    expect(dataLines('ps-typo-optional').every((l) => l.split(',')[3] === '')).toBe(true);
  });

  it('ferry preview and ferry test-connection <integration> warn about the column, printing no student data for the warning', async () => {
    const preview = await ferry(['preview', 'ps-typo', '--limit', '5', '--config', config()], { env });
    expect(preview.code).toBe(0);
    expect(preview.stderr).toContain(
      'warning: integration ps-typo: column middle_name (path name.midle_name) is empty in all 5 rows read; a run fails on it unless the path is fixed in extract students-typo-ps or the column is marked optional: true',
    );
    const quiet = await ferry(['preview', 'ps-typo-optional', '--limit', '5', '--config', config()], { env });
    expect(quiet.stderr).not.toContain('warning');

    const test = await ferry(['test-connection', 'ps-typo', '--config', config()], { env });
    expect(test.code).toBe(0);
    expect(test.stdout).toMatch(/^source ps \(powerschool\): ok/);
    expect(test.stderr).toContain(`warning: integration ps-typo: column middle_name (path name.midle_name) is empty in all ${Math.min(N, 200)} rows read`);
    expect(test.stdout).not.toContain(demoStudents(HILLTOP)[0]!.lastName);
    const plain = await ferry(['test-connection', 'ps-all', '--config', config()], { env });
    expect([plain.code, plain.stderr]).toEqual([0, '']);
  });

  it('a filter whose path matches no record is reported as such, not as an empty result', async () => {
    const r = await run('ps-bad-filter');
    expect([r.run.status, r.run.errorKind]).toEqual(['failed', 'config']);
    expect(r.run.error).toBe(
      `integration ps-bad-filter: source ps: filter buildings: path school_enrollment.school_nmber matched no record (of ${N} read); fix request.filters.buildings in the extract to name the field that holds it`,
    );
    expect(r.run.error).not.toContain('allowEmpty');
    expect(fs.existsSync(outFile('ps-bad-filter'))).toBe(false);
  });
});
