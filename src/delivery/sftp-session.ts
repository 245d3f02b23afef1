import ssh2 from 'ssh2';
import type { ConnectConfig, SFTPWrapper } from 'ssh2';

/** SFTP status codes (draft-ietf-secsh-filexfer-02), as ssh2 puts them on `err.code`. */
export const SFTP_STATUS = { noSuchFile: 2, permissionDenied: 3 } as const;

/** The connection went away while a request waited (or before it was sent). */
export class SftpConnectionLost extends Error {
  readonly code = 'ECONNLOST';
  constructor(reason: string) {
    super(`the SFTP connection was lost (${reason})`);
    this.name = 'SftpConnectionLost';
  }
}

export interface SftpSession {
  readonly closed: boolean;
  /**
   * One SFTP request. Rejects at once when the connection is already gone and as soon as it goes while the request
   * waits: ssh2 silently drops requests on a closed channel, so without this a request could wait forever.
   */
  call<T = void>(start: (sftp: SFTPWrapper, done: (err: Error | null | undefined, value?: T) => void) => void): Promise<T>;
  /** Cut the connection now: every pending request fails. Used for abort and for deadlines. */
  destroy(): void;
  /** Close politely; resolves once the socket is closed (or at once if it already is). */
  end(): Promise<void>;
}

/**
 * Connect and open the SFTP subsystem. The raw ssh2 error is thrown (the caller knows the destination and names it);
 * `signal` stops the attempt and rejects with its reason.
 */
export function openSftpSession(options: ConnectConfig, signal?: AbortSignal): Promise<SftpSession> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const conn = new ssh2.Client();
    let closed = false;
    let settled = false;
    const pending = new Set<(err: Error) => void>();
    const closedWaiters: (() => void)[] = [];
    const onAbort = () => {
      conn.destroy();
      settle(signal!.reason);
    };
    const settle = (err: unknown, session?: SftpSession) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (session) resolve(session);
      else {
        conn.destroy();
        reject(err);
      }
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    conn.on('error', (err) => {
      settle(err);
      for (const fail of [...pending]) fail(new SftpConnectionLost(err.message));
    });
    conn.on('close', () => {
      closed = true;
      settle(new SftpConnectionLost('closed before the SFTP session started'));
      for (const fail of [...pending]) fail(new SftpConnectionLost('connection closed'));
      for (const w of closedWaiters.splice(0)) w();
    });
    conn.on('ready', () => {
      conn.sftp((err, sftp) => {
        if (err) return settle(err);
        settle(undefined, {
          get closed() {
            return closed;
          },
          call: <T>(start: (s: SFTPWrapper, done: (err: Error | null | undefined, value?: T) => void) => void) =>
            new Promise<T>((res, rej) => {
              if (closed) return rej(new SftpConnectionLost('connection closed'));
              const fail = (e: Error) => {
                pending.delete(fail);
                rej(e);
              };
              pending.add(fail);
              try {
                start(sftp, (e, value) => {
                  if (!pending.delete(fail)) return;
                  if (e) rej(e);
                  else res(value as T);
                });
              } catch (e) {
                fail(e as Error);
              }
            }),
          destroy: () => conn.destroy(),
          end: () =>
            new Promise<void>((res) => {
              if (closed) return res();
              closedWaiters.push(res);
              conn.end();
              // A server that never answers the disconnect must not hold the caller.
              setTimeout(() => conn.destroy(), 5_000).unref();
            }),
        });
      });
    });
    try {
      conn.connect(options);
    } catch (err) {
      // ssh2 throws synchronously for a key it cannot parse.
      settle(err);
    }
  });
}
