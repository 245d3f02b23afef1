import { createHash, timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import ssh2 from 'ssh2';
import type { AuthContext, Connection, ParsedKey, SFTPWrapper } from 'ssh2';
import { ADVERTISED_EXTENSIONS, attachSftpHandlers } from './sftp-handlers.js';
import type { SftpLogger } from './sftp-handlers.js';
import { Chroot } from './sftp-paths.js';
import { fingerprintOfPrivateKey, parseSshKey } from './ssh-keys.js';

const { Server } = ssh2;

export interface EmbeddedSftpOptions {
  root: string;
  host?: string;
  port: number;
  hostKey: string | Buffer;
  username: string;
  authorizedKeys?: (string | Buffer)[];
  password?: string;
  logger?: SftpLogger;
}

export interface EmbeddedSftpServer {
  host: string;
  port: number;
  hostKeyFingerprint: string;
  close(): Promise<void>;
}

const silentLogger: SftpLogger = { info() {}, warn() {} };
// After close() asks clients to disconnect, sockets still open after this long are destroyed.
const CLOSE_GRACE_MS = 1000;

function parseAuthorizedKeys(entries: (string | Buffer)[]): ParsedKey[] {
  const keys: ParsedKey[] = [];
  for (const entry of entries) {
    for (const line of entry.toString('utf8').split(/\r?\n/)) {
      const trimmed = line.trim();
      if (trimmed === '' || trimmed.startsWith('#')) continue;
      keys.push(parseSshKey(trimmed, 'authorized key'));
    }
  }
  return keys;
}

function digestEqual(a: string | Buffer, b: string | Buffer): boolean {
  // Hashing first gives equal-length inputs, so timingSafeEqual leaks neither content nor length.
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

interface SftpInternals {
  _protocol: { channelData(id: number, data: Buffer): void };
  outgoing: { id: number; window: number };
}

const BARE_VERSION = Buffer.from([0, 0, 0, 5, 2, 0, 0, 0, 3]);

function versionPacket(extensions: ReadonlyArray<readonly [string, string]>): Buffer {
  const parts: Buffer[] = [Buffer.from([2, 0, 0, 0, 3])];
  for (const [name, data] of extensions) {
    for (const s of [name, data]) {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(Buffer.byteLength(s), 0);
      parts.push(len, Buffer.from(s, 'utf8'));
    }
  }
  const body = Buffer.concat(parts);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length, 0);
  return Buffer.concat([header, body]);
}

/**
 * ssh2's server answers INIT with a fixed VERSION packet that lists no extensions, and ssh2's
 * client (so ssh2-sftp-client's posixRename) refuses extended requests the server did not
 * advertise. Swap that one packet, for this channel only, for one that lists ours.
 */
function advertiseExtensions(sftp: SFTPWrapper): void {
  const internals = sftp as unknown as SftpInternals;
  const original = internals._protocol;
  const replacement = versionPacket(ADVERTISED_EXTENSIONS);
  internals._protocol = new Proxy(original, {
    get(target, prop, receiver) {
      if (prop === 'channelData') {
        return (id: number, data: Buffer) => {
          if (id === internals.outgoing.id && data.equals(BARE_VERSION)) {
            internals._protocol = original;
            // ssh2 charged the window for the short packet; charge the difference too.
            internals.outgoing.window = Math.max(0, internals.outgoing.window - (replacement.length - data.length));
            target.channelData(id, replacement);
            return;
          }
          target.channelData(id, data);
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

export async function startEmbeddedSftpServer(opts: EmbeddedSftpOptions): Promise<EmbeddedSftpServer> {
  const logger = opts.logger ?? silentLogger;
  const host = opts.host ?? '127.0.0.1';
  const authorized = parseAuthorizedKeys(opts.authorizedKeys ?? []);
  if (authorized.length === 0 && opts.password === undefined) {
    throw new Error('Embedded SFTP server needs authorizedKeys or a password');
  }
  const hostKeyText = opts.hostKey.toString();
  if (!parseSshKey(hostKeyText, 'host key').isPrivateKey()) throw new Error('hostKey must be a private key');
  const hostKeyFingerprint = fingerprintOfPrivateKey(hostKeyText);
  const allowedMethods: ('publickey' | 'password')[] = [];
  if (authorized.length > 0) allowedMethods.push('publickey');
  if (opts.password !== undefined) allowedMethods.push('password');

  await fs.mkdir(opts.root, { recursive: true, mode: 0o700 });
  const chroot = new Chroot(await fs.realpath(opts.root));

  const clients = new Set<Connection>();
  const sockets = new Set<Socket>();
  let sessionSeq = 0;

  const authenticate = (ctx: AuthContext): void => {
    const userOk = digestEqual(ctx.username, opts.username);
    if (ctx.method === 'publickey' && authorized.length > 0) {
      const key = authorized.find((k) => k.type === ctx.key.algo && k.getPublicSSH().equals(ctx.key.data));
      if (userOk && key) {
        if (!ctx.signature) return ctx.accept();
        if (ctx.blob && key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true) return ctx.accept();
      }
    } else if (ctx.method === 'password' && opts.password !== undefined) {
      if (digestEqual(ctx.password, opts.password) && userOk) return ctx.accept();
    }
    if (ctx.method !== 'none') logger.warn('sftp authentication rejected', { method: ctx.method, username: ctx.username });
    ctx.reject(allowedMethods);
  };

  const onClient = (client: Connection): void => {
    clients.add(client);
    client.on('close', () => clients.delete(client));
    client.on('error', (err: Error) => logger.warn('ssh connection error', { error: err.message }));
    client.on('authentication', authenticate);
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        const id = `s${++sessionSeq}`;
        session.on('sftp', (acceptSftp) => {
          const sftp = acceptSftp();
          advertiseExtensions(sftp);
          attachSftpHandlers(sftp, chroot, logger, id);
          logger.info('sftp session opened', { session: id, username: opts.username });
        });
        for (const kind of ['pty', 'shell', 'exec', 'subsystem', 'env', 'x11', 'auth-agent'] as const) {
          session.on(kind, (_accept: unknown, reject?: () => void) => {
            logger.warn('ssh session request refused', { session: id, request: kind });
            reject?.();
          });
        }
      });
    });
  };

  const ssh = new Server({ hostKeys: [hostKeyText] }, onClient);
  ssh.on('error', (err: Error) => logger.warn('ssh server error', { error: err.message }));
  // We own the listener so close() can reach every raw socket; ssh2 only sees injected sockets.
  const listener = net.createServer((socket) => {
    sockets.add(socket);
    // SFTP status replies are tiny; with Nagle they wait on delayed ACKs and stall pipelined writes.
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    ssh.injectSocket(socket);
  });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(opts.port, host, () => {
      listener.off('error', reject);
      resolve();
    });
  });
  listener.on('error', (err) => logger.warn('sftp listener error', { error: err.message }));
  const port = (listener.address() as AddressInfo).port;
  logger.info('embedded sftp server listening', { host, port, fingerprint: hostKeyFingerprint });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, CLOSE_GRACE_MS);
      timer.unref();
      listener.close(() => {
        clearTimeout(timer);
        logger.info('embedded sftp server closed', { host, port });
        resolve();
      });
      for (const client of clients) client.end();
    });
    return closing;
  };

  return { host, port, hostKeyFingerprint, close };
}
