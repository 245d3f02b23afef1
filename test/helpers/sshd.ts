import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, mkdirSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort } from './postgres.js';

const execFileAsync = promisify(execFile);
const SSHD = '/usr/sbin/sshd';
const READY_TIMEOUT_MS = 10_000;

export interface SshdServer {
  host: '127.0.0.1';
  port: number;
  user: string;
  privateKeyPath: string;
  privateKey: string;
  /** OpenSSH style, e.g. `SHA256:abc…` (base64, no padding). */
  hostKeyFingerprint: string;
  /** `ssh-ed25519 AAAA…` line of the host key. */
  hostPublicKey: string;
  /** known_hosts file trusting only this server's host key at [127.0.0.1]:port. */
  knownHostsPath: string;
  /** Per-call directory the tests write into (absolute paths; no chroot). */
  homeDir: string;
  /** SIGKILL every process the listening sshd forked (the login sessions), cutting their connections; the listener stays. Resolves with how many were killed. */
  killSessions(): Promise<number>;
  stop(): Promise<void>;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((d) => d && isExecutable(join(d, name)));
}

export function sshdAvailable(): { ok: boolean; reason?: string } {
  if (!isExecutable(SSHD)) return { ok: false, reason: `${SSHD} is missing or not executable (package openssh-server)` };
  const missing = ['ssh-keygen', 'sftp'].filter((t) => !onPath(t));
  if (missing.length) return { ok: false, reason: `${missing.join(', ')} not on PATH (package openssh-client)` };
  return { ok: true };
}

/** Call at the top of an sshd suite: throws in CI, warns loudly and returns false locally. */
export function requireSshd(): boolean {
  const { ok, reason } = sshdAvailable();
  if (ok) return true;
  const ci = process.env.CI && !['0', 'false'].includes(process.env.CI.toLowerCase());
  if (ci) throw new Error(`OpenSSH sshd not found (${reason}); install openssh-server — CI must run the OpenSSH suite`);
  const bar = '!'.repeat(78);
  console.error(
    [bar, 'OpenSSH sshd not found — the OpenSSH integration suite is NOT running; install openssh-server',
      `  reason: ${reason}`, '  fix:    apt-get install openssh-server openssh-client', bar].join('\n'),
  );
  return false;
}

async function run(cmd: string, args: string[]): Promise<string> {
  try {
    return (await execFileAsync(cmd, args, { encoding: 'utf8' })).stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.stderr?.trim() || err.message}`);
  }
}

const keygen = (path: string) => run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ferry-test', '-f', path]);

function ensurePrivsepDir(): void {
  if (existsSync('/run/sshd')) return;
  try {
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    chmodSync('/run/sshd', 0o755);
  } catch {
    // Only root needs it, and only root can create it; an unprivileged sshd never looks.
  }
}

/** Resolves once the port answers with an SSH-2.0 identification line. */
function readBanner(port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const finish = (err?: Error) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => finish(new Error('no banner')), timeoutMs);
    sock.setEncoding('latin1');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (/^SSH-2\.0-[^\r\n]*\r?\n/m.test(buf)) finish();
      else if (buf.length > 4096) finish(new Error(`unexpected banner: ${buf.slice(0, 80)}`));
    });
    sock.on('error', (e) => finish(e));
    sock.on('close', () => finish(new Error('closed before banner')));
  });
}

async function waitReady(child: ChildProcess, port: number, stderr: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let delay = 10;
  for (let attempt = 1; attempt <= 100; attempt++) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`sshd exited (${child.exitCode ?? child.signalCode}): ${stderr().trim()}`);
    }
    const left = deadline - Date.now();
    if (left <= 0) break;
    try {
      await readBanner(port, Math.min(left, 2_000));
      return;
    } catch {
      await sleep(Math.min(delay, Math.max(deadline - Date.now(), 0)));
      delay = Math.min(delay * 2, 200);
    }
  }
  throw new Error(`sshd on 127.0.0.1:${port} not ready within ${READY_TIMEOUT_MS} ms: ${stderr().trim()}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(timer);
}

export async function startSshd(opts: { root?: string; /** extra sshd_config lines */ config?: string[] } = {}): Promise<SshdServer> {
  const avail = sshdAvailable();
  if (!avail.ok) throw new Error(`cannot start sshd: ${avail.reason}`);
  const user = userInfo().username;
  const dir = await mkdtemp(join(tmpdir(), 'ferry-sshd-'));
  let child: ChildProcess | undefined;
  try {
    const homeDir = opts.root ?? join(dir, 'home');
    await mkdir(homeDir, { recursive: true });
    const hostKey = join(dir, 'ssh_host_ed25519_key');
    const clientKey = join(dir, 'client_ed25519');
    const authorizedKeys = join(dir, 'authorized_keys');
    const knownHostsPath = join(dir, 'known_hosts');
    const configPath = join(dir, 'sshd_config');
    await Promise.all([keygen(hostKey), keygen(clientKey)]);
    await copyFile(`${clientKey}.pub`, authorizedKeys);
    const [hostPub, privateKey, fpOut] = await Promise.all([
      readFile(`${hostKey}.pub`, 'utf8'),
      readFile(clientKey, 'utf8'),
      run('ssh-keygen', ['-lf', `${hostKey}.pub`, '-E', 'sha256']),
    ]);
    const hostKeyFingerprint = /SHA256:\S+/.exec(fpOut)?.[0];
    if (!hostKeyFingerprint) throw new Error(`cannot parse host key fingerprint from: ${fpOut}`);
    const hostPublicKey = hostPub.trim().split(/\s+/).slice(0, 2).join(' ');
    ensurePrivsepDir();

    let port = 0;
    let stderr = '';
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      await writeFile(configPath, [
        `ListenAddress 127.0.0.1:${port}`,
        `HostKey ${hostKey}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${authorizedKeys}`,
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        'PermitRootLogin prohibit-password',
        `AllowUsers ${user}`,
        'Subsystem sftp internal-sftp',
        'LogLevel ERROR',
        ...(opts.config ?? []),
        '',
      ].join('\n'));
      stderr = '';
      const proc = spawn(SSHD, ['-D', '-e', '-f', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
      child = proc;
      proc.stderr?.setEncoding('utf8').on('data', (d: string) => {
        stderr = (stderr + d).slice(-4096);
      });
      try {
        await waitReady(proc, port, () => stderr);
        break;
      } catch (e) {
        await stopChild(proc);
        // Another process may have taken the port between freePort() and sshd's bind.
        if (attempt < 3 && /bind|address already in use/i.test(stderr)) continue;
        throw e;
      }
    }
    await writeFile(knownHostsPath, `[127.0.0.1]:${port} ${hostPublicKey}\n`);

    const running = child;
    const onExit = () => running.kill('SIGKILL');
    process.once('exit', onExit);
    let stopping: Promise<void> | undefined;
    return {
      host: '127.0.0.1',
      port,
      user,
      privateKeyPath: clientKey,
      privateKey,
      hostKeyFingerprint,
      hostPublicKey,
      knownHostsPath,
      homeDir,
      killSessions: async () => {
        const pids = running.pid === undefined ? [] : await descendantsOf(running.pid);
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // Already gone.
          }
        }
        return pids.length;
      },
      stop: () =>
        (stopping ??= (async () => {
          process.removeListener('exit', onExit);
          await stopChild(running);
          await rm(dir, { recursive: true, force: true });
        })()),
    };
  } catch (e) {
    if (child) await stopChild(child);
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

/** Every descendant of `root`, from /proc (Linux). */
async function descendantsOf(root: number): Promise<number[]> {
  const parentOf = new Map<number, number>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // Field 4 of /proc/PID/stat, after the parenthesised command name (which may hold spaces).
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      parentOf.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // The process ended while we looked.
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const [child, parent] of parentOf) if (parent === pid) out.push(child), walk(child);
  };
  walk(root);
  return out;
}

export interface TcpProxy {
  port: number;
  /** Connections opened from now on forward only this many bytes towards the server, then hold the rest for good; `undefined` lifts the limit for new connections. */
  stallAfter(bytes: number | undefined): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of a server: it can hold an upload in flight for as long as a test needs, which loopback
 * speeds would otherwise finish in a blink. Closing either side closes the other.
 */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let limit: number | undefined;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    const budget = limit;
    let sent = 0;
    sockets.add(client).add(upstream);
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', closeBoth).on('close', closeBoth);
    upstream.on('error', closeBoth).on('close', closeBoth);
    upstream.on('data', (d: Buffer) => client.write(d));
    client.on('data', (d: Buffer) => {
      if (budget !== undefined && sent + d.length > budget) {
        upstream.write(d.subarray(0, Math.max(0, budget - sent)));
        sent = budget;
        client.pause();
        return;
      }
      sent += d.length;
      upstream.write(d);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    stallAfter: (bytes) => {
      limit = bytes;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const sftpQuote = (s: string) => `"${s.replace(/[\\"]/g, '\\$&')}"`;

/** Uploads with the real OpenSSH `sftp` client, verifying the host key strictly. */
export async function openSshSftpPut(server: SshdServer, localFile: string, remotePath: string): Promise<void> {
  const args = [
    '-b', '-',
    '-F', '/dev/null',
    '-i', server.privateKeyPath,
    '-P', String(server.port),
    '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${server.knownHostsPath}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'BatchMode=yes',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'LogLevel=ERROR',
    `${server.user}@${server.host}`,
  ];
  const pending = execFileAsync('sftp', args, { encoding: 'utf8', timeout: 60_000 });
  pending.child.stdin?.end(`put ${sftpQuote(localFile)} ${sftpQuote(remotePath)}\n`);
  try {
    await pending;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`sftp put ${localFile} -> ${remotePath} failed: ${err.stderr?.trim() || err.message}`);
  }
}
