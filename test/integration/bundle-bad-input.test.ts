import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { createSource } from '../../connectors/index.js';
import { systemClock } from '../../src/core/clock.js';
import { FerryError } from '../../src/core/errors.js';
import { tryLoadConfig } from '../../src/config/loader.js';
import type { FerryConfig, Integration } from '../../src/config/model.js';
import { resolveIntegrationParams } from '../../src/config/params.js';
import { createDestination } from '../../src/delivery/create-destination.js';
import { ensureDemoSis } from '../../src/demo/demo-sis.js';
import { createLogger } from '../../src/logging/logger.js';
import { executeRun } from '../../src/pipeline/execute-run.js';
import { agreementsWith } from '../helpers/agreements.js';

/**
 * Bad input to a bundle run (issue 4): each is one clear message that names the integration, the file and the field,
 * carries no cell value, and nothing reaches the destination folder or stays in the spool.
 */
const REPO = path.resolve(import.meta.dirname, '..', '..');
const USERS = 'sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password'.split(',');
const DEMOGRAPHICS =
  'sourcedId,status,dateLastModified,birthDate,sex,americanIndianOrAlaskaNative,asian,blackOrAfricanAmerican,nativeHawaiianOrOtherPacificIslander,white,demographicRaceTwoOrMoreRaces,hispanicOrLatinoEthnicity,countryOfBirthCode,stateOfBirthAbbreviation,cityOfBirth,publicSchoolResidenceStatus'.split(',');

/** An extract that returns one fixed row; every column declared as text so the bad value reaches the check. */
function literalExtract(dir: string, name: string, columns: readonly string[], values: Record<string, string>): void {
  const folder = path.join(dir, 'sqlite', name);
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(path.join(folder, 'extract.yaml'), YAML.stringify({ name, description: `test extract ${name}`, source: 'sqlite', columns: columns.map((c) => ({ name: c, type: 'string', element: 'Not personal data/other' })) }));
  fs.writeFileSync(path.join(folder, 'query.sql'), `SELECT ${columns.map((c) => `'${values[c] ?? ''}' AS "${c}"`).join(', ')}\n`);
}

const integration = (id: string, bundle: Record<string, unknown>, remotePath: string, params: Record<string, unknown> = { districtId: 'hilltop-csd', schoolYear: 2027 }) => ({
  id,
  bundle,
  source: 'sis',
  destination: 'out',
  remotePath,
  schedule: { cron: '0 2 * * *', timezone: 'America/New_York' },
  params,
  safety: false,
  inventory: { vendor: 'V', contact: 'C', purpose: 'P' },
});

describe('bundle runs refuse bad input with one clear message and deliver nothing', () => {
  let root: string;
  let config: FerryConfig;
  let runId = 100;
  const out = () => path.join(root, 'out');

  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-bundle-bad-'));
    ensureDemoSis(path.join(root, 'sis.sqlite'));
    const extracts = path.join(root, 'extracts');
    fs.cpSync(path.join(REPO, 'extracts', 'sqlite', 'oneroster-orgs'), path.join(extracts, 'sqlite', 'oneroster-orgs'), { recursive: true });
    const user = { sourcedId: 'U1', enabledUser: 'true', orgSourcedIds: 'HES', role: 'student', username: 'u1', givenName: 'Zebulon', familyName: 'Quartermain' };
    literalExtract(extracts, 'users-no-family-name', USERS, { ...user, familyName: '' });
    literalExtract(extracts, 'users-ok', USERS, user);
    literalExtract(extracts, 'demographics-bad-date', DEMOGRAPHICS, { sourcedId: 'U1', birthDate: '2016-02-30' });
    literalExtract(extracts, 'clever-schools-ok', ['School_id', 'School_name', 'School_number'], { School_id: 'HES', School_name: 'Hilltop Elementary', School_number: '1' });
    literalExtract(extracts, 'clever-students-bad-dob', ['School_id', 'Student_id', 'Last_name', 'First_name', 'Dob'], { School_id: 'HES', Student_id: 'S1', Last_name: 'Quartermain', First_name: 'Zebulon', Dob: '2016-02-03' });
    fs.mkdirSync(path.join(root, 'config', 'integrations'), { recursive: true });
    fs.writeFileSync(
      path.join(root, 'config', 'ferry.yaml'),
      YAML.stringify({ dataDir: '../var', extractsDir: '../extracts', sources: { sis: { kind: 'sqlite', path: '../sis.sqlite' } }, destinations: { out: { kind: 'local', basePath: '../out' } } }),
    );
    fs.writeFileSync(
      path.join(root, 'config', 'integrations', 'hilltop.yaml'),
      YAML.stringify({
        district: { id: 'hilltop-csd', name: 'Hilltop' },
        agreements: agreementsWith(['V']),
        integrations: [
          integration('or-missing-value', { format: 'oneroster', files: { 'orgs.csv': 'oneroster-orgs', 'users.csv': 'users-no-family-name' } }, 'or/missing.zip'),
          integration('or-bad-date', { format: 'oneroster', files: { 'orgs.csv': 'oneroster-orgs', 'users.csv': 'users-ok', 'demographics.csv': 'demographics-bad-date' } }, 'or/bad-date.zip'),
          integration('or-ok', { format: 'oneroster', files: { 'orgs.csv': 'oneroster-orgs', 'users.csv': 'users-ok' } }, 'or/ok.zip'),
          integration('clever-bad-dob', { format: 'clever', files: { 'schools.csv': 'clever-schools-ok', 'students.csv': 'clever-students-bad-dob' } }, 'clever/', {}),
        ],
      }),
    );
    const res = tryLoadConfig(path.join(root, 'config'));
    if (!res.ok) throw new Error(JSON.stringify(res.problems));
    config = res.config;
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  async function failRun(id: string, before?: (runId: number) => void): Promise<FerryError> {
    const i: Integration = config.integrations.get(id)!;
    const params = resolveIntegrationParams(i, i.params, new Date('2026-11-23T12:00:00Z'), i.schedule.timezone);
    const logger = createLogger({ level: 'error' });
    const rid = ++runId;
    before?.(rid);
    try {
      await executeRun(
        { runId: rid, integration: i, scheduledFor: null, logger, signal: new AbortController().signal, clock: systemClock, params },
        {
          spoolDir: config.spoolDir,
          baselineDir: config.baselineDir,
          keepSpool: false,
          openSource: () => createSource(i.source, { configDir: config.dir, integration: i.id }),
          openDestination: () => createDestination(i.destination, { configDir: config.dir, integration: i.id }),
        },
      );
    } catch (err) {
      expect(err).toBeInstanceOf(FerryError);
      const e = err as FerryError;
      expect(e.integration).toBe(id);
      expect(e.message).toContain(`integration ${id}:`);
      for (const secret of ['Zebulon', 'Quartermain', '2016-02-30', '2016-02-03']) expect(e.message).not.toContain(secret);
      return e;
    }
    throw new Error(`expected ${id} to fail`);
  }

  const delivered = () => (fs.existsSync(out()) ? fs.readdirSync(out(), { recursive: true }) : []);

  it('a missing required value: the file, row and column, and the count by kind', async () => {
    const e = await failRun('or-missing-value');
    expect(e.kind).toBe('format');
    expect(e.message).toContain('[required] users.csv, row 2, column familyName: a value is required');
    expect(e.message).toContain('by kind: required 1');
    expect(delivered()).toEqual([]);
    expect(fs.readdirSync(config.spoolDir)).toEqual([]);
  });

  it('a date that is not a calendar day', async () => {
    const e = await failRun('or-bad-date');
    expect(e.kind).toBe('format');
    expect(e.message).toMatch(/\[date\] demographics\.csv, row 2, column birthDate/);
    expect(delivered()).toEqual([]);
  });

  it('a Clever date not written MM/DD/YYYY: no file of the set is delivered', async () => {
    const e = await failRun('clever-bad-dob');
    expect(e.kind).toBe('format');
    expect(e.message).toContain('Clever file set did not pass its check');
    expect(e.message).toMatch(/\[date\] students\.csv, row 2, column Dob/);
    expect(delivered()).toEqual([]);
    expect(fs.readdirSync(config.spoolDir)).toEqual([]);
  });

  it('a zip that cannot be written: a spool error naming the file, and nothing left behind', async () => {
    const e = await failRun('or-ok', (rid) => {
      // Something already sits where the zip would go (a stale folder, a full or read-only disk looks the same).
      fs.mkdirSync(path.join(config.spoolDir, `${rid}-or-ok.zip`), { recursive: true });
    });
    expect(e.kind).toBe('spool');
    expect(e.message).toMatch(/^integration or-ok: the OneRoster zip \S+-or-ok\.zip cannot be written: the file already exists; nothing was delivered$/);
    expect(delivered()).toEqual([]);
    expect(fs.readdirSync(config.spoolDir).filter((f) => !f.endsWith('-or-ok.zip'))).toEqual([]);
  });

  it('an extract whose columns do not fit its format is refused when the config is loaded', () => {
    const dir = path.join(root, 'config-bad');
    fs.mkdirSync(path.join(dir, 'integrations'), { recursive: true });
    fs.copyFileSync(path.join(root, 'config', 'ferry.yaml'), path.join(dir, 'ferry.yaml'));
    fs.writeFileSync(
      path.join(dir, 'ferry.yaml'),
      YAML.stringify({ dataDir: '../var', extractsDir: '../extracts', sources: { sis: { kind: 'sqlite', path: '../sis.sqlite' } }, destinations: { out: { kind: 'local', basePath: '../out' } } }),
    );
    fs.writeFileSync(
      path.join(dir, 'integrations', 'hilltop.yaml'),
      YAML.stringify({
        district: { id: 'hilltop-csd', name: 'Hilltop' },
        agreements: agreementsWith(['V']),
        integrations: [
          integration('clever-wrong', { format: 'clever', files: { 'students.csv': 'users-ok', 'Teachers.csv': 'clever-schools-ok' } }, 'clever/', {}),
          integration('clever-not-folder', { format: 'clever', files: { 'schools.csv': 'clever-schools-ok' } }, 'clever/schools.csv', {}),
          integration('or-wrong', { format: 'oneroster', files: { 'users.csv': 'clever-schools-ok' } }, 'x.zip', {}),
        ],
      }),
    );
    const res = tryLoadConfig(dir);
    expect(res.ok).toBe(false);
    const messages = res.ok ? [] : res.problems.map((p) => `${p.field}: ${p.message}`);
    expect(messages).toContainEqual(expect.stringMatching(/clever-wrong\)\.bundle\.files\.students\.csv: extract users-ok's columns sourcedId, .* are not students\.csv columns .*; lack the required School_id, Student_id, Last_name, First_name/));
    expect(messages).toContainEqual(expect.stringMatching(/clever-wrong\)\.bundle\.files\.Teachers\.csv: Teachers\.csv is not a Clever file name/));
    expect(messages).toContainEqual(expect.stringMatching(/clever-not-folder\)\.remotePath: must be a folder ending in "\/"/));
    expect(messages).toContainEqual(expect.stringMatching(/or-wrong\)\.bundle\.files\.users\.csv: extract clever-schools-ok's columns do not match users\.csv's OneRoster headers/));
  });
});
