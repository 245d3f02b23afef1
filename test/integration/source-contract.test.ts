import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
import { createPostgresSource } from '../../connectors/postgres/postgres-source.js';
import { createSqliteSource } from '../../connectors/sqlite/sqlite-source.js';
import { ensureDemoSis, loadDemoSisIntoPostgres } from '../../src/demo/demo-sis.js';
import { sourceContract, type ContractSubject } from '../contract/source-contract.js';
import { REPO } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg-database.js';

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
