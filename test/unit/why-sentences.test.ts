import { describe, expect, it } from 'vitest';
import type { Integration } from '../../src/config/model.js';
import { whySentences } from '../../src/cli/commands/why-command.js';
import { previousSlot, whyFacts, type WhyInput } from '../../src/observability/why-facts.js';
import { compileSchedule } from '../../src/scheduler/slots.js';
import type { RunRecord } from '../../src/store/run-record.js';

const NOW = new Date('2026-11-23T12:10:00Z'); // 07:10 EST
const ID = 'riverbend-classlink-staff';

function run(id: number, over: Partial<RunRecord>): RunRecord {
  return {
    id,
    integrationId: ID,
    districtId: 'riverbend-csd',
    extract: 'staff-basic',
    trigger: 'schedule',
    requestedBy: 'scheduler',
    scheduledFor: null,
    slotAt: over.scheduledFor ?? NOW,
    params: {},
    status: 'succeeded',
    dryRun: false,
    createdAt: NOW,
    startedAt: null,
    finishedAt: null,
    rows: null,
    expected: null,
    bytes: null,
    sha256: null,
    remotePath: null,
    target: null,
    errorKind: null,
    error: null,
    host: 'ferry-1',
    pid: 100,
    spoolPath: null,
    holdReason: null,
    releasedBy: null,
    releasedAt: null,
    files: null,
    bundleMode: null,
    attempt: 1,
    retryOf: null,
    notBefore: null,
    leaseOwner: null,
    leaseExpiresAt: null,
    note: null,
    forcedReason: null,
    forcedScope: null,
    releaseForcedReason: null,
    releaseForcedScope: null,
    deliveredAt: null,
    configDigest: null,
    ...over,
  };
}

const integration = (over: Partial<Integration> = {}): WhyInput['integration'] => ({
  id: ID,
  enabled: true,
  schedule: { cron: '*/30 * * * *', timezone: 'America/New_York' },
  misfire: 'latest',
  overlap: 'skip',
  blackouts: [],
  ...over,
});

const sentences = (input: Omit<WhyInput, 'now'>) => whySentences(ID, whyFacts({ ...input, now: NOW }), NOW);

describe('ferry why: the sentences for states a spawned test cannot set up cheaply', () => {
  it('counts the slots nobody recorded while no daemon ran, and says a run whose lease lapsed has probably lost its daemon', () => {
    const last = run(7, { scheduledFor: new Date('2026-11-23T09:00:00Z'), startedAt: new Date('2026-11-23T09:00:01Z'), finishedAt: new Date('2026-11-23T09:00:05Z'), rows: 10, bytes: 1024 });
    const orphan = run(8, { trigger: 'manual', requestedBy: 'ops', status: 'running', startedAt: new Date('2026-11-23T10:00:00Z'), leaseOwner: 'ferry-1:100:abc', leaseExpiresAt: new Date('2026-11-23T10:01:00Z') });
    const out = sentences({
      integration: integration({ blackouts: [{ from: '2026-12-24', to: '2027-01-01', reason: 'winter break' }] }),
      state: undefined,
      recentRuns: [orphan, last],
      running: [orphan],
      queued: [],
      lastRecordedSlot: last.scheduledFor,
      misfireWindowHours: 24,
    });
    expect(out).toEqual([
      `${ID} is enabled (config).`,
      'Its schedule is `*/30 * * * *` in America/New_York; the next slots are 2026-11-23 07:30:00 EST, 2026-11-23 08:00:00 EST and 2026-11-23 08:30:00 EST.',
      'The last slot, 2026-11-23 07:00:00 EST, has no run recorded: no daemon was running then, or none has got to it yet.',
      'The last finished run was run 7 (schedule), which succeeded (10 rows, 1.0 KiB) at 2026-11-23 04:00:05 EST.',
      'Nothing was recorded as missed in the last 2 runs recorded (misfire policy latest).',
      'No run is recorded for 6 slots between 2026-11-23 04:30:00 EST and 2026-11-23 07:00:00 EST: no daemon was running then, or none has got to them yet; a daemon that starts applies the misfire policy latest to those in the last 24 h (scheduler.misfireWindowHours).',
      'Run 8 (manual) is going now on daemon ferry-1:100:abc (host ferry-1, pid 100), started 2026-11-23 05:00:00 EST, but its lease ran out at 2026-11-23 05:01:00 EST: that daemon has probably stopped, and the next daemon to look will mark the run interrupted.',
      'No blackout applies now; the next one is from 2026-12-24 to 2027-01-01 (winter break).',
    ]);
  });

  it('names a gap: slots between recorded ones that have no record', () => {
    const at = (iso: string, id: number) => run(id, { scheduledFor: new Date(iso), startedAt: new Date(iso), finishedAt: new Date(iso), rows: 1, bytes: 10 });
    const recent = [at('2026-11-23T12:00:00Z', 4), at('2026-11-23T10:30:00Z', 3), at('2026-11-23T09:00:00Z', 2)];
    const out = sentences({ integration: integration(), state: undefined, recentRuns: recent, running: [], queued: [], lastRecordedSlot: recent[0]!.scheduledFor, misfireWindowHours: 24 });
    expect(out).toContain(
      'Gap: 4 slots between 2026-11-23 04:30:00 EST and 2026-11-23 06:30:00 EST have no run recorded, though slots before and after do: the integration was disabled then, or the slots fell outside the misfire window (scheduler.misfireWindowHours) before any daemon could record them.',
    );
  });

  it('gives a blackout skip its reason once, and says what a queued slot waits behind', () => {
    const slot = new Date('2026-11-23T12:00:00Z');
    const skipped = run(9, { scheduledFor: slot, status: 'skipped', errorKind: 'blackout', note: 'skipped: blackout from 2026-11-20 to 2026-11-24 (thanksgiving); scheduled runs do not run' });
    const queued = run(10, { status: 'queued', scheduledFor: new Date('2026-11-23T11:30:00Z'), notBefore: new Date('2026-11-23T11:30:00Z'), note: 'queued behind run 8, which was still going (overlap policy queue-one)' });
    const out = sentences({
      integration: integration({ blackouts: [{ from: '2026-11-20', to: '2026-11-24', reason: 'thanksgiving' }] }),
      state: { integrationId: ID, enabled: true, reason: null, changedBy: 'ops', changedAt: new Date('2026-11-01T15:00:00Z') },
      recentRuns: [queued, skipped],
      running: [],
      queued: [queued],
      lastRecordedSlot: slot,
    });
    expect(out[0]).toBe(`${ID} is enabled, set by ops at 2026-11-01 10:00:00 EST.`);
    expect(out[1]).toContain('2026-11-23 07:30:00 EST (in the blackout "thanksgiving": skipped)');
    expect(out).toContain('The last slot, 2026-11-23 07:00:00 EST, was skipped (run 9): blackout from 2026-11-20 to 2026-11-24 (thanksgiving); scheduled runs do not run.');
    expect(out).toContain('Run 10 is queued for the slot 2026-11-23 06:30:00 EST not before 2026-11-23 06:30:00 EST: queued behind run 8, which was still going (overlap policy queue-one).');
    expect(out.at(-1)).toBe('A blackout applies from 2026-11-20 to 2026-11-24 (thanksgiving): scheduled runs are skipped until it ends.');
  });

  it('finds the last slot of a yearly schedule, with the same slot rules as the scheduler', () => {
    expect(previousSlot(compileSchedule('0 0 1 1 *'), 'UTC', NOW)?.toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });
});
