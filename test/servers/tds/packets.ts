/**
 * TDS packets (MS-TDS 2.2.3): an 8-byte header (type, status, big-endian length, SPID, packet id, window)
 * and up to the negotiated packet size of payload. A message is one or more packets; the last carries EOM.
 */
import type { Socket } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';

export const PACKET = {
  SQL_BATCH: 0x01,
  RPC: 0x03,
  TABULAR_RESULT: 0x04,
  ATTENTION: 0x06,
  TRANSACTION_MANAGER: 0x0e,
  LOGIN7: 0x10,
  PRELOGIN: 0x12,
} as const;

const STATUS_EOM = 0x01;
const STATUS_IGNORE = 0x02;
export const HEADER_LENGTH = 8;

export interface Message {
  readonly type: number;
  /** The client gave up on this message before finishing it (MS-TDS 2.2.3.1.2): discard it. */
  readonly ignore: boolean;
  readonly payload: Buffer;
}

/** Reassembles packets read from a socket into messages. ATTENTION is a message of its own, reported the moment it arrives. */
export class MessageReader {
  private pending: Buffer = Buffer.alloc(0);
  private parts: Buffer[] = [];
  private partsType = -1;

  constructor(private readonly onMessage: (message: Message) => void) {}

  /** No partial packet or message is waiting for more bytes. */
  idle(): boolean {
    return this.pending.length === 0 && this.parts.length === 0;
  }

  push(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= HEADER_LENGTH) {
      const length = this.pending.readUInt16BE(2);
      if (length < HEADER_LENGTH) throw new Error(`malformed TDS packet: length ${length}`);
      if (this.pending.length < length) return;
      const type = this.pending[0]!;
      const status = this.pending[1]!;
      const body = Buffer.from(this.pending.subarray(HEADER_LENGTH, length));
      this.pending = this.pending.subarray(length);
      if (type === PACKET.ATTENTION) {
        this.onMessage({ type, ignore: false, payload: body });
        continue;
      }
      if (this.parts.length === 0) this.partsType = type;
      this.parts.push(body);
      if (status & STATUS_EOM) {
        const payload = Buffer.concat(this.parts);
        this.parts = [];
        this.onMessage({ type: this.partsType, ignore: (status & STATUS_IGNORE) !== 0, payload });
      }
    }
  }
}

/** Little-endian writing primitives shared by the packet writer and the in-memory builder. */
export abstract class ByteSink {
  private readonly scratch = Buffer.alloc(8);
  abstract bytes(buf: Buffer, length?: number): void;

  u8(v: number): void {
    this.scratch[0] = v & 0xff;
    this.bytes(this.scratch, 1);
  }
  u16(v: number): void {
    this.scratch.writeUInt16LE(v, 0);
    this.bytes(this.scratch, 2);
  }
  u32(v: number): void {
    this.scratch.writeUInt32LE(v >>> 0, 0);
    this.bytes(this.scratch, 4);
  }
  i32(v: number): void {
    this.scratch.writeInt32LE(v, 0);
    this.bytes(this.scratch, 4);
  }
  u64(v: bigint | number): void {
    this.scratch.writeBigUInt64LE(BigInt(v), 0);
    this.bytes(this.scratch, 8);
  }
  i64(v: bigint): void {
    this.scratch.writeBigInt64LE(v, 0);
    this.bytes(this.scratch, 8);
  }
  f64(v: number): void {
    this.scratch.writeDoubleLE(v, 0);
    this.bytes(this.scratch, 8);
  }
  /** Unsigned little-endian integer of `width` bytes (up to 16), from a bigint. */
  uintN(v: bigint, width: number): void {
    for (let i = 0; i < width; i++) this.u8(Number((v >> BigInt(8 * i)) & 0xffn));
  }
  ucs2(s: string): void {
    this.bytes(Buffer.from(s, 'utf16le'));
  }
  /** B_VARCHAR: a one-byte count of UTF-16 code units, then the text. */
  bVarchar(s: string): void {
    this.u8(s.length);
    this.ucs2(s);
  }
  /** US_VARCHAR: a two-byte count of UTF-16 code units, then the text. */
  usVarchar(s: string): void {
    this.u16(s.length);
    this.ucs2(s);
  }
}

/** Collects bytes in memory: for tokens that start with their own length. */
export class BufferBuilder extends ByteSink {
  private readonly chunks: Buffer[] = [];
  bytes(buf: Buffer, length = buf.length): void {
    this.chunks.push(Buffer.from(buf.subarray(0, length)));
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** How many full packets may go out before the writer lets the event loop run (to see ATTENTION, close, the client's reads). */
const PACKETS_PER_TURN = 16;

/**
 * Writes one response message as packets of the negotiated size, straight to the socket: a packet leaves as soon as it
 * is full, and only the last one carries EOM. `pace()` waits for 'drain' when the socket is backed up, so a large result
 * never sits in memory.
 */
export class MessageWriter extends ByteSink {
  private packet: Buffer;
  private pos = HEADER_LENGTH;
  private packetId = 1;
  private sinceTurn = 0;
  private backedUp = false;

  constructor(
    private readonly socket: Socket,
    private readonly packetSize: number,
    private readonly type: number = PACKET.TABULAR_RESULT,
    /** Called each time the writer has to wait for the client to read. */
    private readonly onStall?: () => void,
  ) {
    super();
    this.packet = Buffer.allocUnsafe(packetSize);
  }

  bytes(buf: Buffer, length = buf.length): void {
    let off = 0;
    while (off < length) {
      // A full packet is sent only when more bytes follow, so the final packet is always the one end() marks EOM.
      if (this.pos === this.packetSize) this.send(false);
      const n = Math.min(length - off, this.packetSize - this.pos);
      buf.copy(this.packet, this.pos, off, off + n);
      this.pos += n;
      off += n;
    }
  }

  /** Sends the last packet of the message (EOM). */
  end(): void {
    this.send(true);
  }

  async pace(): Promise<void> {
    if (this.backedUp && !this.socket.destroyed) {
      this.onStall?.();
      await new Promise<void>((resolve) => {
        const done = () => {
          this.socket.off('drain', done);
          this.socket.off('close', done);
          resolve();
        };
        this.socket.on('drain', done);
        this.socket.on('close', done);
      });
      this.backedUp = false;
      this.sinceTurn = 0;
    } else if (this.sinceTurn >= PACKETS_PER_TURN) {
      this.sinceTurn = 0;
      await nextTurn();
    }
  }

  private send(last: boolean): void {
    const packet = this.packet.subarray(0, this.pos);
    packet[0] = this.type;
    packet[1] = last ? STATUS_EOM : 0;
    packet.writeUInt16BE(this.pos, 2);
    packet.writeUInt16BE(0, 4); // SPID
    packet[6] = this.packetId;
    packet[7] = 0; // window
    if (!this.socket.destroyed && !this.socket.write(packet)) this.backedUp = true;
    this.packetId = (this.packetId + 1) % 256;
    this.sinceTurn++;
    this.packet = Buffer.allocUnsafe(this.packetSize);
    this.pos = HEADER_LENGTH;
  }
}

/** Reads the little-endian fields of a request payload. */
export class PayloadReader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  get remaining(): number {
    return this.buf.length - this.pos;
  }
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new Error('truncated TDS payload');
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }
  take(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  /** Unsigned little-endian integer of `width` bytes. */
  uintN(width: number): bigint {
    const b = this.take(width);
    let v = 0n;
    for (let i = width - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    return v;
  }
  bVarchar(): string {
    return this.take(this.u8() * 2).toString('utf16le');
  }
}
