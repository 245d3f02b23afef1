import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import winston from 'winston';
import TransportStream from 'winston-transport';
import type { NamedDestination } from '../../src/config/model.js';
import { sftpDestinationSchema } from '../../src/config/schema.js';
import { FerryError } from '../../src/core/errors.js';
import { createSftpDestination } from '../../src/delivery/sftp-destination.js';
import { requireSshd, startSshd, startTcpProxy, type SshdServer, type TcpProxy } from '../helpers/sshd.js';
import { failureOf } from '../helpers/failure.js';

// Deliveries that are stopped or cut mid-upload, folders made by many runs at once, and a folder the user may not
// write, against the real OpenSSH sshd. A TCP proxy holds an upload in flight, so "mid-upload" does not depend on speed.

type SftpConfig = Extract<NamedDestination, { kind: 'sftp' }>;
const execFileAsync = promisify(execFile);
const ok = requireSshd();
const BIG = 40 * 1024 * 1024;


const names = async (dir: string) => (await readdir(dir)).sort();

describe.skipIf(!ok)('SFTP delivery that is stopped, cut or raced (real OpenSSH sshd)', () => {
  let server: SshdServer;
  let proxy: TcpProxy;
  let scratch: string;
  let big: { localPath: string; bytes: number };
  let runId = 1000;
  const logs: Record<string, unknown>[] = [];
  const logger = winston.createLogger({
    level: 'debug',
    transports: [
      new (class extends TransportStream {
        override log(info: Record<string, unknown>, next: () => void): void {
          logs.push(info);
          next();
        }
      })(),
    ],
  });

  beforeAll(async () => {
    // 30 runs connecting at once: the default MaxStartups (10:30:100) would drop some handshakes.
    server = await startSshd({ config: ['MaxStartups 100'] });
    proxy = await startTcpProxy(server.port);
    scratch = await mkdtemp(join(tmpdir(), 'ferry-sftp-abort-'));
    await writeFile(join(scratch, 'client_key'), server.privateKey, { mode: 0o600 });
    big = { localPath: join(scratch, 'big.csv'), bytes: BIG };
    await new Promise<void>((resolve, reject) => {
      const out = createWriteStream(big.localPath, { mode: 0o600 });
      for (let i = 0; i < BIG / (1024 * 1024); i++) out.write(randomBytes(1024 * 1024));
      out.end();
      out.on('finish', resolve).on('error', reject);
    });
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
    logger.close();
  });

  const destination = (port: number, overrides: Record<string, unknown> = {}) => {
    const parsed = sftpDestinationSchema.parse({
      kind: 'sftp',
      host: server.host,
      port,
      username: server.user,
      privateKey: { file: join(scratch, 'client_key') },
      hostKeySha256: server.hostKeyFingerprint,
      basePath: server.homeDir,
      connectTimeoutSeconds: 20,
      retries: 0,
      ...overrides,
    });
    const config: SftpConfig = { ...parsed, id: 'district-sftp' };
    return createSftpDestination(config, { configDir: scratch, integration: 'hilltop-clever', logger });
  };

  /** Start a big upload through the proxy and resolve once the server has written part of its temporary file. */
  const startStalledUpload = async (via: TcpProxy, folder: string, signal?: AbortSignal) => {
    const id = ++runId;
    const remotePath = `${folder}/students.csv`;
    const temp = join(folder, `.students.csv.ferry-${id}.part`);
    via.stallAfter(4 * 1024 * 1024);
    const outcome = destination(via.port)
      .deliver({ ...big, remotePath, runId: id, ...(signal ? { signal } : {}) })
      .then((receipt) => ({ receipt }), (err: unknown) => ({ err }));
    await vi.waitFor(async () => expect((await stat(temp)).size).toBeGreaterThan(0), { timeout: 60_000, interval: 50 });
    // The upload is now held in flight; connections made from here on (the clean-up) pass freely.
    via.stallAfter(undefined);
    return { outcome, remotePath, temp };
  };

  it('an abort mid-upload stops it with kind aborted and leaves neither the file nor its temporary file', async () => {
    const folder = join(server.homeDir, 'abort');
    const controller = new AbortController();
    const { outcome } = await startStalledUpload(proxy, folder, controller.signal);
    controller.abort(new Error('ferry is shutting down'));
    const { err } = (await outcome) as { err?: unknown };
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).kind).toBe('aborted');
    expect((err as FerryError).message).toContain('stopped before any file was moved into place');
    expect(await names(folder)).toEqual([]);
  }, 120_000);

  it('a connection cut mid-upload (sshd session killed) fails retryably and its temporary file is removed over a new connection', async () => {
    const folder = join(server.homeDir, 'cut');
    const { outcome } = await startStalledUpload(proxy, folder);
    expect(await server.killSessions()).toBeGreaterThan(0);
    const { err } = (await outcome) as { err?: unknown };
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).kind).toBe('upload');
    expect((err as FerryError).retryable).toBe(true);
    expect(await names(folder)).toEqual([]);
  }, 120_000);

  it('when the server cannot be reached again, a warning names the temporary file that is left', async () => {
    const folder = join(server.homeDir, 'gone');
    const doomed = await startTcpProxy(server.port);
    const { outcome, temp } = await startStalledUpload(doomed, folder);
    await doomed.close(); // cuts the upload and refuses the reconnect
    const { err } = (await outcome) as { err?: unknown };
    expect((err as FerryError).kind).toBe('upload');
    const warn = logs.find((l) => l.message === 'sftp temporary file not removed');
    expect(warn).toMatchObject({ level: 'warn', remotePaths: [temp] });
    expect(existsSync(temp)).toBe(true); // the warning is true: the file is there for someone to remove
    expect(existsSync(join(folder, 'students.csv'))).toBe(false);
  }, 120_000);

  it("a successful delivery removes the same file's temporary files left by earlier runs, and nothing else", async () => {
    const folder = join(server.homeDir, 'leftovers');
    await mkdir(folder, { recursive: true });
    const stale = ['.students.csv.ferry-123.part', '.students.csv.ferry-run_7-b.part'];
    const kept = ['.schools.csv.ferry-123.part', 'students.csv.ferry-123.part', '.students.csv.ferry-1.2.part', '.students.csv.ferry-123.part.bak', 'notes.txt'];
    for (const n of [...stale, ...kept]) await writeFile(join(folder, n), `left by someone: ${n}\n`);
    const local = join(scratch, 'small.csv');
    await writeFile(local, 'id\r\n1\r\n');
    await destination(server.port).deliver({ localPath: local, remotePath: `${folder}/students.csv`, bytes: 7, runId: ++runId });
    expect(await names(folder)).toEqual([...kept, 'students.csv'].sort());
    for (const n of kept) expect(await readFile(join(folder, n), 'utf8')).toBe(`left by someone: ${n}\n`);
  }, 60_000);

  it('30 runs delivering at once into one fresh nested folder tree all succeed', async () => {
    const root = join(server.homeDir, 'burst');
    const dest = destination(server.port);
    const files = await Promise.all(
      Array.from({ length: 30 }, async (_, n) => {
        const localPath = join(scratch, `burst-${n}.csv`);
        await writeFile(localPath, `file ${n}\r\n`);
        return { localPath, bytes: `file ${n}\r\n`.length, remotePath: `${root}/a/b/c/${n}/students.csv`, runId: ++runId };
      }),
    );
    const results = await Promise.allSettled(files.map((f) => dest.deliver(f)));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as Error).message)] : []));
    expect(failed).toEqual([]);
    for (const [n, f] of files.entries()) expect(await readFile(f.remotePath, 'utf8')).toBe(`file ${n}\r\n`);
  }, 120_000);

  it('a folder the user may not write is a permission problem in one clear sentence, not a login problem', async () => {
    const locked = join(server.homeDir, 'locked');
    await mkdir(locked, { recursive: true });
    await chmod(locked, 0o500);
    // root ignores file modes; the immutable flag stops root too.
    const asRoot = process.getuid?.() === 0;
    if (asRoot) await execFileAsync('chattr', ['+i', locked]);
    try {
      const local = join(scratch, 'denied.csv');
      await writeFile(local, 'id\r\n1\r\n');
      for (const remotePath of [`${locked}/students.csv`, `${locked}/2026/students.csv`]) {
        const err = await failureOf(destination(server.port).deliver({ localPath: local, remotePath, bytes: 7, runId: ++runId }));
        expect(err.kind).toBe('destination_permission');
        expect(err.retryable).toBe(false);
        expect(err.message).toMatch(/^integration hilltop-clever: destination district-sftp: sftp:\/\/127\.0\.0\.1:\d+ does not let user \S+ (upload|create folder) \S+ \(permission denied\); the server's owner must give this user write access there$/);
        expect(err.message).toContain(locked);
      }
      expect(await names(locked)).toEqual([]);
    } finally {
      if (asRoot) await execFileAsync('chattr', ['-i', locked]);
      await chmod(locked, 0o700);
    }
  }, 60_000);
});
