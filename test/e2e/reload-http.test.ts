import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { ferry, startDaemonProcess, type DaemonProcess } from '../helpers/cli.js';
import { makeDemoConfigDir } from '../helpers/demo-config.js';
import { freePort } from '../helpers/postgres.js';

/** A webhook receiver that answers 200 and resolves `posts(n)` once n posts in all have come. */
async function startHook(): Promise<{ url: string; posts(n: number): Promise<void>; close(): Promise<void> }> {
  let count = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      count++;
      for (const w of waiters.filter((x) => count >= x.n)) w.resolve();
      res.end('1');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/hook`,
    posts: (n) => (count >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A running daemon: its loopback HTTP endpoint, and `ferry reload` / SIGHUP with a good and a bad configuration. */
describe('ferry daemon: reload and the HTTP endpoint (spawned)', () => {
  const daemons: DaemonProcess[] = [];
  afterAll(() => {
    for (const d of daemons) d.child.kill('SIGKILL');
  });

  it('serves /healthz and /metrics on loopback, reloads a valid config, and refuses an invalid one while it keeps running', async () => {
    const cfg = await makeDemoConfigDir({ cron: '0 2 * * *' });
    const d = startDaemonProcess(cfg.dir);
    daemons.push(d);
    const listening = await d.waitFor((l) => l.message === 'http endpoint listening', 'the http endpoint');
    expect(listening.host).toBe('127.0.0.1');
    await d.waitFor((l) => l.message === 'daemon started', 'daemon started');
    const base = `http://127.0.0.1:${String(listening.port)}`;
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', store: 'ok' });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('# TYPE ferry_runs_total counter');
    expect(metrics).toContain('ferry_scheduler_last_tick_timestamp_seconds');

    // A second integration appears in the config: `ferry reload` checks it and signals the daemon.
    const file = path.join(cfg.dir, 'integrations', 'hilltop-csd.yaml');
    const doc = YAML.parse(fs.readFileSync(file, 'utf8')) as { integrations: Record<string, unknown>[] };
    doc.integrations.push({ ...doc.integrations[0], id: 'hilltop-second', remotePath: '{district}/second/students.csv' });
    fs.writeFileSync(file, YAML.stringify(doc));
    const reload = await ferry(['reload', '--config', cfg.dir]);
    expect(reload.code, reload.stderr).toBe(0);
    expect(reload.stdout).toMatch(/^sent SIGHUP to 1 daemon \(pid \d+\)/);
    const reloaded = await d.waitFor((l) => l.message === 'configuration reloaded', 'configuration reloaded');
    expect(reloaded.integrations).toBe(2);

    // A broken config: `ferry reload` refuses to signal; a SIGHUP anyway is refused by the daemon, which logs why.
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace("cron: '0 2 * * *'", "cron: '0 25 * * *'").replace('cron: 0 2 * * *', 'cron: 0 25 * * *'));
    const refused = await ferry(['reload', '--config', cfg.dir]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('not reloaded');
    expect(refused.stderr).toContain('schedule.cron');
    d.child.kill('SIGHUP');
    await d.waitFor((l) => l.message === 'reload refused: the new configuration has problems; the running one stays', 'the refusal');
    const problem = await d.waitFor((l) => l.message === 'config problem', 'the problem line');
    expect(String(problem.problem)).toContain('schedule.cron');
    // Still alive and healthy on the old configuration.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
    // The pid file is gone with the daemon: reload finds nobody to signal.
    fs.writeFileSync(file, YAML.stringify(doc));
    const nobody = await ferry(['reload', '--config', cfg.dir]);
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toContain('no daemon is running');
  });

  it('a reload changes the log level at once, and the log and `ferry reload` say which settings need a restart', async () => {
    const hook = await startHook();
    // Every second a run fails (its folder is a file) and the alerter posts to the webhook; it logs the post at debug.
    const cfg = await makeDemoConfigDir({
      extraFerry: {
        destinations: { blocked: { kind: 'local', basePath: '../var/blocked' } },
        alerts: { on: ['failed'], webhook: { url: { env: 'FERRY_TEST_RELOAD_HOOK' } } },
      },
      integrations: [
        {
          id: 'hilltop-blocked',
          extract: 'clever-students',
          source: 'demo-sis',
          destination: 'blocked',
          remotePath: '{district}/students.csv',
          schedule: { cron: '* * * * * *', timezone: 'UTC' },
          params: { districtId: 'hilltop-csd', asOf: '2026-11-23', schoolYear: 2027, grades: 'K-5' },
          inventory: { vendor: 'Clever', contact: 'SIS Admin', purpose: 'Rostering' },
          retry: false,
        },
      ],
    });
    fs.mkdirSync(cfg.dataDir, { recursive: true });
    fs.writeFileSync(path.join(cfg.dataDir, 'blocked'), 'not a folder\n');
    const d = startDaemonProcess(cfg.dir, { FERRY_TEST_RELOAD_HOOK: hook.url });
    daemons.push(d);
    try {
      const listening = await d.waitFor((l) => l.message === 'http endpoint listening', 'the http endpoint');
      await d.waitFor((l) => l.message === 'daemon started', 'daemon started');
      // Two posts: the first send has finished (and been logged, at a level that hides it) before the second starts.
      await hook.posts(2);
      expect(d.lines.filter((l) => l.level === 'debug')).toEqual([]);

      const file = path.join(cfg.dir, 'ferry.yaml');
      const doc = YAML.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
      const newPort = await freePort();
      fs.writeFileSync(file, YAML.stringify({ ...doc, logLevel: 'debug', http: { host: '127.0.0.1', port: newPort } }));
      const reload = await ferry(['reload', '--config', cfg.dir]);
      expect(reload.code, reload.stderr).toBe(0);
      const pid = String(d.child.pid);
      expect(reload.stdout).toContain(`daemon ${pid}: configuration reloaded; applied: logLevel\n`);
      expect(reload.stdout).toContain(`daemon ${pid}: configuration reloaded; these settings need a restart to take effect: http.port\n`);
      // The daemon's answer to the CLI, next to its pid file, readable by its user only.
      expect(fs.statSync(path.join(cfg.dataDir, 'run', `ferryd-${pid}.reload.json`)).mode & 0o777).toBe(0o600);

      const reloaded = await d.waitFor((l) => l.message === 'configuration reloaded', 'configuration reloaded');
      expect(reloaded).toMatchObject({ level: 'info', applied: ['logLevel'], needsRestart: ['http.port'] });
      await d.waitFor(
        (l) => l.level === 'warn' && l.message === 'configuration reloaded; these settings need a restart to take effect: http.port',
        'the needs-restart warning',
      );
      // The alerter's logger was made at start; it writes debug lines now.
      const at = d.lines.indexOf(reloaded);
      const debug = await d.waitFor((l) => l.level === 'debug' && l.message === 'alert webhook sent', 'a debug line', 60_000);
      expect(d.lines.indexOf(debug)).toBeGreaterThan(at);
      expect(debug.component).toBe('alerts');
      // The endpoint stays where it was bound until a restart.
      expect((await fetch(`http://127.0.0.1:${String(listening.port)}/healthz`)).status).toBe(200);
      d.child.kill('SIGTERM');
      expect(await d.exited).toBe(0);
    } finally {
      await hook.close();
    }
  });
});
