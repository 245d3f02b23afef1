import os from 'node:os';
import type { Logger } from 'winston';
import type { Clock } from '../core/clock.js';
import type { EventBus } from '../core/events.js';
import type { Integration } from '../config/model.js';
import type { DecisionInput, IntegrationState, RunStore } from '../store/run-store.js';
import { blackoutNow } from '../config/blackouts.js';
import { compileSchedule, nextSlots, slotsBetween, type CompiledSchedule, type WallState } from './slots.js';

/**
 * Decides which slots run. Each integration has a cursor: the instant up to which its slots have been dealt with.
 * On start it is the integration's last recorded slot (by any daemon sharing the store), so slots missed while no
 * daemon was running are found, and a slot that already ran is never run again, whatever its schedule says now.
 * Every tick looks at the slots between the cursor and now:
 * - a slot that is due now (within `lateToleranceMs`) runs, unless a blackout covers it (recorded as skipped);
 * - older slots were missed, and the integration's misfire policy decides: `skip` records them as missed, `latest`
 *   records all but the newest as missed and runs the newest, `all` runs them in order. Only slots within
 *   `misfireWindowMs` are considered.
 * A disabled integration's slots are passed over (logged, not recorded). Claims in the store make each slot run once
 * even when several daemons tick together.
 */
export interface SchedulerDeps {
  integrations: () => Iterable<Integration>;
  store: RunStore;
  clock: Clock;
  logger: Logger;
  bus?: EventBus | undefined;
  /** Start a scheduled run; resolves when it has finished. */
  run: (integration: Integration, slot: Date, note: string | null) => Promise<unknown>;
  misfireWindowMs: number;
  /** A slot this late or less still counts as on time (a tick that woke a little late, a busy event loop). */
  lateToleranceMs?: number;
  /**
   * Slots this daemon claims and runs at once (its global cap). Due slots wait here, unclaimed, until there is room: a
   * busy daemon does not grab a burst it cannot start, so the other daemons sharing the store claim the rest, and a
   * slot's claim is not queued behind two thousand others.
   */
  maxInFlight?: number;
}

export interface TickResult {
  /** Slots started this tick. */
  started: number;
  /** Decisions recorded this tick (missed, blackout). */
  decided: number;
  /** Resolves when every run started this tick has finished (tests await it; the loop does not). */
  done: Promise<unknown>;
}

export interface Scheduler {
  /** Read each integration's cursor from the store (its last recorded slot); `start` does it too. */
  init(): Promise<void>;
  /** Read the cursors from the store and start ticking at each step boundary. */
  start(): Promise<void>;
  /** Stop ticking; idempotent. Runs already started are not touched. */
  stop(): Promise<void>;
  /** One pass at the clock's now: what the loop does at every step. Tests call it with an injected clock. */
  tick(): Promise<TickResult>;
  /** After a config reload: new integrations start from now, removed ones are dropped, others keep their cursor. */
  refresh(): void;
  /** The last time a tick ran, for /healthz. */
  lastTick(): Date | null;
}

interface Entry {
  integration: Integration;
  schedule: CompiledSchedule;
  cursor: Date;
  /** The latest wall-clock time passed, so a repeated hour (fall back) is not run twice across ticks. */
  wall: WallState;
}

const HOST = os.hostname();

export function createScheduler(deps: SchedulerDeps): Scheduler {
  const tolerance = deps.lateToleranceMs ?? 90_000;
  const entries = new Map<string, Entry>();
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let last: Date | null = null;
  let ticking: Promise<unknown> = Promise.resolve();

  const compile = (i: Integration, cursor: Date, wall: WallState = {}): Entry => ({ integration: i, schedule: compileSchedule(i.schedule.cron), cursor, wall });

  async function initialCursors(): Promise<void> {
    const now = deps.clock.now();
    const floor = new Date(now.getTime() - deps.misfireWindowMs);
    const [lastSlots, states] = await Promise.all([deps.store.lastSlots(), deps.store.getStates()]);
    entries.clear();
    for (const i of deps.integrations()) entries.set(i.id, compile(i, initialCursor(lastSlots.get(i.id), states.get(i.id), floor, now)));
  }

  async function tick(): Promise<TickResult> {
    const now = deps.clock.now();
    last = now;
    deps.bus?.emit({ type: 'scheduler.tick', at: now, ok: true });
    const states = await deps.store.getStates();
    const decisions: DecisionInput[] = [];
    const work: { integration: Integration; slots: { slot: Date; note: string | null }[] }[] = [];
    for (const entry of entries.values()) {
      const { integration: i } = entry;
      const slots = slotsBetween(entry.schedule, i.schedule.timezone, entry.cursor, now, Number.POSITIVE_INFINITY, entry.wall);
      entry.cursor = now;
      if (slots.length === 0) continue;
      if (!(states.get(i.id)?.enabled ?? i.enabled)) {
        // Not a run, so not in the run history; the log (and `ferry why`) answer "why didn't it run?".
        deps.logger.info('slot not run: integration disabled', { integration: i.id, district: i.district.id, scheduledFor: slots.at(-1)!.toISOString(), slots: slots.length, reason: states.get(i.id)?.reason ?? 'disabled in config' });
        continue;
      }
      const late = slots.filter((s) => now.getTime() - s.getTime() > tolerance);
      const onTime = slots.filter((s) => now.getTime() - s.getTime() <= tolerance);
      const toRun: { slot: Date; note: string | null }[] = [];
      if (late.length > 0) {
        const plan = misfirePlan(i, late);
        for (const m of plan.missed) decisions.push(decision(i, m.slot, 'missed', 'missed', m.note));
        toRun.push(...plan.run);
      }
      for (const slot of onTime) toRun.push({ slot, note: null });
      const runnable: { slot: Date; note: string | null }[] = [];
      for (const r of toRun) {
        const blackout = blackoutNow(i, r.slot);
        if (blackout) decisions.push(decision(i, r.slot, 'skipped', 'blackout', `skipped: blackout from ${blackout.from} to ${blackout.to} (${blackout.reason}); scheduled runs do not run`));
        else runnable.push(r);
      }
      if (runnable.length > 0) work.push({ integration: i, slots: runnable });
    }

    const recorded = await deps.store.recordDecisions(decisions);
    for (const run of recorded) {
      deps.logger.warn(run.status === 'missed' ? 'slot missed' : 'slot skipped', { integration: run.integrationId, runId: run.id, scheduledFor: run.scheduledFor?.toISOString(), note: run.note });
      deps.bus?.emit({ type: 'run.finished', run });
    }
    // Up to maxInFlight integrations at a time, each claimed just before it runs; an integration's catch-up slots
    // run in order.
    const pending = [...work];
    const lanes = Math.min(deps.maxInFlight ?? Number.POSITIVE_INFINITY, pending.length);
    const done = Promise.allSettled(
      Array.from({ length: lanes }, async () => {
        for (let item = pending.shift(); item !== undefined; item = pending.shift()) {
          for (const { slot, note } of item.slots) {
            try {
              await deps.run(item.integration, slot, note);
            } catch (err) {
              deps.logger.error('slot handling failed', { integration: item.integration.id, scheduledFor: slot.toISOString(), error: (err as Error).message });
            }
          }
        }
      }),
    );
    return { started: work.reduce((n, w) => n + w.slots.length, 0), decided: recorded.length, done };
  }

  function stepMs(): number {
    let step = 60_000;
    for (const e of entries.values()) step = Math.min(step, e.schedule.stepMs);
    return step;
  }

  function scheduleNext(): void {
    if (!running) return;
    const step = stepMs();
    const now = deps.clock.now().getTime();
    // Wake just after the next step boundary, so the slot at the boundary is already due.
    const delay = Math.ceil((now + 1) / step) * step - now + 5;
    timer = setTimeout(() => {
      ticking = tick()
        .catch((err: unknown) => deps.logger.error('scheduler tick failed', { error: (err as Error).message }))
        .finally(scheduleNext);
    }, delay);
  }

  return {
    init: initialCursors,
    async start() {
      if (running) return;
      await initialCursors();
      running = true;
      // A first pass at once: slots missed while no daemon ran are dealt with now, not at the next minute.
      ticking = tick()
        .catch((err: unknown) => deps.logger.error('scheduler tick failed', { error: (err as Error).message }))
        .finally(scheduleNext);
    },
    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      await ticking.catch(() => undefined);
    },
    tick,
    refresh() {
      const now = deps.clock.now();
      const next = new Map<string, Entry>();
      for (const i of deps.integrations()) {
        const old = entries.get(i.id);
        // A changed time zone starts its wall-clock memory afresh.
        next.set(i.id, compile(i, old?.cursor ?? now, old && old.integration.schedule.timezone === i.schedule.timezone ? old.wall : {}));
      }
      entries.clear();
      for (const [k, v] of next) entries.set(k, v);
    },
    lastTick: () => last,
  };

  function decision(i: Integration, slot: Date, status: 'missed' | 'skipped', errorKind: string, note: string): DecisionInput {
    return {
      integrationId: i.id,
      districtId: i.district.id,
      extract: i.extract.name,
      trigger: 'schedule',
      requestedBy: 'scheduler',
      scheduledFor: slot,
      params: i.params,
      host: HOST,
      pid: process.pid,
      status,
      errorKind,
      note,
    };
  }
}

/** Where an integration's slots start at daemon start: after its last recorded slot, within the misfire window. */
export function initialCursor(lastSlot: Date | undefined, state: IntegrationState | undefined, floor: Date, now: Date): Date {
  // Never recorded (new integration, new store): nothing to catch up.
  if (!lastSlot) return now;
  let cursor = lastSlot.getTime();
  // Slots that fell while it was disabled are not caught up when it is enabled again.
  if (state?.enabled && state.changedAt.getTime() > cursor) cursor = Math.min(state.changedAt.getTime(), now.getTime());
  return new Date(Math.min(now.getTime(), Math.max(cursor, floor.getTime())));
}

/** What the misfire policy does with slots that were missed (oldest first). */
export function misfirePlan(integration: Pick<Integration, 'misfire'>, missed: readonly Date[]): { run: { slot: Date; note: string }[]; missed: { slot: Date; note: string }[] } {
  const at = (d: Date) => d.toISOString();
  const newest = missed.at(-1)!;
  switch (integration.misfire) {
    case 'skip':
      return { run: [], missed: missed.map((slot) => ({ slot, note: 'missed: no daemon was running at this time; misfire policy skip records it and runs nothing' })) };
    case 'latest':
      return {
        run: [{ slot: newest, note: `catch-up: this slot was missed while no daemon was running; misfire policy latest runs the newest of ${missed.length} missed slot${missed.length === 1 ? '' : 's'}` }],
        missed: missed.slice(0, -1).map((slot) => ({ slot, note: `missed: no daemon was running at this time; misfire policy latest ran only the newest missed slot (${at(newest)})` })),
      };
    case 'all':
      return { run: missed.map((slot, n) => ({ slot, note: `catch-up ${n + 1} of ${missed.length}: this slot was missed while no daemon was running; misfire policy all runs every missed slot` })), missed: [] };
  }
}

/** The next fire times of a schedule, by the same rules the scheduler fires them. */
export function nextFireTimes(schedule: { cron: string; timezone: string }, count: number, from: Date = new Date()): Date[] {
  return nextSlots(compileSchedule(schedule.cron), schedule.timezone, from, count);
}
