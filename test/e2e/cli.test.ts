import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { E2E_USER, ferry, REPO } from '../helpers/cli.js';
import { makeDemoConfigDir, type DemoConfigDir } from '../helpers/demo-config.js';
import { createTestDatabase } from '../helpers/pg-database.js';

/** An oracle written independently of Ferry's encoder: RFC 4180 quoting over a direct SQLite query. */
function expectedCsv(sisPath: string): string {
  const sql = fs.readFileSync(path.join(REPO, 'extracts/sqlite/clever-students/query.sql'), 'utf8');
  const db = new Database(sisPath, { readonly: true });
  const stmt = db.prepare(sql);
  const rows = stmt.raw(true).all({ schoolYear: 2027, buildings: '[]', gradeMin: 0, gradeMax: 5, activeOnly: 1, asOf: '2026-11-23', districtId: 'hilltop-csd', includeEmail: 1 }) as unknown[][];
  const header = stmt.columns().map((c) => c.name);
  db.close();
  const cell = (v: unknown) => {
    if (v === null || v === undefined) return '';
    const s = String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [header, ...rows].map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}

describe('ferry CLI end to end (spawned, demo config)', () => {
  let cfg: DemoConfigDir;
  const c = () => ['--config', cfg.dir];

  beforeAll(async () => {
    cfg = await makeDemoConfigDir();
  });

  it('validate says ok on a good config', async () => {
    const r = await ferry(['validate', ...c()]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^ok: 1 integrations in 1 districts/);
    expect(r.code).toBe(0);
  });

  it('run delivers the file byte for byte, and history shows rows, bytes, SHA-256 and remote path', async () => {
    const r = await ferry(['run', 'hilltop-clever-students', ...c()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^run \d+ succeeded: \d+ rows/);

    const delivered = path.join(cfg.sftpRoot, 'hilltop-csd/clever/students.csv');
    const bytes = fs.readFileSync(delivered);
    expect(bytes.toString('utf8')).toBe(expectedCsv(path.join(cfg.dataDir, 'demo/sis.sqlite')));
    expect(fs.statSync(delivered).mode & 0o077).toBe(0); // not group/world readable
    expect(fs.readdirSync(path.dirname(delivered))).toEqual(['students.csv']); // no temp file left behind
    expect(fs.readdirSync(path.join(cfg.dataDir, 'spool'))).toEqual([]); // spool removed after delivery

    const h = await ferry(['history', 'hilltop-clever-students', '--json', ...c()]);
    expect(h.code).toBe(0);
    const [run] = JSON.parse(h.stdout) as Record<string, unknown>[];
    expect(run).toMatchObject({
      status: 'succeeded',
      trigger: 'manual',
      requestedBy: E2E_USER,
      rows: bytes.toString('utf8').split('\r\n').length - 2,
      expected: bytes.toString('utf8').split('\r\n').length - 2, // a SQL source: its rows are its count
      bytes: bytes.length,
      sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
      remotePath: '/hilltop-csd/clever/students.csv',
    });
    expect(run!.params).toMatchObject({ grades: 'K-5', asOf: '2026-11-23', schoolYear: 2027 });

    const table = await ferry(['history', ...c()]);
    expect(table.stdout).toContain(run!.sha256 as string);
    expect(table.stdout).toContain('/hilltop-csd/clever/students.csv');

    const logs = await ferry(['logs', String(run!.id), ...c()]);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toContain('run started');
    expect(logs.stdout).toContain('run succeeded');
  });

  it('run again overwrites yesterday\'s file in place', async () => {
    const r = await ferry(['run', 'hilltop-clever-students', ...c()]);
    expect(r.code).toBe(0);
    expect(fs.readdirSync(path.join(cfg.sftpRoot, 'hilltop-csd/clever'))).toEqual(['students.csv']);
  });

  it('--dry-run writes the file locally and delivers nothing', async () => {
    const before = fs.statSync(path.join(cfg.sftpRoot, 'hilltop-csd/clever/students.csv')).mtimeMs;
    const r = await ferry(['run', 'hilltop-clever-students', '--dry-run', '--param', 'grades=HS', ...c()]);
    expect(r.code).toBe(0);
    const spool = /written to (\S+)/.exec(r.stdout)?.[1];
    expect(spool).toBeDefined();
    const text = fs.readFileSync(spool!, 'utf8');
    expect(text.split('\r\n').slice(1, -1).every((l) => /,(9|10|11|12),/.test(l))).toBe(true);
    expect(fs.statSync(spool!).mode & 0o077).toBe(0);
    expect(fs.statSync(path.join(cfg.sftpRoot, 'hilltop-csd/clever/students.csv')).mtimeMs).toBe(before);
  });

  it('a bad --param exits 2 with one clear sentence, and the failed run is recorded', async () => {
    const r = await ferry(['run', 'hilltop-clever-students', '--param', 'grades=K-15', ...c()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^ferry: run \d+ failed: integration hilltop-clever-students: parameter grades: /);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace without --verbose
    const h = JSON.parse((await ferry(['history', '--json', '-n', '1', ...c()])).stdout) as Record<string, unknown>[];
    expect(h[0]).toMatchObject({ status: 'failed', errorKind: 'params' });
  });

  it('unknown integration and unknown commands are usage errors (exit 2)', async () => {
    const r = await ferry(['run', 'no-such-thing', ...c()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown integration "no-such-thing"');
    expect((await ferry(['frobnicate', ...c()])).code).toBe(2);
  });

  it('preview prints the first rows exactly as they would be written, and records nothing', async () => {
    const before = JSON.parse((await ferry(['history', '--json', ...c()])).stdout).length;
    const r = await ferry(['preview', 'hilltop-clever-students', '--limit', '3', ...c()]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe('School_id,Student_id,Student_number,State_id,Last_name,Middle_name,First_name,Gender,Dob,Grade,Student_email');
    expect(JSON.parse((await ferry(['history', '--json', ...c()])).stdout).length).toBe(before);
  });

  it('next lists fire times in the integration\'s time zone', async () => {
    const r = await ferry(['next', 'hilltop-clever-students', '--count', '3', ...c()]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(l).toMatch(/^\d{4}-\d{2}-\d{2} 02:00:00 E[SD]T {2}\(\d{4}-\d{2}-\d{2}T0[67]:00:00\.000Z\)$/);
  });

  it('disable needs a reason; enable and disable show up in list and show', async () => {
    expect((await ferry(['disable', 'hilltop-clever-students', ...c()])).code).toBe(2);
    const d = await ferry(['disable', 'hilltop-clever-students', '--reason', 'vendor contract ended', ...c()]);
    expect(d.code).toBe(0);
    let list = JSON.parse((await ferry(['list', '--json', ...c()])).stdout) as Record<string, unknown>[];
    expect(list[0]).toMatchObject({ id: 'hilltop-clever-students', enabled: false, nextRun: null });
    const show = JSON.parse((await ferry(['show', 'hilltop-clever-students', '--json', ...c()])).stdout) as Record<string, unknown>;
    expect(show.enabledChange).toMatchObject({ enabled: false, reason: 'vendor contract ended', by: E2E_USER });
    expect(show.inventory).toMatchObject({ vendor: 'Clever', purpose: 'Rostering', ticket: 'T-1' });
    expect((await ferry(['enable', 'hilltop-clever-students', ...c()])).code).toBe(0);
    list = JSON.parse((await ferry(['list', '--json', ...c()])).stdout) as Record<string, unknown>[];
    expect(list[0]).toMatchObject({ enabled: true, lastRun: { status: 'failed' } });
  });
});

describe('ferry CLI on bad config', () => {
  it('validate reports every problem with its file and field, and exits 2', async () => {
    const cfg = await makeDemoConfigDir({
      integrations: [
        {
          id: 'bad-one',
          extract: 'no-such-extract',
          source: 'no-such-source',
          destination: 'demo-sftp',
          remotePath: '../../etc/cron.d/x',
          schedule: { cron: '61 * * * *', timezone: 'Mars/Olympus' },
          inventory: { vendor: 'X', contact: 'Y', purpose: 'Z' },
        },
      ],
    });
    const r = await ferry(['validate', '--config', cfg.dir]);
    expect(r.code).toBe(2);
    const file = path.join(cfg.dir, 'integrations/hilltop-csd.yaml');
    expect(r.stderr).toContain(`${file}: integrations[0] (bad-one).schedule.cron: is not a valid cron expression`);
    expect(r.stderr).toContain(`${file}: integrations[0] (bad-one).schedule.timezone: is not a known IANA time zone`);
    expect(r.stderr).toContain(`${file}: integrations[0] (bad-one).extract: unknown extract "no-such-extract"`);
    expect(r.stderr).toContain(`${file}: integrations[0] (bad-one).source: unknown source "no-such-source"`);
    // schema errors do not hide the checks of the fields that parsed: the path template is named in the same pass
    expect(r.stderr).toContain(`${file}: integrations[0] (bad-one).remotePath: contains ".." and could leave the destination folder`);
    expect(r.stderr).toMatch(/^5 problems in /);
    fs.writeFileSync(
      path.join(cfg.dir, 'integrations/hilltop-csd.yaml'),
      fs.readFileSync(path.join(cfg.dir, 'integrations/hilltop-csd.yaml'), 'utf8').replace('61 * * * *', '0 1 * * *').replace('Mars/Olympus', 'America/New_York'),
    );
    const r2 = await ferry(['validate', '--config', cfg.dir]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('integrations[0] (bad-one).extract: unknown extract "no-such-extract"');
    expect(r2.stderr).toContain('integrations[0] (bad-one).source: unknown source "no-such-source"');
    expect(r2.stderr).toContain('integrations[0] (bad-one).remotePath: contains ".." and could leave the destination folder');
    expect(r2.stderr).toMatch(/^3 problems in /);
  });

  it('invalid YAML is one clear message with the line, and every command exits 2', async () => {
    const cfg = await makeDemoConfigDir();
    fs.writeFileSync(path.join(cfg.dir, 'ferry.yaml'), 'sources:\n  a: [unclosed\n');
    for (const args of [['validate'], ['list'], ['run', 'x']]) {
      const r = await ferry([...args, '--config', cfg.dir]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/ferry\.yaml: line \d+, column \d+: invalid YAML/);
    }
  });

  it('an inline secret is refused', async () => {
    const cfg = await makeDemoConfigDir();
    const file = path.join(cfg.dir, 'ferry.yaml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/privateKey:\n\s+file: .*\n/, 'password: hunter2-inline\n'));
    const r = await ferry(['validate', '--config', cfg.dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('destinations.demo-sftp.password: inline secrets are not allowed');
    expect(r.stderr).not.toContain('hunter2-inline');
  });
});

describe('ferry CLI with the run store in PostgreSQL', () => {
  it('records runs in PostgreSQL when store.postgres.url is set (by reference)', async () => {
    const db = await createTestDatabase('store');
    try {
      const cfg = await makeDemoConfigDir({ extraFerry: { store: { postgres: { url: { env: 'E2E_STORE_URL' } } } } });
      const env = { E2E_STORE_URL: db.url };
      const r = await ferry(['run', 'hilltop-clever-students', '--config', cfg.dir], { env });
      expect(r.code).toBe(0);
      expect(fs.existsSync(path.join(cfg.dataDir, 'ferry.sqlite'))).toBe(false);
      const h = JSON.parse((await ferry(['history', '--json', '--config', cfg.dir], { env })).stdout) as Record<string, unknown>[];
      expect(h).toHaveLength(1);
      expect(h[0]).toMatchObject({ status: 'succeeded', trigger: 'manual' });
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      const rows = (await client.query('SELECT status, rows FROM runs')).rows;
      await client.end();
      expect(rows).toEqual([{ status: 'succeeded', rows: h[0]!.rows === null ? null : String(h[0]!.rows) }]);
      // without the variable, one clear sentence naming the field
      const bad = await ferry(['history', '--config', cfg.dir]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toBe('ferry: store field postgres.url: environment variable E2E_STORE_URL is not set\n');
    } finally {
      await db.drop();
    }
  });
});
