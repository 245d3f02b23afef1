import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import SftpClient from 'ssh2-sftp-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/pg-database.js';
import { openSshSftpPut, requireSshd, startSshd, type SshdServer } from '../helpers/sshd.js';

describe('postgres harness', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('harness');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('serves a fresh database over TCP', async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ version: string; db: string }>(
        'select version() as version, current_database() as db',
      );
      expect(rows[0]?.version).toMatch(/^PostgreSQL \d+/);
      expect(rows[0]?.db).toBe(db.name);
    } finally {
      await client.end();
    }
  });

  it('refuses a wrong password', async () => {
    const url = new URL(db.url);
    url.password = 'definitely-wrong';
    const client = new pg.Client({ connectionString: url.toString() });
    await expect(client.connect()).rejects.toMatchObject({ code: '28P01' });
    await client.end().catch(() => undefined);
  });
});

const sshdOk = requireSshd();

describe.skipIf(!sshdOk)('sshd harness', () => {
  let server: SshdServer;
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'ferry-harness-'));
    server = await startSshd();
  });
  afterAll(async () => {
    await server?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  const fingerprint = (key: Buffer) =>
    'SHA256:' + createHash('sha256').update(key).digest('base64').replace(/=+$/, '');

  it('accepts ssh2-sftp-client with key auth and a pinned host key', async () => {
    const sftp = new SftpClient();
    await sftp.connect({
      host: server.host,
      port: server.port,
      username: server.user,
      privateKey: server.privateKey,
      hostVerifier: (key: Buffer) => fingerprint(key) === server.hostKeyFingerprint,
    });
    try {
      const remote = `${server.homeDir}/hello.csv`;
      await sftp.put(Buffer.from('id,name\n1,Ada\n'), remote);
      const names = (await sftp.list(server.homeDir)).map((e) => e.name);
      expect(names).toContain('hello.csv');
      expect(await readFile(remote, 'utf8')).toBe('id,name\n1,Ada\n');
    } finally {
      await sftp.end();
    }
  });

  it('rejects a host key that does not match the pin', async () => {
    const sftp = new SftpClient();
    await expect(
      sftp.connect({
        host: server.host,
        port: server.port,
        username: server.user,
        privateKey: server.privateKey,
        hostVerifier: () => false,
        retries: 0,
      }),
    ).rejects.toThrow();
    await sftp.end().catch(() => undefined);
  });

  it('accepts the real OpenSSH sftp client', async () => {
    const local = join(scratch, 'upload.csv');
    await writeFile(local, 'a,b\n1,2\n');
    const remote = `${server.homeDir}/with space "quoted".csv`;
    await openSshSftpPut(server, local, remote);
    expect(await readFile(remote, 'utf8')).toBe('a,b\n1,2\n');
  });
});
