import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { openRuntime, type Runtime } from '../../src/runtime/runtime.js';
import { ferry, REPO } from '../helpers/cli.js';
import { startFakePowerSchool, type FakePowerSchool } from '../servers/powerschool/fake-powerschool.js';
import { agreementsWith } from '../helpers/agreements.js';

/**
 * PowerSchool as a real run would use it: config → runner → fake server → CSV → local destination → run record.
 * Each bad input is one clear message naming the integration and the source, recorded on the run, nothing delivered.
 */
const SECRET = 'ps-run-secret-7f3a9c';

describe('PowerSchool integrations, end to end through the runner', () => {
  let fake: FakePowerSchool;
  let dir: string;
  let rt: Runtime;
  const outDir = () => path.join(dir, 'out');

  beforeAll(async () => {
    fake = await startFakePowerSchool({ clientId: 'ferry-plugin', clientSecret: SECRET, maxPageSize: 50 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-ps-runs-'));
    fs.mkdirSync(path.join(dir, 'config/integrations'), { recursive: true });
    process.env.FERRY_TEST_PS_SECRET = SECRET;
    process.env.FERRY_TEST_PS_WRONG = 'not-the-secret-000';
    const source = (secretEnv: string, extra: Record<string, unknown> = {}) => ({ kind: 'powerschool', baseUrl: fake.url, clientId: 'ferry-plugin', clientSecret: { env: secretEnv }, timeoutSeconds: 5, retries: 1, ...extra });
    fs.writeFileSync(
      path.join(dir, 'config/ferry.yaml'),
      YAML.stringify({
        dataDir: '../var',
        extractsDir: path.join(REPO, 'extracts'),
        sources: { ps: source('FERRY_TEST_PS_SECRET'), 'ps-wrong': source('FERRY_TEST_PS_WRONG'), 'ps-slow': source('FERRY_TEST_PS_SECRET', { timeoutSeconds: 1, retries: 0 }) },
        destinations: { out: { kind: 'local', basePath: '../out' } },
      }),
    );
    const integ = (id: string, src: string) => ({
      id,
      extract: 'students-basic-ps',
      source: src,
      destination: 'out',
      remotePath: `${id}.csv`,
      schedule: { cron: '0 3 * * *', timezone: 'America/New_York' },
      params: { grades: 'K-5' },
      inventory: { vendor: 'FastBridge', contact: 'SIS Admin', purpose: 'Screening' },
    });
    fs.writeFileSync(
      path.join(dir, 'config/integrations/hilltop.yaml'),
      YAML.stringify({ district: { id: 'hilltop-csd', name: 'Hilltop' }, agreements: agreementsWith(['FastBridge']), integrations: [integ('ps-ok', 'ps'), integ('ps-bad-creds', 'ps-wrong'), integ('ps-slow', 'ps-slow')] }),
    );
    rt = await openRuntime({ configDir: path.join(dir, 'config') });
  });
  afterAll(async () => {
    await rt.close();
    await fake.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    for (const k of Object.keys(fake.faults)) delete (fake.faults as Record<string, unknown>)[k];
  });

  const run = (id: string) => rt.runs.run(rt.config.integrations.get(id)!, { trigger: 'manual', requestedBy: 'test' });
  const delivered = (id: string) => fs.existsSync(path.join(outDir(), `${id}.csv`));

  it('delivers the students the filters select, paging through the API', async () => {
    const r = await run('ps-ok');
    expect(r.run.status).toBe('succeeded');
    expect(r.run.rows).toBeGreaterThan(50); // more than one page of 50
    const text = fs.readFileSync(path.join(outDir(), 'ps-ok.csv'), 'utf8');
    expect(text.split('\r\n')[0]).toBe('student_id,student_number,first_name,middle_name,last_name,grade_level,birth_date,school_number,entry_date');
    for (const line of text.trim().split('\r\n').slice(1)) expect(Number(line.split(',')[5])).toBeLessThanOrEqual(5);
    fs.rmSync(path.join(outDir(), 'ps-ok.csv'));
  });

  const failures: [string, string, () => void, RegExp][] = [
    ['wrong credentials', 'ps-bad-creds', () => undefined, /^integration ps-bad-creds: source ps-wrong field clientSecret: PowerSchool refused the client credentials/],
    ['an endpoint the district has not enabled', 'ps-ok', () => (fake.faults.disabledEndpoints = ['/ws/v1/district/student']), /^integration ps-ok: source ps: .*not enabled/],
    // Truncated on the first try and on the one retry the source allows.
    ['a response cut off every time', 'ps-ok', () => Object.assign(fake.faults, { malformedOnPage: 2, malformedTimes: 2 }), /^integration ps-ok: source ps: GET \/ws\/v1\/district\/student answered HTTP 200 with a body that is not complete JSON \(cut off in transit\?\); gave up after 2 attempts$/],
    ['a timeout', 'ps-slow', () => (fake.faults.delayMs = 3000), /^integration ps-slow: source ps-slow: .*timed out/],
  ];
  for (const [what, id, arrange, message] of failures) {
    it(`${what}: one clear message, recorded, nothing delivered`, async () => {
      arrange();
      const r = await run(id);
      expect(r.run.status).toBe('failed');
      expect(r.run.error).toMatch(message);
      expect(r.run.error).not.toContain(SECRET);
      expect(delivered(id)).toBe(false);
      const stored = await rt.store.getRun(r.run.id);
      expect(stored?.error).toBe(r.run.error);
    });
  }

  it('ferry test-connection prints what it found without reading student data, and names the field on bad credentials', async () => {
    const before = fake.requests.length;
    const ok = await ferry(['test-connection', 'ps', '--config', path.join(dir, 'config')], { env: { FERRY_TEST_PS_SECRET: SECRET } });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^source ps \(powerschool\): ok — PowerSchool \S+/);
    expect(ok.stdout).toMatch(/maxPageSize: 50/);
    expect(ok.stdout).toMatch(/pluginId: /);
    expect(fake.requests.slice(before).some((r) => r.path.includes('student'))).toBe(false);

    const bad = await ferry(['test-connection', 'ps-wrong', '--config', path.join(dir, 'config')], { env: { FERRY_TEST_PS_WRONG: 'not-the-secret-000' } });
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/^ferry: source ps-wrong field clientSecret: PowerSchool refused the client credentials/);
    expect(bad.stderr).not.toContain('not-the-secret-000');
  });
});
