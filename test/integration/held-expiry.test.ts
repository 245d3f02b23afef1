import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import TransportStream from 'winston-transport';
import YAML from 'yaml';
import { createManualClock } from '../../src/core/clock.js';
import { tryLoadConfig } from '../../src/config/loader.js';
import { createLogger, RunLogCollector } from '../../src/logging/logger.js';
import { compose } from '../../src/runtime/compose.js';
import { openRunStore, type RunStore } from '../../src/store/run-store.js';
import { agreementsWith } from '../helpers/agreements.js';

/**
 * Held files expire: the run lifecycle (wired by the daemon's composition root) on a real SQLite store and a local
 * destination, with an injected clock, so "fourteen days later" is a clock setting, not a wait.
 */

class Lines extends TransportStream {
  readonly lines: Record<string, unknown>[] = [];
  override log(info: Record<string, unknown>, next: () => void): void {
    this.lines.push(info);
    next();
  }
}

const DAY = 86_400_000;
const stores: RunStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

async function setUp(safety: Record<string, unknown>) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-held-'));
  const dir = path.join(root, 'extracts', 'sqlite', 'counted');
  fs.mkdirSync(dir, { recursive: true });
  // `n` rows, so a run with a smaller n is a roster that fell.
  fs.writeFileSync(
    path.join(dir, 'extract.yaml'),
    YAML.stringify({ name: 'counted', description: 'n rows', source: 'sqlite', params: { n: { type: 'integer', required: true } }, columns: [{ name: 'id', type: 'integer', element: 'Student Identifiers/local ID' }] }),
  );
  fs.writeFileSync(path.join(dir, 'query.sql'), 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < :n) SELECT x AS id FROM c\n');
  new Database(path.join(root, 'sis.sqlite')).close(); // the query needs no tables
  fs.mkdirSync(path.join(root, 'config', 'integrations'), { recursive: true });
  fs.writeFileSync(
    path.join(root, 'config', 'ferry.yaml'),
    YAML.stringify({ dataDir: '../var', extractsDir: '../extracts', http: false, sources: { sis: { kind: 'sqlite', path: path.join(root, 'sis.sqlite') } }, destinations: { out: { kind: 'local', basePath: '../out' } } }),
  );
  fs.writeFileSync(
    path.join(root, 'config', 'integrations', 'd.yaml'),
    YAML.stringify({
      district: { id: 'hilltop-csd', name: 'Hilltop' },
      agreements: agreementsWith(['V']),
      integrations: [
        {
          id: 'roster',
          extract: 'counted',
          source: 'sis',
          destination: 'out',
          remotePath: 'roster.csv',
          schedule: { cron: '0 2 * * *', timezone: 'America/New_York' },
          params: { n: 100 },
          safety,
          inventory: { vendor: 'V', contact: 'C', purpose: 'P' },
        },
      ],
    }),
  );
  const clock = createManualClock(new Date('2026-12-01T15:00:00Z'));
  const res = tryLoadConfig(path.join(root, 'config'), clock.now());
  if (!res.ok) throw new Error(JSON.stringify(res.problems));
  const config = res.config;
  const lines = new Lines();
  const store = await openRunStore({ kind: 'sqlite', path: path.join(root, 'var', 'ferry.sqlite') }, clock);
  stores.push(store);
  const { runs } = compose({ config: () => config, store, logger: createLogger({ level: 'debug', transports: [lines] }), collector: new RunLogCollector(), clock, random: () => 0 });
  const integration = config.integrations.get('roster')!;
  const delivered = await runs.run(integration, { trigger: 'manual', requestedBy: 'test' });
  expect(delivered.run, delivered.run.error ?? '').toMatchObject({ status: 'succeeded', rows: 100 });
  clock.advance(60_000);
  const held = (await runs.run(integration, { trigger: 'manual', requestedBy: 'test', overrides: { n: 10 } })).run;
  expect(held).toMatchObject({ status: 'held', rows: 10 });
  expect(fs.existsSync(held.spoolPath!)).toBe(true);
  return { root, clock, store, runs, held, lines };
}

describe('held files expire after safety.heldDays', () => {
  it('keeps a held file for 14 days by default, then removes it and records the run expired; it can no longer be released', async () => {
    const { clock, store, runs, held, lines, root } = await setUp({ maxRowDrop: 0.1 });
    const heldAt = held.finishedAt!.getTime();

    clock.set(new Date(heldAt + 14 * DAY - 60_000));
    await runs.sweepSpool();
    expect(await store.getRun(held.id)).toMatchObject({ status: 'held', spoolPath: held.spoolPath });
    expect(fs.existsSync(held.spoolPath!)).toBe(true);

    clock.set(new Date(heldAt + 14 * DAY + 60_000));
    await runs.sweepSpool();
    const expired = await store.getRun(held.id);
    expect(expired).toMatchObject({
      status: 'expired',
      spoolPath: null,
      remotePath: null,
      holdReason: held.holdReason,
      note: 'expired: held for more than 14 days (safety.heldDays) without ferry release; its file was removed and nothing was delivered',
    });
    expect(fs.existsSync(held.spoolPath!)).toBe(false);
    expect(fs.readdirSync(path.join(root, 'var', 'spool'))).toEqual([]);
    expect(lines.lines.find((l) => l.message === 'held delivery expired: its file was removed unreleased')).toMatchObject({ integration: 'roster', runId: held.id });
    // The vendor still has the first delivery: 100 rows.
    expect(fs.readFileSync(path.join(root, 'out', 'roster.csv'), 'utf8').trimEnd().split(/\r?\n/)).toHaveLength(101);

    await expect(runs.release(held.id, 'test')).rejects.toThrow(`run ${held.id} of roster is expired, not held; only a held delivery can be released`);
  });

  it('honours a shorter safety.heldDays, and a daemon starting up (recover) expires what is overdue', async () => {
    const { clock, store, runs, held } = await setUp({ maxRowDrop: 0.1, heldDays: 2 });
    clock.set(new Date(held.finishedAt!.getTime() + 2 * DAY + 1000));
    await runs.recover();
    expect(await store.getRun(held.id)).toMatchObject({ status: 'expired', spoolPath: null });
    expect(fs.existsSync(held.spoolPath!)).toBe(false);
  });

  it('never expires a run whose release has been claimed', async () => {
    const { clock, store, runs, held } = await setUp({ maxRowDrop: 0.1, heldDays: 1 });
    expect(await store.claimRelease(held.id, 'alice')).toMatchObject({ releasedBy: 'alice' });
    clock.set(new Date(held.finishedAt!.getTime() + 3 * DAY));
    await runs.sweepSpool();
    expect(await store.getRun(held.id)).toMatchObject({ status: 'held', releasedBy: 'alice' });
    expect(fs.existsSync(held.spoolPath!)).toBe(true);
  });
});
