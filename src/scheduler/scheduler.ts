import os from 'node:os';
import type { Logger } from 'winston';
import type { Clock } from '../core/clock.js';
import type { EventBus } from '../core/events.js';
import type { Integration } from '../config/model.js';
import type { DecisionInput, IntegrationState, RunStore } from '../store/run-store.js';
import { oneLine } from '../runs/leases.js';
import type { Runs } from '../runs/lifecycle.js';
import { blackoutNow } from '../config/blackouts.js';
import { compileSchedule, nextSlots, slotsBetween, type CompiledSchedule, type WallState } from './slots.js';

/**
 * Decides which slots run. Each integration has a cursor (the instant up to which its slots have been enumerated)
 * and a list of pending slots: enumerated, but with no record yet. A slot leaves the list only once its record is
 * written (a claimed run, or a decision: missed, blackout), so a claim that fails (the store is down) is tried again
 * at the next tick, and no slot is ever lost without a trace.
 * On start the cursor is the integration's last recorded slot (by any daemon sharing the store), so slots missed
 * while no daemon was running are found, and a slot that already ran is never run again.
 * Every tick looks at the pending slots:
 * - a slot that is due now (within `lateToleranceMs`) runs, unless a blackout covers it (recorded as skipped);
 * - older slots were missed, and the integration's misfire policy decides: `skip` records them as missed, `latest`
 *   records all but the newest as missed and runs the newest, `all` runs them in order. Only slots within
 *   `misfireWindowMs` are considered.
 * A disabled integration's slots are passed over (logged, not recorded). Claims in the store make each slot run once
 * even when several daemons tick together. Once the runs are draining (shutdown), no slot is claimed.
 */
export interface SchedulerDeps {
  integrations: () => Iterable<Integration>;
  store: Pick<RunStore, 'lastSlots' | 'getStates'>;
  runs: Pick<Runs, 'claimSlot' | 'decide' | 'draining'>;
  clock: Clock;
  logger: Logger;
  bus?: EventBus | undefined;
  /** After a slot's run has ended: a slot queued behind it (overlap policy queue-one) may start now. */
  afterRun?: (integration: Integration) => Promise<unknown>;
  misfireWindowMs: number;
  /** A slot this late or less still counts as on time (a tick that woke a little late, a busy event loop). */
  lateToleranceMs?: number;
  /**
   * Slots this daemon claims and runs at once (its global cap). Due slots wait here, unclaimed, until there is room: a
   * busy daemon does not grab a burst it cannot start, so the other daemons sharing the store claim the rest, and a
   * slot's claim is not queued behind two thousand others.
   */
  maxInFlight?: number | (() => number);
}

export interface TickResult {
  /** Slots handed to lanes this tick. */
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
  /** Stop ticking and claiming; idempotent. Runs already started are not touched. */
  stop(): Promise<void>;
  /** One pass at the clock's now: what the loop does at every step. Tests call it with an injected clock. */
  tick(): Promise<TickResult>;
  /** After a config reload: new integrations start from now, removed ones are dropped, others keep their cursor. */
  refresh(): void;
  /** The last time a tick ran, for /healthz. */
  lastTick(): Date | null;
  /** Slots enumerated but not recorded yet (waiting for a lane, or for the store to come back). */
  pending(): number;
}

interface PendingSlot {
  slot: Date;
  /** Set when a claim of this slot failed: a later decision says so rather than "no daemon was running". */
  unrecorded?: boolean;
}

interface Entry {
  integration: Integration;
  schedule: CompiledSchedule;
  cursor: Date;
  /** The latest wall-clock time passed, so a repeated hour (fall back) is not run twice across ticks. */
  wall: WallState;
  pending: PendingSlot[];
  /** A lane is working through this integration's slots. */
  busy: boolean;
}

const HOST = os.hostname();

export function createScheduler(deps: SchedulerDeps): Scheduler {
  const tolerance = deps.lateToleranceMs ?? 90_000;
  const entries = new Map<string, Entry>();
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let stopped = false;
  let last: Date | null = null;
  let ticking: Promise<unknown> = Promise.resolve();
  // A failing store is reported once, not at every tick or slot, until things work again.
  let tickFailing = false;
  let claimFailing = false;
  const lanes = new Set<Promise<unknown>>();

  const compile = (i: Integration, cursor: Date, wall: WallState = {}, pending: PendingSlot[] = []): Entry => ({
    integration: i,
    schedule: compileSchedule(i.schedule.cron),
    cursor,
    wall,
    pending,
    busy: false,
  });

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
    try {
      const result = await tickAt(now);
      deps.bus?.emit({ type: 'scheduler.tick', at: now, ok: true });
      if (tickFailing) deps.logger.info('scheduler ticks work again');
      tickFailing = false;
      return result;
    } catch (err) {
      deps.bus?.emit({ type: 'scheduler.tick', at: now, ok: false, error: oneLine(err) });
      if (!tickFailing) deps.logger.error('scheduler tick failed; due slots stay pending and are tried again at the next tick', { error: oneLine(err) });
      tickFailing = true;
      throw err;
    }
  }

  async function tickAt(now: Date): Promise<TickResult> {
    const floor = now.getTime() - deps.misfireWindowMs;
    for (const entry of entries.values()) {
      const { integration: i } = entry;
      for (const slot of slotsBetween(entry.schedule, i.schedule.timezone, entry.cursor, now, Number.POSITIVE_INFINITY, entry.wall)) entry.pending.push({ slot });
      entry.cursor = now;
      // Slots older than the misfire window are no longer considered (as at start).
      entry.pending = entry.pending.filter((p) => p.slot.getTime() >= floor);
    }
    if (stopped || deps.runs.draining) return { started: 0, decided: 0, done: Promise.resolve() };
    const states = await deps.store.getStates();
    const decisions: { entry: Entry; input: DecisionInput }[] = [];
    const work: { entry: Entry; slots: { slot: Date; note: string | null }[] }[] = [];
    for (const entry of entries.values()) {
      const { integration: i } = entry;
      if (entry.busy || entry.pending.length === 0) continue;
      if (!(states.get(i.id)?.enabled ?? i.enabled)) {
        // Not a run, so not in the run history; the log (and `ferry why`) answer "why didn't it run?".
        deps.logger.info('slot not run: integration disabled', { integration: i.id, district: i.district.id, scheduledFor: entry.pending.at(-1)!.slot.toISOString(), slots: entry.pending.length, reason: states.get(i.id)?.reason ?? 'disabled in config' });
        entry.pending = [];
        continue;
      }
      const late = entry.pending.filter((p) => now.getTime() - p.slot.getTime() > tolerance);
      const onTime = entry.pending.filter((p) => now.getTime() - p.slot.getTime() <= tolerance);
      const toRun: { slot: Date; note: string | null }[] = [];
      if (late.length > 0) {
        const plan = misfirePlan(i, late.map((p) => p.slot), late.some((p) => p.unrecorded) ? 'store' : 'down');
        for (const m of plan.missed) decisions.push({ entry, input: decision(i, m.slot, 'missed', 'missed', m.note) });
        toRun.push(...plan.run);
      }
      for (const p of onTime) toRun.push({ slot: p.slot, note: null });
      const runnable: { slot: Date; note: string | null }[] = [];
      for (const r of toRun) {
        const blackout = blackoutNow(i, r.slot);
        if (blackout) decisions.push({ entry, input: decision(i, r.slot, 'skipped', 'blackout', `skipped: blackout from ${blackout.from} to ${blackout.to} (${blackout.reason}); scheduled runs do not run`) });
        else runnable.push(r);
      }
      if (runnable.length > 0) work.push({ entry, slots: runnable });
    }

    // Decisions leave the pending list only once written; if the store fails here, the tick fails and they stay.
    const recorded = await deps.runs.decide(decisions.map((d) => d.input));
    for (const d of decisions) settle(d.entry, d.input.scheduledFor!);
    // Up to maxInFlight integrations at a time, each slot claimed just before it runs; an integration's catch-up
    // slots run in order.
    const queue = [...work];
    for (const w of queue) w.entry.busy = true;
    const cap = typeof deps.maxInFlight === 'function' ? deps.maxInFlight() : deps.maxInFlight;
    const laneCount = Math.min(cap ?? Number.POSITIVE_INFINITY, queue.length);
    const done = Promise.allSettled(
      Array.from({ length: laneCount }, async () => {
        for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
          try {
            await runSlots(item.entry, item.slots);
          } finally {
            item.entry.busy = false;
          }
        }
      }),
    );
    lanes.add(done);
    void done.finally(() => lanes.delete(done));
    return { started: work.reduce((n, w) => n + w.slots.length, 0), decided: recorded.length, done };
  }

  async function runSlots(entry: Entry, slots: readonly { slot: Date; note: string | null }[]): Promise<void> {
    const i = entry.integration;
    for (const { slot, note } of slots) {
      if (stopped || deps.runs.draining) return;
      let started: Awaited<ReturnType<Runs['claimSlot']>>;
      try {
        started = await deps.runs.claimSlot(i, slot, note);
      } catch (err) {
        if (stopped || deps.runs.draining) return;
        // Not recorded: the slot stays pending, and the next tick claims it again (or applies the misfire policy).
        for (const p of entry.pending) if (p.slot.getTime() === slot.getTime()) p.unrecorded = true;
        const fields = { integration: i.id, scheduledFor: slot.toISOString(), error: oneLine(err) };
        if (!claimFailing) deps.logger.warn('slot not recorded yet: its claim failed; it is tried again at the next tick', fields);
        else deps.logger.debug('slot not recorded yet: its claim failed; it is tried again at the next tick', fields);
        claimFailing = true;
        return;
      }
      claimFailing = false;
      settle(entry, slot);
      try {
        const report = await started.done;
        if (report.run.status !== 'queued') await deps.afterRun?.(i);
      } catch (err) {
        deps.logger.error('slot run failed unexpectedly', { integration: i.id, runId: started.run.id, scheduledFor: slot.toISOString(), error: oneLine(err) });
      }
    }
  }

  function settle(entry: Entry, slot: Date): void {
    entry.pending = entry.pending.filter((p) => p.slot.getTime() !== slot.getTime());
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
        .catch(() => undefined)
        .finally(scheduleNext);
    }, delay);
  }

  return {
    init: initialCursors,
    async start() {
      if (running) return;
      await initialCursors();
      running = true;
      stopped = false;
      // A first pass at once: slots missed while no daemon ran are dealt with now, not at the next minute.
      ticking = tick()
        .catch(() => undefined)
        .finally(scheduleNext);
    },
    async stop() {
      running = false;
      stopped = true;
      if (timer) clearTimeout(timer);
      await ticking.catch(() => undefined);
    },
    tick,
    refresh() {
      const now = deps.clock.now();
      const next = new Map<string, Entry>();
      for (const i of deps.integrations()) {
        const old = entries.get(i.id);
        // A changed time zone starts its wall-clock memory afresh; a changed schedule keeps the slots already due.
        const entry = compile(i, old?.cursor ?? now, old && old.integration.schedule.timezone === i.schedule.timezone ? old.wall : {}, old?.pending ?? []);
        entry.busy = old?.busy ?? false;
        next.set(i.id, entry);
      }
      entries.clear();
      for (const [k, v] of next) entries.set(k, v);
    },
    lastTick: () => last,
    pending: () => [...entries.values()].reduce((n, e) => n + e.pending.length, 0),
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
export function misfirePlan(
  integration: Pick<Integration, 'misfire'>,
  missed: readonly Date[],
  /** Why they were missed: no daemon ran, or their claim could not be recorded (the store was down). */
  cause: 'down' | 'store' = 'down',
): { run: { slot: Date; note: string }[]; missed: { slot: Date; note: string }[] } {
  const at = (d: Date) => d.toISOString();
  const why = cause === 'down' ? 'no daemon was running at this time' : 'the run store could not be reached to record it in time';
  const whyRun = cause === 'down' ? 'this slot was missed while no daemon was running' : 'this slot was missed while the run store could not be reached';
  const newest = missed.at(-1)!;
  switch (integration.misfire) {
    case 'skip':
      return { run: [], missed: missed.map((slot) => ({ slot, note: `missed: ${why}; misfire policy skip records it and runs nothing` })) };
    case 'latest':
      return {
        run: [{ slot: newest, note: `catch-up: ${whyRun}; misfire policy latest runs the newest of ${missed.length} missed slot${missed.length === 1 ? '' : 's'}` }],
        missed: missed.slice(0, -1).map((slot) => ({ slot, note: `missed: ${why}; misfire policy latest ran only the newest missed slot (${at(newest)})` })),
      };
    case 'all':
      return { run: missed.map((slot, n) => ({ slot, note: `catch-up ${n + 1} of ${missed.length}: ${whyRun}; misfire policy all runs every missed slot` })), missed: [] };
  }
}

/** The next fire times of a schedule, by the same rules the scheduler fires them. */
export function nextFireTimes(schedule: { cron: string; timezone: string }, count: number, from: Date = new Date()): Date[] {
  return nextSlots(compileSchedule(schedule.cron), schedule.timezone, from, count);
}
