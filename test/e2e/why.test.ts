import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { compileSchedule, slotsBetween } from '../../src/scheduler/slots.js';
import { openRunStore, type ClaimInput } from '../../src/store/run-store.js';
import { formatInZone } from '../../src/cli/output.js';
import { dayIn } from '../../src/observability/why-facts.js';
import { E2E_USER, ferry, type CliResult } from '../helpers/cli.js';
import { makeDemoConfigDir, type DemoConfigDir } from '../helpers/demo-config.js';

const ID = 'hilltop-clever-students';
const NY = 'America/New_York';
const CRON = '0 2 * * *'; // daily: the last slot stays put for the length of the test (unless it runs at 02:00 New York time)
const shiftDay = (day: string, days: number) => new Date(Date.parse(`${day}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

describe('ferry why (spawned CLI, demo config, a store seeded the way the scheduler records)', () => {
  let cfg: DemoConfigDir;
  let text: CliResult;
  let json: CliResult;
  const c = () => ['--config', cfg.dir];
  const ids = { manual: 0, missed: [] as number[], catchUp: 0, running: 0, retry: 0 };
  const slots: Date[] = [];
  const today = dayIn(NY, new Date());
  const at = (d: Date) => formatInZone(d, NY);

  beforeAll(async () => {
    cfg = await makeDemoConfigDir({
      integrations: [
        {
          id: ID,
          extract: 'clever-students',
          source: 'demo-sis',
          destination: 'demo-sftp',
          remotePath: '{district}/clever/students.csv',
          schedule: { cron: CRON, timezone: NY },
          params: { districtId: 'hilltop-csd', asOf: '2026-11-23', schoolYear: 2027, grades: 'K-5' },
          inventory: { vendor: 'Clever', contact: 'SIS Admin', purpose: 'Rostering', ticket: 'T-1' },
          blackouts: [
            { from: shiftDay(today, -1), to: shiftDay(today, 1), reason: 'summer rollover' },
            { from: shiftDay(today, 30), to: shiftDay(today, 31), reason: 'winter break' },
          ],
        },
      ],
    });

    // A real run, by hand: it creates the store and delivers a file. A blackout covers today: it runs, with a warning.
    const run = await ferry(['run', ID, ...c()]);
    expect(run.stderr).toBe(`ferry: warning: ${ID} is in a blackout from ${shiftDay(today, -1)} to ${shiftDay(today, 1)} (summer rollover); running it anyway because you asked\n`);
    expect(run.code).toBe(0);
    ids.manual = Number(/^run (\d+) succeeded/.exec(run.stdout)?.[1]);

    // Then what a daemon records after downtime: two slots missed, the next caught up (policy latest), the last
    // one running under another daemon's lease, and a retry queued.
    const now = new Date();
    slots.push(...slotsBetween(compileSchedule(CRON), NY, new Date(now.getTime() - 5 * 86_400_000), now).slice(-4));
    const store = await openRunStore({ kind: 'sqlite', path: path.join(cfg.dataDir, 'ferry.sqlite') }, systemClock);
    try {
      const base = (scheduledFor: Date, over: Partial<ClaimInput> = {}): ClaimInput => ({
        integrationId: ID,
        districtId: 'hilltop-csd',
        extract: 'clever-students',
        trigger: 'schedule',
        requestedBy: 'scheduler',
        scheduledFor,
        params: {},
        host: 'ferry-host-2',
        pid: 777,
        lease: { owner: 'daemon-b', until: new Date(now.getTime() + 10 * 60_000) },
        ...over,
      });
      const note = 'missed while no daemon was running; misfire policy latest ran only the latest slot';
      await store.recordDecisions(slots.slice(0, 2).map((s) => ({ ...base(s), status: 'missed' as const, errorKind: 'missed', note })));
      ids.missed = (await store.listRuns({ integrationId: ID, status: 'missed' })).map((r) => r.id).sort((a, b) => a - b);
      const catchUp = await store.claimRun(base(slots[2]!, { note: 'catch-up: the latest missed slot (misfire policy latest)' }));
      ids.catchUp = catchUp.run.id;
      await store.markStarted(catchUp.run.id);
      await store.finishRun(catchUp.run.id, { status: 'succeeded', rows: 1204, bytes: 90_112 });
      const running = await store.claimRun(base(slots[3]!));
      ids.running = running.run.id;
      await store.markStarted(running.run.id);
      const retry = await store.enqueue({ ...base(slots[3]!, { trigger: 'retry', scheduledFor: null, attempt: 2, retryOf: catchUp.run.id }), notBefore: new Date(now.getTime() + 5 * 60_000) });
      ids.retry = retry!.id;
    } finally {
      await store.close();
    }

    const disable = await ferry(['disable', ID, '--reason', 'contract ended', ...c()]);
    expect(disable.code).toBe(0);
    [text, json] = await Promise.all([ferry(['why', ID, ...c()]), ferry(['why', ID, '--json', ...c()])]);
  });

  it('exits 0 and explains, in sentences, whether it is enabled and what its schedule is', () => {
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^${ID} is disabled, set by ${E2E_USER.replace(/[()]/g, '\\$&')} at \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d E[SD]T: contract ended\\. Its config says enabled; \`ferry enable\` returns to that\\.$`));
    expect(lines[1]).toMatch(/^Its schedule is `0 2 \* \* \*` in America\/New_York; the next slots are .+ 02:00:00 E[SD]T/);
    // Tomorrow's slot is inside the blackout, the day after is not.
    expect(lines[1]).toContain(`${shiftDay(today, 1)} 02:00:00`);
    expect(lines[1]).toMatch(/\(in the blackout "summer rollover": skipped\)/);
    expect(lines[1]).toMatch(/; while it is disabled they will not run\.$/);
  });

  it('says what became of the last slot, what was missed and which policy decided, and what is going and queued now', () => {
    const out = text.stdout;
    expect(out).toContain(`The last slot, ${at(slots[3]!)}, is running now as run ${ids.running}.`);
    expect(ids.missed).toHaveLength(2);
    expect(out).toContain(
      `Missed: 2 slots between ${at(slots[0]!)} and ${at(slots[1]!)} (runs ${ids.missed.join(' and ')}), decided at `,
    );
    expect(out).toContain(': missed while no daemon was running; misfire policy latest ran only the latest slot.');
    expect(out).toContain(`Run ${ids.catchUp} then ran the slot ${at(slots[2]!)} and succeeded (1,204 rows, 88.0 KiB). The misfire policy in config is latest.`);
    expect(out).toMatch(new RegExp(`Run ${ids.running} \\(schedule\\) is going now on daemon daemon-b \\(host ferry-host-2, pid 777\\), started .+; its lease holds until .+\\.`));
    expect(out).toMatch(new RegExp(`Run ${ids.retry} is queued: a retry \\(attempt 2 of run ${ids.catchUp}\\) not before \\d{4}-.+ E[SD]T\\.`));
    expect(out).toContain('A blackout applies from');
    expect(out).toContain(`A blackout applies from ${shiftDay(today, -1)} to ${shiftDay(today, 1)} (summer rollover): scheduled runs are skipped until it ends.`);
    expect(out).not.toContain('No run is recorded for'); // every past slot since the last recorded one is accounted for
  });

  it('--json gives the same facts for scripts, with the sentences', () => {
    expect(json.code).toBe(0);
    const j = JSON.parse(json.stdout) as Record<string, any>;
    expect(j.integration).toBe(ID);
    expect(j.enabled).toMatchObject({ value: false, source: 'store', by: E2E_USER, reason: 'contract ended', config: true });
    expect(j.schedule.cron).toBe(CRON);
    expect(j.schedule.next).toHaveLength(3);
    expect(j.lastSlot).toMatchObject({ at: slots[3]!.toISOString(), run: { id: ids.running, status: 'running', leaseOwner: 'daemon-b' } });
    expect(j.missed.runs.map((r: { id: number }) => r.id)).toEqual(ids.missed);
    expect(j.missed.catchUp.id).toBe(ids.catchUp);
    expect(j.running.map((r: { id: number }) => r.id)).toEqual([ids.running]);
    expect(j.queued.map((r: { id: number }) => r.id)).toEqual([ids.retry]);
    expect(j.blackout.now).toEqual({ from: shiftDay(today, -1), to: shiftDay(today, 1), reason: 'summer rollover' });
    expect(j.blackout.next).toEqual({ from: shiftDay(today, 30), to: shiftDay(today, 31), reason: 'winter break' });
    expect(j.sentences).toEqual(text.stdout.trimEnd().split('\n'));
  });

  it('an unknown integration is a usage error (exit 2) that names it', async () => {
    const r = await ferry(['why', 'no-such-integration', ...c()]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/unknown integration "no-such-integration"/);
  });
});
