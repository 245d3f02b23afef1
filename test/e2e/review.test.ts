import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/core/clock.js';
import { dateInZone } from '../../src/config/params.js';
import { openRunStore, type RunStore } from '../../src/store/run-store.js';
import { agreementsWith } from '../helpers/agreements.js';
import { E2E_USER, ferry } from '../helpers/cli.js';
import { makeDemoConfigDir, type DemoConfigDir } from '../helpers/demo-config.js';

/**
 * The summer clean-up through the spawned CLI: `ferry review due` and `ferry review confirm` on the demo config, with
 * start dates, reviews and deliveries set up relative to today (the CLI runs on the real clock).
 */

const TZ = 'America/New_York';
const DAY = 24 * 60 * 60 * 1000;
const today = dateInZone(new Date(), TZ);
const plusDays = (date: string, n: number) => new Date(Date.parse(`${date}T00:00:00Z`) + n * DAY).toISOString().slice(0, 10);
/** A day-of-month of 28 or less, so "a year later" is the same month and day. */
const safeDay = (date: string) => (Number(date.slice(8)) > 28 ? `${date.slice(0, 8)}28` : date);
/** The same day a year later; 29 February falls back to the 28th. */
const nextYear = (date: string) => `${Number(date.slice(0, 4)) + 1}${date.slice(4) === '-02-29' ? '-02-28' : date.slice(4)}`;

const START_OVERDUE = safeDay(plusDays(today, -400)); // its review fell due about 35 days ago
const DUE_OVERDUE = nextYear(START_OVERDUE);
const DUE_SOON = plusDays(today, 15);
const DUE_RIVERBEND = plusDays(today, -5);

const integration = (id: string, districtId: string, inventory: Record<string, unknown>) => ({
  id,
  extract: 'clever-students',
  source: 'demo-sis',
  destination: 'demo-sftp',
  remotePath: `{district}/${id}.csv`,
  schedule: { cron: '0 2 * * *', timezone: TZ },
  params: { districtId, asOf: '2026-11-23', schoolYear: 2027, grades: 'K-5' },
  inventory: { vendor: 'Clever', contact: 'SIS Admin', purpose: 'Rostering', ...inventory },
});

interface DueJson {
  integration: string;
  district: string;
  vendor: string;
  enabled: boolean;
  reviewDate: string | null;
  basis: string;
  state: string;
  days: number | null;
  lastReview: { at: string; by: string; note: string; ticket: string | null } | null;
  lastDelivery: { runId: number; at: string | null; remotePath: string | null } | null;
  deliveredWithinDays: number;
  deliveredRecently: boolean;
}

const SLOW = 240_000;

describe('ferry review (spawned CLI, demo config)', () => {
  let cfg: DemoConfigDir;
  const c = () => ['--config', cfg.dir];
  const due = async (...args: string[]): Promise<DueJson[]> => {
    const r = await ferry(['review', 'due', '--json', ...args, ...c()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout) as DueJson[];
  };
  const withStore = async <T>(at: Date, fn: (store: RunStore) => Promise<T>): Promise<T> => {
    const store = await openRunStore({ kind: 'sqlite', path: path.join(cfg.dataDir, 'ferry.sqlite') }, createManualClock(at));
    try {
      return await fn(store);
    } finally {
      await store.close();
    }
  };
  const deliver = (integrationId: string, districtId: string, at: Date) =>
    withStore(at, async (store) => {
      const res = await store.claimRun({ integrationId, districtId, extract: 'clever-students', trigger: 'schedule', requestedBy: 'scheduler', scheduledFor: at, params: {}, host: 'h', pid: 1 });
      if (!res.claimed) throw new Error('not claimed');
      return (await store.recordReceipt(res.run.id, { status: 'succeeded', rows: 10, remotePath: `${districtId}/${integrationId}.csv`, target: 'sftp://x' }, at))!.run;
    });
  let recent: number;

  beforeAll(async () => {
    cfg = await makeDemoConfigDir({
      integrations: [
        integration('rev-overdue', 'hilltop-csd', { startDate: START_OVERDUE }),
        integration('rev-soon', 'hilltop-csd', { nextReview: DUE_SOON }),
        integration('rev-reviewed', 'hilltop-csd', { startDate: START_OVERDUE }),
        integration('rev-undated', 'hilltop-csd', {}),
        integration('rev-later', 'hilltop-csd', { startDate: plusDays(today, -100) }),
      ],
    });
    fs.writeFileSync(
      path.join(cfg.dir, 'integrations', 'riverbend-ufsd.yaml'),
      YAML.stringify({
        district: { id: 'riverbend-ufsd', name: 'Riverbend (DEMO)' },
        agreements: agreementsWith(['Clever'], 'riverbend-ufsd'),
        integrations: [integration('rb-overdue', 'riverbend-ufsd', { nextReview: DUE_RIVERBEND })],
      }),
    );
    // The CLI opens (and migrates) the store first, as it would on a real host.
    expect((await ferry(['review', 'due', ...c()])).code).toBe(0);
    recent = (await deliver('rev-overdue', 'hilltop-csd', new Date(Date.now() - 3 * DAY))).id;
    await deliver('rev-soon', 'hilltop-csd', new Date(Date.now() - 60 * DAY));
    await withStore(new Date(Date.now() - 10 * DAY), (store) =>
      store.recordReview({ integrationId: 'rev-reviewed', districtId: 'hilltop-csd', reviewedBy: 'alice', note: 'still needed', ticket: null, nextReview: plusDays(today, 355) }),
    );
  }, SLOW);

  it(
    'lists overdue, due-soon and undated reviews with their last delivery and whether anything was delivered lately',
    async () => {
      const all = await due();
      expect(all.map((d) => [d.integration, d.state, d.reviewDate, d.basis])).toEqual([
        ['rev-overdue', 'overdue', DUE_OVERDUE, 'startDate'],
        ['rb-overdue', 'overdue', DUE_RIVERBEND, 'nextReview'],
        ['rev-soon', 'soon', DUE_SOON, 'nextReview'],
        ['rev-undated', 'unknown', null, 'none'],
      ]);
      const [overdue, riverbend, soon, undated] = all as [DueJson, DueJson, DueJson, DueJson];
      expect(overdue).toMatchObject({ district: 'hilltop-csd', vendor: 'Clever', enabled: true, lastReview: null, lastDelivery: { runId: recent, remotePath: 'hilltop-csd/rev-overdue.csv' }, deliveredWithinDays: 30, deliveredRecently: true });
      expect(overdue.days).toBeLessThan(-30);
      expect(riverbend).toMatchObject({ district: 'riverbend-ufsd', lastDelivery: null, deliveredRecently: false });
      expect(soon).toMatchObject({ deliveredRecently: false });
      expect(soon.lastDelivery).not.toBeNull();
      expect(undated).toMatchObject({ days: null, lastDelivery: null, deliveredRecently: false });

      const text = await ferry(['review', 'due', ...c()]);
      expect(text.code).toBe(0);
      const lines = text.stdout.split('\n');
      expect(lines[0]).toMatch(/^Yearly reviews overdue or due within 30 days \(as of \d{4}-\d{2}-\d{2}\):$/);
      expect(lines[1]).toMatch(/^INTEGRATION +DISTRICT +VENDOR +REVIEW +LAST DELIVERY +LAST 30 DAYS$/);
      const row = (id: string) => lines.find((l) => l.startsWith(`${id} `)) ?? '';
      expect(row('rev-overdue')).toMatch(new RegExp(`overdue: was due ${DUE_OVERDUE} \\(\\d+ days ago\\) +\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2} E[SD]T \\(run ${recent}\\) +delivered$`));
      expect(row('rev-soon')).toMatch(new RegExp(`due ${DUE_SOON} \\(in \\d+ days\\) .* nothing delivered in 30 days$`));
      expect(row('rev-undated')).toMatch(/no date: no inventory\.startDate and never reviewed +never +nothing delivered in 30 days$/);
      expect(text.stdout).not.toContain('rev-reviewed');
      expect(text.stdout).not.toContain('rev-later');
      expect(text.stdout).toContain('Once reviewed with the district: ferry review confirm <integration> --note "…" [--ticket T]; no longer needed: ferry disable <integration> --reason "…"');

      // One district, and a shorter window: the review due in 15 days drops out.
      const hilltop = await ferry(['review', 'due', '--district', 'hilltop-csd', '--days', '10', ...c()]);
      expect(hilltop.code).toBe(0);
      expect(hilltop.stdout).toMatch(/^Yearly reviews overdue or due within 10 days for hilltop-csd \(as of /);
      expect(hilltop.stdout).toMatch(/LAST 10 DAYS\n/);
      expect(hilltop.stdout.split('\n').filter((l) => l.startsWith('rev-') || l.startsWith('rb-')).map((l) => l.split(' ')[0])).toEqual(['rev-overdue', 'rev-undated']);

      const unknown = await ferry(['review', 'due', '--district', 'nowhere', ...c()]);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toBe('ferry: unknown district "nowhere" (known: hilltop-csd, riverbend-ufsd)\n');
    },
    SLOW,
  );

  it(
    'review confirm records who reviewed it and why; the next review is a year later and it leaves the list',
    async () => {
      const refused = await Promise.all([
        ferry(['review', 'confirm', 'rev-overdue', ...c()]),
        ferry(['review', 'confirm', 'rev-overdue', '--note', '   ', ...c()]),
        ferry(['review', 'confirm', 'no-such', '--note', 'x', ...c()]),
      ]);
      expect(refused.map((r) => r.code)).toEqual([2, 2, 2]);
      expect(refused[0]!.stderr).toContain("required option '--note <text>' not specified");
      expect(refused[1]!.stderr).toBe('ferry: review confirm needs --note "…" (what was agreed with the district; it is recorded)\n');
      expect(refused[2]!.stderr).toMatch(/^ferry: unknown integration "no-such"/);
      expect((await withStore(new Date(), (s) => s.latestReviews('rev-overdue'))).size).toBe(0);

      const r = await ferry(['review', 'confirm', 'rev-overdue', '--note', 'still needed for rostering', '--ticket', 'T-42', ...c()]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const next = nextYear(dateInZone(new Date(), TZ));
      expect(r.stdout).toBe(`rev-overdue reviewed by ${E2E_USER} (ticket T-42): still needed for rostering\nNext review due ${next}.\n`);

      const review = (await withStore(new Date(), (s) => s.latestReviews('rev-overdue'))).get('rev-overdue');
      expect(review).toMatchObject({ districtId: 'hilltop-csd', reviewedBy: E2E_USER, note: 'still needed for rostering', ticket: 'T-42', nextReview: next });
      expect((await due()).map((d) => d.integration)).toEqual(['rb-overdue', 'rev-soon', 'rev-undated']);
    },
    SLOW,
  );
});
