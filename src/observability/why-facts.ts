import { blackoutOn as blackoutOnDay } from '../config/blackouts.js';
import { dateInZone } from '../config/params.js';
import type { Blackout, Integration } from '../config/model.js';
import type { IntegrationState, RunRecord } from '../store/run-store.js';
import { compileSchedule, nextSlots, slotsBetween, type CompiledSchedule } from '../scheduler/slots.js';

/**
 * Everything `ferry why <integration>` says, worked out from config and the run store, with the same slot rules the
 * scheduler uses (src/scheduler/slots.ts). Pure: the caller reads the store and passes the time.
 */
export interface WhyInput {
  integration: Pick<Integration, 'id' | 'enabled' | 'schedule' | 'misfire' | 'overlap' | 'blackouts'>;
  /** The store's time (leases are in store time). */
  now: Date;
  state: IntegrationState | undefined;
  /** The integration's recent runs, newest first. */
  recentRuns: readonly RunRecord[];
  running: readonly RunRecord[];
  queued: readonly RunRecord[];
  /** The latest slot recorded for the integration in the store, if any. */
  lastRecordedSlot: Date | null;
  nextCount?: number;
  /** `scheduler.misfireWindowHours`: only missed slots this recent are decided by the misfire policy. */
  misfireWindowHours?: number;
}

export interface WhyFacts {
  enabled: { value: boolean; source: 'config' | 'store'; by: string | null; at: Date | null; reason: string | null; config: boolean };
  schedule: { cron: string; timezone: string; next: { at: Date; blackout: Blackout | null }[] };
  /** The latest slot at or before now, and the run recorded for it. */
  lastSlot: { at: Date; run: RunRecord | null; blackout: Blackout | null } | null;
  /** The newest run of any trigger that ran and finished (not queued, running or missed). */
  lastRun: RunRecord | null;
  /** The newest batch of slots recorded as missed (one scheduler decision), and the run that caught up, if any. */
  missed: { runs: RunRecord[]; from: Date; to: Date; note: string | null; decidedAt: Date; catchUp: RunRecord | null } | null;
  /** Slots between recorded ones, within the recent runs looked at, that have no record (a gap). */
  gaps: { count: number; first: Date; last: Date } | null;
  /** Past slots after the last recorded one that nothing has decided (no daemon running, or disabled). */
  unrecorded: { count: number; atLeast: boolean; from: Date; to: Date } | null;
  running: RunRecord[];
  queued: RunRecord[];
  blackout: { now: Blackout | null; next: Blackout | null; today: string };
  misfire: Integration['misfire'];
  misfireWindowHours: number | null;
  overlap: Integration['overlap'];
  /** How many recent runs the missed search looked at. */
  looked: number;
}

/** A slot is given this long to be recorded before it counts as unrecorded (the daemon records it as it fires). */
const GRACE_MS = 60_000;
const UNRECORDED_CAP = 10_000;
const DAY = 86_400_000;

export function whyFacts(input: WhyInput): WhyFacts {
  const { integration: i, now } = input;
  const { cron, timezone } = i.schedule;
  const compiled = compileSchedule(cron);
  const today = dayIn(timezone, now);
  const runs = input.recentRuns;

  const last = previousSlot(compiled, timezone, now);
  const lastSlot = last ? { at: last, run: runs.find((r) => r.scheduledFor?.getTime() === last.getTime()) ?? null, blackout: blackoutOn(i.blackouts, dayIn(timezone, last)) } : null;
  const next = nextSlots(compiled, timezone, now, input.nextCount ?? 3).map((at) => ({ at, blackout: blackoutOn(i.blackouts, dayIn(timezone, at)) }));

  return {
    enabled: {
      value: input.state?.enabled ?? i.enabled,
      source: input.state ? 'store' : 'config',
      by: input.state?.changedBy ?? null,
      at: input.state?.changedAt ?? null,
      reason: input.state?.reason ?? null,
      config: i.enabled,
    },
    schedule: { cron, timezone, next },
    lastSlot,
    lastRun: runs.find((r) => r.status !== 'queued' && r.status !== 'running' && r.status !== 'missed') ?? null,
    missed: latestMissedBatch(runs),
    gaps: gapsBetween(compiled, timezone, runs),
    unrecorded: unrecordedSlots(compiled, timezone, input.lastRecordedSlot, now),
    running: [...input.running],
    queued: [...input.queued],
    blackout: {
      now: blackoutOn(i.blackouts, today),
      next: [...i.blackouts].filter((b) => b.from > today).sort((a, b) => a.from.localeCompare(b.from))[0] ?? null,
      today,
    },
    misfire: i.misfire,
    misfireWindowHours: input.misfireWindowHours ?? null,
    overlap: i.overlap,
    looked: runs.length,
  };
}

/** The latest slot at or before `now`; looks back in widening windows so a yearly schedule costs little more than a daily one. */
export function previousSlot(schedule: CompiledSchedule, timezone: string, now: Date): Date | null {
  for (const days of [1 / 24, 1, 8, 32, 400]) {
    const slots = slotsBetween(schedule, timezone, new Date(now.getTime() - days * DAY), now);
    const last = slots.at(-1);
    if (last) return last;
  }
  return null;
}

/** The runs the scheduler recorded as missed in one decision (one catch-up pass writes them together). */
function latestMissedBatch(runs: readonly RunRecord[]): WhyFacts['missed'] {
  const newest = runs.find((r) => r.status === 'missed');
  if (!newest) return null;
  const decidedAt = newest.createdAt;
  const batch = runs.filter((r) => r.status === 'missed' && Math.abs(r.createdAt.getTime() - decidedAt.getTime()) < GRACE_MS && r.scheduledFor);
  const slots = batch.map((r) => r.scheduledFor!.getTime());
  const to = new Date(Math.max(...slots));
  // The catch-up run (policy latest or all) is recorded in the same pass, for a slot after the missed ones.
  const catchUp =
    runs
      .filter((r) => r.status !== 'missed' && r.trigger === 'schedule' && r.scheduledFor && r.scheduledFor > to && Math.abs(r.createdAt.getTime() - decidedAt.getTime()) < GRACE_MS)
      .sort((a, b) => a.scheduledFor!.getTime() - b.scheduledFor!.getTime())[0] ?? null;
  return {
    runs: batch.sort((a, b) => a.scheduledFor!.getTime() - b.scheduledFor!.getTime()),
    from: new Date(Math.min(...slots)),
    to,
    note: newest.note ?? newest.error,
    decidedAt,
    catchUp,
  };
}

/** Slots with no record between the oldest and newest recorded slot of the recent runs. */
function gapsBetween(schedule: CompiledSchedule, timezone: string, runs: readonly RunRecord[]): WhyFacts['gaps'] {
  const recorded = new Set(runs.filter((r) => r.scheduledFor).map((r) => r.scheduledFor!.getTime()));
  if (recorded.size < 2) return null;
  const first = Math.min(...recorded);
  const last = Math.max(...recorded);
  const missing = slotsBetween(schedule, timezone, new Date(first), new Date(last), UNRECORDED_CAP).filter((s) => s.getTime() < last && !recorded.has(s.getTime()));
  return missing.length ? { count: missing.length, first: missing[0]!, last: missing.at(-1)! } : null;
}

function unrecordedSlots(schedule: CompiledSchedule, timezone: string, lastRecorded: Date | null, now: Date): WhyFacts['unrecorded'] {
  // Never recorded at all: there is no "since" to count from, and counting from the epoch would say nothing useful.
  if (!lastRecorded) return null;
  const until = new Date(now.getTime() - GRACE_MS);
  const from = new Date(Math.max(lastRecorded.getTime(), now.getTime() - 400 * DAY));
  if (until <= from) return null;
  const slots = slotsBetween(schedule, timezone, from, until, UNRECORDED_CAP);
  if (slots.length === 0) return null;
  return { count: slots.length, atLeast: slots.length >= UNRECORDED_CAP || from.getTime() !== lastRecorded.getTime(), from: slots[0]!, to: slots.at(-1)! };
}

/** The date (YYYY-MM-DD) of `at` in `timezone`: blackouts are whole days in the integration's zone. */
export function dayIn(timezone: string, at: Date): string {
  return dateInZone(at, timezone);
}

function blackoutOn(blackouts: readonly Blackout[], day: string): Blackout | null {
  return blackoutOnDay(blackouts, day) ?? null;
}
