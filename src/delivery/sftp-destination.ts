import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import SftpClient from 'ssh2-sftp-client';
import type { Logger } from 'winston';
import { FerryError } from '../core/errors.js';
import type { DeliveryReceipt, DeliveryRequest, Destination } from '../core/destination.js';
import type { NamedDestination } from '../config/model.js';
import { resolveSecret } from '../config/secrets.js';
import { retryWithBackoff, type Sleep } from '../runs/backoff.js';

type SftpConfig = Extract<NamedDestination, { kind: 'sftp' }>;

export interface SftpDestinationContext {
  configDir: string;
  integration: string;
  logger?: Logger | undefined;
  sleep?: Sleep | undefined;
}

/** SHA256:<base64, no padding>, as `ssh-keygen -lf` prints it. */
export function fingerprintOf(key: Buffer): string {
  return `SHA256:${crypto.createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/**
 * SFTP delivery with a pinned host key. The file is uploaded under a temporary name with parallel requests
 * (fastPut, like OpenSSH's sftp), checked for size, then moved into place with OpenSSH's posix-rename so that a
 * reader never sees a partial file and yesterday's file is replaced in one step.
 */
export function createSftpDestination(config: SftpConfig, ctx: SftpDestinationContext): Destination {
  const who = `integration ${ctx.integration}: destination ${config.id}`;
  const field = (f: string) => `destinations.${config.id}.${f}`;
  const target = `sftp://${config.host}:${config.port}`;

  const pinned = (): string => {
    if (typeof config.hostKeySha256 === 'string') return config.hostKeySha256;
    const file = path.resolve(ctx.configDir, config.hostKeySha256.file);
    try {
      return fs.readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new FerryError('host_key', `${who} field hostKeySha256: cannot read the pinned fingerprint file ${file}`, { integration: ctx.integration, field: field('hostKeySha256'), cause: err });
    }
  };

  const connectOnce = async (signal?: AbortSignal): Promise<SftpClient> => {
    const expected = pinned();
    const secret = (ref: NonNullable<SftpConfig['password']>, name: string) =>
      resolveSecret(ref, { configDir: ctx.configDir, owner: `destination ${config.id}`, field: name, integration: ctx.integration, kind: 'destination_auth' });
    let presented: string | undefined;
    const client = new SftpClient(`ferry-${ctx.integration}`);
    const onAbort = () => void client.end().catch(() => undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await client.connect({
        host: config.host,
        port: config.port,
        username: config.username,
        ...(config.password ? { password: secret(config.password, 'password') } : {}),
        ...(config.privateKey ? { privateKey: secret(config.privateKey, 'privateKey') } : {}),
        ...(config.passphrase ? { passphrase: secret(config.passphrase, 'passphrase') } : {}),
        readyTimeout: config.connectTimeoutSeconds * 1000,
        hostVerifier: (key: Buffer) => {
          presented = fingerprintOf(key);
          return presented === expected;
        },
      });
      return client;
    } catch (err) {
      await client.end().catch(() => undefined);
      signal?.throwIfAborted();
      throw mapConnectError(err, presented, expected);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  };

  const mapConnectError = (err: unknown, presented: string | undefined, expected: string): FerryError => {
    const e = err as Error & { level?: string; code?: string };
    const base = { integration: ctx.integration, cause: err };
    if (/Host denied/i.test(e.message) && presented) {
      return new FerryError(
        'host_key',
        `${who} field hostKeySha256: ${config.host}:${config.port} presented host key ${presented}, which is not the pinned ${expected}; refusing to connect`,
        { ...base, field: field('hostKeySha256') },
      );
    }
    if (e.level === 'client-authentication' || /authentication/i.test(e.message)) {
      const f = config.privateKey ? 'privateKey' : 'password';
      return new FerryError('destination_auth', `${who} field ${f}: ${config.host}:${config.port} refused the login for user ${config.username}`, { ...base, field: field(f) });
    }
    if (/privateKey|Cannot parse privateKey|Encrypted private OpenSSH key/i.test(e.message)) {
      return new FerryError('destination_auth', `${who} field privateKey: the private key cannot be used (${e.message.replace(/^.*?: /, '')})`, { ...base, field: field('privateKey') });
    }
    return new FerryError('destination_connect', `${who} field host: cannot reach ${config.host}:${config.port} (${e.code ?? e.level ?? e.message})`, { ...base, field: field('host') });
  };

  /**
   * One connection: each file to a temporary name in its folder (parallel fastPut), size checked and mode set; then
   * every file moved into place with posix-rename. A failure before the moves removes the temporary files, so the
   * folder keeps yesterday's complete set. Connection failures retry the whole set.
   */
  const deliverAll = async (requests: readonly DeliveryRequest[]): Promise<DeliveryReceipt[]> => {
    const mode = parseInt(config.fileMode, 8);
    const signal = requests[0]?.signal;
    const tmpOf = (req: DeliveryRequest) => path.posix.join(path.posix.dirname(req.remotePath), `.${path.posix.basename(req.remotePath)}.ferry-${req.runId}.part`);
    return retryWithBackoff(
      async (attempt) => {
        if (attempt > 1) ctx.logger?.warn('sftp delivery retry', { attempt, target });
        const client = await connectOnce(signal);
        const staged: string[] = [];
        try {
          for (const req of requests) {
            const dir = path.posix.dirname(req.remotePath);
            const tmp = tmpOf(req);
            await step(`create folder ${dir}`, () => client.mkdir(dir, true), async () => (await client.exists(dir)) === 'd');
            staged.push(tmp);
            await step(`upload ${tmp}`, () => client.fastPut(req.localPath, tmp, { concurrency: config.concurrency, chunkSize: 32768, mode }));
            const st = await step(`check ${tmp}`, () => client.stat(tmp));
            if (st.size !== req.bytes) throw new FerryError('upload', `${who}: the uploaded file has ${st.size} bytes, expected ${req.bytes}`, { integration: ctx.integration, field: 'remotePath' });
            await step(`set mode on ${tmp}`, () => client.chmod(tmp, mode));
          }
          for (const req of requests) {
            const tmp = tmpOf(req);
            await step(`move ${tmp} into place at ${req.remotePath}`, () => client.posixRename(tmp, req.remotePath));
            staged.splice(staged.indexOf(tmp), 1);
          }
          return requests.map((req) => ({ remotePath: req.remotePath, bytes: req.bytes, target }));
        } finally {
          for (const tmp of staged) await client.delete(tmp, true).catch(() => undefined);
          await client.end().catch(() => undefined);
        }
      },
      { retries: config.retries, signal, sleep: ctx.sleep },
    );

    async function step<T>(what: string, fn: () => Promise<T>, alreadyDone?: () => Promise<boolean>): Promise<T> {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof FerryError) throw err;
        if (alreadyDone && (await alreadyDone().catch(() => false))) return undefined as T;
        signal?.throwIfAborted();
        const e = err as Error & { code?: number | string };
        const denied = e.code === 3 || /permission denied/i.test(e.message);
        throw new FerryError(denied ? 'destination_auth' : 'upload', `${who}: cannot ${what} on ${target}: ${denied ? 'permission denied' : e.message.replace(/^\w+: /, '')}`, {
          integration: ctx.integration,
          field: 'remotePath',
          cause: err,
        });
      }
    }
  };

  return {
    kind: 'sftp',
    deliverAll,
    async deliver(req: DeliveryRequest): Promise<DeliveryReceipt> {
      return (await deliverAll([req]))[0]!;
    },
  };
}
