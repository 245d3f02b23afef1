import { describe, expect, it } from 'vitest';
import { FerryError } from '../../src/core/errors.js';
import { checkTemplate, renderRemotePath } from '../../src/delivery/remote-path.js';
import type { PathVars } from '../../src/delivery/remote-path.js';

// 22:30 on Monday 23 November in New York; already the 24th in UTC.
const vars: PathVars = {
  district: 'hilltop-csd',
  integration: 'hilltop-clever-students',
  extract: 'clever-students',
  runId: 'r-42',
  at: new Date('2026-11-24T03:30:00Z'),
  timezone: 'America/New_York',
};

function render(template: string, basePath = '/districts'): string {
  return renderRemotePath(template, basePath, vars, 'hilltop-clever-students');
}

function refusal(template: string, basePath = '/districts'): FerryError {
  let caught: unknown;
  try {
    render(template, basePath);
  } catch (err) {
    caught = err;
  }
  expect(caught, `${JSON.stringify(template)} should be refused`).toBeInstanceOf(FerryError);
  return caught as FerryError;
}

describe('renderRemotePath', () => {
  it('fills in the district, integration, extract and run id', () => {
    expect(render('{district}/{integration}/{extract}-{runId}.csv')).toBe('/districts/hilltop-csd/hilltop-clever-students/clever-students-r-42.csv');
  });

  it("takes the date and time in the integration's time zone, not UTC", () => {
    expect(render('{district}/students_{date:YYYYMMDD}_{time:HHmm}.csv')).toBe('/districts/hilltop-csd/students_20261123_2230.csv');
    expect(render('{date:YYYY-MM-DD}T{time:HH.mm.ss}.csv')).toBe('/districts/2026-11-23T22.30.00.csv');
    expect(renderRemotePath('{date}_{time}.csv', '/', { ...vars, timezone: 'UTC' }, 'x')).toBe('/20261124_0330.csv');
  });

  it('writes midnight as 00, not 24', () => {
    expect(renderRemotePath('{time:HHmm}.csv', '/', { ...vars, at: new Date('2026-11-24T05:00:00Z') }, 'x')).toBe('/0000.csv');
  });

  it('joins onto the base folder whether or not it ends in a slash, including the root', () => {
    expect(render('a/b.csv', '/districts')).toBe('/districts/a/b.csv');
    expect(render('a/b.csv', '/districts/')).toBe('/districts/a/b.csv');
    expect(render('a/b.csv', '/')).toBe('/a/b.csv');
    expect(render('a//./b.csv', '/districts')).toBe('/districts/a/b.csv');
  });

  it('keeps an absolute path inside the base folder', () => {
    expect(render('/etc/passwd', '/districts')).toBe('/districts/etc/passwd');
  });

  it.each([
    ['a parent segment', '../../etc/x.csv'],
    ['a parent segment in the middle', '{district}/../other-district/students.csv'],
    ['a trailing parent segment', 'a/..'],
    ['a backslash', '..\\..\\etc\\x.csv'],
    ['a NUL character', 'students.csv\0.sh'],
    ['the base folder itself', '.'],
    ['the base folder with a slash', '/'],
    ['a folder instead of a file', '{district}/'],
  ])('refuses %s', (_what, template) => {
    const err = refusal(template);
    expect(err.kind).toBe('path');
    expect(err.integration).toBe('hilltop-clever-students');
    expect(err.field).toBe('remotePath');
    expect(err.message).toContain('integration hilltop-clever-students');
    expect(err.message).toContain('/districts/');
  });
});

describe('checkTemplate', () => {
  it('accepts the shipped kinds of template', () => {
    expect(checkTemplate('{district}/clever/students_{date:YYYYMMDD}.csv')).toEqual([]);
    expect(checkTemplate('{integration}/{extract}_{runId}_{date}_{time:HHmmss}.csv')).toEqual([]);
  });

  it('reports an unknown placeholder and an unknown date format', () => {
    expect(checkTemplate('{foo}/x.csv')).toEqual([expect.stringContaining('unknown placeholder {foo}')]);
    expect(checkTemplate('x_{date:yyyy%m}.csv')).toEqual([expect.stringContaining('{date:yyyy%m} has an unknown format')]);
  });

  it('reports escapes, stray braces, NUL and folder paths, all at once', () => {
    const problems = checkTemplate('../{district}/{x\0/');
    expect(problems).toEqual([
      expect.stringContaining('unmatched { or }'),
      expect.stringContaining('NUL'),
      expect.stringContaining('".."'),
      expect.stringContaining('file name'),
    ]);
  });
});

describe('checkTemplate and formats', () => {
  it('refuses a date format that would render as ".."', () => {
    expect(checkTemplate('{date:..}/x.csv')).toContain('contains ".." and could leave the destination folder');
    expect(checkTemplate('{date:YYYY.MM.DD}/x.csv')).toEqual([]);
  });
});
