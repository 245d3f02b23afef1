import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import TransportStream from 'winston-transport';
import YAML from 'yaml';
import type { Integration } from '../../src/config/model.js';
import { loadDemoSisIntoPostgres } from '../../src/demo/demo-sis.js';
import type { RunOutcomeReport } from '../../src/runs/lifecycle.js';
import { openRuntime, type Runtime } from '../../src/runtime/runtime.js';
import type { LogEntry, RunRecord } from '../../src/store/run-store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg-database.js';
import { requireSshd, startSshd, type SshdServer } from '../helpers/sshd.js';
import { agreementsWith } from '../helpers/agreements.js';

const REPO = join(import.meta.dirname, '..', '..');
const ok = requireSshd();

/** Keeps every log entry, as the JSON the file transport would write plus the raw fields. */
class CaptureTransport extends TransportStream {
  readonly entries: Record<string, unknown>[] = [];
  override log(info: Record<string | symbol, unknown>, next: () => void): void {
    this.entries.push({ ...info, formatted: info[Symbol.for('message')] });
    next();
  }
}

/** Every file under a folder, relative to it (dot files included). */
async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out.push(relative(dir, join(e.parentPath, e.name)));
  }
  return out.sort();
}

/** RFC 4180 records; enough for the files Ferry writes (quoted fields, doubled quotes, CRLF). */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i++;
    } else field += c;
  }
  if (field !== '' || record.length > 0) records.push([...record, field]);
  return records;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe.skipIf(!ok)('pipeline: real PostgreSQL source → CSV → real OpenSSH sshd', () => {
  let db: TestDatabase;
  let admin: pg.Client;
  let sshd: SshdServer;
  let root: string;
  let runtime: Runtime;
  let tripwire: net.Server;
  let tripwireConnections = 0;
  let pgPassword: string;
  const wrongPassword = `wrong-${randomBytes(12).toString('hex')}`;
  const capture = new CaptureTransport();
  const reports: RunOutcomeReport[] = [];

  const integration = (id: string): Integration => {
    const i = runtime.config.integrations.get(id);
    if (!i) throw new Error(`integration ${id} is not in the test config`);
    return i;
  };
  const run = async (i: Integration): Promise<RunOutcomeReport> => {
    const report = await runtime.runs.run(i, { trigger: 'manual', requestedBy: 'test' });
    reports.push(report);
    return report;
  };

  beforeAll(async () => {
    db = await createTestDatabase('pipeline');
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await loadDemoSisIntoPostgres(admin);
    sshd = await startSshd();
    tripwire = net.createServer((sock) => {
      tripwireConnections++;
      sock.destroy();
    });
    await new Promise<void>((resolve) => tripwire.listen(0, '127.0.0.1', resolve));
    const tripwirePort = (tripwire.address() as net.AddressInfo).port;

    root = await mkdtemp(join(tmpdir(), 'ferry-pipeline-'));
    const configDir = join(root, 'config');
    await mkdir(join(configDir, 'integrations'), { recursive: true });
    const url = new URL(db.url);
    pgPassword = decodeURIComponent(url.password);
    process.env.FERRY_TEST_PG_PASSWORD = pgPassword;
    process.env.FERRY_TEST_PG_WRONG_PASSWORD = wrongPassword;
    const pgSource = (port: number, passwordEnv: string) => ({
      kind: 'postgres',
      host: url.hostname,
      port,
      database: db.name,
      user: decodeURIComponent(url.username),
      password: { env: passwordEnv },
      connectTimeoutSeconds: 10,
    });
    const sftp = (hostKeySha256: string) => ({
      kind: 'sftp',
      host: sshd.host,
      port: sshd.port,
      username: sshd.user,
      privateKey: { file: sshd.privateKeyPath },
      hostKeySha256,
      basePath: sshd.homeDir,
      retries: 0,
    });
    await writeFile(
      join(configDir, 'ferry.yaml'),
      YAML.stringify({
        dataDir: join(root, 'data'),
        extractsDir: join(REPO, 'extracts'),
        logLevel: 'info',
        sources: {
          sis: pgSource(Number(url.port), 'FERRY_TEST_PG_PASSWORD'),
          'sis-badlogin': pgSource(Number(url.port), 'FERRY_TEST_PG_WRONG_PASSWORD'),
          'sis-tripwire': pgSource(tripwirePort, 'FERRY_TEST_PG_PASSWORD'),
        },
        destinations: {
          district: sftp(sshd.hostKeyFingerprint),
          'district-wrong-pin': sftp(`SHA256:${randomBytes(32).toString('base64').replace(/=+$/, '')}`),
        },
      }),
    );
    const clever = (id: string, over: Record<string, unknown>) => ({
      id,
      extract: 'clever-students-pg',
      source: 'sis',
      destination: 'district',
      remotePath: `{district}/${id}/students_{date:YYYYMMDD}.csv`,
      schedule: { cron: '0 2 * * *', timezone: 'America/New_York' },
      params: { districtId: 'hilltop-csd', asOf: '2026-11-23', grades: 'K-5', activeOnly: true },
      inventory: { vendor: 'Clever', contact: 'SIS Admin', purpose: 'Rostering' },
      ...over,
    });
    await writeFile(
      join(configDir, 'integrations', 'hilltop-csd.yaml'),
      YAML.stringify({
        district: { id: 'hilltop-csd', name: 'Hilltop Central School District (TEST)', gradeBands: { ES: 'K-5' } },
        agreements: agreementsWith(['Clever']),
        integrations: [
          clever('hilltop-clever', { remotePath: '{district}/clever/students_{date:YYYYMMDD}.csv' }),
          clever('hilltop-clever-badlogin', { source: 'sis-badlogin' }),
          clever('hilltop-clever-wrong-pin', { destination: 'district-wrong-pin' }),
          // No building has this code, so the query matches nothing (another district's id is refused at load).
          clever('hilltop-clever-empty', { params: { buildings: ['NO-SUCH-SCHOOL'], asOf: '2026-11-23' } }),
          clever('hilltop-clever-escape', { source: 'sis-tripwire' }),
        ],
      }),
    );
    runtime = await openRuntime({ configDir, transports: [capture] });
  });

  afterAll(async () => {
    await runtime?.close();
    await new Promise<void>((resolve) => (tripwire ? tripwire.close(() => resolve()) : resolve()));
    await sshd?.stop();
    await admin?.end();
    await db?.drop();
    if (root) await rm(root, { recursive: true, force: true });
    delete process.env.FERRY_TEST_PG_PASSWORD;
    delete process.env.FERRY_TEST_PG_WRONG_PASSWORD;
  });

  describe('a good run', () => {
    let report: RunOutcomeReport;
    let delivered: Buffer;

    beforeAll(async () => {
      report = await run(integration('hilltop-clever'));
      if (report.run.remotePath) delivered = await readFile(report.run.remotePath);
    });

    it('is recorded as succeeded with the rows the same filter counts in the database', async () => {
      expect(report.error).toBeUndefined();
      expect(report.run).toMatchObject({ status: 'succeeded', trigger: 'manual', requestedBy: 'test', errorKind: null, error: null });
      const { rows } = await admin.query<{ n: string }>(
        `SELECT count(*) AS n
           FROM student_enrollments e JOIN students s ON s.district_id = e.district_id AND s.student_id = e.student_id
          WHERE e.district_id = 'hilltop-csd' AND e.school_year = 2027 AND e.grade_level BETWEEN 0 AND 5 AND s.active
            AND e.entry_date <= DATE '2026-11-23' AND (e.exit_date IS NULL OR e.exit_date > DATE '2026-11-23')`,
      );
      expect(Number(rows[0]?.n)).toBeGreaterThan(100);
      expect(report.run.rows).toBe(Number(rows[0]?.n));
    });

    it('delivered the recorded bytes (size and sha256) inside the base folder, mode 0600', async () => {
      const remote = report.run.remotePath!;
      expect(remote).toMatch(new RegExp(`^${escapeRegExp(sshd.homeDir)}/hilltop-csd/clever/students_\\d{8}\\.csv$`));
      expect(report.run.target).toBe(`sftp://${sshd.host}:${sshd.port}`);
      expect(report.run.bytes).toBe(delivered.length);
      expect(report.run.sha256).toBe(sha256(delivered));
      expect((await stat(remote)).mode & 0o777).toBe(0o600);
      const records = parseCsv(delivered.toString('utf8'));
      expect(records[0]).toEqual(integration('hilltop-clever').extract.columns.map((c) => c.name));
      expect(records.length - 1).toBe(report.run.rows);
      expect(await listFiles(sshd.homeDir)).toEqual([relative(sshd.homeDir, remote)]);
    });

    it('leaves the spool folder empty', async () => {
      expect(await readdir(runtime.config.spoolDir)).toEqual([]);
    });

    it("keeps the run's log lines in the store", async () => {
      const logs = await runtime.store.getLogs(report.run.id);
      const messages = logs.map((l) => l.message);
      expect(messages[0]).toBe('run started');
      expect(messages).toContain('delivery started');
      expect(messages.at(-1)).toBe('run succeeded');
      expect(logs.at(-1)?.fields).toMatchObject({ rows: report.run.rows, bytes: report.run.bytes, sha256: report.run.sha256 });
    });
  });

  describe('failed runs are recorded and deliver nothing', () => {
    let before: string[];
    const expectNothingDelivered = async () => {
      const after = await listFiles(sshd.homeDir);
      expect(after).toEqual(before);
      expect(after.filter((f) => f.endsWith('.part'))).toEqual([]);
      expect(await readdir(runtime.config.spoolDir)).toEqual([]);
    };

    beforeAll(async () => {
      before = await listFiles(sshd.homeDir);
    });

    it('a wrong PostgreSQL password: source_auth naming the integration and the password field, never the value', async () => {
      const report = await run(integration('hilltop-clever-badlogin'));
      expect(report.run).toMatchObject({ status: 'failed', errorKind: 'source_auth', rows: null, remotePath: null });
      expect(report.error?.field).toBe('sources.sis-badlogin.password');
      for (const message of [report.run.error!, report.error!.message]) {
        expect(message).toContain('hilltop-clever-badlogin');
        expect(message).toMatch(/password/);
        expect(message).not.toContain(wrongPassword);
        expect(message).not.toContain(pgPassword);
      }
      await expectNothingDelivered();
    });

    it('a host key that is not the pinned one: host_key, naming the key the server presented', async () => {
      const report = await run(integration('hilltop-clever-wrong-pin'));
      expect(report.run).toMatchObject({ status: 'failed', errorKind: 'host_key', remotePath: null });
      expect(report.run.error).toContain(sshd.hostKeyFingerprint);
      await expectNothingDelivered();
    });

    it('an extract that returns no rows: empty_result', async () => {
      const report = await run(integration('hilltop-clever-empty'));
      expect(report.run).toMatchObject({ status: 'failed', errorKind: 'empty_result', remotePath: null });
      expect(report.run.error).toContain('hilltop-clever-empty');
      await expectNothingDelivered();
    });

    it('a remote path that escapes the base folder: path, before the source is even contacted', async () => {
      // The loader already rejects ".." in a template; the runner must hold the line on its own too.
      const escaping: Integration = { ...integration('hilltop-clever-escape'), remotePath: '../../escaped.csv' };
      const report = await run(escaping);
      expect(report.run).toMatchObject({ status: 'failed', errorKind: 'path', remotePath: null });
      expect(report.run.error).toContain('../../escaped.csv');
      expect(tripwireConnections).toBe(0);
      expect((await runtime.store.getLogs(report.run.id)).map((l) => l.message)).not.toContain('extract started');
      expect(existsSync(join(sshd.homeDir, '..', '..', 'escaped.csv'))).toBe(false);
      await expectNothingDelivered();
    });

    it('the tripwire source does count a connection (so the check above can fail)', async () => {
      const report = await run(integration('hilltop-clever-escape'));
      expect(report.run).toMatchObject({ status: 'failed', errorKind: 'source_connect' });
      expect(tripwireConnections).toBeGreaterThan(0);
      await expectNothingDelivered();
    });
  });

  it('a second run while the first is still going is recorded as skipped', async () => {
    const i = integration('hilltop-clever');
    const first = run(i);
    const second = run(i);
    const results = await Promise.all([first, second]);
    const byStatus = new Map(results.map((r) => [r.run.status, r]));
    expect([...byStatus.keys()].sort()).toEqual(['skipped', 'succeeded']);
    const skipped = byStatus.get('skipped')!;
    expect(skipped.run).toMatchObject({ errorKind: 'already_running', rows: null, remotePath: null });
    expect(skipped.error?.kind).toBe('already_running');
    expect(skipped.run.error).toContain(`run ${byStatus.get('succeeded')!.run.id}`);
  });

  it('no secret and no row data reaches the logs, the log file or the run records', async () => {
    // Every run above happened and was logged: without them this check would prove nothing.
    const runs: RunRecord[] = await runtime.store.listRuns({ limit: 1000 });
    expect(runs.map((r) => r.status).sort()).toEqual(['failed', 'failed', 'failed', 'failed', 'failed', 'skipped', 'succeeded', 'succeeded']);
    const storedLogs: LogEntry[] = (await Promise.all(runs.map((r) => runtime.store.getLogs(r.id)))).flat();
    const good = reports.find((r) => r.run.status === 'succeeded')!;
    const records = parseCsv((await readFile(good.run.remotePath!)).toString('utf8'));
    await runtime.close(); // flushes the log file
    const logFile = await readFile(join(runtime.config.logDir, 'ferry.log'), 'utf8');
    expect(logFile).toContain('"message":"run succeeded"');
    expect(logFile).toContain('"message":"run failed"');
    expect(capture.entries.length).toBeGreaterThan(20);

    const haystack = [...capture.entries.map((e) => JSON.stringify(e)), JSON.stringify(runs), JSON.stringify(storedLogs), logFile].join('\n');
    // The failures' messages are in there (the presented host key, the integration that could not log in).
    expect(haystack).toContain(sshd.hostKeyFingerprint);
    expect(haystack).toContain('hilltop-clever-badlogin');

    // Secrets.
    expect(haystack).not.toContain(pgPassword);
    expect(haystack).not.toContain(wrongPassword);
    const keyBody = sshd.privateKey
      .split('\n')
      .filter((l) => l && !l.startsWith('-----'))
      .map((l) => l.trim());
    expect(keyBody.length).toBeGreaterThan(2);
    expect(haystack).not.toContain(keyBody.join(''));
    for (const line of keyBody) expect(haystack).not.toContain(line);

    // Row data: student ids and names from the delivered file, many of them.
    const [header, ...rows] = records;
    const col = (name: string) => header!.indexOf(name);
    expect(rows.length).toBeGreaterThan(100);
    const values = new Set<string>();
    rows.forEach((r, i) => {
      values.add(r[col('Student_id')]!);
      values.add(r[col('State_id')]!);
      if (i % 3 === 0) {
        values.add(r[col('First_name')]!);
        values.add(r[col('Last_name')]!);
      }
    });
    values.delete('');
    expect(values.size).toBeGreaterThan(150);
    // Whole words only, so that a name cannot match inside a random temp-folder suffix.
    const found = (text: string) => [...values].filter((v) => new RegExp(`(?<![\\p{L}\\p{N}])${escapeRegExp(v)}(?![\\p{L}\\p{N}])`, 'u').test(text));
    expect(found(haystack)).toEqual([]);
    // The search does find a value that is there, accents and apostrophes included.
    const samples = [...values].filter((v) => /[^\x00-\x7f']/.test(v) || v.includes("'")).slice(0, 3).concat(rows[0]![col('Student_id')]!);
    expect(found(`${haystack}\n{"message":"oops","row":"${samples.join('|')}"}`).sort()).toEqual([...new Set(samples)].sort());
  });
});
