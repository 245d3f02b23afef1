import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
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
import { makeSchoolToolDatabase } from '../helpers/schooltool-views.js';
import { startFakeESchoolData, type FakeESchoolData } from '../servers/eschooldata/fake-eschooldata.js';
import { startFakePowerSchool, type FakePowerSchool } from '../servers/powerschool/fake-powerschool.js';
import { psSchoolNumberOf } from '../servers/powerschool/ps-records.js';
import { startTdsServer } from '../servers/tds/server.js';

/** One contract, every source kind; the same filters must select the same students from each one's copy of the demo SIS. */
const sql = (rel: string) => fs.readFileSync(path.join(REPO, 'extracts', rel, 'query.sql'), 'utf8');
const binds = (f: { gradeMin: number; gradeMax: number; buildings: string[]; activeOnly: boolean }) => ({ districtId: 'hilltop-csd', schoolYear: 2027, ...f });

describe('source contract: sqlite', () => {
  let dir: string;
  let file: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-contract-'));
    file = path.join(dir, 'sis.sqlite');
    ensureDemoSis(file);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  sourceContract((): ContractSubject => ({
    open: () => createSqliteSource({ id: 'demo-sis', path: file }),
    query: (f) => ({ text: sql('sqlite/students-basic'), values: binds(f) }),
  }));
});

describe('source contract: postgres', () => {
  let db: TestDatabase;
  let u: URL;
  beforeAll(async () => {
    db = await createTestDatabase('contract');
    u = new URL(db.url);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await loadDemoSisIntoPostgres(client);
    await client.end();
  });
  afterAll(async () => db.drop());
  sourceContract((): ContractSubject => ({
    open: () =>
      createPostgresSource({
        id: 'sis-pg',
        host: u.hostname,
        port: Number(u.port),
        database: u.pathname.slice(1),
        user: decodeURIComponent(u.username),
        password: () => decodeURIComponent(u.password),
        ssl: false,
        connectTimeoutSeconds: 5,
      }),
    query: (f) => ({ text: sql('postgres/students-basic-pg'), values: binds(f) }),
  }));
});

const request = (rel: string) => {
  const meta = YAML.parse(fs.readFileSync(path.join(REPO, 'extracts', rel, 'extract.yaml'), 'utf8')) as { request: Record<string, unknown>; columns: ColumnDef[] };
  return meta;
};

describe('source contract: schooltool (SQL Server over TDS, real mssql client)', () => {
  let dir: string;
  let tds: Awaited<ReturnType<typeof startTdsServer>>;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-contract-st-'));
    tds = await startTdsServer({ db: makeSchoolToolDatabase(dir), user: 'ferry_reader', password: 'tds-test-pw-1' });
  });
  afterAll(async () => {
    await tds.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  sourceContract((): ContractSubject => ({
    open: () =>
      createSchoolToolSource({
        id: 'schooltool',
        host: tds.host,
        port: tds.port,
        database: 'schooltool',
        user: 'ferry_reader',
        password: () => 'tds-test-pw-1',
        encrypt: false,
        trustServerCertificate: true,
        connectTimeoutSeconds: 5,
        requestTimeoutSeconds: 30,
        readOnlyIntent: true,
      }),
    // T-SQL takes lists as one comma-separated string: the connector joins them.
    query: (f) => ({ text: sql('schooltool/students-basic-st'), values: binds(f) }),
  }));
});

describe('source contract: powerschool (fake server, real axios client)', () => {
  let fake: FakePowerSchool;
  beforeAll(async () => {
    fake = await startFakePowerSchool({ clientId: 'ferry-plugin', clientSecret: 'ps-test-secret-1' });
  });
  afterAll(async () => fake.close());
  const meta = request('powerschool/students-basic-ps');
  sourceContract((): ContractSubject => ({
    key: 'state_id',
    open: () =>
      createPowerSchoolSource({ id: 'ps', baseUrl: fake.url, clientId: () => 'ferry-plugin', clientSecret: () => 'ps-test-secret-1', timeoutSeconds: 10, maxConcurrency: 2, retries: 0 }),
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
  beforeAll(async () => {
    fake = await startFakeESchoolData({ clientId: 'ferry', clientSecret: 'esd-test-secret-1' });
  });
  afterAll(async () => fake.close());
  const meta = request('eschooldata/students-basic-esd');
  sourceContract((): ContractSubject => ({
    key: 'state_id',
    open: () =>
      createESchoolDataSource({ id: 'esd', tokenUrl: fake.tokenUrl, apiBase: fake.apiBase, clientId: () => 'ferry', clientSecret: () => 'esd-test-secret-1', timeoutSeconds: 10, maxConcurrency: 2, retries: 0 }),
    query: (f) => ({ text: '', values: { ...f, schoolYear: 2027 }, request: meta.request, columns: meta.columns }),
  }));
});
