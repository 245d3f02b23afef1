import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { tryLoadConfig } from '../../src/config/loader.js';
import type { FerryConfig } from '../../src/config/model.js';
import { addMonths, reviewDateOf, reviewStateOf } from '../../src/governance/reviews.js';
import type { ReviewRecord } from '../../src/store/run-store.js';
import { agreementsWith } from '../helpers/agreements.js';

/** The review date rules of README "Yearly review", on integrations loaded from a small config folder. */

function load(inventory: Record<string, unknown>, ferry: Record<string, unknown> = {}): ReturnType<typeof tryLoadConfig> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-review-dates-'));
  const write = (file: string, doc: unknown) => {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), typeof doc === 'string' ? doc : YAML.stringify(doc));
  };
  write('ferry.yaml', { dataDir: './var', extractsDir: './extracts', sources: { sis: { kind: 'sqlite', path: './sis.sqlite' } }, destinations: { out: { kind: 'local', basePath: './out' } }, ...ferry });
  write('extracts/sqlite/roster/extract.yaml', { name: 'roster', description: 'r', source: 'sqlite', params: { districtId: { type: 'string', required: true } }, columns: [{ name: 'id', type: 'string', element: 'Not personal data/other' }] });
  write('extracts/sqlite/roster/query.sql', 'SELECT :districtId AS id\n');
  write('integrations/x.yaml', {
    district: { id: 'testville', name: 'Testville' },
    agreements: agreementsWith(['V'], 'testville'),
    integrations: [{ id: 'x', extract: 'roster', source: 'sis', destination: 'out', remotePath: 'x.csv', schedule: { cron: '0 2 * * *', timezone: 'America/New_York' }, inventory: { vendor: 'V', contact: 'C', purpose: 'P', ...inventory } }],
  });
  return tryLoadConfig(dir, new Date('2026-11-23T12:00:00Z'));
}

function config(inventory: Record<string, unknown>): FerryConfig {
  const res = load(inventory);
  if (!res.ok) throw new Error(JSON.stringify(res.problems));
  return res.config;
}

const reviewed = (nextReview: string): ReviewRecord => ({ id: 1, integrationId: 'x', districtId: 'testville', reviewedAt: new Date('2026-08-01T14:00:00Z'), reviewedBy: 'alice', note: 'ok', ticket: null, nextReview });

describe('review dates', () => {
  it('a year after the start date, or reviewEveryMonths after it; nextReview before any review; the last review above all', () => {
    const x = (inv: Record<string, unknown>) => config(inv).integrations.get('x')!;
    expect(reviewDateOf(x({ startDate: '2026-07-10' }), undefined)).toEqual({ date: '2027-07-10', basis: 'startDate' });
    expect(reviewDateOf(x({ startDate: '2026-07-10', reviewEveryMonths: 6 }), undefined)).toEqual({ date: '2027-01-10', basis: 'startDate' });
    expect(reviewDateOf(x({ startDate: '2026-07-10', nextReview: '2026-12-01' }), undefined)).toEqual({ date: '2026-12-01', basis: 'nextReview' });
    expect(reviewDateOf(x({ startDate: '2026-07-10', nextReview: '2026-12-01' }), reviewed('2027-08-01'))).toEqual({ date: '2027-08-01', basis: 'review' });
    expect(reviewDateOf(x({}), undefined)).toEqual({ date: null, basis: 'none' });
  });

  it('adds months on the calendar: a month-end date falls back to the shorter month’s last day', () => {
    expect(addMonths('2028-02-29', 12)).toBe('2029-02-28');
    expect(addMonths('2026-08-31', 6)).toBe('2027-02-28');
    expect(addMonths('2026-11-15', 2)).toBe('2027-01-15');
  });

  it('is due on its date, overdue from the next day, soon within the window', () => {
    expect(reviewStateOf('2026-11-23', '2026-11-23', 30)).toEqual({ state: 'due', days: 0 });
    expect(reviewStateOf('2026-11-22', '2026-11-23', 30)).toEqual({ state: 'overdue', days: -1 });
    expect(reviewStateOf('2026-12-23', '2026-11-23', 30)).toEqual({ state: 'soon', days: 30 });
    expect(reviewStateOf('2026-12-24', '2026-11-23', 30)).toEqual({ state: 'later', days: 31 });
    expect(reviewStateOf(null, '2026-11-23', 30)).toEqual({ state: 'unknown', days: null });
  });

  it('refuses a malformed review date or interval, and a governance setting that is not true or false, naming the field', () => {
    const res = load({ nextReview: '2027-13-01', reviewEveryMonths: 0 });
    expect(res.ok).toBe(false);
    const problems = res.ok ? [] : res.problems.map((p) => [path.basename(p.file), p.field, p.message]);
    expect(problems).toEqual([
      ['x.yaml', 'integrations[0] (x).inventory.reviewEveryMonths', 'must be 1 to 36 months'],
      ['x.yaml', 'integrations[0] (x).inventory.nextReview', 'must be a date like 2027-06-30'],
    ]);
    const bad = load({}, { governance: { holdOverdueReviews: 'yes' } });
    expect(bad.ok ? [] : bad.problems.map((p) => [path.basename(p.file), p.field])).toEqual([['ferry.yaml', 'governance.holdOverdueReviews']]);
    expect(config({}).governance).toMatchObject({ holdOverdueReviews: false });
  });
});
