import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { createAlerter } from '../../src/alerts/alerter.js';
import { tryLoadConfig } from '../../src/config/loader.js';
import { createManualClock } from '../../src/core/clock.js';
import { createEventBus } from '../../src/core/events.js';
import { createLogger, RunLogCollector } from '../../src/logging/logger.js';
import { compose } from '../../src/runtime/compose.js';
import { openRunStore, type RunStore } from '../../src/store/run-store.js';
import { ferry } from '../helpers/cli.js';

/**
 * Agreements enforced: `validate` refuses what an agreement does not cover and vendors with none; an expired one holds
 * scheduled runs (the daemon's composition root on a real SQLite store, with a manual clock) and the spawned CLI
 * refuses manual runs; alerts go out 60, 30 and 7 days before expiry, once each, to a real local webhook receiver.
 */

const stores: RunStore[] = [];
const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

const agreement = (over: Record<string, unknown> = {}) => ({
  id: 'acme-2026',
  vendor: 'Acme',
  title: 'Acme NDPA 2026',
  signed: '2026-01-15',
  expires: '2027-06-30',
  covers: ['Student Name', 'Student Identifiers/local ID'],
  purpose: 'Reading screener',
  supplementalUrl: 'https://d.example.org/privacy/acme',
  dataAtEnd: { action: 'deleted', text: 'Deleted within 30 days.' },
  ...over,
});

const integration = (over: Record<string, unknown> = {}) => ({
  id: 'acme-roster',
  extract: 'tagged',
  source: 'sis',
  destination: 'out',
  remotePath: 'roster_{runId}.csv',
  schedule: { cron: '0 * * * *', timezone: 'America/New_York' },
  safety: false,
  inventory: { vendor: 'Acme', contact: 'C', purpose: 'P' },
  ...over,
});

/** A config folder with one extract whose columns are tagged: a local id, a name, and a date of birth. */
function makeConfig(opts: { agreements?: unknown[]; integrations?: unknown[]; governance?: unknown } = {}): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-agree-'));
  const dir = path.join(root, 'extracts', 'sqlite', 'tagged');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'extract.yaml'),
    YAML.stringify({
      name: 'tagged',
      description: 'tagged columns',
      source: 'sqlite',
      columns: [
        { name: 'student_id', type: 'string', element: 'Student Identifiers/local ID' },
        { name: 'last_name', type: 'string', element: 'Student Name' },
        { name: 'birth_date', type: 'string', element: 'Demographics/date of birth' },
        // Carries nothing personal: no agreement needs to cover it.
        { name: 'note', type: 'string', element: 'Not personal data/other' },
      ],
    }),
  );
  fs.writeFileSync(path.join(dir, 'query.sql'), "SELECT 'S1' AS student_id, 'Doe' AS last_name, '2015-01-01' AS birth_date, '' AS note\n");
  new Database(path.join(root, 'sis.sqlite')).close();
  fs.mkdirSync(path.join(root, 'config', 'integrations'), { recursive: true });
  fs.writeFileSync(
    path.join(root, 'config', 'ferry.yaml'),
    YAML.stringify({
      dataDir: '../var',
      extractsDir: '../extracts',
      http: false,
      sources: { sis: { kind: 'sqlite', path: path.join(root, 'sis.sqlite') } },
      destinations: { out: { kind: 'local', basePath: '../out' } },
      ...(opts.governance ? { governance: opts.governance } : {}),
    }),
  );
  fs.writeFileSync(
    path.join(root, 'config', 'integrations', 'd.yaml'),
    YAML.stringify({ district: { id: 'hilltop-csd', name: 'Hilltop', contact: 'it@hilltop.example.org' }, agreements: opts.agreements ?? [agreement()], integrations: opts.integrations ?? [integration()] }),
  );
  return path.join(root, 'config');
}

const NOW = new Date('2026-12-07T15:00:00Z');
const FILE = path.join('integrations', 'd.yaml');
const problemsOf = (dir: string) => {
  const res = tryLoadConfig(dir, NOW);
  return { problems: res.ok ? [] : res.problems, warnings: res.warnings, ok: res.ok };
};

describe('validate refuses what the agreement does not allow', () => {
  it('a sent element the agreement does not cover, naming the integration, column, element and agreement', () => {
    const dir = makeConfig();
    const { problems } = problemsOf(dir);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.field).toBe('integrations[0] (acme-roster).fields');
    expect(problems[0]!.message).toBe(
      "integration acme-roster sends column birth_date (data element Demographics/date of birth), which agreement acme-2026 with Acme does not cover; add the element to the agreement's covers once it is signed for, or leave the column out with fields:",
    );
  });

  it('passes when the column is left out with fields:, or the whole category is covered', () => {
    expect(problemsOf(makeConfig({ integrations: [integration({ fields: ['student_id', 'last_name', 'note'] })] })).ok).toBe(true);
    expect(problemsOf(makeConfig({ agreements: [agreement({ covers: ['Student Name', 'Student Identifiers', 'Demographics'] })] })).ok).toBe(true);
  });

  it('a vendor with no agreement is refused; governance.missingAgreement: warn relaxes it to a warning, only for the vendors outsidePart121 names', () => {
    const none = problemsOf(makeConfig({ agreements: [] }));
    expect(none.problems.map((p) => [p.field, p.message])).toEqual([
      ['integrations[0] (acme-roster).inventory.vendor', `integration acme-roster sends to Acme, but district hilltop-csd has no agreement with Acme; add it under agreements: in ${none.problems[0]!.file}`],
    ]);
    const relaxed = problemsOf(makeConfig({ agreements: [], governance: { missingAgreement: 'warn' } }));
    expect(relaxed.ok).toBe(true);
    expect(relaxed.warnings.map((w) => w.message)).toContainEqual(expect.stringMatching(/^integration acme-roster sends to Acme, but district hilltop-csd has no agreement with Acme; .*\(allowed by governance.missingAgreement: warn\)$/));
    const otherVendor = problemsOf(makeConfig({ agreements: [], governance: { missingAgreement: 'warn', outsidePart121: ['Hilltop Data Warehouse'] } }));
    expect(otherVendor.ok).toBe(false);
  });

  it('bad agreements: a malformed date, an unknown element, an unknown agreement id, several agreements with one vendor', () => {
    const bad = problemsOf(makeConfig({ agreements: [agreement({ expires: '2027-13-01', covers: ['Student Nmae'] })] }));
    expect(bad.problems.map((p) => `${p.field}: ${p.message}`)).toEqual(expect.arrayContaining(['agreements[0] (acme-2026).expires: must be a date like 2027-06-30']));
    const tag = problemsOf(makeConfig({ agreements: [agreement({ covers: ['Student Nmae'] })] }));
    expect(tag.problems[0], JSON.stringify(tag.problems)).toMatchObject({ field: 'agreements[0] (acme-2026).covers[0]', message: expect.stringMatching(/^unknown data element "Student Nmae" .*see src\/governance\/elements.ts$/) });
    const unknownId = problemsOf(makeConfig({ integrations: [integration({ agreement: 'acme-1999' })] }));
    expect(unknownId.problems.map((p) => p.message)).toContain('unknown agreement "acme-1999" (hilltop-csd has acme-2026)');
    const two = problemsOf(makeConfig({ agreements: [agreement(), agreement({ id: 'acme-2027', covers: ['Student Name', 'Student Identifiers', 'Demographics'] })] }));
    expect(two.problems.map((p) => p.message)).toContain('district hilltop-csd has 2 agreements with Acme (acme-2026, acme-2027); name the one this integration sends under with agreement:');
    const named = problemsOf(makeConfig({ agreements: [agreement(), agreement({ id: 'acme-2027', covers: ['Student Name', 'Student Identifiers', 'Demographics'] })], integrations: [integration({ agreement: 'acme-2027' })] }));
    expect(named.ok).toBe(true);
  });

  it('through the spawned `ferry validate` (exit 2, the sentence on stderr), and `ferry agreements` lists each with its state', async () => {
    const refused = await ferry(['--config', makeConfig(), 'validate']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${FILE}: integrations[0] (acme-roster).fields: integration acme-roster sends column birth_date (data element Demographics/date of birth), which agreement acme-2026 with Acme does not cover`);

    // Relative to the real today, since the spawned CLI reads the system clock.
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    const dir = makeConfig({
      agreements: [
        agreement({ covers: ['Student Name', 'Student Identifiers', 'Demographics'], expires: day(400) }),
        agreement({ id: 'beta-2026', vendor: 'Beta', expires: day(-30) }),
        agreement({ id: 'gamma-2026', vendor: 'Gamma', expires: day(200) }),
      ],
      integrations: [integration(), integration({ id: 'beta-roster', fields: ['student_id'], inventory: { vendor: 'Beta', contact: 'C', purpose: 'P' }, enabled: false })],
    });
    const listed = await ferry(['--config', dir, 'agreements']);
    expect(listed.code, listed.stderr).toBe(0);
    const rows = listed.stdout.trim().split('\n').map((l) => l.split(/\s{2,}/));
    expect(rows[0]).toEqual(['DISTRICT', 'AGREEMENT', 'VENDOR', 'EXPIRES', 'STATE', 'INTEGRATIONS']);
    expect(rows.slice(1)).toEqual([
      ['hilltop-csd', 'acme-2026', 'Acme', day(400), expect.stringMatching(/^active \((399|400|401) days left\)$/), 'acme-roster'],
      ['hilltop-csd', 'beta-2026', 'Beta', day(-30), `expired on ${day(-30)}`, 'beta-roster'],
      ['hilltop-csd', 'gamma-2026', 'Gamma', day(200), 'unused', '(none)'],
    ]);
    const json = JSON.parse((await ferry(['--config', dir, 'agreements', '--district', 'hilltop-csd', '--json'])).stdout) as { id: string; state: string; integrations: string[] }[];
    expect(json.map((r) => [r.id, r.state, r.integrations])).toEqual([
      ['acme-2026', 'active', ['acme-roster']],
      ['beta-2026', 'expired', ['beta-roster']],
      ['gamma-2026', 'unused', []],
    ]);
    const unknown = await ferry(['--config', dir, 'agreements', '--district', 'nowhere']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown district "nowhere" (known: hilltop-csd)');
  });
});

describe('an expired agreement stops deliveries', () => {
  it('holds the scheduled runs from the day after expiry, with the reason; release says there is nothing to release', async () => {
    const dir = makeConfig({
      agreements: [agreement({ covers: ['Student Name', 'Student Identifiers', 'Demographics'], expires: '2026-11-30' })],
      integrations: [integration({ schedule: { cron: '0 0 * * *', timezone: 'America/New_York' } })],
    });
    const clock = createManualClock(new Date('2026-11-30T04:59:59Z'));
    const res = tryLoadConfig(dir, clock.now());
    if (!res.ok) throw new Error(JSON.stringify(res.problems));
    const config = res.config;
    const store = await openRunStore({ kind: 'sqlite', path: path.join(config.dataDir, 'ferry.sqlite') }, clock);
    stores.push(store);
    const { scheduler, runs } = compose({ config: () => config, store, logger: createLogger({ level: 'error' }), collector: new RunLogCollector(), clock, random: () => 0, leaseOwner: 'a' });
    await scheduler.init();
    const tickAt = async (iso: string) => {
      clock.set(new Date(iso));
      await (await scheduler.tick()).done;
    };
    await tickAt('2026-11-30T05:00:01Z'); // midnight in New York starting the last day: in force
    await tickAt('2026-12-01T05:00:01Z'); // 00:00 in New York on 2026-12-01: expired
    const list = (await store.listRuns({ limit: 10 })).reverse();
    expect(list.map((r) => [r.scheduledFor?.toISOString(), r.status])).toEqual([
      ['2026-11-30T05:00:00.000Z', 'succeeded'],
      ['2026-12-01T05:00:00.000Z', 'held'],
    ]);
    const held = list[1]!;
    expect(held.holdReason).toBe('agreement acme-2026 with vendor Acme expired on 2026-11-30; scheduled runs of acme-roster are held until the district renews it');
    expect(held.rows).toBeNull();
    await expect(runs.release(held.id, 'tester', {})).rejects.toThrow(
      `run ${held.id} of acme-roster was held before it read or wrote anything (${held.holdReason}), so there is nothing to release`,
    );
  });

  it('the spawned CLI refuses a manual run unless forced with a reason, naming the agreement', async () => {
    const dir = makeConfig({ agreements: [agreement({ covers: ['Student Name', 'Student Identifiers', 'Demographics'], expires: '2026-06-30' })] });
    const refused = await ferry(['--config', dir, 'run', 'acme-roster']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('integration acme-roster was not run: agreement acme-2026 with vendor Acme expired on 2026-06-30; run it only with --force --reason "…"');
    const forced = await ferry(['--config', dir, 'run', 'acme-roster', '--force', '--reason', 'TICKET-9: renewal signed, paperwork pending']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toContain('runs forced by');
    expect(forced.stderr).toContain('agreement acme-2026 with vendor Acme expired on 2026-06-30');
    expect(forced.stdout).toMatch(/^run \d+ succeeded: 1 rows/);
  });
});

describe('agreement alerts before expiry', () => {
  it('go out 60, 30 and 7 days before, once each even with two daemons, and name the integrations', async () => {
    const posts: string[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        posts.push((JSON.parse(body) as { text: string }).text);
        res.end('ok');
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    process.env['FERRY_TEST_AGREEMENT_HOOK'] = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const dir = makeConfig({ agreements: [agreement({ covers: ['Student Name', 'Student Identifiers', 'Demographics'], expires: '2027-03-31' })] });
    fs.appendFileSync(path.join(dir, 'ferry.yaml'), YAML.stringify({ alerts: { webhook: { url: { env: 'FERRY_TEST_AGREEMENT_HOOK' } }, digest: false } }));
    const clock = createManualClock(new Date('2027-01-29T15:00:00Z')); // 61 days before
    const res = tryLoadConfig(dir, clock.now());
    if (!res.ok) throw new Error(JSON.stringify(res.problems));
    const store = await openRunStore({ kind: 'sqlite', path: path.join(res.config.dataDir, 'ferry.sqlite') }, clock);
    stores.push(store);
    const make = () => createAlerter({ config: () => res.config, bus: createEventBus(), store, logger: createLogger({ level: 'error' }), clock });
    const [a, b] = [make(), make()];
    const checkBoth = async () => {
      await Promise.all([a.checkAgreements(), b.checkAgreements()]);
      await Promise.all([a.idle(), b.idle()]);
    };
    await checkBoth();
    expect(posts).toEqual([]);
    for (const [iso, days] of [['2027-01-30T15:00:00Z', 60], ['2027-03-01T15:00:00Z', 30], ['2027-03-24T15:00:00Z', 7]] as const) {
      clock.set(new Date(iso));
      await checkBoth();
      await checkBoth(); // the next hourly check, on both daemons: nothing again
      expect(posts).toHaveLength([60, 30, 7].indexOf(days) + 1);
      expect(posts.at(-1)).toBe(`Ferry agreement: acme-2026 with Acme (Hilltop) expires on 2027-03-31, in ${days} days; used by acme-roster`);
    }
    clock.set(new Date('2027-03-28T15:00:00Z')); // 3 days left: past the last threshold, already told
    await checkBoth();
    expect(posts).toHaveLength(3);
    await Promise.all([a.stop(), b.stop()]);
  });
});
