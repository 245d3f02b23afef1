/** PRELOGIN (MS-TDS 2.2.6.5) and LOGIN7 (2.2.6.4): the handshake before any query. */
import type { ByteSink } from './packets.js';
import { COLLATION, DONE, ENV, TOKEN, writeDone, writeEnvChange, writeError, writeInfo, writeLoginAck } from './tokens.js';

const PL = { VERSION: 0x00, ENCRYPTION: 0x01, INSTOPT: 0x02, THREADID: 0x03, MARS: 0x04, TERMINATOR: 0xff } as const;
/** The ENCRYPTION option's values (2.2.6.5). NOT_SUP: this server speaks cleartext only. */
export const ENCRYPT = { OFF: 0x00, ON: 0x01, NOT_SUP: 0x02, REQ: 0x03 } as const;

/** The server's PRELOGIN reply: version, the encryption answer, instance OK, thread id, no MARS. */
export function buildPreloginResponse(version: readonly [number, number, number], encryption: number = ENCRYPT.NOT_SUP): Buffer {
  const options: [number, Buffer][] = [
    [PL.VERSION, Buffer.from([version[0], version[1], (version[2] >> 8) & 0xff, version[2] & 0xff, 0, 0])],
    [PL.ENCRYPTION, Buffer.from([encryption])],
    [PL.INSTOPT, Buffer.from([0])],
    [PL.THREADID, Buffer.from([0, 0, 0, 1])],
    [PL.MARS, Buffer.from([0])],
  ];
  const headerLength = options.length * 5 + 1;
  const header = Buffer.alloc(headerLength);
  let offset = headerLength;
  options.forEach(([token, data], i) => {
    header[i * 5] = token;
    header.writeUInt16BE(offset, i * 5 + 1);
    header.writeUInt16BE(data.length, i * 5 + 3);
    offset += data.length;
  });
  header[headerLength - 1] = PL.TERMINATOR;
  return Buffer.concat([header, ...options.map(([, data]) => data)]);
}

/** The client's ENCRYPTION option from its PRELOGIN message (OFF when absent). */
export function parsePreloginEncryption(payload: Buffer): number {
  for (let at = 0; at + 5 <= payload.length && payload[at] !== PL.TERMINATOR; at += 5) {
    if (payload[at] === PL.ENCRYPTION) return payload[payload.readUInt16BE(at + 1)] ?? ENCRYPT.OFF;
  }
  return ENCRYPT.OFF;
}

export interface Login7 {
  readonly tdsVersion: number;
  readonly packetSize: number;
  readonly readOnlyIntent: boolean;
  readonly hostName: string;
  readonly userName: string;
  readonly password: string;
  readonly appName: string;
  readonly serverName: string;
  readonly database: string;
}

/** Parses the fixed part of LOGIN7 and the strings it points to (offsets and lengths in UTF-16 code units). */
export function parseLogin7(payload: Buffer): Login7 {
  const text = (at: number, scramble = false): string => {
    const offset = payload.readUInt16LE(at);
    const chars = payload.readUInt16LE(at + 2);
    const bytes = Buffer.from(payload.subarray(offset, offset + chars * 2));
    // The client swapped each byte's nibbles and XORed it with 0xA5 (2.2.6.4); undo it in reverse order.
    if (scramble) for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]! ^ 0xa5;
      bytes[i] = ((b & 0x0f) << 4) | (b >> 4);
    }
    return bytes.toString('utf16le');
  };
  return {
    tdsVersion: payload.readUInt32LE(4),
    packetSize: payload.readUInt32LE(8),
    readOnlyIntent: (payload[26]! & 0x20) !== 0,
    hostName: text(36),
    userName: text(40),
    password: text(44, true),
    appName: text(48),
    serverName: text(52),
    database: text(68),
  };
}

/** What a successful login returns, in SQL Server's order: database, collation, language, LOGINACK, packet size, DONE. */
export function writeLoginSuccess(w: ByteSink, login: { database: string; packetSize: number; version: readonly [number, number, number] }): void {
  writeEnvChange(w, ENV.DATABASE, login.database, 'master');
  writeInfo(w, { number: 5701, state: 2, message: `Changed database context to '${login.database}'.` });
  writeEnvChange(w, ENV.SQL_COLLATION, COLLATION, Buffer.alloc(0));
  writeEnvChange(w, ENV.LANGUAGE, 'us_english', '');
  writeInfo(w, { number: 5703, state: 1, message: 'Changed language setting to us_english.' });
  writeLoginAck(w, login.version);
  writeEnvChange(w, ENV.PACKET_SIZE, String(login.packetSize), String(login.packetSize));
  writeDone(w, TOKEN.DONE, DONE.FINAL);
}

/** Login failed (error 18456, class 14): SQL Server does not say whether the user or the password was wrong. */
export function writeLoginFailure(w: ByteSink, userName: string): void {
  writeError(w, { number: 18456, state: 1, class: 14, message: `Login failed for user '${userName}'.` });
  writeDone(w, TOKEN.DONE, DONE.ERROR);
}

/** The packet size both sides use from now on: the client's request, within what SQL Server accepts. */
export function negotiatePacketSize(requested: number): number {
  if (!requested) return 4096;
  return Math.min(32767, Math.max(512, requested));
}
