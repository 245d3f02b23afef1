/** Response tokens (MS-TDS 2.2.7) written by the test server. */
import { BufferBuilder, type ByteSink } from './packets.js';
import { COLLATION, prepareValue, writePrepared, writeTypeInfo, type ResultColumn } from './types.js';

export { COLLATION };

export const TOKEN = {
  RETURNSTATUS: 0x79,
  COLMETADATA: 0x81,
  ERROR: 0xaa,
  INFO: 0xab,
  LOGINACK: 0xad,
  ROW: 0xd1,
  ENVCHANGE: 0xe3,
  DONE: 0xfd,
  DONEPROC: 0xfe,
  DONEINPROC: 0xff,
} as const;

/** DONE status bits (2.2.7.6). */
export const DONE = { FINAL: 0x00, MORE: 0x01, ERROR: 0x02, COUNT: 0x10, ATTN: 0x20 } as const;
export const CURCMD_SELECT = 0xc1;

export const ENV = { DATABASE: 1, LANGUAGE: 2, PACKET_SIZE: 4, SQL_COLLATION: 7 } as const;

export const SERVER_NAME = 'FERRY-TDS-TEST';

export interface ServerMessage {
  number: number;
  message: string;
  state?: number;
  class?: number;
  procName?: string;
  line?: number;
}

export function writeDone(w: ByteSink, token: number, status: number, rowCount: number | bigint = 0, curCmd = 0): void {
  w.u8(token);
  w.u16(status);
  w.u16(curCmd);
  w.u64(rowCount); // 8 bytes since TDS 7.2
}

function writeMessage(w: ByteSink, token: number, m: ServerMessage): void {
  const b = new BufferBuilder();
  b.i32(m.number);
  b.u8(m.state ?? 1);
  b.u8(m.class ?? 16);
  b.usVarchar(m.message);
  b.bVarchar(SERVER_NAME);
  b.bVarchar(m.procName ?? '');
  b.i32(m.line ?? 1);
  const body = b.toBuffer();
  w.u8(token);
  w.u16(body.length);
  w.bytes(body);
}

export const writeError = (w: ByteSink, m: ServerMessage): void => writeMessage(w, TOKEN.ERROR, m);
export const writeInfo = (w: ByteSink, m: ServerMessage): void => writeMessage(w, TOKEN.INFO, { class: 0, ...m });

/** ENVCHANGE with B_VARCHAR values (database, language, packet size) or B_VARBYTE values (collation). */
export function writeEnvChange(w: ByteSink, type: number, newValue: string | Buffer, oldValue: string | Buffer): void {
  const b = new BufferBuilder();
  b.u8(type);
  for (const v of [newValue, oldValue]) {
    if (typeof v === 'string') b.bVarchar(v);
    else {
      b.u8(v.length);
      b.bytes(v);
    }
  }
  const body = b.toBuffer();
  w.u8(TOKEN.ENVCHANGE);
  w.u16(body.length);
  w.bytes(body);
}

/** LOGINACK: interface SQL_TSQL, TDS 7.4 (written big-endian, as 2.2.7.14 shows it), program name and version. */
export function writeLoginAck(w: ByteSink, version: readonly [number, number, number]): void {
  const b = new BufferBuilder();
  b.u8(1);
  b.bytes(Buffer.from([0x74, 0x00, 0x00, 0x04]));
  b.bVarchar('Microsoft SQL Server');
  b.u8(version[0]);
  b.u8(version[1]);
  b.u8((version[2] >> 8) & 0xff);
  b.u8(version[2] & 0xff);
  const body = b.toBuffer();
  w.u8(TOKEN.LOGINACK);
  w.u16(body.length);
  w.bytes(body);
}

export function writeReturnStatus(w: ByteSink, value: number): void {
  w.u8(TOKEN.RETURNSTATUS);
  w.i32(value);
}

export function writeColMetadata(w: ByteSink, columns: readonly ResultColumn[]): void {
  w.u8(TOKEN.COLMETADATA);
  w.u16(columns.length);
  for (const col of columns) {
    w.u32(0); // user type
    w.u16(0x0001 | 0x0008); // nullable, read/write
    writeTypeInfo(w, col.type);
    w.bVarchar(col.name);
  }
}

/** Converts a row's values first, so a value SQL Server would refuse raises an error before any byte of the row is sent. */
export function prepareRow(columns: readonly ResultColumn[], row: readonly unknown[]): unknown[] {
  return columns.map((col, i) => prepareValue(col.type, row[i]));
}

export function writeRow(w: ByteSink, columns: readonly ResultColumn[], prepared: readonly unknown[]): void {
  w.u8(TOKEN.ROW);
  for (let i = 0; i < columns.length; i++) writePrepared(w, columns[i]!.type, prepared[i]);
}
