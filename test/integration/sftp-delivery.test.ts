import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import winston from 'winston';
import TransportStream from 'winston-transport';
import type { NamedDestination } from '../../src/config/model.js';
import { sftpDestinationSchema } from '../../src/config/schema.js';
import { createSftpDestination } from '../../src/delivery/sftp-destination.js';
import { generateEd25519KeyPair } from '../../src/demo/ssh-keys.js';
import { freePort } from '../helpers/postgres.js';
import { requireSshd, startSshd, type SshdServer } from '../helpers/sshd.js';
import { failureOf } from '../helpers/failure.js';

// Not covered here, on purpose:
// - password authentication: the test sshd allows public keys only (PasswordAuthentication no, UsePAM no);
// - a size mismatch after upload: OpenSSH cannot be made to store a different number of bytes without a fake server.

type SftpConfig = Extract<NamedDestination, { kind: 'sftp' }>;

const ok = requireSshd();

/** Every file under a folder, relative to it (dot files included). */
async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out.push(relative(dir, join(e.parentPath, e.name)));
  }
  return out.sort();
}


describe.skipIf(!ok)('SFTP delivery to a real OpenSSH sshd', () => {
  let server: SshdServer;
  let scratch: string;
  let runId = 0;

  beforeAll(async () => {
    server = await startSshd();
    scratch = await mkdtemp(join(tmpdir(), 'ferry-sftp-delivery-'));
  });
  afterAll(async () => {
    await server?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  /** A destination as the config loader would build it: parsed by the real schema, defaults applied. */
  const destination = async (overrides: Record<string, unknown> = {}, ctx: Partial<Parameters<typeof createSftpDestination>[1]> = {}) => {
    const keyFile = join(scratch, 'client_key');
    if (!existsSync(keyFile)) await writeFile(keyFile, server.privateKey, { mode: 0o600 });
    const parsed = sftpDestinationSchema.parse({
      kind: 'sftp',
      host: server.host,
      port: server.port,
      username: server.user,
      privateKey: { file: keyFile },
      hostKeySha256: server.hostKeyFingerprint,
      basePath: server.homeDir,
      connectTimeoutSeconds: 10,
      retries: 0,
      ...overrides,
    });
    const config: SftpConfig = { ...parsed, id: 'district-sftp' };
    return createSftpDestination(config, { configDir: scratch, integration: 'hilltop-clever', ...ctx });
  };

  const spool = async (content: Buffer): Promise<{ localPath: string; bytes: number }> => {
    const localPath = join(scratch, `spool-${randomBytes(4).toString('hex')}.csv`);
    await writeFile(localPath, content, { mode: 0o600 });
    return { localPath, bytes: content.length };
  };

  it('delivers a set together: every file staged first, so one that cannot be written leaves the whole old set', async () => {
    const dest = await destination();
    const folder = `${server.homeDir}/riverbend/clever`;
    const names = ['schools.csv', 'students.csv', 'enrollments.csv'];
    const set = async (day: string) => Promise.all(names.map(async (n) => ({ ...(await spool(Buffer.from(`${n} of ${day}\r\n`))), remotePath: `${folder}/${n}` })));
    const monday = await set('monday');
    const receipts = await dest.deliverAll(monday.map((f) => ({ ...f, runId: ++runId })));
    expect(receipts.map((r) => r.remotePath)).toEqual(names.map((n) => `${folder}/${n}`));

    // Tuesday's last file is short of the bytes it should have: the check fails after two files are already staged.
    const tuesday = await set('tuesday');
    tuesday[2] = { ...tuesday[2]!, bytes: tuesday[2]!.bytes + 1 };
    const err = await failureOf(dest.deliverAll(tuesday.map((f) => ({ ...f, runId: ++runId }))));
    expect(err.kind).toBe('upload');
    for (const n of names) expect(await readFile(join(folder, n), 'utf8')).toBe(`${n} of monday\r\n`);
    expect(await listFiles(folder)).toEqual([...names].sort());
    for (const n of names) expect((await stat(join(folder, n))).mode & 0o777).toBe(0o600);
  });

  it('delivers byte for byte into new nested folders, mode 0600, with key auth and the pinned host key', async () => {
    // Several upload chunks, CRLF, non-ASCII and a NUL byte: any re-encoding would show.
    const content = Buffer.concat([Buffer.from('id,name\r\n1,Zoë Testström\r\n\0'), randomBytes(200_000)]);
    const file = await spool(content);
    const remotePath = `${server.homeDir}/hilltop-csd/clever/2026/students.csv`;
    const receipt = await (await destination()).deliver({ ...file, remotePath, runId: ++runId });
    expect(receipt).toEqual({ remotePath, bytes: content.length, target: `sftp://${server.host}:${server.port}` });
    expect((await readFile(remotePath)).equals(content)).toBe(true);
    expect((await stat(remotePath)).mode & 0o777).toBe(0o600);
    expect(await listFiles(join(server.homeDir, 'hilltop-csd'))).toEqual(['clever/2026/students.csv']);
  });

  it('replaces an existing file in one step and leaves no temporary file behind', async () => {
    const remotePath = `${server.homeDir}/overwrite/contacts.csv`;
    const dest = await destination();
    await dest.deliver({ ...(await spool(Buffer.from('yesterday\r\n'.repeat(1000)))), remotePath, runId: ++runId });
    const today = Buffer.from('today,a longer file than yesterday\r\n'.repeat(2000));
    const receipt = await dest.deliver({ ...(await spool(today)), remotePath, runId: ++runId });
    expect(receipt.bytes).toBe(today.length);
    expect((await readFile(remotePath)).equals(today)).toBe(true);
    expect((await stat(remotePath)).mode & 0o777).toBe(0o600);
    expect(await listFiles(join(server.homeDir, 'overwrite'))).toEqual(['contacts.csv']);
  });

  it('refuses a server whose host key is not the pinned one, names the key it saw, and writes nothing', async () => {
    const pinned = `SHA256:${randomBytes(32).toString('base64').replace(/=+$/, '')}`;
    const remotePath = `${server.homeDir}/hostkey/students.csv`;
    const err = await failureOf((await destination({ hostKeySha256: pinned })).deliver({ ...(await spool(Buffer.from('a\r\n'))), remotePath, runId: ++runId }));
    expect(err.kind).toBe('host_key');
    expect(err.retryable).toBe(false);
    expect(err.field).toBe('destinations.district-sftp.hostKeySha256');
    expect(err.message).toContain(server.hostKeyFingerprint);
    expect(err.message).toContain(pinned);
    expect(existsSync(join(server.homeDir, 'hostkey'))).toBe(false);
  });

  it('reports a client key the server does not accept as destination_auth', async () => {
    const stranger = join(scratch, 'stranger_key');
    await writeFile(stranger, generateEd25519KeyPair('stranger').privateKey, { mode: 0o600 });
    const remotePath = `${server.homeDir}/wrongkey/students.csv`;
    const err = await failureOf((await destination({ privateKey: { file: stranger } })).deliver({ ...(await spool(Buffer.from('a\r\n'))), remotePath, runId: ++runId }));
    expect(err.kind).toBe('destination_auth');
    expect(err.retryable).toBe(false);
    expect(err.field).toBe('destinations.district-sftp.privateKey');
    expect(err.message).toContain('hilltop-clever');
    expect(existsSync(join(server.homeDir, 'wrongkey'))).toBe(false);
  });

  it('retries a closed port and gives up with destination_connect after 1 + retries attempts, waiting through the injected sleep', async () => {
    const port = await freePort();
    const sleeps: number[] = [];
    const attempts: unknown[] = [];
    const capture = new (class extends TransportStream {
      override log(info: Record<string, unknown>, next: () => void): void {
        if (info.message === 'sftp delivery retry') attempts.push(info.attempt);
        next();
      }
    })();
    const logger = winston.createLogger({ level: 'debug', transports: [capture] });
    const dest = await destination(
      { port, retries: 2 },
      {
        logger,
        sleep: async (ms) => {
          sleeps.push(ms);
        },
      },
    );
    const err = await failureOf(dest.deliver({ ...(await spool(Buffer.from('a\r\n'))), remotePath: `${server.homeDir}/closed/x.csv`, runId: ++runId }));
    expect(err.kind).toBe('destination_connect');
    expect(err.field).toBe('destinations.district-sftp.host');
    expect(err.message).toContain(`${server.host}:${port}`);
    expect(sleeps).toHaveLength(2); // between attempts 1–2 and 2–3; none after the last
    expect(attempts).toEqual([2, 3]);
    expect(sleeps.every((ms) => ms > 0)).toBe(true);
    logger.close();
  });
});
