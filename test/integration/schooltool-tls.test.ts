import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSchoolToolSource, type SchoolToolSourceOptions } from '../../connectors/schooltool/schooltool-source.js';
import { FerryError } from '../../src/core/errors.js';
import type { Source } from '../../src/core/source.js';
import { startTdsServer, type TdsServer } from '../servers/tds/server.js';
import { createSelfSignedCert } from '../helpers/tls-cert.js';

const USER = 'ferry_reader';
const PASSWORD = 'Tds-Secret-9f3b!';
const DATABASE = 'SchoolTool_Hilltop';

/**
 * SQL Server encryption with the real mssql/tedious client: TLS inside PRELOGIN (TDS 7.x) and TDS 8.0 against a
 * server with a self-signed certificate, and a server that cannot encrypt (ENCRYPT_NOT_SUP), which must receive
 * no LOGIN7 at all when Ferry's encrypt is on.
 */
describe('SchoolTool source: encrypted transport, or no connection', () => {
  let dir: string;
  let encrypting: TdsServer;
  let cleartext: TdsServer;
  let ca: string;
  const opened: Source[] = [];

  const open = (server: TdsServer, overrides: Partial<SchoolToolSourceOptions>): Source => {
    const source = createSchoolToolSource({
      id: 'schooltool-sis',
      host: server.host,
      port: server.port,
      database: DATABASE,
      user: USER,
      password: () => PASSWORD,
      encrypt: true,
      trustServerCertificate: false,
      connectTimeoutSeconds: 30,
      requestTimeoutSeconds: 60,
      readOnlyIntent: true,
      integration: 'hilltop-schooltool',
      ...overrides,
    });
    opened.push(source);
    return source;
  };
  const firstNames = async (source: Source): Promise<unknown[]> => {
    const out: unknown[] = [];
    for await (const batch of source.stream({ text: 'SELECT first_name FROM students ORDER BY student_id', values: {} })) out.push(...batch.rows.map((r) => r[0]));
    return out;
  };
  const failure = (work: Promise<unknown>) => work.then(() => { throw new Error('expected a failure'); }, (e: unknown) => e as FerryError);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-tds-tls-'));
    const file = join(dir, 'schooltool.sqlite');
    const db = new Database(file);
    db.exec("CREATE TABLE students (student_id NVARCHAR(20) NOT NULL, first_name NVARCHAR(100)); INSERT INTO students VALUES ('S001', 'Zoë'), ('S002', 'José');");
    db.close();
    const cert = createSelfSignedCert(['127.0.0.1', 'localhost'], 'schooltool-test');
    ca = cert.cert;
    encrypting = await startTdsServer({ db: file, user: USER, password: PASSWORD, tls: cert });
    cleartext = await startTdsServer({ db: file, user: USER, password: PASSWORD });
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  afterAll(async () => {
    await encrypting?.close();
    await cleartext?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('encrypt: true logs in and reads over TLS negotiated inside PRELOGIN, the certificate verified against sslCa', async () => {
    expect(await firstNames(open(encrypting, { sslCa: () => ca }))).toEqual(['Zoë', 'José']);
    expect(encrypting.logins().at(-1)).toMatchObject({ user: USER, encrypted: true });
    // trustServerCertificate: true still encrypts (it only skips the check).
    expect(await firstNames(open(encrypting, { trustServerCertificate: true }))).toEqual(['Zoë', 'José']);
    expect(encrypting.logins().at(-1)).toMatchObject({ encrypted: true });
  });

  it("encrypt: 'strict' (TDS 8.0) logs in and reads over TLS from the first byte", async () => {
    const before = encrypting.logins().length;
    expect(await firstNames(open(encrypting, { encrypt: 'strict', sslCa: () => ca }))).toEqual(['Zoë', 'José']);
    const logins = encrypting.logins().slice(before);
    expect(logins.length).toBeGreaterThan(0);
    expect(logins.every((l) => l.encrypted)).toBe(true);
  });

  it('verifies the certificate: a self-signed one that is not trusted is refused before the login', async () => {
    const before = encrypting.login7s();
    const err = await failure(open(encrypting, {}).testConnection!());
    expect(err).toBeInstanceOf(FerryError);
    expect([err.kind, err.field]).toEqual(['source_auth', 'sources.schooltool-sis.sslCa']);
    expect(err.message).toMatch(/^integration hilltop-schooltool: source schooltool-sis: SQL Server at 127\.0\.0\.1:\d+ presented a TLS certificate that cannot be verified \(DEPTH_ZERO_SELF_SIGNED_CERT\): give the CA that signed it as sslCa$/);
    expect(encrypting.login7s()).toBe(before);
    const strict = await failure(open(encrypting, { encrypt: 'strict' }).testConnection!());
    expect(strict.field).toBe('sources.schooltool-sis.sslCa');
    expect(encrypting.login7s()).toBe(before);
  });

  it('a server that cannot encrypt (ENCRYPT_NOT_SUP) gets neither the password nor a query; one sentence names the source and encrypt', async () => {
    for (const read of [(s: Source) => s.testConnection!(), (s: Source) => firstNames(s)]) {
      const err = await failure(read(open(cleartext, {})));
      expect(err).toBeInstanceOf(FerryError);
      expect(err.kind).toBe('source_connect');
      expect(err.field).toBe('sources.schooltool-sis.encrypt');
      expect(err.message).toMatch(/^integration hilltop-schooltool: source schooltool-sis: SQL Server at 127\.0\.0\.1:\d+ does not encrypt the connection \(its PRELOGIN answer offers no TLS\) while encrypt is on: neither the login nor a query was sent; give the server a certificate, or set encrypt: false only on a trusted network$/);
      expect(err.message).not.toContain(PASSWORD);
    }
    expect(cleartext.login7s()).toBe(0);
    expect(cleartext.statements()).toEqual([]);
  });

  it('encrypt: false still works with a server that cannot encrypt, and is refused by one that requires it', async () => {
    expect(await firstNames(open(cleartext, { encrypt: false }))).toEqual(['Zoë', 'José']);
    expect(cleartext.logins().at(-1)).toMatchObject({ encrypted: false });
    const before = encrypting.login7s();
    const err = await failure(open(encrypting, { encrypt: false }).testConnection!());
    expect(err.kind).toBe('source_connect');
    expect(encrypting.login7s()).toBe(before);
  });
});
