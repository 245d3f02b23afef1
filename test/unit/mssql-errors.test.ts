import sql from 'mssql';
import { describe, expect, it } from 'vitest';
import { classifyMssqlError } from '../../connectors/schooltool/mssql-errors.js';

/**
 * Errors built the way mssql builds them from tedious's: a server error carries `info.number`; mssql copies it to
 * `number` and keeps tedious's error as `originalError` (shapes captured from the TDS test server with the real client).
 */
const serverError = (number: number, message: string) => new sql.RequestError(Object.assign(new Error(message), { code: 'EREQUEST', info: { number, class: 16, state: 1 } }));
const lostError = (code: string, message: string) => new sql.RequestError(Object.assign(new Error(message), { code }));
const connectError = (code: string, message: string) => new sql.ConnectionError(Object.assign(new Error(message), { code }));

describe('SQL Server error table', () => {
  it.each([
    [1205, 'Transaction (Process ID 52) was deadlocked on lock resources with another process and has been chosen as the deadlock victim. Rerun the transaction.'],
    [40613, "Database 'sis' on server 'x' is not currently available. Please retry the connection later."],
    [40197, 'The service has encountered an error processing your request. Please try again.'],
    [40501, 'The service is currently busy. Retry the request after 10 seconds.'],
  ])('server error %i → source_transient', (number, message) => {
    expect(classifyMssqlError(serverError(number, message), 'query')).toMatchObject({ kind: 'source_transient', code: `error ${number}`, showMessage: false });
  });

  it.each([
    ['ECONNRESET', 'socket hang up'],
    ['ESOCKET', 'Connection lost - read ECONNRESET'],
    ['ECONNCLOSED', 'Connection is closed.'],
  ])('a connection lost under a request (%s) → source_transient', (code, message) => {
    expect(classifyMssqlError(lostError(code, message), 'query').kind).toBe('source_transient');
  });

  it('login failed (18456) → source_auth on the password, message shown', () => {
    const err = new sql.ConnectionError(Object.assign(new Error("Login failed for user 'ferry_reader'."), { code: 'ELOGIN' }));
    expect(classifyMssqlError(err, 'connect')).toMatchObject({ kind: 'source_auth', option: 'password', showMessage: true });
    expect(classifyMssqlError(serverError(18456, "Login failed for user 'ferry_reader'."), 'connect')).toMatchObject({ kind: 'source_auth', option: 'password' });
  });

  it.each([
    ['ETIMEOUT', 'Failed to connect to 10.0.0.9:1433 in 15000ms'],
    ['ESOCKET', 'Failed to connect to 127.0.0.1:34509 - Could not connect (sequence)'],
    ['ESOCKET', 'Failed to connect to no-such-host.invalid:1433 - getaddrinfo ENOTFOUND no-such-host.invalid'],
  ])('%s while connecting → source_connect on the host', (code, message) => {
    expect(classifyMssqlError(connectError(code, message), 'connect')).toMatchObject({ kind: 'source_connect', option: 'host' });
  });

  it('a request timeout is source_query on requestTimeoutSeconds, not a connect problem', () => {
    expect(classifyMssqlError(new sql.RequestError('Timeout: Request failed to complete in 60000ms', 'ETIMEOUT'), 'query')).toMatchObject({ kind: 'source_query', option: 'requestTimeoutSeconds' });
  });

  it('compile errors show the server message; data errors never do (they quote the value)', () => {
    expect(classifyMssqlError(serverError(208, "Invalid object name 'dbo.no_such_table'."), 'query')).toMatchObject({ kind: 'source_query', showMessage: true });
    expect(classifyMssqlError(serverError(207, "Invalid column name 'grade'."), 'query')).toMatchObject({ kind: 'source_query', showMessage: true });
    const conversion = classifyMssqlError(serverError(245, "Conversion failed when converting the nvarchar value 'Maria' to data type int."), 'query');
    expect(conversion).toMatchObject({ kind: 'source_query', code: 'error 245', showMessage: false });
    expect(classifyMssqlError(serverError(50000, 'something the server said about a row'), 'query')).toMatchObject({ kind: 'source_query', code: 'error 50000', showMessage: false });
  });
});
