import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { agreementsWith } from '../helpers/agreements.js';
import { createManualClock } from '../../src/core/clock.js';
import { tryLoadConfig } from '../../src/config/loader.js';
import type { FerryConfig } from '../../src/config/model.js';
import { ensureDemoSis } from '../../src/demo/demo-sis.js';
import { recordReview } from '../../src/governance/reviews.js';
import { createLogger, RunLogCollector } from '../../src/logging/logger.js';
import { compose } from '../../src/runtime/compose.js';
import type { Scheduler } from '../../src/scheduler/scheduler.js';
import { openRunStore, type RunRecord, type RunStore } from '../../src/store/run-store.js';

/**
 * `governance.holdOverdueReviews`: the daemon's own composition root (scheduler, lifecycle) and a real SQLite store,
 * on a manual clock. The integration started 2025-06-01, so its yearly review falls due 2026-06-01 (New York).
 */

let sis: string;
beforeAll(() => {
  sis = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-review-sis-')), 'sis.sqlite');
  ensureDemoSis(sis);
});

interface Harness {
  root: string;
  config: FerryConfig;
  store: RunStore;
  scheduler: Scheduler;
  clock: ReturnType<typeof createManualClock>;
  tickAt(iso: string): Promise<void>;
  runs(): Promise<RunRecord[]>;
  delivered(): string[];
}

const open: RunStore[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

async function harness(governance: Record<string, unknown> | undefined, start: string): Promise<Harness> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-review-'));
  const extract = path.join(root, 'extracts', 'sqlite', 'one-row');
  fs.mkdirSync(extract, { recursive: true });
  fs.writeFileSync(
    path.join(extract, 'extract.yaml'),
    YAML.stringify({ name: 'one-row', description: 'one row', source: 'sqlite', params: { districtId: { type: 'string', required: true } }, columns: [{ name: 'id', type: 'string', element: 'Not personal data/other' }] }),
  );
  fs.writeFileSync(path.join(extract, 'query.sql'), 'SELECT :districtId AS id\n');
  fs.mkdirSync(path.join(root, 'config', 'integrations'), { recursive: true });
  fs.writeFileSync(
    path.join(root, 'config', 'ferry.yaml'),
    YAML.stringify({
      dataDir: '../var',
      extractsDir: '../extracts',
      http: false,
      sources: { sis: { kind: 'sqlite', path: sis } },
      destinations: { out: { kind: 'local', basePath: '../out' } },
      ...(governance ? { governance } : {}),
    }),
  );
  fs.writeFileSync(
    path.join(root, 'config', 'integrations', 'd.yaml'),
    YAML.stringify({
      district: { id: 'hilltop-csd', name: 'Hilltop' },
      agreements: agreementsWith(['V'], 'hilltop-csd'),
      integrations: [
        {
          id: 'nightly',
          extract: 'one-row',
          source: 'sis',
          destination: 'out',
          remotePath: '{integration}/{runId}.csv',
          schedule: { cron: '0 2 * * *', timezone: 'America/New_York' },
          params: { districtId: 'hilltop-csd' },
          safety: false,
          retry: false,
          inventory: { vendor: 'V', contact: 'C', purpose: 'P', startDate: '2025-06-01' },
        },
      ],
    }),
  );
  const clock = createManualClock(new Date(start));
  const res = tryLoadConfig(path.join(root, 'config'), clock.now());
  if (!res.ok) throw new Error(JSON.stringify(res.problems));
  const config = res.config;
  const store = await openRunStore({ kind: 'sqlite', path: path.join(root, 'var', 'ferry.sqlite') }, clock);
  open.push(store);
  const { scheduler } = compose({ config: () => config, store, logger: createLogger({ level: 'error', transports: [] }), collector: new RunLogCollector(), clock, random: () => 0 });
  await scheduler.init();
  return {
    root,
    config,
    store,
    scheduler,
    clock,
    tickAt: async (iso) => {
      clock.set(new Date(iso));
      await (await scheduler.tick()).done;
    },
    runs: async () => (await store.listRuns({ limit: 50 })).reverse(),
    delivered: () => {
      const dir = path.join(root, 'out', 'nightly');
      return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
    },
  };
}

const REASON = 'its yearly review was due on 2026-06-01 and the center holds overdue integrations (governance.holdOverdueReviews); once reviewed with the district: ferry review confirm nightly --note "…"';

describe('governance.holdOverdueReviews', () => {
  it('holds scheduled runs once the review is overdue, sending nothing, and lets them run again once a review is recorded', async () => {
    const h = await harness({ holdOverdueReviews: true }, '2026-06-01T05:59:00Z');
    // 02:00 New York on the due date itself: due, not overdue, so it runs.
    await h.tickAt('2026-06-01T06:00:01Z');
    // The next night it is overdue: held, with the reason, and no file reaches the vendor.
    await h.tickAt('2026-06-02T06:00:01Z');
    let runs = await h.runs();
    expect(runs.map((r) => [r.scheduledFor?.toISOString(), r.status])).toEqual([
      ['2026-06-01T06:00:00.000Z', 'succeeded'],
      ['2026-06-02T06:00:00.000Z', 'held'],
    ]);
    expect(runs[1]!.holdReason).toBe(REASON);
    expect(runs[1]).toMatchObject({ remotePath: null, spoolPath: null, rows: null });
    expect(h.delivered()).toEqual([`${runs[0]!.id}.csv`]);

    // Reviewed with the district that afternoon: the next slot runs, and the next review is a year later.
    h.clock.set(new Date('2026-06-02T16:00:00Z'));
    const review = await recordReview(h.store, h.config.integrations.get('nightly')!, { by: 'alice', note: 'still needed for rostering', ticket: 'T-7', at: h.clock.now() });
    expect(review).toMatchObject({ integrationId: 'nightly', districtId: 'hilltop-csd', reviewedBy: 'alice', note: 'still needed for rostering', ticket: 'T-7', nextReview: '2027-06-02' });
    await h.tickAt('2026-06-03T06:00:01Z');
    runs = await h.runs();
    expect(runs.at(-1)).toMatchObject({ scheduledFor: new Date('2026-06-03T06:00:00Z'), status: 'succeeded' });
    expect(h.delivered()).toEqual([`${runs[0]!.id}.csv`, `${runs[2]!.id}.csv`].sort());
  });

  it('is off by default: an overdue integration keeps running', async () => {
    const h = await harness(undefined, '2026-09-01T05:59:00Z');
    expect(h.config.governance.holdOverdueReviews).toBe(false);
    await h.tickAt('2026-09-01T06:00:01Z');
    const runs = await h.runs();
    expect(runs.map((r) => r.status)).toEqual(['succeeded']);
    expect(h.delivered()).toHaveLength(1);
  });
});
