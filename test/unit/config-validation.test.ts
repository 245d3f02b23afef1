import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { ConfigError, formatProblem, loadConfig, tryLoadConfig } from '../../src/config/loader.js';
import { agreementsFor } from '../helpers/agreements.js';
import type { ConfigProblem, FerryConfig } from '../../src/config/model.js';
import { resolveIntegrationParams } from '../../src/config/params.js';
import { renderRunPath } from '../../src/pipeline/run-paths.js';

/**
 * Each test writes a small config folder (ferry.yaml, integrations/*.yaml, extracts/sqlite/roster/) that is valid
 * except for the mistakes the test makes, and checks what `ferry validate` would list: file, field and message.
 */

const NOW = new Date('2026-11-23T15:00:00Z');
const SHIPPED = path.join(import.meta.dirname, '..', '..', 'config');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

type Doc = Record<string, unknown> | string;

function ferryYaml(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    dataDir: './var',
    extractsDir: './extracts',
    sources: {
      sis: { kind: 'sqlite', path: './sis.sqlite' },
      'district-pg': { kind: 'postgres', host: 'db.example.org', database: 'sis', user: 'ferry', password: { env: 'PG_PASSWORD' } },
    },
    destinations: {
      out: { kind: 'local', basePath: './out' },
      'district-sftp': { kind: 'sftp', host: 'sftp.example.org', username: 'ferry', privateKey: { file: 'keys/id_ed25519' }, hostKeySha256: `SHA256:${'A'.repeat(43)}` },
    },
    ...over,
  };
}

function integration(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'my-id',
    extract: 'roster',
    source: 'sis',
    destination: 'out',
    remotePath: '{district}/roster_{date:YYYYMMDD}.csv',
    schedule: { cron: '0 2 * * *', timezone: 'America/New_York' },
    params: {},
    inventory: { vendor: 'Vendor', contact: 'it@testville.example.org', purpose: 'Testing' },
    ...over,
  };
}

function districtFile(id: string, integrations: Record<string, unknown>[]): Record<string, unknown> {
  return { district: { id, name: `${id} CSD`, gradeBands: { ES: 'K-5', HS: '9-12' } }, agreements: agreementsFor(integrations, id), integrations };
}

const EXTRACT: Record<string, unknown> = {
  name: 'roster',
  description: 'Test roster',
  source: 'sqlite',
  filters: ['schoolYear', 'grades'],
  params: {
    districtId: { type: 'string', required: true },
    level: { type: 'string', allowed: ['basic', 'full'], default: 'basic' },
  },
  columns: [{ name: 'id', type: 'string', element: 'Student Identifiers/local ID' }],
};
const QUERY = "SELECT id FROM students\nWHERE district_id = :districtId AND school_year = :schoolYear\n  AND grade BETWEEN :gradeMin AND :gradeMax AND :level IN ('basic', 'full')\n";

interface Layout {
  ferry?: Doc;
  /** File name under integrations/ → content. */
  districts?: Record<string, Doc>;
  extract?: Doc;
  sql?: string;
}

function writeDoc(file: string, doc: Doc): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, typeof doc === 'string' ? doc : YAML.stringify(doc));
}

function makeConfig(layout: Layout = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-'));
  dirs.push(dir);
  writeDoc(path.join(dir, 'ferry.yaml'), layout.ferry ?? ferryYaml());
  for (const [name, doc] of Object.entries(layout.districts ?? { 'x.yaml': districtFile('testville', [integration()]) })) {
    writeDoc(path.join(dir, 'integrations', name), doc);
  }
  writeDoc(path.join(dir, 'extracts', 'sqlite', 'roster', 'extract.yaml'), layout.extract ?? EXTRACT);
  fs.writeFileSync(path.join(dir, 'extracts', 'sqlite', 'roster', 'query.sql'), layout.sql ?? QUERY);
  return dir;
}

/** The problems, with file names relative to the config folder so they can be compared. */
function problemsOf(layout: Layout): ConfigProblem[] {
  const dir = makeConfig(layout);
  const res = tryLoadConfig(dir, NOW);
  if (res.ok) throw new Error('expected the configuration to be refused, but it loaded');
  return res.problems.map((p) => ({ ...p, file: path.relative(dir, path.resolve(p.file)) }));
}

function loads(layout: Layout = {}): FerryConfig {
  const res = tryLoadConfig(makeConfig(layout), NOW);
  if (!res.ok) throw new Error(`expected the configuration to load:\n${res.problems.map(formatProblem).join('\n')}`);
  return res.config;
}

const X = 'integrations/x.yaml';

describe('a valid config folder', () => {
  it('loads the test fixture with no problems and resolves its references', () => {
    const config = loads();
    const integ = config.integrations.get('my-id');
    expect(integ?.extract.name).toBe('roster');
    expect(integ?.source).toMatchObject({ id: 'sis', kind: 'sqlite', path: path.join(config.dir, 'sis.sqlite') });
    expect(integ?.destination).toMatchObject({ id: 'out', kind: 'local', basePath: path.join(config.dir, 'out') });
    expect(integ?.district.id).toBe('testville');
  });

  it('loads the shipped config/ folder: six integrations, all frozen', () => {
    const res = tryLoadConfig(SHIPPED, NOW);
    expect(res.ok ? [] : res.problems.map(formatProblem)).toEqual([]);
    if (!res.ok) return;
    const { config } = res;
    expect([...config.integrations.keys()].sort()).toEqual([
      'hilltop-clever-students',
      'hilltop-fastbridge-es',
      'hilltop-oneroster',
      'hilltop-parentsquare-contacts',
      'riverbend-classlink-staff',
      'riverbend-clever',
    ]);
    expect(Object.isFrozen(config)).toBe(true);
    const integ = config.integrations.get('hilltop-clever-students')!;
    for (const part of [integ, integ.params, integ.schedule, integ.format, integ.inventory, integ.district, integ.extract, integ.extract.columns, integ.source, integ.destination]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
    expect(config.integrations.get('riverbend-clever')?.enabled).toBe(false);
    const oneroster = config.integrations.get('hilltop-oneroster')!;
    expect(oneroster.extract.name).toBe('oneroster-orgs');
    expect(oneroster.bundle?.files.map((f) => f.name)).toEqual(['orgs.csv', 'academicSessions.csv', 'courses.csv', 'classes.csv', 'users.csv', 'enrollments.csv', 'demographics.csv']);
    expect(Object.isFrozen(oneroster.bundle)).toBe(true);
  });
});

describe('config problems', () => {
  it('reports invalid YAML with its line and column, and still checks the other files', () => {
    const problems = problemsOf({
      districts: {
        'a.yaml': 'district:\n  id: testville\n  name: "Testville CSD\n',
        'b.yaml': districtFile('otherville', [integration({ id: 'other', extract: 'nope' })]),
      },
    });
    expect(problems).toHaveLength(2);
    const [yaml, other] = problems;
    expect(yaml?.file).toBe('integrations/a.yaml');
    expect(yaml?.field).toMatch(/^line \d+, column \d+$/);
    expect(yaml?.message).toMatch(/^invalid YAML: /);
    expect(formatProblem(yaml!)).toMatch(/a\.yaml: line \d+, column \d+: invalid YAML/);
    expect(other).toMatchObject({ file: 'integrations/b.yaml', field: 'integrations[0] (other).extract' });
  });

  it('reports an unknown extract, source and destination, naming the integration and what is known', () => {
    expect(problemsOf({ districts: { 'x.yaml': districtFile('testville', [integration({ extract: 'rooster', source: 'siss', destination: 'outt' })]) } })).toEqual([
      { file: X, field: 'integrations[0] (my-id).extract', message: 'unknown extract "rooster" (known: roster)' },
      { file: X, field: 'integrations[0] (my-id).source', message: 'unknown source "siss" (known: sis, district-pg)' },
      { file: X, field: 'integrations[0] (my-id).destination', message: 'unknown destination "outt" (known: out, district-sftp)' },
    ]);
  });

  it('refuses inline secrets in a source and a destination without repeating them', () => {
    const base = ferryYaml();
    const sources = base['sources'] as Record<string, Record<string, unknown>>;
    const destinations = base['destinations'] as Record<string, Record<string, unknown>>;
    const problems = problemsOf({
      ferry: {
        ...base,
        sources: { ...sources, 'district-pg': { ...sources['district-pg'], password: 'hunter2' } },
        destinations: { ...destinations, 'district-sftp': { ...destinations['district-sftp'], password: 'hunter2' } },
      },
    });
    expect(problems.map((p) => [p.file, p.field])).toEqual([
      ['ferry.yaml', 'sources.district-pg.password'],
      ['ferry.yaml', 'destinations.district-sftp.password'],
    ]);
    for (const p of problems) {
      expect(p.message).toContain('inline secrets are not allowed');
      expect(formatProblem(p)).not.toContain('hunter2');
    }
  });

  it('reports every bad parameter, each against its own integration and field', () => {
    const problems = problemsOf({
      districts: {
        'x.yaml': districtFile('testville', [
          integration({ id: 'other-district', params: { districtId: 'riverbend-ufsd' } }),
          integration({ id: 'not-allowed', params: { districtId: 'testville', level: 'everything' } }),
          integration({ id: 'backwards', params: { districtId: 'testville', grades: '12-9' } }),
          integration({ id: 'band', params: { districtId: 'testville', grades: 'MS' } }),
          integration({ id: 'typo', params: { districtID: 'testville' } }),
          integration({ id: 'no-filter', params: { districtId: 'testville', activeOnly: true } }),
        ]),
      },
    });
    expect(problems).toEqual([
      { file: X, field: 'integrations[0] (other-district).params.districtId', message: expect.stringMatching(/^"riverbend-ufsd" is not this integration's district: it belongs to district testville/) },
      { file: X, field: 'integrations[1] (not-allowed).params.level', message: '"everything" is not one of the allowed values (basic, full)' },
      { file: X, field: 'integrations[2] (backwards).params.grades', message: '"12-9" runs backwards' },
      { file: X, field: 'integrations[3] (band).params.grades', message: '"MS" is not a grade range like K-6 or 9-12 or a band of this district (ES, HS)' },
      { file: X, field: 'integrations[4] (typo).params.districtID', message: expect.stringContaining('extract roster declares no such parameter (it takes: schoolYear, grades, districtId, level)') },
      { file: X, field: 'integrations[5] (no-filter).params.activeOnly', message: 'extract roster does not support the activeOnly filter' },
    ]);
  });

  it('refuses a remote path that escapes the destination folder, and an unknown placeholder', () => {
    const problems = problemsOf({
      districts: {
        'x.yaml': districtFile('testville', [integration({ id: 'escape', remotePath: '../../etc/x.csv' }), integration({ id: 'placeholder', remotePath: '{district}/{foo}.csv' })]),
      },
    });
    expect(problems).toEqual([
      { file: X, field: 'integrations[0] (escape).remotePath', message: expect.stringContaining('".."') },
      { file: X, field: 'integrations[1] (placeholder).remotePath', message: expect.stringContaining('unknown placeholder {foo}') },
    ]);
  });

  it('refuses a bad cron expression and an unknown time zone', () => {
    const problems = problemsOf({
      districts: { 'x.yaml': districtFile('testville', [integration({ schedule: { cron: '0 25 * * *', timezone: 'America/Springfield' } })]) },
    });
    expect(problems).toEqual([
      { file: X, field: 'integrations[0] (my-id).schedule.cron', message: expect.stringContaining('is not a valid cron expression') },
      { file: X, field: 'integrations[0] (my-id).schedule.timezone', message: expect.stringContaining('is not a known IANA time zone') },
    ]);
  });

  it('refuses an integration id used in two district files, naming the first file', () => {
    const problems = problemsOf({
      districts: {
        'a.yaml': districtFile('aville', [integration({ id: 'shared-id' })]),
        'b.yaml': districtFile('bville', [integration({ id: 'shared-id' })]),
      },
    });
    expect(problems).toEqual([{ file: 'integrations/b.yaml', field: 'integrations[0] (shared-id).id', message: expect.stringMatching(/^integration shared-id is already defined in .*integrations\/a\.yaml$/) }]);
  });

  it("refuses an extract written for another kind of source than the integration's", () => {
    expect(problemsOf({ districts: { 'x.yaml': districtFile('testville', [integration({ source: 'district-pg' })]) } })).toEqual([
      { file: X, field: 'integrations[0] (my-id).source', message: 'extract roster is written for sqlite but source district-pg is postgres' },
    ]);
  });

  it('refuses a SQL placeholder that the extract does not declare', () => {
    expect(problemsOf({ sql: `${QUERY}  AND building = :building\n` })).toEqual([
      {
        file: 'extracts/sqlite/roster/query.sql',
        field: ':building',
        message: 'placeholder :building is neither a declared parameter nor a bind of a declared filter (districtId, level, schoolYear, gradeMin, gradeMax)',
      },
    ]);
  });

  it('returns all problems at once, across files', () => {
    const problems = problemsOf({
      sql: `${QUERY}  AND building = :building\n`,
      districts: {
        'a.yaml': districtFile('aville', [integration({ id: 'a-roster', destination: 'nowhere' })]),
        'b.yaml': districtFile('bville', [integration({ id: 'b-roster', schedule: { cron: 'every night', timezone: 'America/New_York' } })]),
      },
    });
    expect(problems.map((p) => `${p.file}: ${p.field}`)).toEqual([
      'extracts/sqlite/roster/query.sql: :building',
      'integrations/a.yaml: integrations[0] (a-roster).destination',
      'integrations/b.yaml: integrations[0] (b-roster).schedule.cron',
    ]);
  });

  it('returns several mistakes in one integration at once', () => {
    const problems = problemsOf({
      districts: { 'x.yaml': districtFile('testville', [integration({ source: 'nope', remotePath: '{foo}.csv', params: { districtId: 'elsewhere' } })]) },
    });
    expect(problems.map((p) => p.field)).toEqual(['integrations[0] (my-id).source', 'integrations[0] (my-id).remotePath', 'integrations[0] (my-id).params.districtId']);
  });
});

describe('loadConfig', () => {
  it('throws a ConfigError naming the first problem and how many more there are', () => {
    const dir = makeConfig({ districts: { 'x.yaml': districtFile('testville', [integration({ extract: 'rooster', source: 'siss', destination: 'outt' })]) } });
    let caught: unknown;
    try {
      loadConfig(dir, NOW);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const err = caught as ConfigError;
    expect(err.kind).toBe('config');
    expect(err.problems).toHaveLength(3);
    expect(err.message).toMatch(/x\.yaml: integrations\[0\] \(my-id\)\.extract: unknown extract "rooster" \(known: roster\) \(and 2 more problems; run ferry validate\)$/);
  });

  it('says nothing about more problems when there is only one', () => {
    const dir = makeConfig({ districts: { 'x.yaml': districtFile('testville', [integration({ extract: 'rooster' })]) } });
    expect(() => loadConfig(dir, NOW)).toThrow(/unknown extract "rooster" \(known: roster\)$/);
  });
});

describe('OneRoster bundles', () => {
  const ferry = ferryYaml({ extractsDir: path.join(import.meta.dirname, '..', '..', 'extracts') });
  const bundled = (over: Record<string, unknown> = {}) =>
    integration({
      extract: undefined,
      bundle: { format: 'oneroster', files: { 'orgs.csv': 'oneroster-orgs', 'users.csv': 'oneroster-users' } },
      params: { districtId: 'testville', schoolYear: 2027 },
      ...over,
    });

  it('loads a bundle: extract is its first member, params resolve per member', () => {
    const config = loads({ ferry, districts: { 'x.yaml': districtFile('testville', [bundled()]) } });
    const i = config.integrations.get('my-id')!;
    expect(i.extract.name).toBe('oneroster-orgs');
    expect(i.bundle).toMatchObject({ format: 'oneroster', mode: 'bulk', files: [{ name: 'orgs.csv' }, { name: 'users.csv' }] });
    const r = resolveIntegrationParams(i, i.params, NOW, 'America/New_York');
    expect(r.values).toEqual({ districtId: 'testville', schoolYear: 2027 });
    expect(r.members?.get('oneroster-users')?.binds).toEqual({ districtId: 'testville', schoolYear: 2027 });
  });

  it('names a parameter no member declares, and an integration with neither extract nor bundle', () => {
    const problems = problemsOf({
      ferry,
      districts: { 'x.yaml': districtFile('testville', [bundled({ params: { districtId: 'testville', grades: 'K-5' } }), integration({ id: 'none', extract: undefined })]) },
    });
    expect(problems).toEqual([
      { file: 'integrations/x.yaml', field: 'integrations[0] (my-id).params.grades', message: 'no extract of the bundle declares it' },
      { file: 'integrations/x.yaml', field: 'integrations[1] (none).extract', message: 'is required (or a bundle: block of OneRoster files)' },
    ]);
  });
});

describe('ferry validate: a district sends only its own data', () => {
  it("refuses an integration whose districtId names another district, and fills it from the district block when left out", () => {
    expect(problemsOf({ districts: { 'x.yaml': districtFile('hilltop-csd', [integration({ id: 'hilltop-fastbridge-es', params: { districtId: 'riverbend-ufsd' } })]) } })).toEqual([
      {
        file: X,
        field: 'integrations[0] (hilltop-fastbridge-es).params.districtId',
        message: `"riverbend-ufsd" is not this integration's district: it belongs to district hilltop-csd (its district: block), and that id is always used; remove districtId (no override, not even with --force, sends another district's data)`,
      },
    ]);
    const i = loads({ districts: { 'x.yaml': districtFile('hilltop-csd', [integration()]) } }).integrations.get('my-id')!;
    expect(resolveIntegrationParams(i, i.params, NOW, 'America/New_York').binds['districtId']).toBe('hilltop-csd');
    // A run's overrides go through the same resolution: `--param districtId=…` is refused like config.
    expect(() => resolveIntegrationParams(i, { ...i.params, districtId: 'riverbend-ufsd' }, NOW, 'America/New_York')).toThrow(/parameter districtId: "riverbend-ufsd" is not this integration's district/);
  });

  it('on a destination two districts share, refuses a remote path outside the district folder, and accepts {district}/…', () => {
    const problems = problemsOf({
      districts: {
        'a.yaml': districtFile('aville', [integration({ id: 'a-roster', remotePath: '{district}/roster.csv' })]),
        'b.yaml': districtFile('bville', [integration({ id: 'b-roster', remotePath: 'aville/roster.csv' }), integration({ id: 'b-flat', remotePath: 'roster_{district}.csv' })]),
      },
    });
    const why = 'destination out is shared by districts aville, bville, and each district\'s files stay in its own folder';
    expect(problems).toEqual([
      { file: 'integrations/b.yaml', field: 'integrations[0] (b-roster).remotePath', message: `must start with "{district}/" (the folder bville/): ${why}` },
      { file: 'integrations/b.yaml', field: 'integrations[1] (b-flat).remotePath', message: `must start with "{district}/" (the folder bville/): ${why}` },
    ]);
    // One district alone on a destination may use any path inside it (a vendor's per-district account).
    expect(loads({ districts: { 'b.yaml': districtFile('bville', [integration({ remotePath: 'roster.csv' })]) } }).integrations.size).toBe(1);
  });

  it('checks the folder again whenever a run path is rendered', () => {
    const config = loads({
      districts: {
        'a.yaml': districtFile('aville', [integration({ id: 'a-roster' })]),
        'b.yaml': districtFile('bville', [integration({ id: 'b-roster' })]),
      },
    });
    const a = config.integrations.get('a-roster')!;
    expect(a.destination.sharedBy).toEqual(['aville', 'bville']);
    expect(renderRunPath(a, 7, NOW)).toBe(path.join(config.dir, 'out', 'aville', 'roster_20261123.csv'));
    // A path that reaches this point some other way (a reload that changed sharing, a caller's own template) is refused.
    expect(() => renderRunPath({ ...a, remotePath: 'bville/roster.csv' }, 7, NOW)).toThrow(/^integration a-roster: remotePath "bville\/roster\.csv" must start with "\{district\}\/" \(the folder aville\/\)/);
  });
});

describe('ferry validate: what would fail at 2 AM', () => {
  const KEY = 'keys/id_ed25519';
  const PIN = 'keys/host.pin';
  // A host key line and the fingerprint `ssh-keygen -lf` prints for it (computed independently with sha256 below).
  const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 7)]);
  const PUB_LINE = `ssh-ed25519 ${blob.toString('base64')} host@example`;
  const FP = `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
  const sftpWithPin = ferryYaml({
    destinations: {
      out: { kind: 'local', basePath: './out' },
      'district-sftp': { kind: 'sftp', host: 'sftp.example.org', username: 'ferry', privateKey: { file: KEY }, hostKeySha256: { file: PIN } },
    },
  });

  /** Problems with the environment checks on: a private key (0600), a pin file, PG_PASSWORD set, unless changed. */
  function check(layout: Layout, prepare: (dir: string) => void = () => {}, env: NodeJS.ProcessEnv = { PG_PASSWORD: 'pg-secret-value' }) {
    const dir = makeConfig({ ferry: sftpWithPin, ...layout });
    fs.mkdirSync(path.join(dir, 'keys'));
    fs.writeFileSync(path.join(dir, KEY), '-----BEGIN OPENSSH PRIVATE KEY-----\nsecret-key-body\n-----END OPENSSH PRIVATE KEY-----\n', { mode: 0o600 });
    fs.writeFileSync(path.join(dir, PIN), `256 ${FP} root@sftp (ED25519)\n`);
    prepare(dir);
    const res = tryLoadConfig(dir, NOW, { environment: env });
    const rel = (p: ConfigProblem) => ({ ...p, file: path.relative(dir, path.resolve(p.file)) });
    return { dir, ok: res.ok, problems: res.ok ? [] : res.problems.map(rel), warnings: res.warnings.map(rel), text: res.ok ? '' : res.problems.map(formatProblem).join('\n') };
  }

  it('passes a ready config, with the pin written as ssh-keygen -lf prints it', () => {
    const r = check({});
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it('an unset environment variable, naming it and never printing a value', () => {
    const r = check({}, () => {}, {});
    expect(r.problems).toEqual([{ file: 'ferry.yaml', field: 'sources.district-pg.password', message: 'environment variable PG_PASSWORD is not set (or is empty) for this user' }]);
  });

  it('a missing key file', () => {
    const r = check({}, (dir) => fs.rmSync(path.join(dir, KEY)));
    expect(r.problems).toEqual([{ file: 'ferry.yaml', field: 'destinations.district-sftp.privateKey', message: `secret file ${path.join(r.dir, KEY)} does not exist` }]);
  });

  it('a private key or password file open to group or others, without reading it out', () => {
    const r = check(
      {
        ferry: {
          ...sftpWithPin,
          sources: { sis: { kind: 'sqlite', path: './sis.sqlite' }, 'district-pg': { kind: 'postgres', host: 'db.example.org', database: 'sis', user: 'ferry', password: { file: 'keys/pg.pw' } } },
        },
      },
      (dir) => {
        fs.chmodSync(path.join(dir, KEY), 0o644);
        fs.writeFileSync(path.join(dir, 'keys/pg.pw'), 'pg-password-value\n', { mode: 0o640 });
      },
    );
    expect(r.problems).toEqual([
      { file: 'ferry.yaml', field: 'sources.district-pg.password', message: `secret file ${path.join(r.dir, 'keys/pg.pw')} is open to group or others (mode 0640); run chmod 600 ${path.join(r.dir, 'keys/pg.pw')}` },
      { file: 'ferry.yaml', field: 'destinations.district-sftp.privateKey', message: `secret file ${path.join(r.dir, KEY)} is open to group or others (mode 0644); run chmod 600 ${path.join(r.dir, KEY)}` },
    ]);
    expect(r.text).not.toContain('secret-key-body');
    expect(r.text).not.toContain('pg-password-value');
  });

  it('accepts a pin file holding a .pub key line or the bare fingerprint, and refuses one that holds neither', () => {
    expect(check({}, (dir) => fs.writeFileSync(path.join(dir, PIN), `${PUB_LINE}\n`)).problems).toEqual([]);
    expect(check({}, (dir) => fs.writeFileSync(path.join(dir, PIN), `${FP}\n`)).problems).toEqual([]);
    const md5 = check({}, (dir) => fs.writeFileSync(path.join(dir, PIN), '256 MD5:3b:6a:1f:00 root@sftp (ED25519)\n'));
    expect(md5.problems).toEqual([
      {
        file: 'ferry.yaml',
        field: 'destinations.district-sftp.hostKeySha256',
        message: `pin file ${path.join(md5.dir, PIN)} line 1 is neither a SHA256 fingerprint line as \`ssh-keygen -lf\` prints it nor a .pub key line (an MD5 fingerprint: use \`ssh-keygen -lf key.pub -E sha256\`)`,
      },
    ]);
    const missing = check({}, (dir) => fs.rmSync(path.join(dir, PIN)));
    expect(missing.problems.map((p) => p.message)).toEqual([`pin file ${path.join(missing.dir, PIN)} does not exist`]);
  });

  it('an invalid grade band that no integration uses is a problem; a valid unused one a warning', () => {
    const district = { district: { id: 'testville', name: 'Testville', gradeBands: { ES: 'K-5', MS: '8-6', HS: '9-13' } }, agreements: agreementsFor([integration()]), integrations: [integration({ params: { grades: 'ES' } })] };
    const r = check({ districts: { 'x.yaml': district } });
    expect(r.problems).toEqual([
      { file: X, field: 'district.gradeBands.MS', message: '"8-6" runs backwards' },
      { file: X, field: 'district.gradeBands.HS', message: 'grade "13" is outside PK-12' },
    ]);
    const unused = check({ districts: { 'x.yaml': districtFile('testville', [integration({ params: { grades: 'es' } })]) } });
    expect(unused.ok).toBe(true);
    expect(unused.warnings).toEqual([{ file: X, field: 'district.gradeBands.HS', message: 'no integration of testville uses grade band HS' }]);
  });

  it('a dataDir that is a file', () => {
    const r = check({}, (dir) => fs.writeFileSync(path.join(dir, 'var'), 'not a folder'));
    expect(r.problems).toEqual([{ file: 'ferry.yaml', field: 'dataDir', message: `${path.join(r.dir, 'var')} is a file, not a folder` }]);
  });

  it('a file with several broken parts reports every one: district block, each integration, ferry.yaml and the environment', () => {
    const broken = {
      district: { id: 'hilltop-csd', gradeBands: { ES: 'K-5', MS: '8-6' }, colour: 'blue' },
      agreements: agreementsFor([integration()]),
      integrations: [
        integration({ id: 'hilltop-fastbridge-es', params: { districtId: 'riverbend-ufsd', grades: 'ES' }, schedule: { cron: 'nightly', timezone: 'America/New_York' } }),
        integration({ id: 'hilltop-sftp', destination: 'district-sftp', remotePath: '{district}/{foo}.csv', enabled: 'yes' }),
        integration({ id: 'hilltop-typo', destination: 'nowhere', source: 'broken-pg' }),
      ],
    };
    const r = check(
      {
        ferry: { ...sftpWithPin, sources: { ...(sftpWithPin['sources'] as object), 'broken-pg': { kind: 'postgres', host: 'db', database: 'sis' } } },
        districts: { 'hilltop-csd.yaml': broken },
      },
      (dir) => fs.chmodSync(path.join(dir, KEY), 0o604),
      {},
    );
    const F = 'integrations/hilltop-csd.yaml';
    expect(r.problems.map((p) => `${p.file}: ${p.field}`)).toEqual([
      'ferry.yaml: sources.broken-pg.user',
      `${F}: district.name`,
      `${F}: district.gradeBands.MS`,
      `${F}: district`,
      `${F}: integrations[0] (hilltop-fastbridge-es).schedule.cron`,
      `${F}: integrations[0] (hilltop-fastbridge-es).params.districtId`,
      `${F}: integrations[1] (hilltop-sftp).enabled`,
      `${F}: integrations[1] (hilltop-sftp).remotePath`,
      `${F}: integrations[2] (hilltop-typo).destination`,
      'ferry.yaml: sources.district-pg.password',
      'ferry.yaml: destinations.district-sftp.privateKey',
    ]);
    expect(r.problems.find((p) => p.field === 'district')?.message).toMatch(/colour/);
    // A source that is written but broken is reported once, where it is written, not again as "unknown".
    expect(r.text).not.toMatch(/unknown source "broken-pg"/);
  });
});
