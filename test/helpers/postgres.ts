import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, chownSync, constants, readdirSync, readFileSync } from 'node:fs';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const PG_MISSING =
  'PostgreSQL server binaries not found: install the postgresql package (apt-get install postgresql)';

export interface PostgresServer {
  url: string;
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  stop(): Promise<void>;
}

/** A server this process started and owns, so a test may take it down and bring it back (a store outage). */
export interface OwnPostgresServer extends PostgresServer {
  /** `pg_ctl stop -m fast`: every connection is closed and new ones are refused until `resume()`. */
  pause(): Promise<void>;
  /** `pg_ctl start -w` on the same data directory and port; resolves once it accepts connections. */
  resume(): Promise<void>;
}

/** Asks the kernel for an unused loopback port. Racy by nature, so callers retry on bind failure. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('could not allocate a free port'))));
    });
  });
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function findPgBinDir(): string {
  const candidates: string[] = [];
  try {
    const out = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    candidates.push(out.trim());
  } catch {
    // pg_config is optional (it ships with libpq-dev); fall through to the Debian layout.
  }
  try {
    const versions = readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => `/usr/lib/postgresql/${v}/bin`));
  } catch {
    // directory absent
  }
  const dir = candidates.find((d) => ['initdb', 'pg_ctl', 'postgres'].every((b) => isExecutable(join(d, b))));
  if (!dir) throw new Error(`${PG_MISSING} (looked in: ${candidates.join(', ') || 'pg_config and /usr/lib/postgresql/*/bin'})`);
  return dir;
}

function fromUrl(url: string): PostgresServer {
  const u = new URL(url);
  const user = decodeURIComponent(u.username);
  return {
    url,
    host: u.hostname,
    port: Number(u.port || 5432),
    user,
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.slice(1)) || user,
    stop: async () => {},
  };
}

/** initdb refuses to run as root, so as root every server command runs as the `postgres` OS user. */
function postgresOwner(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new Error(`running as root but the 'postgres' OS user does not exist; ${PG_MISSING}`);
  }
}

export async function startPostgres(): Promise<PostgresServer> {
  const external = process.env.FERRY_TEST_PG_URL;
  if (external) return fromUrl(external);
  return startOwnPostgres();
}

/** A server of this process's own, even when FERRY_TEST_PG_URL names a shared one: a test that stops it needs it. */
export interface OwnPostgresOptions {
  /** ssl = on with this certificate and key (PEM). */
  tls?: { cert: string; key: string };
  /** Addresses to listen on besides 127.0.0.1 (a TLS test needs one Ferry does not treat as loopback). */
  listen?: readonly string[];
}

export async function startOwnPostgres(options: OwnPostgresOptions = {}): Promise<OwnPostgresServer> {
  const bin = findPgBinDir();
  const owner = postgresOwner();
  const dir = await mkdtemp(join(tmpdir(), 'ferry-pg-'));
  const data = join(dir, 'data');
  const log = join(dir, 'postgres.log');
  const pwfile = join(dir, 'pwfile');
  const user = 'ferry_test';
  const password = randomBytes(18).toString('hex');

  const command = (tool: string, args: string[]): [string, string[]] =>
    owner ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args];
  const run = async (tool: string, args: string[]): Promise<void> => {
    const [cmd, argv] = command(tool, args);
    try {
      await execFileAsync(cmd, argv, { cwd: dir, encoding: 'utf8' });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`${tool} failed: ${err.stderr?.trim() || err.message}`);
    }
  };
  const logTail = () => {
    try {
      return readFileSync(log, 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '';
    }
  };
  const stopSync = () => {
    try {
      const [cmd, argv] = command('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      execFileSync(cmd, argv, { cwd: '/', stdio: 'ignore' });
    } catch {
      // already stopped
    }
  };

  try {
    await writeFile(pwfile, password + '\n', { mode: 0o600 });
    if (owner) {
      chownSync(dir, owner.uid, owner.gid);
      chownSync(pwfile, owner.uid, owner.gid);
    }
    await run('initdb', ['-D', data, '-U', user, '--auth=scram-sha-256', `--pwfile=${pwfile}`,
      '-E', 'UTF8', '--locale=C', '--no-sync']);
    await rm(pwfile, { force: true });
    if (options.tls) {
      // PostgreSQL refuses a key file that group or others can read.
      await writeFile(join(data, 'server.crt'), options.tls.cert, { mode: 0o600 });
      await writeFile(join(data, 'server.key'), options.tls.key, { mode: 0o600 });
      if (owner) for (const f of ['server.crt', 'server.key']) chownSync(join(data, f), owner.uid, owner.gid);
    }
    if (options.listen?.length) {
      await appendFile(join(data, 'pg_hba.conf'), options.listen.map((a) => `host all all ${a}/32 scram-sha-256\n`).join(''));
    }
    await appendFile(data + '/postgresql.conf', [
      '',
      `listen_addresses = '${['127.0.0.1', ...(options.listen ?? [])].join(',')}'`,
      ...(options.tls ? ['ssl = on', "ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'"] : []),
      `unix_socket_directories = '${dir}'`,
      'fsync = off',
      'full_page_writes = off',
      'synchronous_commit = off',
      '',
    ].join('\n'));

    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await run('pg_ctl', ['-D', data, '-l', log, '-o', `-p ${port}`, '-w', '-t', '60', 'start']);
        break;
      } catch (e) {
        const tail = logTail();
        stopSync();
        // Another process may have grabbed the port between freePort() and bind.
        if (attempt < 3 && /could not bind|already in use/i.test(tail)) continue;
        throw new Error(`${(e as Error).message}\n--- postgres.log ---\n${tail}`);
      }
    }

    const onExit = () => stopSync();
    process.once('exit', onExit);
    let stopping: Promise<void> | undefined;
    const server: OwnPostgresServer = {
      ...fromUrl(`postgres://${user}:${password}@127.0.0.1:${port}/postgres`),
      pause: () => run('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']),
      resume: async () => {
        try {
          await run('pg_ctl', ['-D', data, '-l', log, '-o', `-p ${port}`, '-w', '-t', '60', 'start']);
        } catch (e) {
          // The port is not held while the server is down: another process may have taken it meanwhile.
          throw new Error(`${(e as Error).message}\n--- postgres.log ---\n${logTail()}`);
        }
      },
    };
    server.stop = () =>
      (stopping ??= (async () => {
        process.removeListener('exit', onExit);
        await run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      })());
    return server;
  } catch (e) {
    stopSync();
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
