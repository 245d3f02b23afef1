import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sftpDestinationSchema } from '../../src/config/schema.js';
import { FerryError } from '../../src/core/errors.js';
import { createSftpDestination } from '../../src/delivery/sftp-destination.js';
import { startEmbeddedSftpServer, type EmbeddedSftpServer } from '../../src/demo/sftp-server.js';
import { generateEd25519KeyPair } from '../../src/demo/ssh-keys.js';

// The OpenSSH test server takes keys only, so password login is exercised against Ferry's embedded server.
describe('SFTP delivery with password authentication (embedded server)', () => {
  let server: EmbeddedSftpServer;
  let root: string;
  let scratch: string;
  const password = `pw-${crypto.randomBytes(12).toString('hex')}`;

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-pw-root-'));
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-pw-'));
    server = await startEmbeddedSftpServer({ root, port: 0, hostKey: generateEd25519KeyPair().privateKey, username: 'district', password });
  });
  afterAll(async () => {
    await server.close();
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  const destination = (env: string) =>
    createSftpDestination(
      { ...sftpDestinationSchema.parse({ kind: 'sftp', host: '127.0.0.1', port: server.port, username: 'district', password: { env }, hostKeySha256: server.hostKeyFingerprint, retries: 0 }), id: 'district-sftp' } as never,
      { configDir: scratch, integration: 'pw-test' },
    );

  it('delivers with the right password', async () => {
    process.env.FERRY_TEST_SFTP_PW = password;
    const local = path.join(scratch, 'a.csv');
    fs.writeFileSync(local, 'id\r\n1\r\n');
    const receipt = await destination('FERRY_TEST_SFTP_PW').deliver({ localPath: local, remotePath: '/in/a.csv', bytes: 7, runId: 1 });
    expect(receipt.remotePath).toBe('/in/a.csv');
    expect(fs.readFileSync(path.join(root, 'in/a.csv'), 'utf8')).toBe('id\r\n1\r\n');
  });

  it('a wrong password is one clear error naming the field, without the password', async () => {
    process.env.FERRY_TEST_SFTP_BAD = 'not-the-password-123';
    const local = path.join(scratch, 'b.csv');
    fs.writeFileSync(local, 'id\r\n2\r\n');
    const err = await destination('FERRY_TEST_SFTP_BAD')
      .deliver({ localPath: local, remotePath: '/in/b.csv', bytes: 7, runId: 2 })
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(FerryError);
    expect(err).toMatchObject({ kind: 'destination_auth', field: 'destinations.district-sftp.password', retryable: false });
    expect((err as Error).message).toBe('integration pw-test: destination district-sftp field password: 127.0.0.1:' + server.port + ' refused the login for user district');
    expect(fs.existsSync(path.join(root, 'in/b.csv'))).toBe(false);
  });
});
