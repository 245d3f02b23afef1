/** The protocol on one client connection, after the socket is accepted: handshake, requests, cancellation. */
import type net from 'node:net';
import { MessageReader, MessageWriter, PACKET, type Message } from './packets.js';
import { buildPreloginResponse, ENCRYPT, negotiatePacketSize, parseLogin7, parsePreloginEncryption, writeLoginFailure, writeLoginSuccess } from './prelogin-login.js';
import { isTlsRecord, startPreloginTls, startStrictTls } from './tls.js';
import { parseRpc, parseSqlBatch, type BindValue } from './requests.js';
import type { ReceivedLogin, ReceivedStatement, TdsFaultPlan, TdsServerOptions } from './server.js';
import { isSetOnly, SqlSession, toSqlError } from './sqlite-session.js';
import { CURCMD_SELECT, DONE, prepareRow, TOKEN, writeColMetadata, writeDone, writeError, writeReturnStatus, writeRow } from './tokens.js';

/** What a connection reports to the server it belongs to. */
export interface ServerContext {
  readonly opts: TdsServerOptions;
  readonly faults: TdsFaultPlan;
  readonly version: readonly [number, number, number];
  onAttention(): void;
  onStall(): void;
  onStatement(s: ReceivedStatement): void;
  onLogin(l: ReceivedLogin): void;
  /** Every LOGIN7 message, before its credentials are checked. */
  onLogin7(): void;
}

/** One client connection: PRELOGIN, LOGIN7, then requests one at a time; ATTENTION is handled the moment it arrives. */
export class TdsConnection {
  private phase: 'prelogin' | 'tls-handshake' | 'login' | 'ready' = 'prelogin';
  /** What responses are written to: the accepted socket, or the TLS socket over it once encryption starts. */
  private socket: net.Socket;
  private readonly reader: MessageReader;
  private tls: ReturnType<typeof startPreloginTls> | undefined;
  /** Whether the client's bytes now arrive as raw TLS records (after the handshake, or from the start in TDS 8.0). */
  private rawTls = false;
  private encrypted = false;
  private seenBytes = false;
  private packetSize = 4096;
  private session: SqlSession | undefined;
  private chain: Promise<void> = Promise.resolve();
  private requestsPending = 0;
  private attention = false;

  constructor(
    private readonly raw: net.Socket,
    private readonly ctx: ServerContext,
  ) {
    this.socket = raw;
    this.reader = new MessageReader((m) => this.onMessage(m));
    const onData = (chunk: Buffer) => {
      try {
        this.onRawData(chunk, onData);
      } catch {
        raw.destroy();
      }
    };
    raw.on('data', onData);
    raw.on('error', () => {
      /* the client went away; 'close' follows */
    });
    // The database handle is closed only after the request in progress has let go of its cursor.
    raw.on('close', () => {
      this.chain = this.chain.then(() => this.session?.close());
    });
  }

  private onRawData(chunk: Buffer, onData: (chunk: Buffer) => void): void {
    const first = !this.seenBytes;
    this.seenBytes = true;
    const tlsOpts = this.ctx.opts.tls;
    if (first && tlsOpts && isTlsRecord(chunk)) {
      // TDS 8.0: a ClientHello before anything else. The TLS socket takes over reading from the raw one.
      this.raw.off('data', onData);
      this.raw.pause();
      this.raw.unshift(chunk);
      const secure = startStrictTls(this.raw, tlsOpts);
      secure.on('error', () => this.raw.destroy());
      secure.on('data', (c: Buffer) => this.pushMessages(c));
      this.socket = secure;
      this.encrypted = true;
      return;
    }
    if (this.tls && !this.rawTls && this.phase === 'tls-handshake' && this.reader.idle() && isTlsRecord(chunk)) {
      // The client finished the handshake and now sends raw records (LOGIN7 first).
      this.rawTls = true;
      this.tls.transport.unwrap();
    }
    if (this.rawTls) this.tls!.transport.feed(chunk);
    else this.reader.push(chunk);
  }

  private pushMessages(chunk: Buffer): void {
    try {
      this.reader.push(chunk);
    } catch {
      this.raw.destroy();
    }
  }

  private onMessage(m: Message): void {
    if (m.type === PACKET.ATTENTION) {
      this.ctx.onAttention();
      // A request in progress (or queued) stops and answers first; with nothing running, acknowledge at once.
      if (this.requestsPending > 0) this.attention = true;
      else this.acknowledgeAttention();
      return;
    }
    const isRequest = m.type === PACKET.SQL_BATCH || m.type === PACKET.RPC;
    if (isRequest) this.requestsPending++;
    this.chain = this.chain
      .then(() => this.handle(m))
      .catch(() => {
        this.socket.destroy(); // a malformed message: drop the connection, as SQL Server does
      })
      .finally(() => {
        if (!isRequest) return;
        this.requestsPending--;
        // The response to the cancelled request has ended (EOM); the acknowledgement is a message of its own.
        if (this.attention) {
          this.attention = false;
          this.acknowledgeAttention();
        }
      });
  }

  private async handle(m: Message): Promise<void> {
    if (this.socket.destroyed) return;
    if (this.phase === 'prelogin' && m.type === PACKET.PRELOGIN) {
      const tlsOpts = this.ctx.opts.tls;
      // With a certificate the server insists on TLS (as "Force Encryption" does): ON to a client that asks, REQ otherwise.
      const asked = parsePreloginEncryption(m.payload);
      const answer = !tlsOpts ? ENCRYPT.NOT_SUP : this.encrypted || asked === ENCRYPT.ON || asked === ENCRYPT.REQ ? ENCRYPT.ON : ENCRYPT.REQ;
      const w = new MessageWriter(this.socket, this.packetSize);
      w.bytes(buildPreloginResponse(this.ctx.version, answer));
      w.end();
      if (tlsOpts && !this.encrypted) {
        this.tls = startPreloginTls(this.raw, tlsOpts);
        this.tls.secure.on('error', () => this.raw.destroy());
        this.tls.secure.on('data', (c: Buffer) => this.pushMessages(c));
        this.tls.secure.on('secure', () => (this.encrypted = true));
        this.socket = this.tls.secure;
        this.phase = 'tls-handshake';
      } else this.phase = 'login';
      return;
    }
    if (this.phase === 'tls-handshake' && m.type === PACKET.PRELOGIN) {
      this.tls!.transport.feed(m.payload);
      return;
    }
    if (this.phase !== 'ready' && m.type === PACKET.LOGIN7) {
      this.ctx.onLogin7();
      // A client that did not finish TLS gets no login (SQL Server drops it the same way).
      if (this.ctx.opts.tls && !this.encrypted) throw new Error('LOGIN7 before TLS');
      return this.login(m.payload);
    }
    if (this.phase !== 'ready') throw new Error(`unexpected message 0x${m.type.toString(16)} before login`);
    if (m.ignore) return this.respond('', {}, false); // the client abandoned this request part-way
    if (m.type === PACKET.SQL_BATCH) {
      const sql = parseSqlBatch(m.payload);
      this.ctx.onStatement({ kind: 'batch', statement: sql, declaration: '', values: {} });
      return this.respond(sql, {}, false);
    }
    if (m.type === PACKET.RPC) {
      let call;
      try {
        call = parseRpc(m.payload);
      } catch (err) {
        return this.respondError(toSqlError(err));
      }
      if (call.procedure.toLowerCase() !== 'sp_executesql') {
        return this.respondError(toSqlError(new Error(`Could not find stored procedure '${call.procedure}'.`)), 2812);
      }
      this.ctx.onStatement({ kind: 'rpc', statement: call.statement, declaration: call.declaration, values: call.values });
      return this.respond(call.statement, call.values, true);
    }
    return this.respondError(toSqlError(new Error('Transactions and bulk load are not supported by the TDS test server.')));
  }

  private login(payload: Buffer): void {
    const login = parseLogin7(payload);
    const w = new MessageWriter(this.socket, this.packetSize);
    if (login.userName !== this.ctx.opts.user || login.password !== this.ctx.opts.password) {
      writeLoginFailure(w, login.userName);
      w.end();
      this.socket.end();
      return;
    }
    const database = login.database || 'master';
    try {
      this.session = new SqlSession({ path: this.ctx.opts.db, database, serverVersion: this.ctx.opts.serverVersion ?? '16.0.4135.4', columnTypes: this.ctx.opts.columnTypes });
    } catch {
      writeError(w, { number: 4060, class: 11, message: `Cannot open database "${database}" requested by the login. The login failed.` });
      writeDone(w, TOKEN.DONE, DONE.ERROR);
      w.end();
      this.socket.end();
      return;
    }
    this.packetSize = negotiatePacketSize(login.packetSize);
    writeLoginSuccess(w, { database, packetSize: this.packetSize, version: this.ctx.version });
    w.end();
    this.phase = 'ready';
    this.ctx.onLogin({ user: login.userName, database, appName: login.appName, readOnlyIntent: login.readOnlyIntent, packetSize: this.packetSize, encrypted: this.encrypted });
  }

  /**
   * Runs one statement and streams its result: COLMETADATA, ROW…, then DONE (batch) or DONEINPROC, RETURNSTATUS,
   * DONEPROC (sp_executesql). Rows go out packet by packet as the socket drains. An ATTENTION ends the response early;
   * its acknowledgement (DONE with DONE_ATTN) then follows as a message of its own (see onMessage), as tedious expects.
   */
  private async respond(sql: string, params: Readonly<Record<string, BindValue>>, inProc: boolean): Promise<void> {
    const w = new MessageWriter(this.socket, this.packetSize, PACKET.TABULAR_RESULT, this.ctx.onStall);
    let status: number = DONE.FINAL;
    let count = 0;
    try {
      if (!this.attention && !isSetOnly(sql)) {
        const run = this.session!.execute(sql, params);
        status = DONE.COUNT;
        if (run.kind === 'count') count = run.count;
        else {
          writeColMetadata(w, run.columns);
          const faults = this.ctx.faults;
          for (const row of run.rows) {
            writeRow(w, run.columns, prepareRow(run.columns, row));
            count++;
            await w.pace();
            if (this.attention || this.socket.destroyed) break;
            if (faults.dropAfterRows === count) {
              delete faults.dropAfterRows;
              // The full packets already written reach the client first, then the connection ends mid-result.
              this.socket.end();
              return;
            }
            const fault = faults.errorAfterRows;
            if (fault?.rows === count) {
              delete faults.errorAfterRows;
              writeError(w, { number: fault.number, class: fault.class ?? 13, message: fault.message, procName: inProc ? 'sp_executesql' : '' });
              status |= DONE.ERROR;
              break;
            }
          }
        }
      }
    } catch (err) {
      const e = toSqlError(err);
      writeError(w, { number: e.number, message: e.message, procName: inProc ? 'sp_executesql' : '' });
      status |= DONE.ERROR;
    }
    if (this.socket.destroyed) return;
    if (inProc) {
      writeDone(w, TOKEN.DONEINPROC, status | DONE.MORE, count, CURCMD_SELECT);
      writeReturnStatus(w, 0);
      writeDone(w, TOKEN.DONEPROC, status & DONE.ERROR);
    } else {
      writeDone(w, TOKEN.DONE, status, count, CURCMD_SELECT);
    }
    w.end();
  }

  private respondError(e: { number: number; message: string }, number = e.number): void {
    const w = new MessageWriter(this.socket, this.packetSize);
    writeError(w, { number, message: e.message });
    writeDone(w, TOKEN.DONE, DONE.ERROR);
    w.end();
  }

  private acknowledgeAttention(): void {
    if (this.socket.destroyed) return;
    const w = new MessageWriter(this.socket, this.packetSize);
    writeDone(w, TOKEN.DONE, DONE.ATTN);
    w.end();
  }
}
