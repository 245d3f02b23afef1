import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, vi } from 'vitest';
import YAML from 'yaml';
import { createESchoolDataSource } from '../../connectors/eschooldata/eschooldata-source.js';
import { createPostgresSource } from '../../connectors/postgres/postgres-source.js';
import { createPowerSchoolSource } from '../../connectors/powerschool/powerschool-source.js';
import { createSchoolToolSource } from '../../connectors/schooltool/schooltool-source.js';
import type { ColumnDef } from '../../src/config/model.js';
import { createSqliteSource } from '../../connectors/sqlite/sqlite-source.js';
import { ensureDemoSis, loadDemoSisIntoPostgres } from '../../src/demo/demo-sis.js';
import { sourceContract, type ContractSubject } from '../contract/source-contract.js';
import { REPO } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg-database.js';
import { freePort } from '../helpers/postgres.js';
import { makeSchoolToolDatabase } from '../helpers/schooltool-views.js';
import { startFakeESchoolData, type FakeESchoolData } from '../servers/eschooldata/fake-eschooldata.js';
import { startFakePowerSchool, type FakePowerSchool } from '../servers/powerschool/fake-powerschool.js';
import { psSchoolNumberOf } from '../servers/powerschool/ps-records.js';
import { startTcpRelay, type TcpRelay } from '../servers/tcp-relay.js';
import { startTdsServer } from '../servers/tds/server.js';

/** One contract, every source kind; the same filters must select the same students from each one's copy of the demo SIS. */
const sql = (rel: string) => fs.readFileSync(path.join(REPO, 'extracts', rel, 'query.sql'), 'utf8');
const binds = (f: { gradeMin: number; gradeMax: number; buildings: string[]; activeOnly: boolean }) => ({ districtId: 'hilltop-csd', schoolYear: 2027, ...f });
const noWait = async () => undefined;

describe('source contract: sqlite', () => {
  let dir: string;
  let file: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-contract-'));
    file = path.join(dir, 'sis.sqlite');
    ensureDemoSis(file);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  sourceContract(
    (): ContractSubject => ({
      open: () => createSqliteSource({ id: 'demo-sis', path: file }),
      query: (f) => ({ text: sql('sqlite/students-basic'), values: binds(f) }),
      unreachable: { open: () => createSqliteSource({ id: 'demo-sis', path: path.join(dir, 'not-there.sqlite') }) },
    }),
    {
      refusedLogin: 'a SQLite file is opened without a login',
      lostMidStream: 'a file read in-process has no connection to lose',
      connectionRelease: 'a file read in-process holds no server connection',
    },
  );
});

describe('source contract: postgres', () => {
  let db: TestDatabase;
  let u: URL;
  let admin: pg.Client;
  let relay: TcpRelay;
  let closedPort: number;
  beforeAll(async () => {
    db = await createTestDatabase('contract');
    u = new URL(db.url);
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await loadDemoSisIntoPostgres(admin);
    relay = await startTcpRelay({ host: u.hostname, port: Number(u.port) });
    closedPort = await freePort();
  });
  afterAll(async () => {
    await relay.close();
    await admin.end();
    await db.drop();
  });
  const open = (o: { port?: number; password?: string } = {}) =>
    createPostgresSource({
      id: 'sis-pg',
      host: u.hostname,
      port: o.port ?? Number(u.port),
      database: u.pathname.slice(1),
      user: decodeURIComponent(u.username),
      password: () => o.password ?? decodeURIComponent(u.password),
      ssl: false,
      connectTimeoutSeconds: 5,
    });
  /** Ferry's sessions on this database, by the application_name every source connection sets. */
  const ferrySessions = async () =>
    Number((await admin.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'ferry' AND datname = $1", [db.name])).rows[0]!.n);
  sourceContract((): ContractSubject => ({
    open: () => open(),
    query: (f) => ({ text: sql('postgres/students-basic-pg'), values: binds(f) }),
    refusedLogin: {
      open: () => {
        const before = relay.accepted();
        return { source: open({ port: relay.port, password: 'not-the-password' }), loginAttempts: () => relay.accepted() - before };
      },
    },
    unreachable: { open: () => open({ port: closedPort }) },
    // 57P01, as a DBA's pg_terminate_backend or a server restart sends it.
    lostMidStream: {
      afterFirstBatch: async () => {
        await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'ferry' AND datname = $1", [db.name]);
      },
    },
    // The backend leaves pg_stat_activity a moment after its client hangs up: polled, nothing to wait on.
    connectionRelease: { released: () => vi.waitFor(async () => expect(await ferrySessions()).toBe(0), { timeout: 20_000, interval: 50 }) },
  }));
});

const request = (rel: string) => {
  const meta = YAML.parse(fs.readFileSync(path.join(REPO, 'extracts', rel, 'extract.yaml'), 'utf8')) as { request: Record<string, unknown>; columns: ColumnDef[] };
  return meta;
};

describe('source contract: schooltool (SQL Server over TDS, real mssql client)', () => {
  let dir: string;
  let tds: Awaited<ReturnType<typeof startTdsServer>>;
  let relay: TcpRelay;
  let closedPort: number;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-contract-st-'));
    tds = await startTdsServer({ db: makeSchoolToolDatabase(dir), user: 'ferry_reader', password: 'tds-test-pw-1' });
    relay = await startTcpRelay(tds);
    closedPort = await freePort();
  });
  afterAll(async () => {
    await relay.close();
    await tds.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const open = (o: { port?: number; password?: string } = {}) =>
    createSchoolToolSource({
      id: 'schooltool',
      host: tds.host,
      port: o.port ?? tds.port,
      database: 'schooltool',
      user: 'ferry_reader',
      password: () => o.password ?? 'tds-test-pw-1',
      encrypt: false,
      trustServerCertificate: true,
      connectTimeoutSeconds: 5,
      requestTimeoutSeconds: 30,
      readOnlyIntent: true,
    });
  sourceContract((): ContractSubject => ({
    open: () => open(),
    // T-SQL takes lists as one comma-separated string: the connector joins them.
    query: (f) => ({ text: sql('schooltool/students-basic-st'), values: binds(f) }),
    refusedLogin: {
      open: () => {
        const before = relay.accepted();
        return { source: open({ port: relay.port, password: 'not-the-password' }), loginAttempts: () => relay.accepted() - before };
      },
    },
    unreachable: { open: () => open({ port: closedPort }) },
    lostMidStream: { arm: () => (tds.faults.dropAfterRows = 300) },
    connectionRelease: { released: () => tds.waitFor(() => tds.connections() === 0) },
  }));
});

describe('source contract: powerschool (fake server, real axios client)', () => {
  let fake: FakePowerSchool;
  let closedPort: number;
  beforeAll(async () => {
    fake = await startFakePowerSchool({ clientId: 'ferry-plugin', clientSecret: 'ps-test-secret-1' });
    closedPort = await freePort();
  });
  afterAll(async () => fake.close());
  const meta = request('powerschool/students-basic-ps');
  const open = (o: { baseUrl?: string; secret?: string; retries?: number } = {}) =>
    createPowerSchoolSource({ id: 'ps', baseUrl: o.baseUrl ?? fake.url, clientId: () => 'ferry-plugin', clientSecret: () => o.secret ?? 'ps-test-secret-1', timeoutSeconds: 10, maxConcurrency: 2, retries: o.retries ?? 0, sleep: noWait });
  const tokenRequests = () => fake.requests.filter((r) => r.path === '/oauth/access_token').length;
  sourceContract((): ContractSubject => ({
    key: 'state_id',
    open: () => open(),
    // Retries allowed: a refused login must still be asked only once.
    refusedLogin: {
      open: () => {
        const before = tokenRequests();
        return { source: open({ secret: 'not-the-secret', retries: 3 }), loginAttempts: () => tokenRequests() - before };
      },
    },
    unreachable: { open: () => open({ baseUrl: `http://127.0.0.1:${closedPort}` }) },
    lostMidStream: { arm: () => (fake.faults.dropOnPage = 2) },
    connectionRelease: { arm: () => (fake.faults.stallOnPage = 2), busy: () => fake.whenStalled(), released: () => fake.whenIdle() },
    // PowerSchool names buildings by school number; the district's integration lists numbers, not codes.
    query: (f) => ({
      text: '',
      values: { ...f, buildings: f.buildings.map((c) => (c === 'NO-SUCH-BUILDING' ? '999' : String(psSchoolNumberOf('hilltop-csd', c)))) },
      request: meta.request,
      columns: meta.columns,
    }),
  }));
});

describe('source contract: eschooldata (fake server, real axios client)', () => {
  let fake: FakeESchoolData;
  let closedPort: number;
  beforeAll(async () => {
    fake = await startFakeESchoolData({ clientId: 'ferry', clientSecret: 'esd-test-secret-1' });
    closedPort = await freePort();
  });
  afterAll(async () => fake.close());
  const meta = request('eschooldata/students-basic-esd');
  const open = (o: { host?: string; secret?: string; retries?: number } = {}) => {
    const base = o.host ?? fake.url;
    return createESchoolDataSource({ id: 'esd', tokenUrl: `${base}/api/v1/auth/token`, apiBase: `${base}/api/v1`, clientId: () => 'ferry', clientSecret: () => o.secret ?? 'esd-test-secret-1', timeoutSeconds: 10, maxConcurrency: 2, retries: o.retries ?? 0, sleep: noWait });
  };
  const tokenRequests = () => fake.requests.filter((r) => r.path === '/api/v1/auth/token').length;
  sourceContract((): ContractSubject => ({
    key: 'state_id',
    open: () => open(),
    refusedLogin: {
      open: () => {
        const before = tokenRequests();
        return { source: open({ secret: 'not-the-secret', retries: 3 }), loginAttempts: () => tokenRequests() - before };
      },
    },
    unreachable: { open: () => open({ host: `http://127.0.0.1:${closedPort}` }) },
    lostMidStream: { arm: () => (fake.faults.dropOnPage = 2) },
    connectionRelease: { arm: () => (fake.faults.stallOnPage = 2), busy: () => fake.whenStalled(), released: () => fake.whenIdle() },
    query: (f) => ({ text: '', values: { ...f, schoolYear: 2027 }, request: meta.request, columns: meta.columns }),
  }));
});
