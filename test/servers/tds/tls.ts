/**
 * TLS as SQL Server speaks it. TDS 7.x (MS-TDS 2.2.6.5, `encrypt: true`): after PRELOGIN the TLS handshake travels
 * inside PRELOGIN messages, one server message per client message; once the handshake is done both sides send raw
 * TLS records on the socket. TDS 8.0 (`encrypt: 'strict'`): TLS first, with ALPN "tds/8.0", and PRELOGIN inside it.
 */
import type net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { MessageWriter, PACKET } from './packets.js';

export interface TdsTlsOptions {
  cert: string;
  key: string;
}

/**
 * The encrypted side of a TDS 7.x TLS handshake: what the TLS engine writes goes out wrapped in PRELOGIN messages
 * until the client sends its first raw record (`unwrap()`); then records pass through unchanged.
 */
class PreloginTlsTransport extends Duplex {
  private wrapped = true;
  private out: Buffer[] = [];
  private flushing = false;

  constructor(private readonly raw: net.Socket) {
    super();
  }

  /** Bytes from the client: a PRELOGIN message's payload during the handshake, raw records after it. */
  feed(bytes: Buffer): void {
    this.push(bytes);
  }

  unwrap(): void {
    this.flush();
    this.wrapped = false;
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    if (!this.wrapped) {
      this.raw.write(chunk, (err) => done(err ?? null));
      return;
    }
    // A flight (ServerHello … ServerHelloDone; ChangeCipherSpec, Finished) may come as several writes: one message.
    this.out.push(chunk);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => this.flush());
    }
    done();
  }

  override _final(done: () => void): void {
    this.raw.end();
    done();
  }

  override _destroy(err: Error | null, done: (err: Error | null) => void): void {
    this.raw.destroy();
    done(err);
  }

  private flush(): void {
    this.flushing = false;
    if (this.out.length === 0 || this.raw.destroyed) return;
    const w = new MessageWriter(this.raw, 4096, PACKET.PRELOGIN);
    w.bytes(Buffer.concat(this.out));
    this.out = [];
    w.end();
  }
}

/** TDS 7.x: the server side of TLS inside PRELOGIN, over `raw`. The caller feeds it and switches it with `unwrap()`. */
export function startPreloginTls(raw: net.Socket, opts: TdsTlsOptions): { transport: PreloginTlsTransport; secure: tls.TLSSocket } {
  const transport = new PreloginTlsTransport(raw);
  // tedious caps TDS 7.x TLS at 1.2, as SQL Server before 2022 does.
  const secure = new tls.TLSSocket(transport, { isServer: true, secureContext: tls.createSecureContext({ cert: opts.cert, key: opts.key, maxVersion: 'TLSv1.2' }) });
  raw.on('close', () => transport.destroy());
  return { transport, secure };
}

/** TDS 8.0: TLS from the first byte, over the socket itself. */
export function startStrictTls(raw: net.Socket, opts: TdsTlsOptions): tls.TLSSocket {
  const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: tls.createSecureContext({ cert: opts.cert, key: opts.key }), ALPNProtocols: ['tds/8.0'] });
  return secure;
}

/** A TLS record starts with its content type: 0x16 handshake, 0x17 application data, 0x15 alert, 0x14 ChangeCipherSpec. */
export function isTlsRecord(chunk: Buffer): boolean {
  const t = chunk[0];
  return t !== undefined && t >= 0x14 && t <= 0x17 && chunk[1] === 0x03;
}
