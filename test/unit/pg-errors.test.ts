import net from 'node:net';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { classifyPgError } from '../../connectors/postgres/pg-errors.js';
import { freePort } from '../helpers/postgres.js';

/** An ErrorResponse as node-postgres's protocol parser builds it: a DatabaseError with the server's severity and SQLSTATE. */
const serverError = (code: string, message: string, severity = 'ERROR') => Object.assign(new pg.DatabaseError(message, message.length, 'error'), { code, severity });
/** A socket error as Node raises it. */
const socketError = (code: string, syscall: string) => Object.assign(new Error(`${syscall} ${code}`), { code, errno: -1, syscall });

describe('PostgreSQL error table', () => {
  it.each([
    ['40001', 'could not serialize access due to concurrent update', 'source_transient'],
    ['40P01', 'deadlock detected', 'source_transient'],
    ['57P01', 'terminating connection due to administrator command', 'source_transient'],
    ['57P02', 'terminating connection because of crash of another server process', 'source_transient'],
    ['57P03', 'the database system is starting up', 'source_transient'],
    ['08006', 'connection failure', 'source_transient'],
    ['08001', 'could not connect', 'source_transient'],
    ['08003', 'connection does not exist', 'source_transient'],
    ['42P01', 'relation "students" does not exist', 'source_query'],
    ['42703', 'column "grade" does not exist', 'source_query'],
    ['22P02', 'invalid input syntax for type integer: "Maria"', 'source_query'],
    ['22008', 'date/time field value out of range: "2027-02-30"', 'source_query'],
    ['57014', 'canceling statement due to statement timeout', 'source_query'],
    ['XX000', 'internal error', 'source_query'],
  ] as const)('SQLSTATE %s mid-query → %s', (code, message, kind) => {
    expect(classifyPgError(serverError(code, message), 'query')).toMatchObject({ kind, code, sqlstate: true });
  });

  it.each([
    ['28P01', 'password authentication failed for user "ferry"', 'source_auth', 'password'],
    ['28000', 'no pg_hba.conf entry for host "10.0.0.9"', 'source_auth', 'password'],
    ['3D000', 'database "sis" does not exist', 'source_auth', 'database'],
    ['57P03', 'the database system is shutting down', 'source_transient', undefined],
    ['53300', 'sorry, too many clients already', 'source_transient', undefined],
  ] as const)('SQLSTATE %s at login → %s', (code, message, kind, option) => {
    const c = classifyPgError(serverError(code, message, 'FATAL'), 'connect');
    expect([c.kind, c.option]).toEqual([kind, option]);
  });

  it('a refused connection, as node-postgres reports it from a closed port, is source_connect on the host', async () => {
    const port = await freePort();
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'x', password: 'y', database: 'z' });
    const err = await client.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(classifyPgError(err, 'connect')).toMatchObject({ kind: 'source_connect', code: 'ECONNREFUSED', sqlstate: false, option: 'host' });
  });

  it.each(['ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET'])('%s while connecting → source_connect', (code) => {
    expect(classifyPgError(socketError(code, 'connect'), 'connect').kind).toBe('source_connect');
  });

  it.each([
    ['read ECONNRESET', socketError('ECONNRESET', 'read')],
    ['write EPIPE', socketError('EPIPE', 'write')],
    ['Connection terminated unexpectedly', new Error('Connection terminated unexpectedly')],
    ['Client has encountered a connection error and is not queryable', new Error('Client has encountered a connection error and is not queryable')],
  ])('a connection lost mid-query (%s) → source_transient', (_what, err) => {
    expect(classifyPgError(err, 'query').kind).toBe('source_transient');
  });

  it('a 5-letter errno (EPIPE) is not mistaken for a SQLSTATE', () => {
    expect(classifyPgError(socketError('EPIPE', 'write'), 'query')).toMatchObject({ kind: 'source_transient', sqlstate: false });
    expect(classifyPgError(socketError('EPIPE', 'write'), 'connect')).toMatchObject({ kind: 'source_connect', sqlstate: false });
  });

  it('a real socket reset on a live connection is classified as lost', async () => {
    const server = net.createServer((s) => s.resetAndDestroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const err = await new Promise<Error>((resolve) => {
      const sock = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
      sock.on('error', resolve);
    });
    server.close();
    expect((err as NodeJS.ErrnoException).code).toBe('ECONNRESET');
    expect(classifyPgError(err, 'query').kind).toBe('source_transient');
  });
});
