import cron from 'node-cron';

/**
 * When an integration's slots fall, in its IANA time zone, with daylight-saving time handled the way Vixie cron does
 * and a user expects:
 * - A wall-clock time that does not exist (spring forward: 02:30 on the day clocks go 02:00 → 03:00) fires once, at the
 *   first valid instant after the gap (03:00).
 * - A wall-clock time that happens twice (fall back: 01:30 on the day clocks go 02:00 → 01:00) fires once, the first
 *   time. A schedule that runs every hour (hour field `*`) keeps running by real time through both passes: "every 15
 *   minutes" stays every 15 real minutes.
 * Day of month and day of week follow Vixie cron (and cronie), because operators paste crontab lines: when both fields
 * are restricted a day matches if EITHER does (`0 2 1 * 1` runs on the 1st and on every Monday); when one starts with
 * `*` only the other counts (cronie's test of "restricted", see dayFieldsBothRestricted).
 * node-cron parses and validates the expression; matching and enumeration are done here because node-cron skips gap
 * times, has no "slots between two instants", and matches at ~20 µs a call where catching up 2,000 integrations over
 * a week needs ~0.1 µs.
 */
export interface CompiledSchedule {
  readonly expression: string;
  /** 1000 when the expression has a seconds field that is not just 0, else 60,000. */
  readonly stepMs: number;
  /** Every hour matches: slots follow real time through a repeated hour. */
  readonly everyHour: boolean;
  /** Does this wall-clock time (a "fake UTC" instant: the local date and time read as if UTC) match? */
  matches(wall: number): boolean;
}

const DAY = 86_400_000;
const QUARTER_HOUR = 900_000;

export function compileSchedule(expression: string): CompiledSchedule {
  const f = cron.parse(expression);
  const set = (xs: readonly (number | string)[]) => new Set(xs.filter((x): x is number => typeof x === 'number'));
  const seconds = set(f.second);
  const minutes = set(f.minute);
  const hours = set(f.hour);
  const months = set(f.month);
  const dows = set(f.dayOfWeek.map((d) => (d === 7 ? 0 : d)));
  const doms = set(f.dayOfMonth);
  const lastDay = f.dayOfMonth.includes('L');
  const eitherDay = dayFieldsBothRestricted(expression);
  const other = [...f.dayOfMonth, ...f.dayOfWeek].some((x) => typeof x === 'string' && x !== 'L');
  if (other) {
    // Rare syntax (e.g. nth weekday): let node-cron match it, at its speed. node-cron wants both day fields, so an
    // either-day schedule is two node-cron schedules, each with one day field made `*`.
    const stepMs = seconds.size === 1 && seconds.has(0) ? 60_000 : 1000;
    const tasks = (eitherDay ? [withStarIn(expression, 'dayOfWeek'), withStarIn(expression, 'dayOfMonth')] : [expression]).map((e) => cron.createTask(e, () => undefined, { timezone: 'UTC' }));
    return { expression, stepMs, everyHour: hours.size === 24, matches: (wall) => tasks.some((task) => task.match(new Date(wall))) };
  }
  return {
    expression,
    stepMs: seconds.size === 1 && seconds.has(0) ? 60_000 : 1000,
    everyHour: hours.size === 24,
    matches(wall) {
      const d = new Date(wall);
      if (!seconds.has(d.getUTCSeconds()) || !minutes.has(d.getUTCMinutes()) || !hours.has(d.getUTCHours()) || !months.has(d.getUTCMonth() + 1)) return false;
      const dow = dows.has(d.getUTCDay());
      if (eitherDay && dow) return true;
      if (!eitherDay && !dow) return false;
      return doms.has(d.getUTCDate()) || (lastDay && new Date(wall + DAY).getUTCDate() === 1);
    },
  };
}

/** The day-of-month and day-of-week fields' text (nicknames such as `@weekly` never restrict both, so they have none). */
function dayFields(expression: string): { dayOfMonth: string; dayOfWeek: string } | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length < 5) return undefined;
  return { dayOfMonth: fields[fields.length - 3]!, dayOfWeek: fields[fields.length - 1]! };
}

// cronie's DOM_STAR/DOW_STAR test: a field is unrestricted when its text starts with `*` (`?` is node-cron's `*`).
// So a step over `*` is unrestricted: in `0 2 */2 * 1` both fields must match (Mondays that fall on an odd date).
function dayFieldsBothRestricted(expression: string): boolean {
  const days = dayFields(expression);
  const restricted = (field: string) => !field.startsWith('*') && field !== '?';
  return days !== undefined && restricted(days.dayOfMonth) && restricted(days.dayOfWeek);
}

/** The expression with one day field made `*`. */
function withStarIn(expression: string, field: 'dayOfMonth' | 'dayOfWeek'): string {
  const fields = expression.trim().split(/\s+/);
  fields[fields.length - (field === 'dayOfMonth' ? 3 : 1)] = '*';
  return fields.join(' ');
}

/** Local wall-clock time in a zone as a "fake UTC" instant, to the second; cached per zone formatter. */
const formatters = new Map<string, Intl.DateTimeFormat>();
export function wallClockOf(timezone: string, at: number): number {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: timezone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(timezone, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(new Date(at))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return Date.UTC(p['year']!, p['month']! - 1, p['day']!, p['hour']!, p['minute']!, p['second']!);
}

/**
 * The slots of a schedule after `from` (exclusive) up to `to` (inclusive), oldest first, at most `limit`.
 * Each slot is the absolute instant it fires.
 */
/**
 * Carried from one call to the next by a caller that walks time in steps (the scheduler's ticks): the latest wall time
 * already passed, so a repeated hour is recognised even when its two passes fall in different calls.
 */
export interface WallState {
  maxWall?: number;
}

export function slotsBetween(schedule: CompiledSchedule, timezone: string, from: Date, to: Date, limit = Number.POSITIVE_INFINITY, state: WallState = {}): Date[] {
  const out: Date[] = [];
  const step = schedule.stepMs;
  // Zone offsets only change on quarter-hour boundaries: ask Intl once per quarter hour, not once per step.
  let block = Number.NaN;
  let offset = 0;
  const wallClock = (zone: string, at: number): number => {
    const b = Math.floor(at / QUARTER_HOUR);
    if (b !== block) {
      block = b;
      offset = wallClockOf(zone, b * QUARTER_HOUR) - b * QUARTER_HOUR;
    }
    return Math.floor(at / 1000) * 1000 + offset;
  };
  let t = Math.floor(from.getTime() / step) * step;
  // The latest wall time already passed: a repeated hour (fall back) shows wall times at or before it again.
  let maxWall = Math.max(wallClock(timezone, t), state.maxWall ?? Number.NEGATIVE_INFINITY);
  for (t += step; t <= to.getTime() && out.length < limit; t += step) {
    const wall = wallClock(timezone, t);
    let fire = false;
    if (wall <= maxWall) {
      // Fall back: the clock repeats. Fixed-time slots already fired in the first pass; every-hour schedules follow real time.
      fire = schedule.everyHour && schedule.matches(wall);
    } else {
      fire = schedule.matches(wall);
      // Spring forward: wall times skipped by the jump that match fire now, once.
      for (let skipped = maxWall + step; !fire && skipped < wall; skipped += step) fire = schedule.matches(skipped);
      maxWall = wall;
    }
    if (fire) out.push(new Date(t));
  }
  state.maxWall = maxWall;
  return out;
}

/** The next `count` slots after `from`, looking at most `horizonDays` ahead. */
export function nextSlots(schedule: CompiledSchedule, timezone: string, from: Date, count: number, horizonDays = 400): Date[] {
  const out: Date[] = [];
  let cursor = from;
  // Walk a month at a time, so a daily schedule does not enumerate a year of minutes for three answers.
  for (let walked = 0; out.length < count && walked < horizonDays; walked += 31) {
    const until = new Date(cursor.getTime() + 31 * DAY);
    out.push(...slotsBetween(schedule, timezone, cursor, until, count - out.length));
    cursor = until;
  }
  return out;
}
