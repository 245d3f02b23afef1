import { describe, expect, it } from 'vitest';
import { compileSchedule, nextSlots, slotsBetween } from '../../src/scheduler/slots.js';

const NY = 'America/New_York';
const iso = (ds: Date[]) => ds.map((d) => d.toISOString());
const between = (expr: string, from: string, to: string, tz = NY) => iso(slotsBetween(compileSchedule(expr), tz, new Date(from), new Date(to)));

describe('schedule slots in the integration time zone', () => {
  it('fires a 2:30 AM job once on the spring-forward day, at 3:00 AM EDT, and at 2:30 on the days around it', () => {
    // 2027-03-14: clocks go from 02:00 EST to 03:00 EDT in New York.
    expect(between('30 2 * * *', '2027-03-13T00:00:00Z', '2027-03-16T00:00:00Z')).toEqual([
      '2027-03-13T07:30:00.000Z', // 02:30 EST
      '2027-03-14T07:00:00.000Z', // 03:00 EDT, the first valid time after the gap
      '2027-03-15T06:30:00.000Z', // 02:30 EDT
    ]);
  });

  it('fires a 1:30 AM job once on the fall-back day, the first time 1:30 comes round', () => {
    // 2026-11-01: clocks go from 02:00 EDT back to 01:00 EST; 01:30 happens at 05:30Z and again at 06:30Z.
    expect(between('30 1 * * *', '2026-10-31T00:00:00Z', '2026-11-03T00:00:00Z')).toEqual(['2026-10-31T05:30:00.000Z', '2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z']);
  });

  it('keeps an every-15-minutes job on real time through both DST changes', () => {
    const fall = between('*/15 * * * *', '2026-11-01T05:00:00Z', '2026-11-01T07:00:00Z');
    expect(fall).toHaveLength(8); // two real hours, including the repeated 01:00–01:59
    expect(new Set(fall).size).toBe(8);
    const spring = between('*/15 * * * *', '2027-03-14T06:30:00Z', '2027-03-14T07:30:00Z');
    expect(spring).toEqual(['2027-03-14T06:45:00.000Z', '2027-03-14T07:00:00.000Z', '2027-03-14T07:15:00.000Z', '2027-03-14T07:30:00.000Z']);
  });

  it('runs in the integration zone, not the machine zone, and excludes the start, includes the end', () => {
    expect(between('0 23 * * *', '2026-11-23T04:00:00Z', '2026-11-24T04:00:00Z')).toEqual(['2026-11-24T04:00:00.000Z']);
    expect(between('0 23 * * *', '2026-11-24T04:00:00Z', '2026-11-25T04:00:00Z')).toEqual(['2026-11-25T04:00:00.000Z']);
    expect(between('0 8 * * *', '2026-11-23T00:00:00Z', '2026-11-24T00:00:00Z', 'America/Los_Angeles')).toEqual(['2026-11-23T16:00:00.000Z']);
  });

  it('follows node-cron’s syntax: weekday names, L for the last day, seconds', () => {
    expect(between('0 9 * * MON-FRI', '2026-11-20T00:00:00Z', '2026-11-24T00:00:00Z')).toEqual(['2026-11-20T14:00:00.000Z', '2026-11-23T14:00:00.000Z']);
    expect(between('0 0 L * *', '2027-01-30T00:00:00Z', '2027-03-02T00:00:00Z', 'UTC')).toEqual(['2027-01-31T00:00:00.000Z', '2027-02-28T00:00:00.000Z']);
    expect(between('*/20 * * * * *', '2026-11-23T00:00:00Z', '2026-11-23T00:01:00Z', 'UTC')).toEqual(['2026-11-23T00:00:20.000Z', '2026-11-23T00:00:40.000Z', '2026-11-23T00:01:00.000Z']);
  });

  describe('day of month and day of week as in a crontab (Vixie cron, cronie)', () => {
    // July 2026 in UTC: the 1st is a Wednesday; Mondays are June 29 and July 6, 13, 20, 27; August 1 is a Saturday, the 3rd a Monday.
    const from = '2026-06-28T00:00:00Z';
    const to = '2026-08-04T00:00:00Z';
    const at2 = (...days: string[]) => days.map((d) => `2026-${d}T02:00:00.000Z`);

    it('both restricted (0 2 1 * 1): fires on the 1st of every month AND on every Monday', () => {
      expect(between('0 2 1 * 1', from, to, 'UTC')).toEqual(at2('06-29', '07-01', '07-06', '07-13', '07-20', '07-27', '08-01', '08-03'));
      expect(between('0 2 1 * MON', from, to, 'UTC')).toEqual(between('0 2 1 * 1', from, to, 'UTC'));
    });

    it('day of month * (0 2 * * 1): Mondays only', () => {
      expect(between('0 2 * * 1', from, to, 'UTC')).toEqual(at2('06-29', '07-06', '07-13', '07-20', '07-27', '08-03'));
    });

    it('day of week * (0 2 1 * *): the 1st only', () => {
      expect(between('0 2 1 * *', from, to, 'UTC')).toEqual(at2('07-01', '08-01'));
    });

    it('a field starting with * is unrestricted, as in cronie, so both must match: 0 2 */2 * 1 is Mondays on odd dates', () => {
      expect(between('0 2 */2 * 1', from, to, 'UTC')).toEqual(at2('06-29', '07-13', '07-27', '08-03'));
      // Day of week `*/3` is Sunday, Wednesday and Saturday: the 1sts (Wednesday, Saturday) match, Monday July 6 does not.
      expect(between('0 2 1,6 * */3', from, to, 'UTC')).toEqual(at2('07-01', '08-01'));
    });

    it('either day also for syntax node-cron matches itself (0 2 1 * 1#2: the 1st and the second Monday)', () => {
      expect(between('0 2 1 * 1#2', from, to, 'UTC')).toEqual(at2('07-01', '07-13', '08-01'));
    });

    it('either day in the integration zone: a spring-forward 02:30 on the 1st or a Sunday fires at 03:00', () => {
      // 2027-03-14 is a Sunday, and the day New York skips 02:00–03:00.
      expect(between('30 2 1 * 0', '2027-03-13T00:00:00Z', '2027-03-16T00:00:00Z')).toEqual(['2027-03-14T07:00:00.000Z']);
    });
  });

  it('lists the next slots across months without walking minute by minute forever', () => {
    const next = nextSlots(compileSchedule('0 6 1 * *'), NY, new Date('2026-11-23T00:00:00Z'), 3);
    expect(iso(next)).toEqual(['2026-12-01T11:00:00.000Z', '2027-01-01T11:00:00.000Z', '2027-02-01T11:00:00.000Z']);
  });
});
