import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemonProcess, type DaemonProcess } from '../helpers/cli.js';
import { makeDemoConfigDir } from '../helpers/demo-config.js';
import { startOwnPostgres, type PostgresServer } from '../helpers/postgres.js';

/**
 * Issue 9, item 12: in a PostgreSQL outage knex printed "Acquire connection error" stack traces straight to the daemon's
 * stdout, between its JSON log lines (314 lines in one outage). The daemon runs here on its own PostgreSQL server, which
 * is stopped under it; everything it prints on stdout must still be one JSON object a line.
 */
describe('the daemon’s stdout stays one JSON log stream when its PostgreSQL run store goes away', () => {
  let pgServer: PostgresServer;
  let daemon: DaemonProcess | undefined;

  beforeAll(async () => {
    // Its own server, not the run's shared one: this test stops it.
    pgServer = await startOwnPostgres();
  });
  afterAll(async () => {
    daemon?.child.kill('SIGKILL');
    await pgServer?.stop();
  });

  it('logs the outage as JSON lines (the driver’s warnings one line each, no stack) and prints nothing else', async () => {
    const cfg = await makeDemoConfigDir({
      // A seconds field that matches once a year: the scheduler ticks every second and nothing runs.
      cron: '30 0 2 1 1 *',
      extraFerry: { logLevel: 'debug', store: { postgres: { url: { env: 'LOG_STREAM_STORE_URL' } } }, scheduler: { pollSeconds: 1, heartbeatSeconds: 1 } },
    });
    const d = startDaemonProcess(cfg.dir, { LOG_STREAM_STORE_URL: pgServer.url });
    daemon = d;
    let stdout = '';
    d.child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    await d.waitFor((l) => l.message === 'daemon started', 'daemon started');

    await pgServer.stop();
    const TICK_FAILED = 'scheduler tick failed; due slots stay pending and are tried again at the next tick';
    const UNREACHABLE = 'store unreachable: runs go on, and what they record waits until it is back';
    const driverWarnings = () => d.lines.filter((l) => l.message === 'run store driver warning').length;
    await d.waitFor((l) => l.message === TICK_FAILED, 'a failed scheduler tick');
    await d.waitFor((l) => l.message === UNREACHABLE, 'the store reported unreachable');
    // Several more ticks and heartbeats fail (each begins with knex failing to get a connection).
    await d.waitFor((l) => l.message === 'run store driver warning' && driverWarnings() >= 6, 'six driver warnings');
    d.child.kill('SIGINT');
    await d.exited;

    const lines = stdout.split('\n').filter((line) => line !== '');
    expect(lines.length).toBeGreaterThan(0);
    const notJson = lines.filter((line) => {
      try {
        return typeof JSON.parse(line) !== 'object';
      } catch {
        return true;
      }
    });
    expect(notJson).toEqual([]);
    expect(stdout).not.toMatch(/^\s+at /m);
    // Each failed tick began with knex failing to get a connection: that warning is in the stream, as one line.
    const acquire = d.lines.filter((l) => l.message === 'run store driver warning' && String(l.detail).startsWith('Acquire connection error: '));
    expect(acquire.length).toBeGreaterThan(0);
    // Said by knex at every attempt, so kept at debug: the outage itself is told once, below.
    expect(acquire[0]).toMatchObject({ level: 'debug', component: 'store' });
    // The outage is told once, in one sentence each, not at every tick or heartbeat.
    expect(d.lines.filter((l) => l.message === TICK_FAILED)).toHaveLength(1);
    expect(d.lines.filter((l) => l.message === UNREACHABLE)).toHaveLength(1);
  });
});
