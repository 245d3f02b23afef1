import path from 'node:path';
import type { ConnectConfig, FileEntry, Stats } from 'ssh2';
import type { Logger } from 'winston';
import { FerryError, isFerryError } from '../core/errors.js';
import type { DeliveryReceipt, DeliveryRequest, Destination } from '../core/destination.js';
import type { NamedDestination } from '../config/model.js';
import { resolveSecret } from '../config/secrets.js';
import { retryWithBackoff, type Sleep } from '../runs/backoff.js';
import { fingerprintOf, readPinFile } from './host-key-pin.js';
import { openSftpSession, SFTP_STATUS, type SftpSession } from './sftp-session.js';
import { isLeftoverTempOf, tempPathFor } from './temp-name.js';

type SftpConfig = Extract<NamedDestination, { kind: 'sftp' }>;

/** How long removing a failed upload's temporary file may take, reconnect included; it runs after an abort too. */
const CLEANUP_MS = 10_000;

export interface SftpDestinationContext {
  configDir: string;
  integration: string;
  logger?: Logger | undefined;
  sleep?: Sleep | undefined;
}

export { fingerprintOf } from './host-key-pin.js';

const codeOf = (err: unknown) => (err as { code?: unknown } | undefined)?.code;
const reasonOf = (err: unknown) => (err instanceof Error ? err.message : String(err)).replace(/^\w+: /, '');

/**
 * SFTP delivery with a pinned host key. Each file is uploaded under a temporary name with parallel requests
 * (fastPut, like OpenSSH's sftp), checked for size, then moved into place with OpenSSH's posix-rename so that a
 * reader never sees a partial file and yesterday's file is replaced in one step.
 *
 * Abort (DeliveryRequest.signal) cuts the connection at once while files are being uploaded; the temporary files are
 * then removed over a fresh connection. Once the first file is being moved into place an abort is no longer acted on:
 * the moves are quick and finish, so a receipt means every file is in place and an `aborted` error means none is.
 */
export function createSftpDestination(config: SftpConfig, ctx: SftpDestinationContext): Destination {
  const who = `integration ${ctx.integration}: destination ${config.id}`;
  const field = (f: string) => `destinations.${config.id}.${f}`;
  const target = `sftp://${config.host}:${config.port}`;
  const base = { integration: ctx.integration };

  /** The pinned fingerprints: the inline one, or those of the pin file (see host-key-pin.ts for its formats). */
  const pinned = (): readonly string[] => {
    if (typeof config.hostKeySha256 === 'string') return [config.hostKeySha256];
    const read = readPinFile(path.resolve(ctx.configDir, config.hostKeySha256.file));
    if (!read.ok) throw new FerryError('host_key', `${who} field hostKeySha256: ${read.problem}`, { ...base, field: field('hostKeySha256') });
    return read.fingerprints;
  };

  const connect = async (signal: AbortSignal | undefined, timeoutMs = config.connectTimeoutSeconds * 1000): Promise<SftpSession> => {
    const expected = pinned();
    const secret = (ref: NonNullable<SftpConfig['password']>, name: string) =>
      resolveSecret(ref, { configDir: ctx.configDir, owner: `destination ${config.id}`, field: name, integration: ctx.integration, kind: 'destination_auth' });
    let presented: string | undefined;
    const options: ConnectConfig = {
      host: config.host,
      port: config.port,
      username: config.username,
      ...(config.password ? { password: secret(config.password, 'password') } : {}),
      ...(config.privateKey ? { privateKey: secret(config.privateKey, 'privateKey') } : {}),
      ...(config.passphrase ? { passphrase: secret(config.passphrase, 'passphrase') } : {}),
      readyTimeout: timeoutMs,
      // A peer that vanished without closing the TCP connection is noticed within half a minute, not never.
      keepaliveInterval: 10_000,
      keepaliveCountMax: 3,
      hostVerifier: (key: Buffer) => {
        presented = fingerprintOf(key);
        return expected.includes(presented);
      },
    };
    try {
      return await openSftpSession(options, signal);
    } catch (err) {
      if (signal?.aborted) throw err;
      throw mapConnectError(err, presented, expected);
    }
  };

  const mapConnectError = (err: unknown, presented: string | undefined, expected: readonly string[]): FerryError => {
    const e = err as Error & { level?: string; code?: string };
    const cause = { ...base, cause: err };
    if (/Host denied/i.test(e.message) && presented) {
      return new FerryError(
        'host_key',
        `${who} field hostKeySha256: ${config.host}:${config.port} presented host key ${presented}, which is not the pinned ${expected.join(' or ')}; refusing to connect`,
        { ...cause, field: field('hostKeySha256') },
      );
    }
    if (e.level === 'client-authentication' || /authentication/i.test(e.message)) {
      const f = config.privateKey ? 'privateKey' : 'password';
      return new FerryError('destination_auth', `${who} field ${f}: ${config.host}:${config.port} refused the login for user ${config.username}`, { ...cause, field: field(f) });
    }
    if (/privateKey|Cannot parse privateKey|Encrypted private OpenSSH key/i.test(e.message)) {
      return new FerryError('destination_auth', `${who} field privateKey: the private key cannot be used (${e.message.replace(/^.*?: /, '')})`, { ...cause, field: field('privateKey') });
    }
    return new FerryError('destination_connect', `${who} field host: cannot reach ${config.host}:${config.port} (${e.code ?? e.level ?? e.message})`, { ...cause, field: field('host') });
  };

  /** Logged in, yet refused: the folder's owner must act, so no retry. Anything else (failure, lost connection) may pass. */
  const failure = (what: string, err: unknown): FerryError => {
    if (isFerryError(err)) return err;
    if (codeOf(err) === SFTP_STATUS.permissionDenied) {
      return new FerryError('destination_permission', `${who}: ${target} does not let user ${config.username} ${what} (permission denied); the server's owner must give this user write access there`, {
        ...base,
        field: 'remotePath',
        cause: err,
      });
    }
    return new FerryError('upload', `${who}: cannot ${what} on ${target} (${reasonOf(err)})`, { ...base, field: 'remotePath', cause: err });
  };
  const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw failure(what, err);
    }
  };

  const kindOf = async (s: SftpSession, p: string): Promise<'dir' | 'other' | 'missing'> => {
    try {
      const st = await s.call<Stats>((sftp, done) => sftp.stat(p, done));
      return st.isDirectory() ? 'dir' : 'other';
    } catch (err) {
      if (codeOf(err) === SFTP_STATUS.noSuchFile) return 'missing';
      throw err;
    }
  };

  /**
   * mkdir -p that tolerates other runs creating the same folders at the same moment: a level that cannot be created
   * but exists as a folder right after (OpenSSH answers a plain "failure" for an existing folder) is fine.
   */
  const ensureFolder = async (s: SftpSession, dir: string): Promise<void> => {
    const missing: string[] = [];
    for (let d = dir; ; d = path.posix.dirname(d)) {
      const kind = await step(`look at folder ${d}`, () => kindOf(s, d));
      if (kind === 'dir') break;
      if (kind === 'other') throw new FerryError('upload', `${who}: ${d} on ${target} is a file where a folder is needed`, { ...base, field: 'remotePath' });
      missing.unshift(d);
      if (path.posix.dirname(d) === d) break;
    }
    for (const d of missing) {
      try {
        await s.call((sftp, done) => sftp.mkdir(d, done));
      } catch (err) {
        if ((await kindOf(s, d).catch(() => undefined)) === 'dir') continue;
        throw failure(`create folder ${d}`, err);
      }
    }
  };

  const unlink = (s: SftpSession, p: string) =>
    s.call((sftp, done) => sftp.unlink(p, done)).catch((err: unknown) => {
      if (codeOf(err) !== SFTP_STATUS.noSuchFile) throw err;
    });

  /**
   * Remove this attempt's temporary files: on the same connection if it still works, else over one fresh connection,
   * all within CLEANUP_MS (the run's signal may have fired already, so it is not used). A temporary file whose move
   * was cut short is looked at first: if it is gone, the move happened. Returns whether it did.
   */
  const removeTemps = async (session: SftpSession | undefined, staged: Set<string>, moving: string | undefined): Promise<boolean> => {
    const deadline = Date.now() + CLEANUP_MS;
    let moved = false;
    const within = async (s: SftpSession) => {
      const timer = setTimeout(() => s.destroy(), Math.max(0, deadline - Date.now()));
      try {
        for (const tmp of [...staged]) {
          if (tmp === moving && (await kindOf(s, tmp)) === 'missing') moved = true;
          else await unlink(s, tmp);
          staged.delete(tmp);
        }
      } finally {
        clearTimeout(timer);
      }
    };
    if (staged.size && session && !session.closed) await within(session).catch(() => undefined);
    if (staged.size === 0) return moved;
    let again: SftpSession | undefined;
    try {
      const left = Math.max(1, deadline - Date.now());
      again = await connect(AbortSignal.timeout(left), Math.min(config.connectTimeoutSeconds * 1000, left));
      await within(again);
    } catch (err) {
      ctx.logger?.warn('sftp temporary file not removed', { target, remotePaths: [...staged], error: reasonOf(err) });
    } finally {
      await again?.end();
    }
    return moved;
  };

  /** After a success: temporary files of these same file names left by earlier runs (never any other file). */
  const removeLeftovers = async (s: SftpSession, requests: readonly DeliveryRequest[]): Promise<void> => {
    const byDir = new Map<string, DeliveryRequest[]>();
    for (const r of requests) byDir.set(path.posix.dirname(r.remotePath), [...(byDir.get(path.posix.dirname(r.remotePath)) ?? []), r]);
    for (const [dir, reqs] of byDir) {
      const removed: string[] = [];
      try {
        const entries = await s.call<FileEntry[]>((sftp, done) => sftp.readdir(dir, done));
        for (const e of entries) {
          const regular = ((e.attrs.mode ?? 0) & 0o170000) === 0o100000;
          if (regular && reqs.some((r) => isLeftoverTempOf(path.posix.basename(r.remotePath), e.filename, r.runId))) {
            await unlink(s, path.posix.join(dir, e.filename));
            removed.push(path.posix.join(dir, e.filename));
          }
        }
      } catch (err) {
        ctx.logger?.warn('sftp leftover temporary files not removed', { target, folder: dir, error: reasonOf(err) });
      }
      if (removed.length) ctx.logger?.info('sftp removed temporary files left by earlier runs', { target, remotePaths: removed });
    }
  };

  const receiptsOf = (requests: readonly DeliveryRequest[]): DeliveryReceipt[] => requests.map((req) => ({ remotePath: req.remotePath, bytes: req.bytes, target }));

  /** One connection: stage every file, then move every file into place. */
  const attemptOnce = async (requests: readonly DeliveryRequest[], signal: AbortSignal | undefined, moved: Set<string>): Promise<DeliveryReceipt[]> => {
    const mode = parseInt(config.fileMode, 8);
    const staged = new Set<string>();
    let session: SftpSession | undefined;
    let committing = false;
    let moving: DeliveryRequest | undefined;
    const onAbort = () => {
      if (!committing) session?.destroy();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      session = await connect(signal);
      const s = session;
      for (const req of requests) {
        signal?.throwIfAborted();
        const tmp = tempPathFor(req.remotePath, req.runId);
        await ensureFolder(s, path.posix.dirname(req.remotePath));
        staged.add(tmp);
        await step(`upload ${tmp}`, () => s.call((sftp, done) => sftp.fastPut(req.localPath, tmp, { concurrency: config.concurrency, chunkSize: 32768, mode }, done)));
        const st = await step(`check ${tmp}`, () => s.call<Stats>((sftp, done) => sftp.stat(tmp, done)));
        if (st.size !== req.bytes) throw new FerryError('upload', `${who}: the uploaded file has ${st.size} bytes, expected ${req.bytes}`, { ...base, field: 'remotePath' });
        await step(`set mode on ${tmp}`, () => s.call((sftp, done) => sftp.chmod(tmp, mode, done)));
      }
      // The last point where an abort is honoured; from here the moves run to the end (see the comment on top).
      signal?.throwIfAborted();
      committing = true;
      for (const req of requests) {
        const tmp = tempPathFor(req.remotePath, req.runId);
        moving = req;
        await step(`move ${tmp} into place at ${req.remotePath}`, () => s.call((sftp, done) => sftp.ext_openssh_rename(tmp, req.remotePath, done)));
        moving = undefined;
        staged.delete(tmp);
        moved.add(req.remotePath);
      }
      if (!signal?.aborted) await removeLeftovers(s, requests);
      return receiptsOf(requests);
    } catch (err) {
      const movingTmp = moving && tempPathFor(moving.remotePath, moving.runId);
      if ((await removeTemps(session, staged, movingTmp)) && moving) {
        moved.add(moving.remotePath);
        // The answer to the last move was lost, but the move happened: every file is in place.
        if (requests.every((r) => moved.has(r.remotePath))) return receiptsOf(requests);
      }
      if (moved.size) ctx.logger?.warn('sftp set partly moved into place', { target, moved: [...moved], files: requests.length });
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await session?.end();
    }
  };

  const deliverAll = async (requests: readonly DeliveryRequest[]): Promise<DeliveryReceipt[]> => {
    const signals = [...new Set(requests.flatMap((r) => (r.signal ? [r.signal] : [])))];
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    const moved = new Set<string>();
    try {
      return await retryWithBackoff(
        async (attempt) => {
          if (attempt > 1) ctx.logger?.warn('sftp delivery retry', { attempt, target });
          return attemptOnce(requests, signal, moved);
        },
        { retries: config.retries, signal, sleep: ctx.sleep },
      );
    } catch (err) {
      if (signal?.aborted && moved.size === 0 && !(isFerryError(err) && err.kind === 'aborted')) {
        throw new FerryError('aborted', `${who}: the delivery to ${target} was stopped before any file was moved into place`, { ...base, cause: err });
      }
      throw err;
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
