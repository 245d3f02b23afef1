import Database from 'better-sqlite3';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAlerter, type Alerter } from '../../src/alerts/alerter.js';
import { createEventBus } from '../../src/core/events.js';
import { DRIVER_DEBUG_FILE } from '../../src/logging/driver-debug.js';
import { openRuntime, type Runtime } from '../../src/runtime/runtime.js';
import { tempDir } from '../helpers/cli.js';
import { makeDemoConfigDir } from '../helpers/demo-config.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg-database.js';
import { demoStudents } from '../servers/demo-students.js';
import { startFakePowerSchool, type FakePowerSchool } from '../servers/powerschool/fake-powerschool.js';
import { startTdsServer, type TdsServer } from '../servers/tds/server.js';

/**
 * A student's name in a value the database or the format step cannot take (a cast to integer) goes nowhere but the
 * driver debug log: not the run record, not the run's log lines, not the log file, not the webhook, the alert email
 * or the digest. Run through every connector kind with the real runner, alerter and fake webhook and SMTP servers.
 */
const NAME = 'Quenby';
const PS_ID = 'ferry-plugin-names';
const PS_SECRET = 'ps-secret-names-1d4e';
const TDS_USER = 'ferry_reader';
const TDS_PASSWORD = 'Tds-Names-7c1e!';

function writeExtract(root: string, kind: string, name: string, extract: Record<string, unknown>, sql?: string): void {
  const dir = path.join(root, kind, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'extract.yaml'), YAML.stringify({ name, description: 'A student name where a number belongs', source: kind, ...extract }));
  if (sql) fs.writeFileSync(path.join(dir, 'query.sql'), sql);
}

const integration = (id: string, extract: string, source: string) => ({
  id,
  extract,
  source,
  destination: 'demo-sftp',
  remotePath: `{district}/${id}.csv`,
  schedule: { cron: '0 2 * * *', timezone: 'America/New_York' },
  inventory: { vendor: 'Vendor', contact: 'SIS Admin', purpose: 'Testing' },
});

describe('no value from the data in errors, logs, alerts or digests', () => {
  let pgDb: TestDatabase;
  let tds: TdsServer;
  let ps: FakePowerSchool;
  let rt: Runtime;
  let alerter: Alerter;
  let webhook: http.Server;
  let smtp: SMTPServer;
  const posts: string[] = [];
  const mails: string[] = [];

  beforeAll(async () => {
    const root = tempDir('ferry-novalues-');
    const namesFile = path.join(root, 'names.sqlite');
    const db = new Database(namesFile);
    db.exec(`CREATE TABLE students (student_id TEXT, first_name TEXT); INSERT INTO students VALUES ('S001', '${NAME}');`);
    db.close();

    pgDb = await createTestDatabase('novalues');
    const client = new pg.Client({ connectionString: pgDb.url });
    await client.connect();
    await client.query(`CREATE TABLE students (student_id text, first_name text); INSERT INTO students VALUES ('S001', '${NAME}')`);
    await client.end();

    // SQL Server sends the rows it has, then error 245 quoting the value it could not convert.
    tds = await startTdsServer({
      db: namesFile,
      user: TDS_USER,
      password: TDS_PASSWORD,
      faults: { errorAfterRows: { rows: 1, number: 245, class: 16, message: `Conversion failed when converting the nvarchar value '${NAME}' to data type int.` } },
    });
    const students = demoStudents('hilltop-csd').map((s, i) => (i === 0 ? { ...s, firstName: NAME } : s));
    ps = await startFakePowerSchool({ clientId: PS_ID, clientSecret: PS_SECRET, students });

    webhook = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        posts.push(Buffer.concat(chunks).toString('utf8'));
        res.end('1');
      });
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    smtp = new SMTPServer({
      secure: false,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData(stream, _session, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          // Undo quoted-printable soft line breaks, which could otherwise split a name in two.
          mails.push(Buffer.concat(chunks).toString('utf8').replace(/=\r\n/g, ''));
          cb();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));

    const extracts = path.join(root, 'extracts');
    const asNumber = [{ name: 'grade', type: 'integer', element: 'Enrollment/student grade level' }];
    writeExtract(extracts, 'sqlite', 'name-as-number', { columns: asNumber }, 'SELECT first_name AS grade FROM students');
    writeExtract(extracts, 'postgres', 'cast-name-pg', { columns: asNumber }, 'SELECT CAST(first_name AS integer) AS grade FROM students');
    writeExtract(extracts, 'schooltool', 'cast-name-st', { columns: asNumber }, 'SELECT CAST(first_name AS int) AS grade FROM students');
    writeExtract(extracts, 'powerschool', 'name-as-number-ps', { request: { resource: '/ws/v1/district/student' }, columns: [{ name: 'grade', type: 'integer', path: 'name.first_name', element: 'Enrollment/student grade level' }] });

    const pgUrl = new URL(pgDb.url);
    process.env.FERRY_TEST_NV_PG = decodeURIComponent(pgUrl.password);
    process.env.FERRY_TEST_NV_TDS = TDS_PASSWORD;
    process.env.FERRY_TEST_NV_PS = PS_SECRET;
    process.env.FERRY_TEST_NV_HOOK = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hook`;
    const demo = await makeDemoConfigDir({
      extraFerry: {
        extractsDir: extracts,
        debugLog: true,
        sources: {
          'demo-sis': { kind: 'sqlite', path: '../var/demo/sis.sqlite' },
          'names-sqlite': { kind: 'sqlite', path: namesFile },
          'names-pg': { kind: 'postgres', host: pgUrl.hostname, port: Number(pgUrl.port), database: pgUrl.pathname.slice(1), user: decodeURIComponent(pgUrl.username), password: { env: 'FERRY_TEST_NV_PG' } },
          'names-st': { kind: 'schooltool', host: tds.host, port: tds.port, database: 'Names', user: TDS_USER, password: { env: 'FERRY_TEST_NV_TDS' }, encrypt: false },
          'names-ps': { kind: 'powerschool', baseUrl: ps.url, clientId: PS_ID, clientSecret: { env: 'FERRY_TEST_NV_PS' }, retries: 0 },
        },
        alerts: {
          webhook: { url: { env: 'FERRY_TEST_NV_HOOK' } },
          email: { smtp: { host: '127.0.0.1', port: (smtp.server.address() as AddressInfo).port, requireTls: false }, from: 'ferry@esc.example.org', to: ['servicedesk@esc.example.org'] },
        },
      },
      integrations: [
        integration('names-sqlite-run', 'name-as-number', 'names-sqlite'),
        integration('names-pg-run', 'cast-name-pg', 'names-pg'),
        integration('names-st-run', 'cast-name-st', 'names-st'),
        integration('names-ps-run', 'name-as-number-ps', 'names-ps'),
      ],
    });
    fs.writeFileSync(
      path.join(demo.dir, 'integrations', 'hilltop-csd.yaml'),
      fs.readFileSync(path.join(demo.dir, 'integrations', 'hilltop-csd.yaml'), 'utf8').replace('gradeBands:', 'contact: tech@hilltop.example.org\n  gradeBands:'),
    );
    const bus = createEventBus();
    rt = await openRuntime({ configDir: demo.dir, bus });
    alerter = createAlerter({ config: () => rt.config, bus, store: rt.store, logger: rt.logger, clock: rt.clock, host: 'ferry-test' });
    alerter.start();
  }, 120_000);

  afterAll(async () => {
    await alerter?.stop();
    await rt?.close();
    await Promise.all([tds?.close(), ps?.close(), pgDb?.drop(), new Promise<void>((r) => (webhook ? webhook.close(() => r()) : r())), new Promise<void>((r) => (smtp ? smtp.close(() => r()) : r()))]);
    for (const v of ['FERRY_TEST_NV_PG', 'FERRY_TEST_NV_TDS', 'FERRY_TEST_NV_PS', 'FERRY_TEST_NV_HOOK']) delete process.env[v];
  });

  const cases = [
    { id: 'names-sqlite-run', kind: 'format', says: /column grade, row 1: value is not a whole number/ },
    { id: 'names-pg-run', kind: 'source_query', says: /could not handle a value in the data \(SQLSTATE 22P02\)/ },
    { id: 'names-st-run', kind: 'source_query', says: /could not convert a value in the data \(error 245\)/ },
    { id: 'names-ps-run', kind: 'format', says: /column grade, row 1: value is not a whole number/ },
  ];

  it.each(cases)('$id fails with its kind and code, and the name is in no record, log line, alert or log file', async ({ id, kind, says }) => {
    const integ = rt.config.integrations.get(id)!;
    const report = await rt.runs.run(integ, { trigger: 'manual', requestedBy: 'tester', overrides: {}, dryRun: false, forceBulk: false });
    await alerter.idle();
    const run = report.run;
    expect(run.status).toBe('failed');
    expect(run.errorKind).toBe(kind);
    expect(run.error).toMatch(says);
    const logs = await rt.store.getLogs(run.id);
    expect(logs.some((l) => l.message === 'run failed')).toBe(true);
    const stored = await rt.store.getRun(run.id);
    for (const text of [JSON.stringify(stored), JSON.stringify(logs), JSON.stringify(report.error?.message)]) expect(text).not.toContain(NAME);
    if (kind === 'format') return; // Ferry's own check: there is no driver text
    // The driver's own text did hold the name (so the checks above could fail): it is in the debug log, and only there.
    const debugFile = path.join(rt.config.logDir, DRIVER_DEBUG_FILE);
    const line = fs.readFileSync(debugFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { runId: number; causes: { message: string }[] }).find((l) => l.runId === run.id);
    expect(JSON.stringify(line?.causes)).toContain(NAME);
    expect(fs.statSync(debugFile).mode & 0o777).toBe(0o600);
  });

  it('the webhook posts, alert emails, digest and ferry.log never hold the name', async () => {
    await alerter.sendDigest(new Date(rt.clock.now().getTime() + 60_000));
    await alerter.idle();
    expect(posts.length).toBe(cases.length);
    expect(mails.length).toBeGreaterThan(cases.length); // one alert each, then the digest
    expect(mails.at(-1)).toMatch(/digest|Digest/);
    for (const body of [...posts, ...mails]) expect(body).not.toContain(NAME);
    for (const c of cases) expect(posts.some((p) => p.includes(c.id))).toBe(true);
    const logFile = fs.readFileSync(path.join(rt.config.logDir, 'ferry.log'), 'utf8');
    expect(logFile).toContain('run failed');
    expect(logFile).not.toContain(NAME);
  });
});
