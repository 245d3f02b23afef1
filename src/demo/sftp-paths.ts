import { constants as fsc, promises as fs } from 'node:fs';
import type { Stats } from 'node:fs';
import path from 'node:path';
import ssh2 from 'ssh2';
import type { Attributes } from 'ssh2';

const { OPEN_MODE, STATUS_CODE } = ssh2.utils.sftp;

/** Raised when a client path would leave the served root. */
export class ChrootEscapeError extends Error {
  readonly code = 'ECHROOT';
  constructor() {
    super('Path escapes the served root');
  }
}

function errnoError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

export interface ResolvedPath {
  /** Normalised path as the client sees it, always absolute. */
  virtual: string;
  /** Local path with every directory component resolved; safe to hand to fs. */
  local: string;
}

export class Chroot {
  constructor(readonly realRoot: string) {}

  /** Normalises a client path (relative paths are relative to "/"); refuses any `..` above "/". */
  virtualPath(clientPath: string): string {
    if (clientPath.includes('\0')) throw errnoError('EINVAL', 'NUL byte in path');
    const relative = path.posix.normalize(clientPath.replace(/^\/+/, '') || '.');
    if (relative === '..' || relative.startsWith('../')) throw new ChrootEscapeError();
    const trimmed = relative.replace(/\/+$/, '');
    return trimmed === '.' || trimmed === '' ? '/' : `/${trimmed}`;
  }

  toVirtual(localReal: string): string {
    const rel = path.relative(this.realRoot, localReal);
    if (rel === '') return '/';
    if (!this.contains(localReal)) throw new ChrootEscapeError();
    return `/${rel.split(path.sep).join('/')}`;
  }

  contains(localReal: string): boolean {
    const rel = path.relative(this.realRoot, localReal);
    return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
  }

  /**
   * Resolves a client path to a local one. The parent directory is realpath'd and must lie inside
   * the root. With `follow`, a symlink in the last component is resolved too and must also stay
   * inside (a dangling symlink is refused, since creating through it could write outside).
   */
  async resolve(clientPath: string, follow: boolean): Promise<ResolvedPath> {
    const virtual = this.virtualPath(clientPath);
    if (virtual === '/') return { virtual, local: this.realRoot };
    const segments = virtual.slice(1).split('/');
    const name = segments.pop() as string;
    const parentReal = await fs.realpath(path.join(this.realRoot, ...segments));
    if (!this.contains(parentReal)) throw new ChrootEscapeError();
    const local = path.join(parentReal, name);
    if (!follow) return { virtual, local };

    let stat: Stats;
    try {
      stat = await fs.lstat(local);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { virtual, local };
      throw err;
    }
    if (!stat.isSymbolicLink()) return { virtual, local };
    let target: string;
    try {
      target = await fs.realpath(local);
    } catch {
      throw new ChrootEscapeError();
    }
    if (!this.contains(target)) throw new ChrootEscapeError();
    return { virtual, local: target };
  }
}

export class RequestError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export function openFlags(pflags: number): number {
  const read = (pflags & OPEN_MODE.READ) !== 0;
  const write = (pflags & OPEN_MODE.WRITE) !== 0;
  let flags = read && write ? fsc.O_RDWR : write ? fsc.O_WRONLY : fsc.O_RDONLY;
  if (pflags & OPEN_MODE.CREAT) flags |= fsc.O_CREAT;
  if (pflags & OPEN_MODE.TRUNC) flags |= fsc.O_TRUNC;
  if (pflags & OPEN_MODE.EXCL) flags |= fsc.O_EXCL;
  if (pflags & OPEN_MODE.APPEND) flags |= fsc.O_APPEND;
  // The last component was resolved already; refuse a symlink swapped in since then.
  return flags | fsc.O_NOFOLLOW;
}

export function readSshString(buf: Buffer, offset: number): [string, number] {
  if (offset + 4 > buf.length) throw new RequestError(STATUS_CODE.BAD_MESSAGE, 'Malformed request');
  const len = buf.readUInt32BE(offset);
  const end = offset + 4 + len;
  if (end > buf.length) throw new RequestError(STATUS_CODE.BAD_MESSAGE, 'Malformed request');
  return [buf.toString('utf8', offset + 4, end), end];
}

export function statusForError(err: unknown): { code: number; message: string } {
  if (err instanceof RequestError) return { code: err.status, message: err.message };
  if (err instanceof ChrootEscapeError) return { code: STATUS_CODE.PERMISSION_DENIED, message: 'Permission denied' };
  switch ((err as NodeJS.ErrnoException | undefined)?.code) {
    case 'ENOENT':
      return { code: STATUS_CODE.NO_SUCH_FILE, message: 'No such file' };
    case 'EACCES':
    case 'EPERM':
      return { code: STATUS_CODE.PERMISSION_DENIED, message: 'Permission denied' };
    case 'EEXIST':
      return { code: STATUS_CODE.FAILURE, message: 'File exists' };
    case 'ENOTEMPTY':
      return { code: STATUS_CODE.FAILURE, message: 'Directory not empty' };
    case 'ENOTDIR':
      return { code: STATUS_CODE.FAILURE, message: 'Not a directory' };
    case 'EISDIR':
      return { code: STATUS_CODE.FAILURE, message: 'Is a directory' };
    default:
      return { code: STATUS_CODE.FAILURE, message: 'Failure' };
  }
}

export function attrsFromStats(st: Stats): Attributes {
  return {
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
    size: st.size,
    atime: Math.floor(st.atimeMs / 1000),
    mtime: Math.floor(st.mtimeMs / 1000),
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function typeChar(st: Stats): string {
  if (st.isDirectory()) return 'd';
  if (st.isSymbolicLink()) return 'l';
  if (st.isCharacterDevice()) return 'c';
  if (st.isBlockDevice()) return 'b';
  if (st.isFIFO()) return 'p';
  if (st.isSocket()) return 's';
  return '-';
}

function permString(mode: number): string {
  const bits = 'rwxrwxrwx';
  let out = '';
  for (let i = 0; i < 9; i++) out += mode & (1 << (8 - i)) ? bits[i] : '-';
  return out;
}

/** `ls -l` style line, as OpenSSH's server puts in SSH_FXP_NAME longname. */
export function longname(name: string, st: Stats): string {
  const d = st.mtime;
  const sixMonthsMs = 182 * 24 * 3600 * 1000;
  const recent = Math.abs(Date.now() - d.getTime()) < sixMonthsMs;
  const day = String(d.getDate()).padStart(2, ' ');
  const when = recent
    ? `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`
    : String(d.getFullYear()).padStart(5, ' ');
  const size = String(st.size).padStart(8, ' ');
  return `${typeChar(st)}${permString(st.mode)} ${String(st.nlink).padStart(3)} ${String(st.uid).padEnd(8)} ${String(st.gid).padEnd(8)} ${size} ${MONTHS[d.getMonth()]} ${day} ${when} ${name}`;
}

/** Client-supplied permissions, minus setuid/setgid/sticky and any group/world write bit. */
export function safeMode(mode: number | undefined, fallback: number): number {
  return typeof mode === 'number' ? mode & 0o755 : fallback;
}
