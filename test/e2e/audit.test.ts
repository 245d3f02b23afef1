import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/loader.js';
import { configDigest } from '../../src/governance/config-digest.js';
import { E2E_USER, ferry, startDaemonProcess } from '../helpers/cli.js';
import { makeDemoConfigDir, type DemoConfigDir } from '../helpers/demo-config.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg-database.js';

/** The audit log through the spawned CLI and daemon: several processes appending at once, tampering, config changes. */

interface Entry {
  id: number;
  at: string;
  who: string;
  action: string;
  integration: string | null;
  district: string | null;
  what: string;
  why: string | null;
  ticket: string | null;
  configDigest: string | null;
  details: Record<string, unknown> | null;
}

/** Each test spawns the CLI many times, seconds each on a busy 2-core machine. */
const SLOW = 300_000;
const ID = 'hilltop-clever-students';

async function entries(cfg: DemoConfigDir, ...filters: string[]): Promise<Entry[]> {
  const r = await ferry(['audit', '--json', ...filters, '--config', cfg.dir]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Entry[];
}

/** Six enable/disable commands at once, each its own process: one chain, every entry in it, `verify` says intact. */
async function burst(cfg: DemoConfigDir, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const c = ['--config', cfg.dir];
  const results = await Promise.all(
    Array.from({ length: 6 }, (_, n) => (n % 2 ? ferry(['enable', ID, '--ticket', `INC-${n}`, ...c], { env }) : ferry(['disable', ID, '--reason', `pause ${n}`, '--ticket', `INC-${n}`, ...c], { env }))),
  );
  for (const r of results) expect(r.code, r.stderr).toBe(0);
  const log = JSON.parse((await ferry(['audit', '--json', ...c], { env })).stdout) as Entry[];
  expect(log.map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 6]);
  expect(log.map((e) => e.ticket).sort()).toEqual(['INC-0', 'INC-1', 'INC-2', 'INC-3', 'INC-4', 'INC-5']);
  for (const e of log) {
    expect(e.who).toBe(E2E_USER);
    expect(e).toMatchObject(Number(e.ticket!.slice(4)) % 2 ? { action: 'enable', what: `enabled ${ID}`, why: null } : { action: 'disable', what: `disabled ${ID}`, why: `pause ${e.ticket!.slice(4)}` });
  }
  const verify = await ferry(['audit', 'verify', ...c], { env });
  expect(verify.stderr).toBe('');
  expect(verify.stdout).toMatch(/^audit log intact: 6 entries, each matching its hash and following the one before; last hash [0-9a-f]{64}\n$/);
  expect(verify.code).toBe(0);
}

describe('the audit log (spawned CLI, SQLite store)', () => {
  let cfg: DemoConfigDir;
  const c = () => ['--config', cfg.dir];
  beforeAll(async () => {
    cfg = await makeDemoConfigDir();
    // The store exists before the burst, as it does on any host that has run Ferry once.
    expect((await ferry(['audit', ...c()])).stdout).toBe('no audit entries match\n');
  }, SLOW);

  it('keeps one intact chain when several processes append at once', { timeout: SLOW }, async () => {
    await burst(cfg);
  });

  it('records runs (dry runs as such) with the config digest, which their run records carry too, and previews with their row count; filters work', { timeout: SLOW }, async () => {
    const digest = configDigest(loadConfig(cfg.dir));
    expect((await ferry(['run', ID, '--dry-run', '--ticket', 'INC-9', ...c()])).code).toBe(0);
    const preview = await ferry(['preview', ID, '-n', '3', ...c()]);
    expect(preview.code).toBe(0);
    expect(preview.stdout.trim().split('\n')).toHaveLength(4); // the header and three rows

    const log = await entries(cfg, '--integration', ID, '--since', '1d');
    const [dry, seen] = log.slice(-2);
    expect(dry).toMatchObject({ action: 'dry-run', who: E2E_USER, district: 'hilltop-csd', what: `asked to run ${ID} as a dry run (nothing delivered)`, ticket: 'INC-9', configDigest: digest });
    expect(seen).toMatchObject({ action: 'preview', what: `previewed 3 rows of ${ID}`, details: { rows: 3, limit: 3 }, configDigest: digest });
    // No row value reaches the log: the preview's rows are on stdout and nowhere in the entry.
    const firstRow = preview.stdout.split('\n')[1]!;
    expect(JSON.stringify(seen)).not.toContain(firstRow.split(',')[0]);

    const runs = JSON.parse((await ferry(['history', ID, '--json', ...c()])).stdout) as { dryRun: boolean; configDigest: string }[];
    expect(runs[0]).toMatchObject({ dryRun: true, configDigest: digest });

    expect(await entries(cfg, '--district', 'riverbend-ufsd')).toEqual([]);
    expect(await entries(cfg, '--integration', 'nobody')).toEqual([]);
    expect((await entries(cfg, '--since', '2099-01-01'))).toEqual([]);
    expect((await entries(cfg, '--district', 'hilltop-csd')).length).toBe(log.length);
    const bad = await ferry(['audit', '--since', 'last week', ...c()]);
    expect(bad).toMatchObject({ code: 2, stderr: 'ferry: --since "last week" is not a date (2026-12-01), a time (2026-12-01T08:00:00Z) or an age (7d, 12h)\n' });

    const text = await ferry(['audit', '--integration', ID, ...c()]);
    expect(text.stdout).toContain(`#1 `);
    expect(text.stdout).toMatch(new RegExp(`^#\\d+ \\S+ \\S+Z ${E2E_USER.replace(/[()]/g, '\\$&')} dry-run ${ID}: asked to run ${ID} as a dry run \\(nothing delivered\\) \\(ticket INC-9\\)$`, 'm'));
  });

  it('names the first entry someone changed in the store, in one sentence, with exit 1', { timeout: SLOW }, async () => {
    const before = await entries(cfg);
    const target = before[1]!;
    const db = new Database(path.join(cfg.dataDir, 'ferry.sqlite'));
    try {
      expect(() => db.prepare("UPDATE audit SET what = 'enabled nothing' WHERE id = 2").run()).toThrow(/append-only/);
      db.exec('DROP TRIGGER audit_no_update');
      db.prepare("UPDATE audit SET what = 'enabled nothing' WHERE id = 2").run();
    } finally {
      db.close();
    }
    const r = await ferry(['audit', 'verify', ...c()]);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`ferry: audit entry 2 (${target.at.slice(0, 16).replace('T', ' ')} UTC, ${target.action} ${ID}) does not match its hash: it was changed after it was written\n`);
    expect(r.code).toBe(1);
  });
});

describe('the audit log on PostgreSQL (spawned CLI)', () => {
  let db: TestDatabase;
  let cfg: DemoConfigDir;
  beforeAll(async () => {
    db = await createTestDatabase('audit_e2e');
    cfg = await makeDemoConfigDir({ extraFerry: { store: { postgres: { url: { env: 'AUDIT_STORE_URL' } } } } });
    expect((await ferry(['audit', '--config', cfg.dir], { env: { AUDIT_STORE_URL: db.url } })).code).toBe(0);
  }, SLOW);
  afterAll(() => db?.drop());

  it('keeps one intact chain when several processes append at once', { timeout: SLOW }, async () => {
    await burst(cfg, { AUDIT_STORE_URL: db.url });
  });
});

describe('configuration changes at daemon start and reload (spawned daemon)', () => {
  it('records the configuration at start and names the integration a reload added, with each digest', { timeout: SLOW }, async () => {
    const cfg = await makeDemoConfigDir();
    const daemon = startDaemonProcess(cfg.dir);
    try {
      await daemon.waitFor((l) => l.message === 'daemon started', 'its start', 120_000);
      const first = await entries(cfg);
      expect(first).toHaveLength(1);
      expect(first[0]).toMatchObject({ id: 1, action: 'config', configDigest: configDigest(loadConfig(cfg.dir)) });
      expect(first[0]!.what).toMatch(/^configuration first recorded at daemon start: .*1 integrations/);
      expect(first[0]!.who).toMatch(/ \(daemon pid \d+\)$/);

      const file = path.join(cfg.dir, 'integrations', 'hilltop-csd.yaml');
      const doc = YAML.parse(fs.readFileSync(file, 'utf8')) as { integrations: Record<string, unknown>[] };
      doc.integrations.push({ ...doc.integrations[0], id: 'hilltop-clever-copy', remotePath: '{district}/copy/students.csv' });
      fs.writeFileSync(file, YAML.stringify(doc));
      const reload = await ferry(['reload', '--ticket', 'CHG-12', '--config', cfg.dir]);
      expect(reload.code, reload.stderr).toBe(0);

      const log = await entries(cfg);
      expect(log.map((e) => e.action)).toEqual(['config', 'reload', 'config']);
      expect(log[1]).toMatchObject({ who: E2E_USER, ticket: 'CHG-12', configDigest: configDigest(loadConfig(cfg.dir)) });
      expect(log[2]).toMatchObject({ what: 'configuration changed at reload: integrations added: hilltop-clever-copy', configDigest: configDigest(loadConfig(cfg.dir)) });
      expect((await entries(cfg, '--integration', 'hilltop-clever-copy')).map((e) => e.id)).toEqual([3]);
    } finally {
      daemon.child.kill('SIGTERM');
      await daemon.closed;
    }
  });
});
