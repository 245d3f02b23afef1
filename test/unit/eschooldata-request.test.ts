import { describe, expect, it } from 'vitest';
import { checkRequest } from '../../connectors/request-schemas.js';
import { eSchoolDataRequestSchema, type ESchoolDataPart } from '../../connectors/eschooldata/eschooldata-request.js';
import { compilePart, flattenAt } from '../../connectors/eschooldata/record-mapping.js';
import type { ColumnDef } from '../../src/config/model.js';
import type { BindValue } from '../../src/core/source.js';
import { FerryError } from '../../src/core/errors.js';

/** The eSchoolData request block: parts, per-column value/map/default/join/first, where and each. */

const part = (raw: Record<string, unknown>): ESchoolDataPart => {
  const parsed = eSchoolDataRequestSchema.parse({ endpoint: 'students', ...raw });
  return parsed.parts[0]!;
};
const col = (name: string, path?: string): ColumnDef => ({ name, type: 'string', ...(path ? { path } : {}) });
const rowsOf = (p: ESchoolDataPart, columns: ColumnDef[], records: unknown[], values: Record<string, BindValue> = {}) => {
  const m = compilePart(p, 'request', columns, values, 'source esd', 'it');
  return records.flatMap((r) => m.flatten(r)).filter((r) => m.where === undefined || m.where(r)).map((r) => m.cells(r));
};
function configError(fn: () => unknown): FerryError {
  try {
    fn();
  } catch (err) {
    if (err instanceof FerryError) return err;
    throw err;
  }
  throw new Error('expected a FerryError');
}

describe('eSchoolData request schema', () => {
  it('reads one part written at the top level, or parts in order, as { parts }', () => {
    expect(eSchoolDataRequestSchema.parse({ endpoint: 'students' })).toEqual({
      parts: [{ endpoint: 'students', params: {}, recordsKey: 'data', filters: {}, where: {}, columns: {} }],
    });
    const two = eSchoolDataRequestSchema.parse({ parts: [{ endpoint: 'students' }, { endpoint: 'staff', where: { title: ['Teacher'] } }] });
    expect(two.parts.map((p) => p.endpoint)).toEqual(['students', 'staff']);
  });

  it('names the field of each mistake, as ferry validate reports it', () => {
    expect(checkRequest('eschooldata', { parts: [] })).toEqual([{ field: 'parts', message: 'must list at least one part' }]);
    expect(checkRequest('eschooldata', { parts: [{ endpoint: 'a' }], endpoint: 'b' })).toEqual([{ field: '', message: expect.stringContaining('endpoint') }]);
    expect(checkRequest('eschooldata', { endpoint: 'students', columns: { role: { value: 'student', path: 'x' } } })).toEqual([
      { field: 'columns.role', message: 'give exactly one of path, value, join or first' },
    ]);
    expect(checkRequest('eschooldata', { endpoint: 'students', columns: { id: { path: 'a', separator: '-' } } })).toEqual([
      { field: 'columns.id.separator', message: 'only applies to join' },
    ]);
    expect(checkRequest('eschooldata', { parts: [{ endpoint: 'students', where: { title: { in: ['a'], not: ['b'] } } }] })[0]?.field).toBe('parts.0.where.title');
    expect(checkRequest('eschooldata', { endpoint: 'students', each: 'not a path' })[0]?.field).toBe('each');
    expect(checkRequest('eschooldata', { endpoint: 'students', columns: { u: { first: ['email'] } } })).toEqual([{ field: 'columns.u.first', message: 'give at least two candidates' }]);
  });
});

describe('eSchoolData record mapping', () => {
  const student = { studentId: 50001, email: null, districtStudentId: 'H000001', gradeLevel: 'K', studentStatus: 'Inactive', gender: 'X', schoolYear: 2027 };

  it('maps values through tables with defaults, constants with parameters, joins and first non-empty', () => {
    const p = part({
      columns: {
        grades: { path: 'gradeLevel', map: { K: 'KG' } },
        enabled: { path: 'studentStatus', map: { Active: 'true' }, default: 'false' },
        sex: { path: 'gender', map: { M: 'male', F: 'female' }, default: null },
        role: { value: 'student' },
        term: { join: ['districtCode', { value: '{{schoolYear}}' }], separator: '-' },
        username: { first: ['email', 'districtStudentId'] },
        blank: { value: null },
      },
    });
    const columns = ['id', 'grades', 'enabled', 'sex', 'role', 'term', 'username', 'blank'].map((n) => col(n, n === 'id' ? 'studentId' : undefined));
    const records = [student, { ...student, districtCode: 'hilltop-csd', email: 'a@x.org', gradeLevel: '01', studentStatus: 'Active', gender: 'F' }];
    expect(rowsOf(p, columns, records, { schoolYear: 2027 })).toEqual([
      [50001, 'KG', 'false', null, 'student', '2027', 'H000001', null],
      [50001, '01', 'true', 'female', 'student', 'hilltop-csd-2027', 'a@x.org', null],
    ]);
  });

  it('flattens an array with each: the path names the element, other fields stay the record’s', () => {
    const section = { sectionId: 'S1', roster: [{ studentId: 1 }, { studentId: 2 }] };
    const p = part({ each: 'roster', columns: { sourcedId: { join: ['sectionId', 'roster.studentId'], separator: '-' } } });
    expect(rowsOf(p, [col('sourcedId'), col('student', 'roster.studentId'), col('section', 'sectionId')], [section, { sectionId: 'S2' }, { sectionId: 'S3', roster: [] }])).toEqual([
      ['S1-1', 1, 'S1'],
      ['S1-2', 2, 'S1'],
    ]);
    expect(flattenAt({ a: { list: [1, 2], keep: true } }, 'a.list')).toEqual([{ a: { list: 1, keep: true } }, { a: { list: 2, keep: true } }]);
  });

  it('keeps rows by where: a value list, not, {{param}} values and conditions switched by a boolean parameter', () => {
    const staff = [
      { id: 1, title: 'Teacher', building: 'HES', ok: true },
      { id: 2, title: 'Principal', building: 'HES', ok: false },
      { id: 3, title: 'Teacher', building: null, ok: true },
    ];
    const ids = (where: Record<string, unknown>, values: Record<string, BindValue> = {}) => rowsOf(part({ where }), [col('id')], staff, values).map((r) => r[0]);
    expect(ids({ title: ['Teacher'] })).toEqual([1, 3]);
    expect(ids({ building: { not: [''] }, title: { not: ['Teacher'] } })).toEqual([2]);
    expect(ids({ building: ['{{b}}'] }, { b: 'HES' })).toEqual([1, 2]);
    expect(ids({ ok: { in: [true], when: 'only' } }, { only: true })).toEqual([1, 3]);
    expect(ids({ ok: { in: [true], when: 'only' } }, { only: false })).toEqual([1, 2, 3]);
  });

  it('refuses, before any read, a column or parameter the extract does not declare', () => {
    const unknownColumn = configError(() => compilePart(part({ columns: { nope: { value: 1 } } }), 'request.parts.1', [col('id')], {}, 'source esd', 'it'));
    expect([unknownColumn.kind, unknownColumn.field]).toEqual(['config', 'request.parts.1.columns.nope']);
    const unknownParam = configError(() => compilePart(part({ columns: { id: { value: '{{missing}}' } } }), 'request', [col('id')], {}, 'source esd', 'it'));
    expect(unknownParam.message).toBe('source esd: request.columns.id: uses {{missing}}, which is not a parameter of this extract');
    const badWhen = configError(() => compilePart(part({ where: { ok: { in: [true], when: 'schoolYear' } } }), 'request', [col('id')], { schoolYear: 2027 }, 'source esd', 'it'));
    expect(badWhen.field).toBe('request.where.ok');
  });
});
