import { describe, expect, it } from 'vitest';
import type { District, Extract } from '../../src/config/model.js';
import { dateInZone, parseGrades, resolveParams, schoolYearOf } from '../../src/config/params.js';
import type { StandardFilter } from '../../src/config/schema.js';
import { FerryError } from '../../src/core/errors.js';

const district: District = { id: 'hilltop-csd', name: 'Hilltop CSD', gradeBands: { ES: 'K-5', MS: '6-8', HS: '9-12' }, blackouts: [], file: 'integrations/hilltop.yaml' };

function extract(filters: StandardFilter[], params: Extract['params'] = {}): Extract {
  return { name: 'roster', description: 'test roster', sourceKind: 'sqlite', filters, params, columns: [{ name: 'id', type: 'string' }], sql: 'SELECT 1', file: 'extract.yaml' };
}

const ALL_FILTERS: StandardFilter[] = ['schoolYear', 'buildings', 'grades', 'activeOnly', 'asOf'];
const roster = extract(ALL_FILTERS, {
  districtId: { type: 'string', required: true },
  level: { type: 'string', required: false, allowed: ['basic', 'full'], default: 'basic' },
  includeEmail: { type: 'boolean', required: false, default: true },
  since: { type: 'date', required: false },
  limit: { type: 'integer', required: false },
  tags: { type: 'string[]', required: false },
});
const NY = 'America/New_York';
// 10:00 in New York on Monday 23 November 2026.
const NOV_23 = new Date('2026-11-23T15:00:00Z');

function resolve(supplied: Record<string, unknown>, at: Date = NOV_23, ex: Extract = roster) {
  return resolveParams('hilltop-roster', ex, district, { districtId: 'hilltop-csd', ...supplied }, at, NY);
}

function refusal(supplied: Record<string, unknown>, ex: Extract = roster): FerryError {
  let caught: unknown;
  try {
    resolve(supplied, NOV_23, ex);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(FerryError);
  const err = caught as FerryError;
  expect(err.kind).toBe('params');
  expect(err.retryable).toBe(false);
  expect(err.integration).toBe('hilltop-roster');
  expect(err.message).toMatch(/^integration hilltop-roster: parameter /);
  return err;
}

describe('grades', () => {
  it.each<[string, number, number]>([
    ['K-6', 0, 6],
    ['PK', -1, -1],
    ['pk-k', -1, 0],
    ['9-12', 9, 12],
    ['7', 7, 7],
    ['PK-12', -1, 12],
  ])('%s binds gradeMin %i and gradeMax %i', (grades, min, max) => {
    const { binds, values } = resolve({ grades });
    expect([binds['gradeMin'], binds['gradeMax']]).toEqual([min, max]);
    expect(values['grades']).toBe(grades);
  });

  it("accepts the district's band names in any case", () => {
    expect(parseGrades('ES', district.gradeBands)).toEqual([0, 5]);
    expect(parseGrades('hs', district.gradeBands)).toEqual([9, 12]);
    expect(parseGrades('Ms', district.gradeBands)).toEqual([6, 8]);
  });

  it('defaults to all of PK-12', () => {
    const { binds } = resolve({});
    expect([binds['gradeMin'], binds['gradeMax']]).toEqual([-1, 12]);
  });

  it('refuses a range that runs backwards', () => {
    const err = refusal({ grades: '12-9' });
    expect(err.field).toBe('params.grades');
    expect(err.message).toContain('"12-9" runs backwards');
  });

  it('refuses a grade above 12', () => {
    const err = refusal({ grades: 13 });
    expect(err.field).toBe('params.grades');
    expect(err.message).toContain('grade "13" is outside PK-12');
  });

  it("refuses an unknown band, listing the district's bands", () => {
    const err = refusal({ grades: 'Upper' });
    expect(err.message).toContain('"Upper" is not a grade range like K-6 or 9-12 or a band of this district (ES, MS, HS)');
  });
});

describe('school year and as-of date', () => {
  it.each<[string, number]>([
    ['2026-11-23', 2027],
    ['2027-03-01', 2027],
    ['2026-07-01', 2027],
    ['2026-06-30', 2026],
  ])('on %s the school year is %i', (asOf, year) => {
    expect(schoolYearOf(asOf)).toBe(year);
    expect(resolve({ asOf }).binds['schoolYear']).toBe(year);
  });

  it("defaults the as-of date to today in the integration's time zone", () => {
    // 22:30 on the 23rd in New York, already the 24th in UTC.
    const lateEvening = new Date('2026-11-24T03:30:00Z');
    expect(dateInZone(lateEvening, NY)).toBe('2026-11-23');
    expect(resolve({}, lateEvening).binds['asOf']).toBe('2026-11-23');
    expect(resolve({ asOf: 'today' }, lateEvening).binds['asOf']).toBe('2026-11-23');
  });

  it('takes the default school year from that date: the night of June 30 is still the old year', () => {
    expect(resolve({}, new Date('2026-07-01T03:30:00Z')).binds['schoolYear']).toBe(2026);
    expect(resolve({}, new Date('2026-07-01T04:30:00Z')).binds['schoolYear']).toBe(2027);
  });

  it('lets an explicit school year win over the as-of date', () => {
    expect(resolve({ schoolYear: '2026', asOf: '2026-11-23' }).binds['schoolYear']).toBe(2026);
  });

  it('refuses a date that does not exist', () => {
    const err = refusal({ asOf: '2026-02-30' });
    expect(err.field).toBe('params.asOf');
    expect(err.message).toContain('"2026-02-30" is not a real date');
  });

  it('refuses a date in another format', () => {
    expect(refusal({ since: '11/23/2026' }).message).toContain('must be a date like 2026-09-01');
  });

  it('refuses a school year written as a span', () => {
    expect(refusal({ schoolYear: '2026-27' }).field).toBe('params.schoolYear');
  });
});

describe('--param style string overrides', () => {
  it('coerces text to booleans, lists, dates and numbers', () => {
    const { binds, values } = resolve({ activeOnly: 'false', includeEmail: 'true', buildings: 'HES, HMS,', since: '2026-09-01', limit: '25', tags: 'a,b', level: 'full' });
    expect(binds).toMatchObject({ activeOnly: false, includeEmail: true, buildings: ['HES', 'HMS'], since: '2026-09-01', limit: 25, tags: ['a', 'b'], level: 'full' });
    expect(values).toMatchObject({ activeOnly: false, buildings: ['HES', 'HMS'] });
  });

  it('applies defaults: active only, all buildings, declared defaults, and null for an optional parameter with none', () => {
    expect(resolve({}).binds).toEqual({
      asOf: '2026-11-23',
      schoolYear: 2027,
      buildings: [],
      gradeMin: -1,
      gradeMax: 12,
      activeOnly: true,
      districtId: 'hilltop-csd',
      level: 'basic',
      includeEmail: true,
      since: null,
      limit: null,
      tags: null,
    });
  });

  it('returns frozen values', () => {
    const resolved = resolve({});
    expect(Object.isFrozen(resolved.binds)).toBe(true);
    expect(Object.isFrozen(resolved.values)).toBe(true);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['activeOnly', { activeOnly: 'maybe' }, 'must be true or false'],
    ['limit', { limit: '2.5' }, 'must be a whole number'],
    ['tags', { tags: { a: 1 } }, 'must be a list'],
  ])('refuses a value that cannot be coerced for %s', (name, supplied, message) => {
    const err = refusal(supplied);
    expect(err.field).toBe(`params.${name}`);
    expect(err.message).toContain(`integration hilltop-roster: parameter ${name}: ${message}`);
  });
});

describe('declared parameters', () => {
  it('refuses a missing required parameter', () => {
    const err = refusal({}, extract([], { districtId: { type: 'string', required: true }, vendorCode: { type: 'string', required: true } }));
    expect(err.field).toBe('params.vendorCode');
    expect(err.message).toBe('integration hilltop-roster: parameter vendorCode: is required by extract roster and has no value');
  });

  it("fills districtId from the district block, and refuses another district's id", () => {
    expect(resolveParams('hilltop-roster', roster, district, {}, NOV_23, NY).binds['districtId']).toBe('hilltop-csd');
    expect(resolve({ districtId: 'hilltop-csd' }).values['districtId']).toBe('hilltop-csd');
    const err = refusal({ districtId: 'riverbend-ufsd' });
    expect(err.field).toBe('params.districtId');
    expect(err.message).toBe(
      'integration hilltop-roster: parameter districtId: "riverbend-ufsd" is not this integration\'s district: it belongs to district hilltop-csd (its district: block), and that id is always used; remove districtId (no override, not even with --force, sends another district\'s data)',
    );
  });

  it('refuses a value outside the allowed ones', () => {
    const err = refusal({ level: 'everything' });
    expect(err.field).toBe('params.level');
    expect(err.message).toContain('"everything" is not one of the allowed values (basic, full)');
  });

  it('refuses a parameter the extract does not declare, listing what it takes', () => {
    const err = refusal({ districtID: 'x' });
    expect(err.field).toBe('params.districtID');
    expect(err.message).toContain('extract roster declares no such parameter (it takes: schoolYear, buildings, grades, activeOnly, asOf, districtId, level');
  });

  it('refuses a standard filter the extract does not support', () => {
    const staff = extract(['buildings', 'activeOnly'], { districtId: { type: 'string', required: true } });
    const err = refusal({ grades: 'K-5' }, staff);
    expect(err.field).toBe('params.grades');
    expect(err.message).toBe('integration hilltop-roster: parameter grades: extract roster does not support the grades filter');
  });

  it('binds only the filters the extract supports', () => {
    const staff = extract(['buildings', 'activeOnly'], { districtId: { type: 'string', required: true } });
    expect(resolve({}, NOV_23, staff).binds).toEqual({ buildings: [], activeOnly: true, districtId: 'hilltop-csd' });
  });
});
