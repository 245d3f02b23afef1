import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { SFTPWrapper } from 'ssh2';
import SftpClient from 'ssh2-sftp-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedSftpServer, type EmbeddedSftpServer } from '../../src/demo/sftp-server.js';
import {
  ensureKeyPairFiles,
  fingerprintOfPrivateKey,
  fingerprintOfPublicKeyLine,
  generateEd25519KeyPair,
  sshFingerprintSha256,
} from '../../src/demo/ssh-keys.js';

const execFileAsync = promisify(execFile);
const OPENSSH_SFTP = '/usr/bin/sftp';
const USER = 'district';
const PASSWORD = 'correct horse battery staple';

describe('embedded SFTP server', () => {
  const hostKey = generateEd25519KeyPair('ferry-demo-host');
  const clientKey = generateEd25519KeyPair('ferry-client');
  const strangerKey = generateEd25519KeyPair('stranger');
  let base: string;
  let root: string;
  let server: EmbeddedSftpServer;
  const open: SftpClient[] = [];

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'ferry-embedded-sftp-'));
    // Two levels deep, so a `../..` escape bug would still land inside `base`.
    root = join(base, 'jail', 'root');
    server = await startEmbeddedSftpServer({
      root, port: 0, hostKey: hostKey.privateKey, username: USER,
      authorizedKeys: [clientKey.publicKey], password: PASSWORD,
    });
  });

  afterAll(async () => {
    await Promise.allSettled(open.map((c) => c.end()));
    await server?.close();
    if (base) await rm(base, { recursive: true, force: true });
  });

  async function connect(auth: { privateKey?: string; password?: string; username?: string; pin?: string } = {}) {
    const client = new SftpClient();
    const pin = auth.pin ?? server.hostKeyFingerprint;
    await client.connect({
      host: server.host, port: server.port, username: auth.username ?? USER,
      ...(auth.password === undefined ? { privateKey: auth.privateKey ?? clientKey.privateKey } : { password: auth.password }),
      hostVerifier: (key: Buffer) => sshFingerprintSha256(key) === pin,
      readyTimeout: 10_000,
    });
    open.push(client);
    return client;
  }
  const raw = (client: SftpClient): SFTPWrapper => (client as unknown as { sftp: SFTPWrapper }).sftp;
  const rawCall = (fn: (cb: (err?: Error | null) => void) => void) =>
    new Promise<number>((resolve) => fn((err) => resolve(err ? ((err as { code?: number }).code ?? -1) : 0)));

  it('computes OpenSSH-style fingerprints consistently', () => {
    expect(server.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(fingerprintOfPublicKeyLine(hostKey.publicKey)).toBe(server.hostKeyFingerprint);
    expect(fingerprintOfPrivateKey(hostKey.privateKey)).toBe(server.hostKeyFingerprint);
  });

  it('connects with key auth and a pinned host key; a wrong pin fails', async () => {
    const client = await connect();
    expect(await client.cwd()).toBe('/');
    await client.end();
    await expect(connect({ pin: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })).rejects.toThrow();
  });

  it('rejects an unknown client key, a wrong user and a wrong password; accepts the password', async () => {
    await expect(connect({ privateKey: strangerKey.privateKey })).rejects.toThrow(/authentication/i);
    await expect(connect({ username: 'someone-else' })).rejects.toThrow(/authentication/i);
    await expect(connect({ password: 'wrong' })).rejects.toThrow(/authentication/i);
    const client = await connect({ password: PASSWORD });
    expect(await client.exists('/')).toBe('d');
    await client.end();
  });

  it('creates nested folders and round-trips a 5 MB fastPut with mode 0600', async () => {
    const client = await connect();
    await client.mkdir('/upload/2024/fall', true);
    expect((await stat(join(root, 'upload/2024/fall'))).isDirectory()).toBe(true);
    const local = join(base, 'five-mb.bin');
    const payload = randomBytes(5 * 1024 * 1024 + 123);
    await writeFile(local, payload);
    await client.fastPut(local, '/upload/2024/fall/roster.bin');
    const landed = join(root, 'upload/2024/fall/roster.bin');
    expect((await readFile(landed)).equals(payload)).toBe(true);
    expect((await stat(landed)).mode & 0o777).toBe(0o600);
    const back = (await client.get('/upload/2024/fall/roster.bin')) as Buffer;
    expect(back.equals(payload)).toBe(true);
    await client.end();
  });

  it('never creates group/world-writable files even when asked', async () => {
    const client = await connect();
    await client.put(Buffer.from('a,b\n'), '/wide-open.csv', { writeStreamOptions: { mode: 0o666 } });
    expect((await stat(join(root, 'wide-open.csv'))).mode & 0o777).toBe(0o644);
    await client.end();
  });

  it('fastPuts 20 MB quickly', async () => {
    const client = await connect();
    const local = join(base, 'twenty-mb.bin');
    const payload = randomBytes(20 * 1024 * 1024);
    await writeFile(local, payload);
    const started = performance.now();
    await client.fastPut(local, '/twenty.bin');
    const ms = performance.now() - started;
    console.info(`embedded sftp: 20 MB fastPut took ${ms.toFixed(0)} ms`);
    expect((await readFile(join(root, 'twenty.bin'))).equals(payload)).toBe(true);
    expect(ms).toBeLessThan(5_000);
    await client.end();
  });

  it('posixRename atomically replaces an existing target; plain rename refuses to', async () => {
    const client = await connect();
    await client.mkdir('/swap', true);
    await client.put(Buffer.from('old'), '/swap/students.csv');
    await client.put(Buffer.from('new'), '/swap/.students.csv.part');
    await client.posixRename('/swap/.students.csv.part', '/swap/students.csv');
    expect(await readFile(join(root, 'swap/students.csv'), 'utf8')).toBe('new');
    expect(existsSync(join(root, 'swap/.students.csv.part'))).toBe(false);

    await client.put(Buffer.from('a'), '/swap/a.csv');
    await client.put(Buffer.from('b'), '/swap/b.csv');
    await expect(client.rename('/swap/a.csv', '/swap/b.csv')).rejects.toThrow();
    expect(await readFile(join(root, 'swap/b.csv'), 'utf8')).toBe('b');
    await client.rename('/swap/a.csv', '/swap/c.csv');
    expect(await readFile(join(root, 'swap/c.csv'), 'utf8')).toBe('a');
    await client.end();
  });

  it('refuses paths that escape the root, including via symlinks', async () => {
    await mkdir(join(base, 'outside'));
    await symlink(join(base, 'outside'), join(root, 'link-out'));
    await symlink(join(base, 'not-there.txt'), join(root, 'dangling'));
    const client = await connect();
    const sftp = raw(client);
    const DENIED = 3;
    const openW = (p: string) => rawCall((cb) => sftp.open(p, 'w', (err) => cb(err)));
    expect(await openW('../../etc/passwd')).toBe(DENIED);
    expect(await openW('/../x')).toBe(DENIED);
    expect(await openW('/a/../../x')).toBe(DENIED);
    expect(await openW('/link-out/x.txt')).toBe(DENIED);
    expect(await openW('/dangling')).toBe(DENIED);
    expect(await rawCall((cb) => sftp.mkdir('/../escaped-dir', (err) => cb(err)))).toBe(DENIED);
    expect(await rawCall((cb) => sftp.realpath('..', (err) => cb(err)))).toBe(DENIED);
    expect(await rawCall((cb) => sftp.stat('/link-out', (err) => cb(err)))).toBe(DENIED);
    expect(await rawCall((cb) => sftp.readdir('/link-out', (err) => cb(err)))).toBe(DENIED);
    expect(await rawCall((cb) => sftp.rename('/wide-open.csv', '/link-out/stolen.csv', (err) => cb(err)))).toBe(DENIED);
    await expect(client.put(Buffer.from('x'), '../../etc/passwd')).rejects.toThrow();

    expect((await readdir(base)).sort()).toEqual(['five-mb.bin', 'jail', 'outside', 'twenty-mb.bin']);
    expect(await readdir(join(base, 'jail'))).toEqual(['root']);
    expect(await readdir(join(base, 'outside'))).toEqual([]);
    // The server is still healthy after refusing all of that.
    expect(await client.exists('/wide-open.csv')).toBe('-');
    await client.end();
  });

  it('lists uploaded files and deletes them', async () => {
    const client = await connect();
    await client.mkdir('/listing', true);
    const names = Array.from({ length: 150 }, (_, i) => `file-${String(i).padStart(3, '0')}.csv`);
    for (const name of names) await client.put(Buffer.from(name), `/listing/${name}`);
    const listed = await client.list('/listing');
    expect(listed.map((e) => e.name).sort()).toEqual(names);
    expect(listed.every((e) => e.type === '-' && e.size === 12)).toBe(true);
    await client.delete('/listing/file-000.csv');
    expect(await client.exists('/listing/file-000.csv')).toBe(false);
    expect(existsSync(join(root, 'listing/file-000.csv'))).toBe(false);
    await expect(client.delete('/listing/file-000.csv')).rejects.toThrow();
    await client.end();
  });

  it('works with the real OpenSSH sftp client', async (ctx) => {
    if (!existsSync(OPENSSH_SFTP)) {
      const msg = `${OPENSSH_SFTP} not found: the OpenSSH client interop test did NOT run (apt-get install openssh-client)`;
      if (process.env.CI) throw new Error(msg);
      console.warn(`\n${'!'.repeat(78)}\n${msg}\n${'!'.repeat(78)}`);
      ctx.skip();
    }
    const work = join(base, 'openssh');
    const keys = await ensureKeyPairFiles(join(work, 'keys', 'id_ed25519'), 'openssh-test');
    expect((await stat(join(work, 'keys', 'id_ed25519'))).mode & 0o777).toBe(0o600);
    const again = await ensureKeyPairFiles(join(work, 'keys', 'id_ed25519'));
    expect(again).toMatchObject({ created: false, fingerprint: keys.fingerprint, privateKey: keys.privateKey });
    const keygen = await execFileAsync('ssh-keygen', ['-lf', join(work, 'keys', 'id_ed25519.pub')]);
    expect(keygen.stdout.split(' ')[1]).toBe(keys.fingerprint);

    const ssh = await startEmbeddedSftpServer({
      root: join(work, 'root'), port: 0, hostKey: hostKey.privateKey, username: USER, authorizedKeys: [keys.publicKey],
    });
    try {
      await writeFile(join(work, 'enrollment.csv'), 'id,name\n1,Ada\n');
      await writeFile(join(work, 'batch'), [
        'mkdir /inbox', `put ${join(work, 'enrollment.csv')} /inbox/enrollment.csv`,
        'rename /inbox/enrollment.csv /inbox/final.csv', 'ls -l /inbox', '',
      ].join('\n'));
      const { stdout } = await execFileAsync(OPENSSH_SFTP, [
        '-b', join(work, 'batch'), '-i', join(work, 'keys', 'id_ed25519'), '-P', String(ssh.port),
        '-F', '/dev/null', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
        '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', `${USER}@127.0.0.1`,
      ], { timeout: 30_000 });
      expect(stdout).toMatch(/final\.csv/);
      expect(await readFile(join(work, 'root/inbox/final.csv'), 'utf8')).toBe('id,name\n1,Ada\n');
    } finally {
      await ssh.close();
    }
  });

  it('close() is idempotent and disconnects live clients', async () => {
    const second = await startEmbeddedSftpServer({
      root: join(base, 'second-root'), port: 0, hostKey: hostKey.privateKey, username: USER,
      authorizedKeys: [clientKey.publicKey],
    });
    const client = new SftpClient();
    await client.connect({ host: second.host, port: second.port, username: USER, privateKey: clientKey.privateKey });
    const disconnected = new Promise<void>((resolve) => client.on('close', () => resolve()));
    const first = second.close();
    expect(second.close()).toBe(first);
    await first;
    await disconnected;
    await expect(client.list('/')).rejects.toThrow();
  });
});
