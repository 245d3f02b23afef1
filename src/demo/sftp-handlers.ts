import { promises as fs } from 'node:fs';
import type { Dir } from 'node:fs';
import path from 'node:path';
import ssh2 from 'ssh2';
import type { Attributes, FileEntry, SFTPWrapper } from 'ssh2';
import {
  attrsFromStats, Chroot, longname, openFlags, readSshString, RequestError, safeMode, statusForError,
} from './sftp-paths.js';

const { STATUS_CODE } = ssh2.utils.sftp;

export interface SftpLogger {
  info(msg: string, meta?: object): void;
  warn(msg: string, meta?: object): void;
}

export const ADVERTISED_EXTENSIONS: ReadonlyArray<readonly [string, string]> = [
  ['posix-rename@openssh.com', '1'],
  ['fsync@openssh.com', '1'],
];

const READDIR_BATCH = 64;
const MAX_READ = 256 * 1024 - 1024;
const MAX_HANDLES = 256;

interface OpenFile {
  kind: 'file';
  fh: fs.FileHandle;
  pending: Set<Promise<unknown>>;
}
interface OpenDir {
  kind: 'dir';
  dir: Dir;
  local: string;
  pending: Set<Promise<unknown>>;
}
type OpenHandle = OpenFile | OpenDir;

export function attachSftpHandlers(sftp: SFTPWrapper, chroot: Chroot, logger: SftpLogger, session: string): void {
  const handles = new Map<number, OpenHandle>();
  let nextHandle = 1;
  let closed = false;

  const reply = (fn: () => void): void => {
    if (closed) return;
    try {
      fn();
    } catch (err) {
      logger.warn('sftp reply failed', { session, error: (err as Error).message });
    }
  };

  const run = (reqid: number, op: string, target: string | undefined, fn: () => Promise<void>): void => {
    fn().catch((err: unknown) => {
      const { code, message } = statusForError(err);
      if (code !== STATUS_CODE.NO_SUCH_FILE) {
        logger.warn('sftp request failed', {
          session, op, path: target, status: message, errno: (err as NodeJS.ErrnoException).code,
        });
      }
      reply(() => sftp.status(reqid, code, message));
    });
  };

  const ok = (reqid: number): void => reply(() => sftp.status(reqid, STATUS_CODE.OK));

  const addHandle = (entry: OpenHandle): Buffer => {
    const id = nextHandle++;
    handles.set(id, entry);
    const buf = Buffer.alloc(4);
    buf.writeUInt32BE(id >>> 0, 0);
    return buf;
  };

  const lookup = <K extends OpenHandle['kind']>(handle: Buffer, kind: K): Extract<OpenHandle, { kind: K }> => {
    const entry = handle.length === 4 ? handles.get(handle.readUInt32BE(0)) : undefined;
    if (!entry || entry.kind !== kind) throw new RequestError(STATUS_CODE.FAILURE, 'Invalid handle');
    return entry as Extract<OpenHandle, { kind: K }>;
  };

  // Positional writes may run in parallel; CLOSE must wait for those still in flight on the handle.
  const tracked = <T>(entry: OpenHandle, work: Promise<T>): Promise<T> => {
    entry.pending.add(work);
    return work.finally(() => entry.pending.delete(work));
  };

  const ensureCapacity = (): void => {
    if (handles.size >= MAX_HANDLES) throw new RequestError(STATUS_CODE.FAILURE, 'Too many open handles');
  };

  // For operations that act on the directory entry itself; the root entry is never one of them.
  const entryPath = async (p: string): Promise<string> => {
    const { local, virtual } = await chroot.resolve(p, false);
    if (virtual === '/') throw new RequestError(STATUS_CODE.PERMISSION_DENIED, 'Permission denied');
    return local;
  };

  const applyAttrs = async (
    attrs: Partial<Attributes>,
    ops: { chmod(m: number): Promise<void>; truncate(n: number): Promise<void>; utimes(a: number, m: number): Promise<void> },
  ): Promise<void> => {
    if (typeof attrs.size === 'number') await ops.truncate(attrs.size);
    if (typeof attrs.mode === 'number') await ops.chmod(safeMode(attrs.mode, 0o600));
    if (typeof attrs.atime === 'number' && typeof attrs.mtime === 'number') await ops.utimes(attrs.atime, attrs.mtime);
  };

  sftp.on('OPEN', (reqid, filename, pflags, attrs: Partial<Attributes>) => run(reqid, 'open', filename, async () => {
    ensureCapacity();
    const { local } = await chroot.resolve(filename, true);
    const fh = await fs.open(local, openFlags(pflags), safeMode(attrs.mode, 0o600));
    if (closed) {
      await fh.close();
      return;
    }
    const handle = addHandle({ kind: 'file', fh, pending: new Set() });
    reply(() => sftp.handle(reqid, handle));
  }));

  sftp.on('READ', (reqid, handle, offset, length) => run(reqid, 'read', undefined, async () => {
    const entry = lookup(handle, 'file');
    const len = Math.min(length, MAX_READ);
    const buf = Buffer.allocUnsafe(len);
    const { bytesRead } = await tracked(entry, entry.fh.read(buf, 0, len, offset));
    if (bytesRead === 0 && len > 0) {
      reply(() => sftp.status(reqid, STATUS_CODE.EOF));
      return;
    }
    reply(() => sftp.data(reqid, buf.subarray(0, bytesRead)));
  }));

  sftp.on('WRITE', (reqid, handle, offset, data) => run(reqid, 'write', undefined, async () => {
    const entry = lookup(handle, 'file');
    await tracked(entry, (async () => {
      let done = 0;
      while (done < data.length) {
        const { bytesWritten } = await entry.fh.write(data, done, data.length - done, offset + done);
        if (bytesWritten === 0) throw new RequestError(STATUS_CODE.FAILURE, 'Short write');
        done += bytesWritten;
      }
    })());
    ok(reqid);
  }));

  sftp.on('FSTAT', (reqid, handle) => run(reqid, 'fstat', undefined, async () => {
    const entry = lookup(handle, 'file');
    const st = await entry.fh.stat();
    reply(() => sftp.attrs(reqid, attrsFromStats(st)));
  }));

  sftp.on('FSETSTAT', (reqid, handle, attrs: Partial<Attributes>) => run(reqid, 'fsetstat', undefined, async () => {
    const { fh } = lookup(handle, 'file');
    await applyAttrs(attrs, {
      chmod: (m) => fh.chmod(m),
      truncate: (n) => fh.truncate(n),
      utimes: (a, m) => fh.utimes(a, m),
    });
    ok(reqid);
  }));

  sftp.on('CLOSE', (reqid, handle) => run(reqid, 'close', undefined, async () => {
    const id = handle.length === 4 ? handle.readUInt32BE(0) : -1;
    const entry = handles.get(id);
    if (!entry) throw new RequestError(STATUS_CODE.FAILURE, 'Invalid handle');
    handles.delete(id);
    await closeEntry(entry);
    ok(reqid);
  }));

  sftp.on('OPENDIR', (reqid, dirPath) => run(reqid, 'opendir', dirPath, async () => {
    ensureCapacity();
    const { local } = await chroot.resolve(dirPath, true);
    const dir = await fs.opendir(local, { bufferSize: READDIR_BATCH });
    if (closed) {
      await dir.close();
      return;
    }
    const handle = addHandle({ kind: 'dir', dir, local, pending: new Set() });
    reply(() => sftp.handle(reqid, handle));
  }));

  sftp.on('READDIR', (reqid, handle) => run(reqid, 'readdir', undefined, async () => {
    const entry = lookup(handle, 'dir');
    const names: string[] = [];
    await tracked(entry, (async () => {
      while (names.length < READDIR_BATCH) {
        const dirent = await entry.dir.read();
        if (!dirent) break;
        names.push(dirent.name);
      }
    })());
    if (names.length === 0) {
      reply(() => sftp.status(reqid, STATUS_CODE.EOF));
      return;
    }
    const stats = await Promise.all(names.map((n) => fs.lstat(path.join(entry.local, n)).catch(() => undefined)));
    const entries: FileEntry[] = [];
    names.forEach((filename, i) => {
      const st = stats[i];
      if (st) entries.push({ filename, longname: longname(filename, st), attrs: attrsFromStats(st) });
    });
    reply(() => sftp.name(reqid, entries));
  }));

  sftp.on('LSTAT', (reqid, p) => run(reqid, 'lstat', p, async () => {
    const st = await fs.lstat((await chroot.resolve(p, false)).local);
    reply(() => sftp.attrs(reqid, attrsFromStats(st)));
  }));

  sftp.on('STAT', (reqid, p) => run(reqid, 'stat', p, async () => {
    const st = await fs.stat((await chroot.resolve(p, true)).local);
    reply(() => sftp.attrs(reqid, attrsFromStats(st)));
  }));

  sftp.on('SETSTAT', (reqid, p, attrs: Partial<Attributes>) => run(reqid, 'setstat', p, async () => {
    const { local } = await chroot.resolve(p, true);
    await applyAttrs(attrs, {
      chmod: (m) => fs.chmod(local, m),
      truncate: (n) => fs.truncate(local, n),
      utimes: (a, m) => fs.utimes(local, a, m),
    });
    ok(reqid);
  }));

  sftp.on('REMOVE', (reqid, p) => run(reqid, 'remove', p, async () => {
    await fs.unlink(await entryPath(p));
    ok(reqid);
  }));

  sftp.on('RMDIR', (reqid, p) => run(reqid, 'rmdir', p, async () => {
    await fs.rmdir(await entryPath(p));
    ok(reqid);
  }));

  sftp.on('MKDIR', (reqid, p, attrs: Partial<Attributes>) => run(reqid, 'mkdir', p, async () => {
    await fs.mkdir(await entryPath(p), { mode: safeMode(attrs.mode, 0o700) });
    ok(reqid);
  }));

  sftp.on('REALPATH', (reqid, p) => run(reqid, 'realpath', p, async () => {
    let virtual = chroot.virtualPath(p);
    try {
      virtual = chroot.toVirtual(await fs.realpath((await chroot.resolve(p, true)).local));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    reply(() => sftp.name(reqid, [{ filename: virtual, longname: virtual, attrs: {} as Attributes }]));
  }));

  sftp.on('READLINK', (reqid, p) => run(reqid, 'readlink', p, async () => {
    const { local } = await chroot.resolve(p, false);
    const target = await fs.readlink(local);
    const shown = path.isAbsolute(target) ? chroot.toVirtual(target) : target;
    reply(() => sftp.name(reqid, [{ filename: shown, longname: shown, attrs: {} as Attributes }]));
  }));

  sftp.on('RENAME', (reqid, from, to) => run(reqid, 'rename', from, async () => {
    const src = await entryPath(from);
    const dst = await entryPath(to);
    // SFTP v3 rename must not replace: link+unlink is atomic about that (as OpenSSH does);
    // directories cannot be hard-linked, so they fall back to check-then-rename.
    try {
      await fs.link(src, dst);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOENT') throw err;
      const exists = await fs.lstat(dst).then(() => true, () => false);
      if (exists) throw Object.assign(new Error('exists'), { code: 'EEXIST' });
      await fs.rename(src, dst);
      ok(reqid);
      return;
    }
    await fs.unlink(src);
    ok(reqid);
  }));

  sftp.on('EXTENDED', (reqid, extname, buf: Buffer | undefined) => run(reqid, extname, undefined, async () => {
    const data = buf ?? Buffer.alloc(0);
    if (extname === 'posix-rename@openssh.com') {
      const [from, next] = readSshString(data, 0);
      const [to] = readSshString(data, next);
      await fs.rename(await entryPath(from), await entryPath(to));
      ok(reqid);
    } else if (extname === 'fsync@openssh.com') {
      const [, end] = readSshString(data, 0);
      const entry = lookup(data.subarray(4, end), 'file');
      await entry.fh.sync();
      ok(reqid);
    } else {
      throw new RequestError(STATUS_CODE.OP_UNSUPPORTED, 'Unsupported extension');
    }
  }));

  const closeEntry = async (entry: OpenHandle): Promise<void> => {
    await Promise.allSettled([...entry.pending]);
    if (entry.kind === 'file') await entry.fh.close();
    else await entry.dir.close();
  };

  const cleanup = (): void => {
    if (closed) return;
    closed = true;
    const entries = [...handles.values()];
    handles.clear();
    for (const entry of entries) {
      closeEntry(entry).catch((err: unknown) =>
        logger.warn('sftp handle cleanup failed', { session, error: (err as Error).message }));
    }
  };
  sftp.on('end', () => {
    cleanup();
    // The client sent EOF; close our side too, or OpenSSH's client waits forever for it.
    sftp.end();
  });
  sftp.on('close', cleanup);
  sftp.on('error', (err: Error) => {
    logger.warn('sftp protocol error', { session, error: err.message });
    cleanup();
  });
}
