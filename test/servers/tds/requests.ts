/** Client requests: SQL batch (MS-TDS 2.2.6.7) and RPC (2.2.6.6), with typed parameter values (2.2.5.4–2.2.5.5). */
import { PayloadReader } from './packets.js';
import { dateFromDays, SqlError } from './types.js';

/** A value SQLite can bind. */
export type BindValue = number | bigint | string | null;

export interface RpcCall {
  readonly procedure: string;
  /** For sp_executesql: the statement, its parameter declaration (`@a int, @b nvarchar(10)`) and the values by name. */
  readonly statement: string;
  readonly declaration: string;
  readonly values: Readonly<Record<string, BindValue>>;
}

/** Every request since TDS 7.2 starts with ALL_HEADERS (2.2.5.3): a total length, then the headers; none matter here. */
function skipAllHeaders(r: PayloadReader): void {
  const total = r.buf.length >= 4 ? r.buf.readUInt32LE(0) : 0;
  if (total >= 4 && total <= r.buf.length) r.pos = total;
}

export function parseSqlBatch(payload: Buffer): string {
  const r = new PayloadReader(payload);
  skipAllHeaders(r);
  return r.take(r.remaining).toString('utf16le');
}

const PROC_NAMES: Record<number, string> = { 10: 'sp_executesql', 11: 'sp_prepare', 12: 'sp_execute', 13: 'sp_prepexec', 15: 'sp_unprepare' };

export function parseRpc(payload: Buffer): RpcCall {
  const r = new PayloadReader(payload);
  skipAllHeaders(r);
  const nameLength = r.u16();
  const procedure = nameLength === 0xffff ? (PROC_NAMES[r.u16()] ?? 'unknown') : r.take(nameLength * 2).toString('utf16le');
  r.u16(); // option flags
  const params: { name: string; value: BindValue }[] = [];
  while (r.remaining > 0) {
    const name = r.bVarchar();
    r.u8(); // status flags (output parameters are not supported)
    params.push({ name: name.replace(/^@/, ''), value: readTypedValue(r) });
  }
  if (procedure.toLowerCase() !== 'sp_executesql') return { procedure, statement: '', declaration: '', values: {} };
  const [statement, declaration, ...rest] = params;
  // Values may come by name or by position; positions follow the declaration.
  const declared = [...String(declaration?.value ?? '').matchAll(/@([A-Za-z_#][\w@#$]*)/g)].map((m) => m[1]!);
  const values: Record<string, BindValue> = {};
  rest.forEach((p, i) => {
    const name = p.name || declared[i];
    if (name) values[name] = p.value;
  });
  return { procedure, statement: String(statement?.value ?? ''), declaration: String(declaration?.value ?? ''), values };
}

/** TYPE_INFO followed by the value, for the types the mssql driver sends; decoded to what SQLite compares correctly. */
function readTypedValue(r: PayloadReader): BindValue {
  const type = r.u8();
  switch (type) {
    case 0x26: // INTN: tinyint, smallint, int, bigint
    case 0x68: { // BITN
      r.u8(); // maximum length
      const length = r.u8();
      if (length === 0) return null;
      const n = BigInt.asIntN(length * 8, r.uintN(length));
      // A bigint, so SQLite binds an INTEGER: better-sqlite3 binds a JS number as REAL, and `CONCAT(@year - 1, '')`
      // would then read 2026.0 where SQL Server's int reads 2026.
      return length === 1 && type === 0x26 ? BigInt.asUintN(8, n) : n;
    }
    case 0x6d: { // FLTN
      r.u8();
      const length = r.u8();
      if (length === 0) return null;
      const b = r.take(length);
      return length === 4 ? b.readFloatLE(0) : b.readDoubleLE(0);
    }
    case 0xe7: // NVARCHAR
    case 0xef: // NCHAR
    case 0xa7: // BIGVARCHR
    case 0xaf: { // BIGCHAR
      const maxLength = r.u16();
      r.take(5); // collation
      const bytes = maxLength === 0xffff ? readPlp(r) : readUsVarbyte(r);
      if (bytes === null) return null;
      return type === 0xe7 || type === 0xef ? bytes.toString('utf16le') : bytes.toString('latin1');
    }
    case 0x28: { // DATEN
      const length = r.u8();
      return length === 0 ? null : dateFromDays(Number(r.uintN(3)));
    }
    case 0x2a: { // DATETIME2N
      const scale = r.u8();
      const length = r.u8();
      if (length === 0) return null;
      const time = r.uintN(length - 3);
      const date = dateFromDays(Number(r.uintN(3)));
      return `${date}T${formatTime(time, scale)}`;
    }
    case 0x6a: // DECIMALN
    case 0x6c: { // NUMERICN
      r.u8();
      r.u8(); // precision
      const scale = r.u8();
      const length = r.u8();
      if (length === 0) return null;
      const sign = r.u8() === 1 ? 1 : -1;
      const digits = r.uintN(length - 1).toString().padStart(scale + 1, '0');
      return sign * Number(`${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale) || '0'}`);
    }
    default:
      throw new SqlError(8016, `The incoming tabular data stream (TDS) remote procedure call (RPC) protocol stream is incorrect. Parameter type 0x${type.toString(16)} is not supported by this test server.`);
  }
}

function readUsVarbyte(r: PayloadReader): Buffer | null {
  const length = r.u16();
  return length === 0xffff ? null : r.take(length);
}

/** PLP (2.2.5.2.3): an 8-byte total (all ones for NULL), then chunks each with a 4-byte length, ending with a zero length. */
function readPlp(r: PayloadReader): Buffer | null {
  const total = r.u64();
  if (total === 0xffffffffffffffffn) return null;
  const chunks: Buffer[] = [];
  for (let length = r.u32(); length !== 0; length = r.u32()) chunks.push(r.take(length));
  return Buffer.concat(chunks);
}

/** Time of day from units of 10^-scale seconds: HH:MM:SS[.fraction]. */
function formatTime(units: bigint, scale: number): string {
  const perSecond = 10n ** BigInt(scale);
  const seconds = Number(units / perSecond);
  const fraction = scale > 0 ? (units % perSecond).toString().padStart(scale, '0').replace(/0+$/, '') : '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor(seconds / 60) % 60)}:${pad(seconds % 60)}${fraction ? `.${fraction}` : ''}`;
}
