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

  it('follows node-cron’s day rules: weekday names, day of month AND day of week, L for the last day, seconds', () => {
    expect(between('0 9 * * MON-FRI', '2026-11-20T00:00:00Z', '2026-11-24T00:00:00Z')).toEqual(['2026-11-20T14:00:00.000Z', '2026-11-23T14:00:00.000Z']);
    expect(between('0 0 L * *', '2027-01-30T00:00:00Z', '2027-03-02T00:00:00Z', 'UTC')).toEqual(['2027-01-31T00:00:00.000Z', '2027-02-28T00:00:00.000Z']);
    expect(between('*/20 * * * * *', '2026-11-23T00:00:00Z', '2026-11-23T00:01:00Z', 'UTC')).toEqual(['2026-11-23T00:00:20.000Z', '2026-11-23T00:00:40.000Z', '2026-11-23T00:01:00.000Z']);
  });

  it('lists the next slots across months without walking minute by minute forever', () => {
    const next = nextSlots(compileSchedule('0 6 1 * *'), NY, new Date('2026-11-23T00:00:00Z'), 3);
    expect(iso(next)).toEqual(['2026-12-01T11:00:00.000Z', '2027-01-01T11:00:00.000Z', '2027-02-01T11:00:00.000Z']);
  });
});
