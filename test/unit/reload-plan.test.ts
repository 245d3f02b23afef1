import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { loadConfig } from '../../src/config/loader.js';
import type { FerryConfig } from '../../src/config/model.js';
import { needsRestartSentence, planReload } from '../../src/config/reload-plan.js';
import { makeDemoConfigDir } from '../helpers/demo-config.js';

const NOW = new Date('2026-11-23T15:00:00Z');

/** The demo config as the daemon started with it, and the same folder after `edit` changed ferry.yaml. */
async function beforeAndAfter(edit: (ferry: Record<string, unknown>) => void): Promise<{ old: FerryConfig; next: FerryConfig }> {
  const cfg = await makeDemoConfigDir();
  const old = loadConfig(cfg.dir, NOW);
  const file = path.join(cfg.dir, 'ferry.yaml');
  const doc = YAML.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(doc);
  fs.writeFileSync(file, YAML.stringify(doc));
  return { old, next: loadConfig(cfg.dir, NOW) };
}

describe('planReload', () => {
  it('nothing changed: nothing applied, nothing to restart', async () => {
    const { old, next } = await beforeAndAfter(() => undefined);
    expect(next).not.toBe(old); // loaded twice: equal by value, not by identity
    const plan = planReload(old, next);
    expect(plan.applied).toEqual([]);
    expect(plan.needsRestart).toEqual([]);
  });

  it('applies live settings and lists the rest by path, keeping their running values in force', async () => {
    const { old, next } = await beforeAndAfter((f) => {
      f.logLevel = 'debug';
      f.concurrency = { global: 9, perSource: 2, perDestinationHost: 3 };
      f.alerts = { webhook: { url: { env: 'FERRY_TEST_RELOAD_WEBHOOK' } } };
      f.http = { host: '127.0.0.1', port: 19750 };
      f.scheduler = { pollSeconds: 30 };
      f.shutdownGraceSeconds = 60;
    });
    const plan = planReload(old, next);
    expect([...plan.applied].sort()).toEqual(['alerts', 'concurrency.global', 'concurrency.perDestinationHost', 'logLevel', 'shutdownGraceSeconds']);
    expect([...plan.needsRestart].sort()).toEqual(['http.port', 'scheduler.pollSeconds']);
    expect(plan.config.logLevel).toBe('debug');
    expect(plan.config.concurrency).toEqual({ global: 9, perSource: 2, perDestinationHost: 3 });
    expect(plan.config.alerts).toEqual(next.alerts);
    // What the daemon still runs with: the port it bound, the poll interval it set.
    expect(plan.config.http).toEqual(old.http);
    expect(plan.config.scheduler).toEqual(old.scheduler);
    expect(plan.config.integrations).toBe(next.integrations);
    expect(Object.isFrozen(plan.config)).toBe(true);
    expect(needsRestartSentence(plan.needsRestart)).toBe('configuration reloaded; these settings need a restart to take effect: scheduler.pollSeconds, http.port');
  });

  it('turning the HTTP endpoint off, moving the store or the data folder, or dropping the demo needs a restart', async () => {
    const { old, next } = await beforeAndAfter((f) => {
      f.http = false;
      f.store = { sqlite: { path: '../elsewhere/ferry.sqlite' } };
      f.dataDir = '../var2';
      delete f.demo;
    });
    const plan = planReload(old, next);
    expect([...plan.needsRestart].sort()).toEqual(['dataDir', 'demo', 'http', 'logDir', 'receiptsDir', 'store']);
    // The spool and baseline folders follow the data folder, and are read at each run.
    expect([...plan.applied].sort()).toEqual(['baselineDir', 'spoolDir']);
    expect(plan.config.http).toEqual(old.http);
    expect(plan.config.store).toEqual(old.store);
    expect(plan.config.dataDir).toBe(old.dataDir);
    expect(plan.config.demo).toEqual(old.demo);
  });

  it('an integration, source or district edit is applied live', async () => {
    const cfg = await makeDemoConfigDir();
    const old = loadConfig(cfg.dir, NOW);
    const file = path.join(cfg.dir, 'integrations', 'hilltop-csd.yaml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('(DEMO)', '(demo data)').replace('0 2 * * *', '0 3 * * *'));
    const plan = planReload(old, loadConfig(cfg.dir, NOW));
    expect([...plan.applied].sort()).toEqual(['districts', 'integrations']);
    expect(plan.needsRestart).toEqual([]);
  });
});
