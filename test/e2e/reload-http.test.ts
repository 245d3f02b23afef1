import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { ferry, startDaemonProcess, type DaemonProcess } from '../helpers/cli.js';
import { makeDemoConfigDir } from '../helpers/demo-config.js';

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
});
